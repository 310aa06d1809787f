// recstack-bench-retrieval: single-query top-10 by inner product, ours vs
// FAISS on the same seeded random data in the same run, one thread.
//   exact: 20k, 100k, 1M x 64 (ExactIndex and Int8ExactIndex vs IndexFlatIP),
//          with the time of one plain streaming read of the same matrix
//          (the bandwidth floor of a single query)
//   HNSW:  100k x 64 (20k with --quick), M = 32, the same efConstruction,
//          both built on 2 threads, ef 64 and 128, recall@10 against exact
// --service-rss: resident memory of the service's model (BuildServingModel:
// item ids, factors, norms, exact index, HNSW when asked) for 100k and 1M
// items, each configuration in a fresh child process.
// The result is one JSON object on stdout, or pretty-printed into --out FILE
// (what scripts/bench.sh writes to docs/bench/retrieval*.json, the source of
// docs/retrieval.md's tables). It records the machine and its load average,
// since the figures depend on both.
#include <faiss/IndexFlat.h>
#include <faiss/IndexHNSW.h>
#include <omp.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <set>
#include <sstream>
#include <string>

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include "common/math/blas.h"
#include "common/math/blas_core.h"
#include "common/math/rng.h"
#include "common/retrieval/candidate_index.h"
#include "common/retrieval/model_holder.h"

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

double Recall(const std::vector<std::vector<int64_t>>& got,
              const std::vector<std::vector<int64_t>>& truth) {
  double hits = 0, total = 0;
  for (size_t q = 0; q < got.size(); ++q) {
    std::set<int64_t> t(truth[q].begin(), truth[q].end());
    for (int64_t id : got[q]) hits += t.count(id);
    total += static_cast<double>(truth[q].size());
  }
  return hits / total;
}

// VmRSS and VmHWM (peak) of this process, MiB.
std::pair<double, double> RssAndPeakMb() {
  std::ifstream in("/proc/self/status");
  std::string line;
  double rss = 0, hwm = 0;
  while (std::getline(in, line)) {
    if (line.rfind("VmRSS:", 0) == 0) rss = std::stod(line.substr(6)) / 1024.0;
    if (line.rfind("VmHWM:", 0) == 0) hwm = std::stod(line.substr(6)) / 1024.0;
  }
  return {rss, hwm};
}

// One plain streaming read (a sum) of `bytes` bytes at `p`.
__attribute__((noinline)) float SumFloats(const float* p, size_t n) {
  float acc[16] = {};
  for (size_t i = 0; i + 16 <= n; i += 16)
    for (int j = 0; j < 16; ++j) acc[j] += p[i + j];
  float sum = 0;
  for (float x : acc) sum += x;
  return sum;
}

// Median microseconds of one streaming read of the whole matrix, measured
// like a query (the matrix is as warm as it is for the queries).
double StreamReadUs(const Matrix& m, int reps) {
  std::vector<double> t;
  volatile float sink = 0;
  for (int r = 0; r < reps; ++r) {
    const double s = Now();
    sink = sink + SumFloats(m.data(), m.size());
    t.push_back((Now() - s) * 1e6);
  }
  return Median(t);
}

// The machine the figures were taken on: CPU model, hardware threads, L3
// size (whether a matrix fits decides the bandwidth floor) and the 1-minute
// load average (other work on the machine moves the times).
std::string CpuModel() {
  std::ifstream in("/proc/cpuinfo");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("model name", 0) == 0) {
      const size_t colon = line.find(':');
      if (colon != std::string::npos) return line.substr(line.find_first_not_of(' ', colon + 1));
    }
  }
  return "unknown";
}

double LoadAverage1m() {
  std::ifstream in("/proc/loadavg");
  double one = -1;
  in >> one;
  return one;
}

nlohmann::json Machine() {
  return {{"cpu_model", CpuModel()},
          {"hardware_threads", static_cast<int>(sysconf(_SC_NPROCESSORS_ONLN))},
          {"l3_cache_mib", sysconf(_SC_LEVEL3_CACHE_SIZE) / 1048576.0},
          {"build_type", RECSTACK_BUILD_TYPE},
          {"load_average_1m_start", LoadAverage1m()}};
}

