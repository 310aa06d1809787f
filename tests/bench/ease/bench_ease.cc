// recstack-bench-ease: EASE (common/mf/ease.*), one JSON object.
//   --dataset ml100k  MovieLens 100K, stratified 75/25 split, seeds 42-44:
//                     NDCG@10 and fit time per seed and their mean; the two
//                     Gram paths timed on the same matrix; for each way of
//                     truncating B to a sparse model (below), recall@10 of
//                     the served top-10 against the full x_u B top-10, and
//                     the served model's own NDCG@10.
//   --dataset synth5m The 20,000-item catalogue: fit time (Gram, inverse),
//                     wall and CPU, peak RSS against the float32 Gram's size,
//                     and the published model's selection.
//   --dataset blend   ease + als-implicit blended by weight, seeds 42-44.
#include <cblas.h>
#include <sys/resource.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <chrono>
#include <fstream>
#include <functional>
#include <iostream>
#include <limits>
#include <map>
#include <nlohmann/json.hpp>
#include <numeric>
#include <thread>

#include "absl/strings/str_cat.h"
#include "common/math/blas_core.h"
#include "common/math/topk.h"
#include "common/mf/dataset.h"
#include "common/mf/ease.h"
#include "common/mf/evaluate.h"
#include "common/mf/trainer.h"

// LAPACK (Debian's OpenBLAS; see common/mf/ease.cc).
extern "C" {
void spotrf_(const char* uplo, const blasint* n, float* a, const blasint* lda, blasint* info,
             size_t uplo_len);
void spotrs_(const char* uplo, const blasint* n, const blasint* nrhs, const float* a,
             const blasint* lda, float* b, const blasint* ldb, blasint* info, size_t uplo_len);
}

namespace {

using namespace recstack;
using namespace recstack::mf;

double Since(std::chrono::steady_clock::time_point t) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t).count();
}

// Peak resident set of this process so far, bytes.
double PeakRssBytes() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return static_cast<double>(u.ru_maxrss) * 1024.0;
}

// Current resident set, bytes (/proc/self/statm).
double RssBytes() {
  std::ifstream in("/proc/self/statm");
  long pages = 0, resident = 0;
  in >> pages >> resident;
  return static_cast<double>(resident) * 4096.0;
}

// CPU time of this process so far (user + system, every thread), seconds.
double CpuSeconds() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return u.ru_utime.tv_sec + u.ru_utime.tv_usec / 1e6 + u.ru_stime.tv_sec +
         u.ru_stime.tv_usec / 1e6;
}

double LoadAverage1m() {
  std::ifstream in("/proc/loadavg");
  double l = -1;
  in >> l;
  return l;
}

// The largest (in magnitude) truncation with each row's mean dropped weight
// c_j subtracted from its kept ones: it ranks as if every dropped B_ji were
// c_j (the constant sum over the history of c_j cancels). Measured, not
// kept: it changed nothing.
void SubtractMeanDropped(const math::Matrix& b, EaseNeighbours* nb) {
  const int64_t n = b.rows();
  std::vector<char> kept(n);
  for (int64_t j = 0; j < n; ++j) {
    std::fill(kept.begin(), kept.end(), 0);
    kept[j] = 1;
    for (int64_t p = nb->indptr[j]; p < nb->indptr[j + 1]; ++p) kept[nb->ids[p]] = 1;
    double sum = 0;
    int64_t count = 0;
    for (int64_t i = 0; i < n; ++i) {
      if (!kept[i]) {
        sum += b.at(j, i);
        ++count;
      }
    }
    const float c = count > 0 ? static_cast<float>(sum / count) : 0.0f;
    for (int64_t p = nb->indptr[j]; p < nb->indptr[j + 1]; ++p) nb->weights[p] -= c;
  }
}

