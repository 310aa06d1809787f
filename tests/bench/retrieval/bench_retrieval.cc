// recstack-bench-retrieval: single-query top-10 by inner product, ours vs
// FAISS on the same seeded random data in the same run, one thread.
//   exact: 20k, 100k, 1M x 64 (ExactIndex vs IndexFlatIP)
//   HNSW:  20k, 100k x 64, M = 32, the same efConstruction, ef 64 and 128
// plus recall@10 against exact and a read-bandwidth floor.
#include <faiss/IndexFlat.h>
#include <faiss/IndexHNSW.h>
#include <omp.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <fstream>
#include <iostream>
#include <set>

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include "common/math/blas.h"
#include "common/math/rng.h"
#include "services/retrieval/candidate_index.h"

namespace {

using recstack::math::Matrix;
using namespace recstack::retrieval;

double Now() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

double Median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

double RssMb() {
  std::ifstream in("/proc/self/statm");
  long pages = 0, resident = 0;
  in >> pages >> resident;
  return resident * sysconf(_SC_PAGESIZE) / 1048576.0;
}

Matrix Random(int64_t n, int64_t d, uint64_t seed) {
  Matrix m(n, d);
  recstack::math::Rng rng(seed);
  for (size_t i = 0; i < m.size(); ++i) m.data()[i] = static_cast<float>(rng.Normal());
  return m;
}

// Median microseconds of fn(query) over the query rows.
template <typename F>
double TimeUs(const Matrix& queries, F fn) {
  std::vector<double> t;
  for (int64_t q = 0; q < queries.rows(); ++q) {
    const double s = Now();
    fn(queries.row(q));
    t.push_back((Now() - s) * 1e6);
  }
  return Median(t);
}

double Recall(const std::vector<std::vector<int64_t>>& got, const std::vector<std::vector<int64_t>>& truth) {
  double hits = 0, total = 0;
  for (size_t q = 0; q < got.size(); ++q) {
    std::set<int64_t> t(truth[q].begin(), truth[q].end());
    for (int64_t id : got[q]) hits += t.count(id);
    total += static_cast<double>(truth[q].size());
  }
  return hits / total;
}

// Read bandwidth of one thread: sum a 256 MiB array.
double ReadGBps() {
  const size_t n = (256u << 20) / sizeof(float);
  std::vector<float> a(n, 1.0f);
  double best = 0;
  for (int r = 0; r < 3; ++r) {
    const double s = Now();
    float acc[16] = {};
    for (size_t i = 0; i + 16 <= n; i += 16)
      for (int j = 0; j < 16; ++j) acc[j] += a[i + j];
    float sum = 0;
    for (float x : acc) sum += x;
    const double secs = Now() - s;
    if (sum < 0) std::cerr << "";  // keep the loop
    best = std::max(best, n * sizeof(float) / secs / 1e9);
  }
  return best;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"Top-10 retrieval latency vs FAISS (prints one JSON object)"};
  bool quick = false, json = true;
  int queries_n = 200, ef_construction = 100;
  app.add_flag("--quick", quick, "smaller sizes (20k, 100k exact; 20k HNSW)");
  app.add_flag("--json,!--no-json", json, "JSON output (default)");
  app.add_option("--queries", queries_n, "queries per measurement")->capture_default_str();
  app.add_option("--ef-construction", ef_construction, "efConstruction for both libraries")->capture_default_str();
  CLI11_PARSE(app, argc, argv);
  omp_set_num_threads(1);
  recstack::math::SetBlasThreads(1);
  const int d = 64, k = 10;
  nlohmann::json out;
  out["threads"] = 1;
  out["dim"] = d;
  out["read_gb_per_s"] = ReadGBps();
  Matrix queries = Random(queries_n, d, 12345);