// Writes `j` to `path` ("" = stdout, compact unless `pretty`).
int Emit(const nlohmann::json& j, const std::string& path, bool pretty) {
  if (path.empty()) {
    std::cout << j.dump(pretty ? 2 : -1) << "\n";
    return 0;
  }
  std::ofstream out(path);
  out << j.dump(2) << "\n";
  out.close();
  if (!out) {
    std::cerr << "--out: cannot write " << path << "\n";
    return 1;
  }
  return 0;
}

// The service's memory for one configuration, in this (fresh) process:
// the loaded ItemFactors (ids "item:<i>", n x d floats) handed to
// BuildServingModel as ModelHolder::Load does, HNSW built inline.
nlohmann::json ServiceRssOne(int64_t n, const std::string& kind, int ef_construction) {
  const int d = 64;
  const auto [rss0, hwm0] = RssAndPeakMb();
  recstack::model::ItemFactors items;
  items.meta.factors = d;
  items.meta.version = "bench";
  items.meta.regularization = 0.1f;
  items.item_ids.reserve(n);
  for (int64_t i = 0; i < n; ++i) items.item_ids.push_back("item:" + std::to_string(i));
  items.factors.resize(static_cast<size_t>(n * d));
  recstack::math::Rng rng(static_cast<uint64_t>(n));
  for (float& x : items.factors) x = static_cast<float>(rng.Normal());
  const double loaded = RssAndPeakMb().first - rss0;
  HolderOptions o;
  o.hnsw_min_items = kind == "hnsw" ? 1 : n + 1;
  o.exact_int8 = kind == "exact_int8";
  o.hnsw = {.m = 32, .ef_construction = ef_construction, .ef_search = 64, .threads = 2};
  const double t0 = Now();
  auto model = BuildServingModel(std::move(items), o, /*build_hnsw_now=*/kind == "hnsw");
  const double build_s = Now() - t0;
  const auto [rss1, hwm1] = RssAndPeakMb();
  const double factor_mb = model->factors.bytes() / 1048576.0;
  nlohmann::json j = {{"items", n},
                      {"index", kind},
                      {"factor_mb", factor_mb},
                      {"loaded_items_mb", loaded},
                      {"process_rss_mb", rss1},
                      {"process_peak_rss_mb", hwm1},
                      {"model_rss_mb", rss1 - rss0},
                      {"model_over_factors", (rss1 - rss0) / factor_mb},
                      {"exact_index_bytes", model->exact->memory_bytes()},
                      {"build_s", build_s}};
  if (const HnswIndex* h = model->hnsw.load(); h != nullptr) {
    j["hnsw_ef_construction"] = ef_construction;
    j["hnsw_index_mb"] = h->memory_bytes() / 1048576.0;
    j["hnsw_ef"] = h->ef();
    j["hnsw_recall_at_10"] = model->hnsw_recall;
  }
  return j;
}