// Steck's sparse approximation on a kept pattern: per target item i, its
// weights from the rows S that keep it are refit as ridge regression on
// those rows only, b_S = (G_SS + lambda I)^-1 G_Si (G = X^T X). A different
// (sparse) model, not B truncated.
EaseNeighbours RefitOnPattern(const EaseNeighbours& nb, const math::Matrix& gram, float lambda) {
  const int64_t n = gram.rows();
  std::vector<std::vector<std::pair<int32_t, int64_t>>> column(n);  // (row j, position)
  for (int64_t j = 0; j < n; ++j) {
    for (int64_t p = nb.indptr[j]; p < nb.indptr[j + 1]; ++p)
      column[nb.ids[p]].push_back({static_cast<int32_t>(j), p});
  }
  EaseNeighbours out = nb;
  std::vector<float> a, rhs;
  for (int64_t i = 0; i < n; ++i) {
    const blasint s = static_cast<blasint>(column[i].size());
    if (s == 0) continue;
    a.assign(static_cast<size_t>(s) * s, 0.0f);
    rhs.assign(s, 0.0f);
    for (blasint x = 0; x < s; ++x) {
      rhs[x] = gram.at(column[i][x].first, i);
      for (blasint y = 0; y < s; ++y)
        a[static_cast<size_t>(x) * s + y] = gram.at(column[i][x].first, column[i][y].first);
      a[static_cast<size_t>(x) * s + x] += lambda;
    }
    blasint info = 0, one = 1;
    const char uplo = 'L';
    spotrf_(&uplo, &s, a.data(), &s, &info, 1);
    if (info == 0) spotrs_(&uplo, &s, &one, a.data(), &s, rhs.data(), &s, &info, 1);
    if (info != 0) std::exit(1);
    for (blasint x = 0; x < s; ++x) out.weights[column[i][x].second] = rhs[x];
  }
  for (int64_t j = 0; j < n; ++j) {  // best first again
    std::vector<math::ScoredId> row;
    for (int64_t p = out.indptr[j]; p < out.indptr[j + 1]; ++p)
      row.push_back({out.ids[p], out.weights[p]});
    std::sort(row.begin(), row.end(), math::Better);
    for (size_t r = 0; r < row.size(); ++r) {
      out.ids[out.indptr[j] + r] = row[r].id;
      out.weights[out.indptr[j] + r] = row[r].score;
    }
  }
  return out;
}

// Recall@10 of the served top-10 (the truncated score over the items some
// history row kept, as common/retrieval/ease_source.cc serves it) against
// the full x_u B top-10, training items excluded from both, over `users`.
double TruncationRecall(const math::Matrix& b, const EaseNeighbours& nb,
                        const math::CsrMatrix& by_user, const std::vector<int32_t>& users) {
  const int64_t n = b.rows();
  std::vector<float> full(n), cut(n);
  double hits = 0;
  int64_t total = 0;
  for (int32_t u : users) {
    const int64_t p0 = by_user.indptr[u], len = by_user.RowLength(u);
    std::vector<float> ones(len, 1.0f);
    const int32_t* items = by_user.indices.data() + p0;
    EaseScores(b, items, ones.data(), len, full.data());
    TruncatedScores(nb, n, items, ones.data(), len, cut.data());
    std::vector<char> seen(n, 0), touched(n, 0);
    for (int64_t q = 0; q < len; ++q) seen[items[q]] = 1;
    for (int64_t q = 0; q < len; ++q) {
      for (int64_t p = nb.indptr[items[q]]; p < nb.indptr[items[q] + 1]; ++p)
        touched[nb.ids[p]] = 1;
    }
    auto a = math::TopK(full.data(), n, 10, [&](int32_t id) { return seen[id] != 0; });
    auto c = math::TopK(cut.data(), n, 10, [&](int32_t id) { return seen[id] || !touched[id]; });
    for (const auto& x : a) {
      hits += std::any_of(c.begin(), c.end(), [&](const auto& y) { return y.id == x.id; });
    }
    total += static_cast<int64_t>(a.size());
  }
  return total > 0 ? hits / total : 0;
}

// NDCG@10 etc. of the sparse model as served: untouched items never come.
std::map<std::string, double> ServedMetrics(const EaseNeighbours& nb, int64_t n,
                                            const math::CsrMatrix& by_user,
                                            const std::vector<Row>& test) {
  BlockScorer score = [&](const int32_t* users, int64_t count, float* scores) {
    std::vector<char> touched(n);
    for (int64_t c = 0; c < count; ++c) {
      const int32_t u = users[c];
      float* out = scores + c * n;
      const int64_t p0 = by_user.indptr[u], len = by_user.RowLength(u);
      std::vector<float> ones(len, 1.0f);
      TruncatedScores(nb, n, by_user.indices.data() + p0, ones.data(), len, out);
      std::fill(touched.begin(), touched.end(), 0);
      for (int64_t q = 0; q < len; ++q) {
        const int32_t j = by_user.indices[p0 + q];
        for (int64_t p = nb.indptr[j]; p < nb.indptr[j + 1]; ++p) touched[nb.ids[p]] = 1;
      }
      for (int64_t i = 0; i < n; ++i) {
        if (!touched[i]) out[i] = -std::numeric_limits<float>::infinity();
      }
    }
  };
  return ToMap(EvaluateRankingWith(score, n, by_user, test, 10), 10);
}