  std::vector<int64_t> exact_sizes = quick ? std::vector<int64_t>{20000, 100000} : std::vector<int64_t>{20000, 100000, 1000000};
  std::vector<int64_t> hnsw_sizes = quick ? std::vector<int64_t>{20000} : std::vector<int64_t>{20000, 100000};
  for (int64_t n : exact_sizes) {
    const double rss0 = RssMb();
    Matrix items = Random(n, d, static_cast<uint64_t>(n));
    const double factor_mb = items.bytes() / 1048576.0;
    ExactIndex exact(items);
    const double rss_exact = RssMb() - rss0;
    faiss::IndexFlatIP flat(d);
    flat.add(n, items.data());
    std::vector<float> dist(k);
    std::vector<faiss::Index::idx_t> labels(k);
    // Warm caches once for both.
    exact.Search(queries.row(0), k, nullptr);
    flat.search(1, queries.row(0), k, dist.data(), labels.data());
    const double ours = TimeUs(queries, [&](const float* q) { exact.Search(q, k, nullptr); });
    const double theirs = TimeUs(queries, [&](const float* q) { flat.search(1, q, k, dist.data(), labels.data()); });
    // Same answers (ids) as FAISS on a few queries.
    int agree = 0;
    for (int q = 0; q < 20; ++q) {
      auto mine = exact.Search(queries.row(q), k, nullptr);
      flat.search(1, queries.row(q), k, dist.data(), labels.data());
      bool same = true;
      for (int j = 0; j < k; ++j) same &= mine[j].id == labels[j];
      agree += same;
    }
    const std::string key = std::to_string(n / 1000) + "k";
    out["exact"][key] = {{"exact_us", ours},
                         {"faiss_flat_us", theirs},
                         {"exact_over_faiss", ours / theirs},
                         {"gb_per_s", items.bytes() / (ours * 1e-6) / 1e9},
                         {"factor_mb", factor_mb},
                         {"exact_index_rss_mb", rss_exact},
                         {"exact_index_over_factors", rss_exact / factor_mb},
                         {"same_top10_as_faiss", agree / 20.0}};
    if (n == 100000) {
      out["exact_us"] = ours;
      out["faiss_flat_us"] = theirs;
      out["exact_over_faiss"] = ours / theirs;
      out["bandwidth_fraction"] = (items.bytes() / (ours * 1e-6) / 1e9) / out["read_gb_per_s"].get<double>();
    }
    if (std::find(hnsw_sizes.begin(), hnsw_sizes.end(), n) == hnsw_sizes.end()) continue;
    // Ground truth for recall.
    std::vector<std::vector<int64_t>> truth(queries.rows());
    for (int64_t q = 0; q < queries.rows(); ++q)
      for (const auto& s : exact.Search(queries.row(q), k, nullptr)) truth[q].push_back(s.id);
    const double rss1 = RssMb();
    double t0 = Now();
    HnswIndex hnsw(items, {.m = 32, .ef_construction = ef_construction, .ef_search = 64, .threads = 2});
    const double ours_build = Now() - t0;
    const double rss_hnsw = RssMb() - rss1;
    omp_set_num_threads(2);
    faiss::IndexHNSWFlat fh(d, 32, faiss::METRIC_INNER_PRODUCT);
    fh.hnsw.efConstruction = ef_construction;
    t0 = Now();
    fh.add(n, items.data());
    const double faiss_build = Now() - t0;
    omp_set_num_threads(1);
    for (int ef : {64, 128}) {
      hnsw.set_ef(ef);
      fh.hnsw.efSearch = ef;
      std::vector<std::vector<int64_t>> got_ours(queries.rows()), got_faiss(queries.rows());
      for (int64_t q = 0; q < queries.rows(); ++q) {
        for (const auto& s : hnsw.Search(queries.row(q), k, nullptr)) got_ours[q].push_back(s.id);
        fh.search(1, queries.row(q), k, dist.data(), labels.data());
        got_faiss[q].assign(labels.begin(), labels.end());
      }
      const double us_ours = TimeUs(queries, [&](const float* q) { hnsw.Search(q, k, nullptr); });
      const double us_faiss = TimeUs(queries, [&](const float* q) { fh.search(1, q, k, dist.data(), labels.data()); });
      const double r_ours = Recall(got_ours, truth), r_faiss = Recall(got_faiss, truth);
      out["hnsw"][key]["ef" + std::to_string(ef)] = {{"hnsw_us", us_ours}, {"faiss_hnsw_us", us_faiss},
                                                     {"hnsw_recall_at_10", r_ours},
                                                     {"faiss_hnsw_recall_at_10", r_faiss}};
      if (n == 100000 && ef == 128) {
        out["hnsw_us"] = us_ours;
        out["hnsw_recall_at_10"] = r_ours;
        out["faiss_hnsw_us"] = us_faiss;
        out["faiss_hnsw_recall_at_10"] = r_faiss;
      }
    }
    out["hnsw"][key]["build_s"] = ours_build;
    out["hnsw"][key]["faiss_build_s"] = faiss_build;
    out["hnsw"][key]["index_rss_mb"] = rss_hnsw;
  }
  std::cout << out.dump(json ? -1 : 2) << "\n";
  return 0;
}