// Runs each configuration in a child (this binary with --service-rss-one),
// so that one configuration's freed memory does not hide in the next one's.
int ServiceRss(const std::string& self, int ef_construction, int ef_construction_1m,
               const nlohmann::json& machine, const std::string& out_path) {
  const double start = Now();
  nlohmann::json out = nlohmann::json::array();
  for (int64_t n : {100000, 1000000}) {
    for (const char* kind : {"exact", "exact_int8", "hnsw"}) {
      const int efc = n >= 1000000 ? ef_construction_1m : ef_construction;
      const std::string cmd = self + " --service-rss-one " + std::to_string(n) +
                              " --service-rss-index " + kind + " --ef-construction " +
                              std::to_string(efc);
      FILE* p = popen(cmd.c_str(), "r");
      if (p == nullptr) return 1;
      std::string text;
      char buf[4096];
      while (size_t got = fread(buf, 1, sizeof(buf), p)) text.append(buf, got);
      if (pclose(p) != 0) {
        std::cerr << "failed: " << cmd << "\n";
        return 1;
      }
      out.push_back(nlohmann::json::parse(text));
      std::cerr << out.back().dump() << "\n";
    }
  }
  nlohmann::json j = {{"service_rss", out}, {"machine", machine}, {"elapsed_s", Now() - start}};
  j["machine"]["load_average_1m_end"] = LoadAverage1m();
  return Emit(j, out_path, /*pretty=*/false);
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
  recstack::math::EnsureBlasCoreMatchesCpu(argv);  // may re-execute: first
  CLI::App app{"Top-10 retrieval latency vs FAISS (prints one JSON object)"};
  bool quick = false, json = true, service_rss = false;
  int queries_n = 200, ef_construction = 100, ef_construction_1m = 16;
  int64_t rss_one = 0;
  std::string rss_index = "exact", out_path;
  app.add_flag("--quick", quick, "smaller sizes (20k, 100k exact; 20k HNSW)");
  app.add_flag("--json,!--no-json", json, "JSON output (default)");
  app.add_option("--out", out_path,
                 "write the JSON, pretty-printed, to this file instead of stdout");
  app.add_option("--queries", queries_n, "queries per measurement")->capture_default_str();
  app.add_option("--ef-construction", ef_construction, "efConstruction for both libraries")
      ->capture_default_str();
  app.add_flag("--service-rss", service_rss,
               "only the service's resident memory, 100k and 1M items, exact / exact_int8 / HNSW");
  app.add_option(
         "--service-rss-ef-construction-1m", ef_construction_1m,
         "efConstruction of the 1M HNSW in --service-rss (memory does not depend on it; time does)")
      ->capture_default_str();
  app.add_option("--service-rss-one", rss_one,
                 "internal: one --service-rss configuration, this many items");
  app.add_option("--service-rss-index", rss_index, "internal: exact, exact_int8 or hnsw");
  CLI11_PARSE(app, argc, argv);
  if (rss_one > 0) {
    std::cout << ServiceRssOne(rss_one, rss_index, ef_construction).dump() << "\n";
    return 0;
  }
  if (service_rss) {
    char self[4096];
    const ssize_t len = readlink("/proc/self/exe", self, sizeof(self) - 1);
    if (len <= 0) return 1;
    return ServiceRss(std::string(self, static_cast<size_t>(len)), ef_construction,
                      ef_construction_1m, Machine(), out_path);
  }
  const double start = Now();
  omp_set_num_threads(1);
  recstack::math::SetBlasThreads(1);
  const int d = 64, k = 10;
  nlohmann::json out;
  out["machine"] = Machine();
  out["threads"] = 1;
  out["dim"] = d;
  out["k"] = k;
  out["queries"] = queries_n;
  out["quick"] = quick;
  out["ef_construction"] = ef_construction;
  out["read_gb_per_s"] = ReadGBps();
  Matrix queries = Random(queries_n, d, 12345);

  std::vector<int64_t> exact_sizes =
      quick ? std::vector<int64_t>{20000, 100000} : std::vector<int64_t>{20000, 100000, 1000000};
  std::vector<int64_t> hnsw_sizes =
      quick ? std::vector<int64_t>{20000} : std::vector<int64_t>{100000};
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
    const double theirs =
        TimeUs(queries, [&](const float* q) { flat.search(1, q, k, dist.data(), labels.data()); });
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
    // The bandwidth floor: one plain read of the same matrix, as warm.
    const double floor_us = StreamReadUs(items, 50);
    // The int8 filter + exact re-score: the same ids and scores on every query?
    const double rss_q0 = RssMb();
    Int8ExactIndex int8(items);
    const double rss_int8 = RssMb() - rss_q0;
    int8.Search(queries.row(0), k, nullptr);
    const double int8_us = TimeUs(queries, [&](const float* q) { int8.Search(q, k, nullptr); });
    int64_t int8_same = 0;
    double rescored = 0;
    for (int64_t q = 0; q < queries.rows(); ++q) {
      auto got = int8.Search(queries.row(q), k, nullptr);
      rescored += static_cast<double>(Int8ExactIndex::last_rescored());
      int8_same += got == exact.Search(queries.row(q), k, nullptr);
    }
    out["exact"][key] = {
        {"exact_us", ours},
        {"faiss_flat_us", theirs},
        {"exact_over_faiss", ours / theirs},
        {"gb_per_s", items.bytes() / (ours * 1e-6) / 1e9},
        {"bandwidth_floor_us", floor_us},
        {"exact_over_floor", ours / floor_us},
        {"factor_mb", factor_mb},
        {"exact_index_rss_mb", rss_exact},
        {"exact_index_over_factors", rss_exact / factor_mb},
        {"exact_index_bytes_over_factors",
         (items.bytes() + exact.memory_bytes()) / static_cast<double>(items.bytes())},
        {"exact_int8_us", int8_us},
        {"exact_int8_over_exact", int8_us / ours},
        {"exact_int8_same_top10_all_queries", int8_same == queries.rows()},
        {"exact_int8_same_top10_fraction", static_cast<double>(int8_same) / queries.rows()},
        {"exact_int8_rescored_mean", rescored / queries.rows()},
        {"exact_int8_index_bytes_over_factors",
         (items.bytes() + int8.memory_bytes()) / static_cast<double>(items.bytes())},
        {"exact_int8_rss_mb", rss_int8},
        {"same_top10_as_faiss", agree / 20.0}};
    if (n == 100000) {
      out["exact_us"] = ours;
      out["faiss_flat_us"] = theirs;
      out["exact_over_faiss"] = ours / theirs;
      out["bandwidth_floor_us"] = floor_us;
      out["exact_over_floor"] = ours / floor_us;
      out["bandwidth_fraction"] =
          (items.bytes() / (ours * 1e-6) / 1e9) / out["read_gb_per_s"].get<double>();
      out["exact_index_over_factors"] = rss_exact / factor_mb;
      out["exact_int8_us"] = int8_us;
      out["exact_int8_same_top10_all_queries"] = int8_same == queries.rows();
    }
    out["elapsed_after_exact_" + key + "_s"] = Now() - start;
    if (std::find(hnsw_sizes.begin(), hnsw_sizes.end(), n) == hnsw_sizes.end()) continue;
    // Ground truth for recall.
    std::vector<std::vector<int64_t>> truth(queries.rows());
    for (int64_t q = 0; q < queries.rows(); ++q)
      for (const auto& s : exact.Search(queries.row(q), k, nullptr)) truth[q].push_back(s.id);
    const double rss1 = RssMb();
    double t0 = Now();
    HnswIndex hnsw(items,
                   {.m = 32, .ef_construction = ef_construction, .ef_search = 64, .threads = 2});
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
      const double us_faiss =
          TimeUs(queries, [&](const float* q) { fh.search(1, q, k, dist.data(), labels.data()); });
      const double r_ours = Recall(got_ours, truth), r_faiss = Recall(got_faiss, truth);
      out["hnsw"][key]["ef" + std::to_string(ef)] = {{"hnsw_us", us_ours},
                                                     {"faiss_hnsw_us", us_faiss},
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
    out["hnsw"][key]["level0_mean_degree"] = hnsw.level0_mean_degree();
    size_t b = 0, e = 0;
    double faiss_links = 0;
    for (int64_t i = 0; i < n; ++i) {
      fh.hnsw.neighbor_range(i, 0, &b, &e);
      for (size_t j = b; j < e; ++j) faiss_links += fh.hnsw.neighbors[j] >= 0;
    }
    out["hnsw"][key]["faiss_level0_mean_degree"] = faiss_links / static_cast<double>(n);
    out["elapsed_after_hnsw_" + key + "_s"] = Now() - start;
  }
  out["elapsed_s"] = Now() - start;
  out["machine"]["load_average_1m_end"] = LoadAverage1m();
  return Emit(out, out_path, !json);
}