// Weights a request reads per history item: the mean length of the rows
// users hold (a popular item's row is read more often).
double WeightsPerHistoryItem(const EaseNeighbours& nb, const math::CsrMatrix& by_user) {
  double sum = 0;
  for (int64_t p = 0; p < by_user.nnz(); ++p) {
    const int32_t j = by_user.indices[p];
    sum += static_cast<double>(nb.indptr[j + 1] - nb.indptr[j]);
  }
  return by_user.nnz() > 0 ? sum / static_cast<double>(by_user.nnz()) : 0;
}

nlohmann::json Ml100k(const std::string& dir, int threads, const std::vector<int>& top_ns) {
  nlohmann::json out;
  auto data = LoadDataset(dir + "/u.data", {.format = data::Format::kMovieLens});
  if (!data.ok()) {
    std::cerr << data.status() << "\n";
    std::exit(1);
  }
  auto split = ParseSplit("stratified:0.75");
  nlohmann::json seeds = nlohmann::json::array();
  double ndcg_sum = 0, fit_sum = 0;
  std::map<std::string, nlohmann::json> sums;
  for (uint64_t seed : {42, 43, 44}) {
    std::vector<Row> train, test;
    if (!Split(*data, *split, seed, &train, &test).ok()) std::exit(1);
    TrainConfig cfg;
    cfg.algorithm = Algorithm::kEase;
    cfg.als.threads = threads;
    cfg.compute_loss = false;
    auto res = Train(data->users.size(), data->items.size(), train, test, cfg);
    if (!res.ok()) {
      std::cerr << res.status() << "\n";
      std::exit(1);
    }
    nlohmann::json s = {{"seed", seed},
                        {"ndcg@10", res->metrics.at("ndcg@10")},
                        {"recall@10", res->metrics.at("recall@10")},
                        {"fit_seconds", res->fit_seconds},
                        {"gram_seconds", res->gram_seconds},
                        {"inverse_seconds", res->solve_seconds},
                        {"gram_method", res->gram_method}};
    ndcg_sum += res->metrics.at("ndcg@10");
    fit_sum += res->fit_seconds;
    // Truncation: each ways of keeping part of B, measured on every user
    // with training items (their top-10 by the full x_u B against the
    // served one) and by the served model's own NDCG@10 on the test rows.
    const int32_t n = data->items.size();
    const math::Matrix& b = res->model.ease_weights;
    InteractionMatrix m = BuildMatrix(data->users.size(), n, train, true);
    std::vector<int32_t> users, odd;
    for (int32_t u = 0; u < m.by_user.rows; ++u) {
      if (m.by_user.RowLength(u) == 0) continue;
      users.push_back(u);
      if (u % 2 == 1) odd.push_back(u);
    }
    math::Matrix gram;
    GramSparse(m.by_user, m.by_item, true, threads, &gram);
    auto measure = [&](const std::string& key, const EaseNeighbours& nb,
                       const std::vector<int32_t>& on, double seconds) {
      nlohmann::json t = {{"recall@10", TruncationRecall(b, nb, m.by_user, on)},
                          {"served_ndcg@10", ServedMetrics(nb, n, m.by_user, test).at("ndcg@10")},
                          {"mean_per_row", static_cast<double>(nb.ids.size()) / n},
                          {"most_per_row", nb.MostPerRow()},
                          {"weights_per_history_item", WeightsPerHistoryItem(nb, m.by_user)},
                          {"select_seconds", seconds}};
      s["truncation"][key] = t;
      nlohmann::json& sum = sums[key];
      if (sum.is_null()) sum = nlohmann::json::object();
      for (auto& [field, v] : t.items()) sum[field] = sum.value(field, 0.0) + v.get<double>();
    };
    auto timed = [&](const std::function<EaseNeighbours()>& make, double* seconds) {
      auto t = std::chrono::steady_clock::now();
      EaseNeighbours nb = make();
      *seconds = Since(t);
      return nb;
    };
    for (int top_n : top_ns) {
      double sec = 0;
      for (Truncation how : {Truncation::kLargest, Truncation::kMagnitude}) {
        EaseNeighbours nb = timed([&] { return TopNPerRow(b, top_n, threads, how); }, &sec);
        measure(absl::StrCat(TruncationName(how), "_", top_n), nb, users, sec);
      }
      // The published model: PublishedNeighbours with the defaults.
      EaseParams p;
      p.top_n = top_n;
      p.threads = threads;
      EaseNeighbours imp = timed([&] { return PublishedNeighbours(b, m.by_user, p); }, &sec);
      measure(absl::StrCat("importance_", top_n), imp, users, sec);
      if (top_n != 200) continue;
      // What did not make it (or was not needed), at N = 200:
      // q from the even users, recall on the odd ones (users the importance
      // never saw).
      {
        // The even users' rows only (TopKShare skips empty rows).
        math::CsrMatrix half;
        half.rows = m.by_user.rows;
        half.cols = m.by_user.cols;
        half.indptr.assign(1, 0);
        for (int64_t u = 0; u < m.by_user.rows; ++u) {
          if (u % 2 == 0) {
            for (int64_t q = m.by_user.indptr[u]; q < m.by_user.indptr[u + 1]; ++q) {
              half.indices.push_back(m.by_user.indices[q]);
              half.values.push_back(m.by_user.values[q]);
            }
          }
          half.indptr.push_back(static_cast<int64_t>(half.indices.size()));
        }
        EaseNeighbours nb = timed(
            [&] {
              std::vector<float> q = TopKShare(b, half, true, 10, 10'000, 42, threads);
              return SelectByImportance(b, q, 200, p.RowMin(), p.RowMax(), threads);
            },
            &sec);
        measure("importance_200_heldout_users", nb, odd, sec);
      }
      // Importance per row: exactly 200 per row, by |B_ji| q_i.
      {
        EaseNeighbours nb = timed(
            [&] {
              std::vector<float> q = TopKShare(b, m.by_user, true, 10, 10'000, 42, threads);
              return SelectByImportance(b, q, 200, 200, 200, threads);
            },
            &sec);
        measure("importance_per_row_200", nb, users, sec);
      }
      // Popularity as the importance (the training count), per row.
      {
        std::vector<float> pop(n);
        for (int32_t i = 0; i < n; ++i) pop[i] = static_cast<float>(m.by_item.RowLength(i));
        EaseNeighbours nb =
            timed([&] { return SelectByImportance(b, pop, 200, 200, 200, threads); }, &sec);
        measure("popularity_per_row_200", nb, users, sec);
      }
      // Each row's mean dropped weight subtracted from its kept ones.
      {
        EaseNeighbours nb = timed(
            [&] {
              EaseNeighbours x = TopNPerRow(b, 200, threads, Truncation::kMagnitude);
              SubtractMeanDropped(b, &x);
              return x;
            },
            &sec);
        measure("magnitude_200_mean_dropped_subtracted", nb, users, sec);
      }
      // Steck's sparse refit on the kept pattern (a different model).
      for (Truncation how : {Truncation::kMagnitude, Truncation::kImportance}) {
        const EaseNeighbours& base = how == Truncation::kImportance
                                         ? imp
                                         : TopNPerRow(b, 200, threads, Truncation::kMagnitude);
        EaseNeighbours nb =
            timed([&] { return RefitOnPattern(base, gram, EaseParams{}.lambda); }, &sec);
        measure(absl::StrCat(TruncationName(how), "_200_refit"), nb, users, sec);
      }
    }
    if (seed == 42) {
      // Both Gram paths on the same matrix (best of 3 each).
      for (GramMethod g : {GramMethod::kSparse, GramMethod::kSyrk}) {
        double best = 1e30;
        for (int r = 0; r < 3; ++r) {
          math::Matrix gram;
          auto t = std::chrono::steady_clock::now();
          if (g == GramMethod::kSparse) GramSparse(m.by_user, m.by_item, true, threads, &gram);
          else GramSyrk(m.by_user, true, threads, &gram);
          best = std::min(best, Since(t));
        }
        out["gram_seconds"][g == GramMethod::kSparse ? "sparse" : "syrk"] = best;
      }
    }
    seeds.push_back(s);
  }
  out["dataset"] = "ml-100k u.data, stratified:0.75";
  out["lambda"] = EaseParams{}.lambda;
  out["threads"] = threads;
  out["seeds"] = seeds;
  out["mean_ndcg@10"] = ndcg_sum / 3;
  out["mean_fit_seconds"] = fit_sum / 3;
  // Means over the seeds (most_per_row: the largest of the three).
  for (auto& [key, fields] : sums) {
    for (auto& [field, v] : fields.items()) out["truncation"][key][field] = v.get<double>() / 3;
    double most = 0;
    for (const auto& sd : seeds)
      most = std::max(most, sd["truncation"][key]["most_per_row"].get<double>());
    out["truncation"][key]["most_per_row"] = most;
  }
  return out;
}

// ease and als-implicit (recstack's defaults) on one split, blended by
// weight: the same scoring as `recstack blend`.
nlohmann::json Blend(const std::string& dir, int threads, uint64_t seed) {
  auto data = LoadDataset(dir + "/u.data", {.format = data::Format::kMovieLens});
  if (!data.ok()) std::exit(1);
  std::vector<Row> train, test;
  if (!Split(*data, *ParseSplit("stratified:0.75"), seed, &train, &test).ok()) std::exit(1);
  const int32_t nu = data->users.size(), ni = data->items.size();
  TrainConfig e;
  e.algorithm = Algorithm::kEase;
  e.als.threads = threads;
  e.compute_loss = false;
  TrainConfig a;
  a.algorithm = Algorithm::kImplicitAls;
  // recstack train's als-implicit defaults (tools/recstack/train_options.cc).
  a.als.factors = 64;
  a.als.iterations = 15;
  a.als.regularization = 20.0f;
  a.als.alpha = 0.3f;
  a.als.threads = threads;
  a.als.seed = seed;
  a.evaluate_each_iteration = false;
  a.compute_loss = false;
  auto ease = Train(nu, ni, train, test, e);
  auto als = Train(nu, ni, train, test, a);
  if (!ease.ok() || !als.ok()) std::exit(1);
  InteractionMatrix m = BuildMatrix(nu, ni, train, true);
  nlohmann::json rows = nlohmann::json::array();
  double best = -1, best_w = 0;
  for (int step = 0; step <= 10; ++step) {
    const double w = step / 10.0;
    auto blend = BlendScorer(ModelScorer(ease->model, m.by_user, threads),
                             ModelScorer(als->model, m.by_user, threads), w, ni);
    auto metrics = ToMap(EvaluateRankingWith(blend, ni, m.by_user, test, 10), 10);
    rows.push_back(
        {{"ease_weight", w}, {"ndcg@10", metrics["ndcg@10"]}, {"recall@10", metrics["recall@10"]}});
    if (metrics["ndcg@10"] > best) {
      best = metrics["ndcg@10"];
      best_w = w;
    }
  }
  const double en = ease->metrics.at("ndcg@10"), an = als->metrics.at("ndcg@10");
  return {{"dataset", "ml-100k u.data, stratified:0.75"},
          {"seed", seed},
          {"ease_ndcg@10", en},
          {"als_implicit_ndcg@10", an},
          {"blend", rows},
          {"best_ease_weight", best_w},
          {"best_ndcg@10", best},
          {"blend_beats_both", best > std::max(en, an)}};
}

nlohmann::json Synth(const std::string& path, int threads, const std::string& gram) {
  const double rss_start = RssBytes();
  auto data = LoadDataset(path, {.format = data::Format::kAuto});
  if (!data.ok()) {
    std::cerr << data.status() << "\n";
    std::exit(1);
  }
  InteractionMatrix m =
      BuildMatrix(data->users.size(), data->items.size(), std::move(data->rows), true);
  const double rss_before = RssBytes();
  EaseParams p;
  p.threads = threads;
  p.gram = gram == "syrk"     ? GramMethod::kSyrk
           : gram == "sparse" ? GramMethod::kSparse
                              : GramMethod::kAuto;
  EaseFitStats stats;
  const double load_start = LoadAverage1m();
  const double cpu0 = CpuSeconds();
  auto t = std::chrono::steady_clock::now();
  auto b = FitEase(m.by_user, m.by_item, p, &stats);
  const double fit = Since(t);
  const double fit_cpu = CpuSeconds() - cpu0;
  if (!b.ok()) {
    std::cerr << b.status() << "\n";
    std::exit(1);
  }
  const double n = static_cast<double>(m.by_user.cols);
  const double gram_bytes = n * n * 4;
  const double peak_fit = PeakRssBytes();
  // The published model, as the training service makes it.
  const double cpu1 = CpuSeconds();
  auto t2 = std::chrono::steady_clock::now();
  EaseNeighbours nb = PublishedNeighbours(*b, m.by_user, p);
  const double publish = Since(t2);
  const double publish_cpu = CpuSeconds() - cpu1;
  const double peak = PeakRssBytes();
  return {{"dataset", path},
          {"users", m.by_user.rows},
          {"items", m.by_user.cols},
          {"interactions", m.by_user.nnz()},
          {"threads", threads},
          {"hardware_threads", std::thread::hardware_concurrency()},
          {"load_average_1m_start", load_start},
          {"load_average_1m_end", LoadAverage1m()},
          {"lambda", p.lambda},
          {"gram_method", stats.gram_method},
          {"fit_seconds", fit},
          {"fit_cpu_seconds", fit_cpu},
          {"gram_seconds", stats.gram_seconds},
          {"inverse_seconds", stats.inverse_seconds},
          {"finish_seconds", stats.finish_seconds},
          {"publish_truncation", TruncationName(p.truncation)},
          {"publish_seconds", publish},
          {"publish_cpu_seconds", publish_cpu},
          {"published_weights", nb.ids.size()},
          {"published_mean_per_row", static_cast<double>(nb.ids.size()) / n},
          {"published_most_per_row", nb.MostPerRow()},
          {"gram_bytes", gram_bytes},
          {"rss_at_start_bytes", rss_start},
          {"rss_before_fit_bytes", rss_before},
          {"peak_rss_fit_bytes", peak_fit},
          {"peak_rss_bytes", peak},
          {"peak_rss_over_gram", peak / gram_bytes},
          {"peak_fit_increase_over_gram", (peak_fit - rss_before) / gram_bytes}};
}

}  // namespace

int main(int argc, char** argv) {
  recstack::math::EnsureBlasCoreMatchesCpu(argv);  // may re-execute: first
  CLI::App app{
      "EASE: MovieLens 100K quality and truncation, or the 20k-item fit (one JSON object)"};
  std::string dataset = "ml100k", dir = RECSTACK_DATA_DIR, gram = "auto";
  int threads = 2;
  std::vector<int> top_ns = {50, 100, 200, 400};
  app.add_option("--dataset", dataset, "ml100k, blend (ease + als-implicit on ml-100k) or synth5m")
      ->capture_default_str();
  app.add_option("--data-dir", dir, "directory holding ml-100k/ and synth5m/")
      ->capture_default_str();
  app.add_option("--threads", threads, "threads (BLAS and ours)")->capture_default_str();
  app.add_option("--top-n", top_ns, "ml100k: truncation lengths to measure")->delimiter(',');
  app.add_option("--gram", gram, "synth5m: auto, sparse or syrk")->capture_default_str();
  CLI11_PARSE(app, argc, argv);
  nlohmann::json out;
  const double load_start = LoadAverage1m();
  const auto t0 = std::chrono::steady_clock::now();
  if (dataset == "ml100k") {
    out = Ml100k(dir + "/ml-100k", threads, top_ns);
  } else if (dataset == "blend") {
    nlohmann::json all = nlohmann::json::array();
    for (uint64_t seed : {42, 43, 44}) all.push_back(Blend(dir + "/ml-100k", threads, seed));
    out = {{"runs", all}, {"threads", threads}};
  } else if (dataset == "synth5m") {
    out = Synth(dir + "/synth5m/interactions.csv", threads, gram);
  } else {
    std::cerr << "--dataset: ml100k, blend or synth5m\n";
    return 2;
  }
  // The conditions of the run: the machine is shared, so wall time alone
  // does not say how much work was done.
  out["run"] = {{"threads", threads},
                {"hardware_threads", std::thread::hardware_concurrency()},
                {"load_average_1m_start", load_start},
                {"load_average_1m_end", LoadAverage1m()},
                {"wall_seconds", Since(t0)},
                {"cpu_seconds", CpuSeconds()}};
  std::cout << out.dump(2) << "\n";
  return 0;
}
