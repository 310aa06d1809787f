// recstack-bench-ease: EASE (common/mf/ease.*), one JSON object.
//   --dataset ml100k  MovieLens 100K, stratified 75/25 split, seeds 42-44:
//                     NDCG@10 and fit time per seed and their mean; the two
//                     Gram paths timed on the same matrix; recall@10 of the
//                     truncated (top-N per row) score against the full x_u B
//                     top-10, for several N.
//   --dataset synth5m The 20,000-item catalogue: fit time (Gram, inverse) and
//                     peak RSS against the float32 Gram's size.
#include <sys/resource.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <chrono>
#include <fstream>
#include <iostream>
#include <map>
#include <nlohmann/json.hpp>
#include <numeric>

#include "absl/strings/str_cat.h"
#include "common/math/blas_core.h"
#include "common/math/topk.h"
#include "common/mf/dataset.h"
#include "common/mf/ease.h"
#include "common/mf/trainer.h"

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
  std::map<std::string, double> recall_sum;
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
    // Truncation: each test user's top-10 by the full x_u B against the
    // top-10 by the rows' top-N weights, training items excluded from both.
    const int32_t n = data->items.size();
    InteractionMatrix m = BuildMatrix(data->users.size(), n, train, true);
    std::vector<int32_t> users;
    for (const Row& r : test) users.push_back(r.user);
    std::sort(users.begin(), users.end());
    users.erase(std::unique(users.begin(), users.end()), users.end());
    std::vector<float> full(n), cut(n);
    for (int top_n : top_ns) {
      for (Truncation how : {Truncation::kMagnitude, Truncation::kLargest}) {
        const std::string key =
            absl::StrCat(how == Truncation::kMagnitude ? "magnitude_" : "largest_", top_n);
        EaseNeighbours nb = TopNPerRow(res->model.ease_weights, top_n, threads, how);
        double hits = 0;
        int64_t total = 0;
        for (int32_t u : users) {
          const int64_t p0 = m.by_user.indptr[u], len = m.by_user.RowLength(u);
          std::vector<float> ones(len, 1.0f);
          const int32_t* items = m.by_user.indices.data() + p0;
          EaseScores(res->model.ease_weights, items, ones.data(), len, full.data());
          TruncatedScores(nb, n, items, ones.data(), len, cut.data());
          std::vector<char> seen(n, 0), touched(n, 0);
          for (int64_t q = 0; q < len; ++q) seen[items[q]] = 1;
          for (int64_t q = 0; q < len; ++q) {
            for (int64_t p = nb.indptr[items[q]]; p < nb.indptr[items[q] + 1]; ++p)
              touched[nb.ids[p]] = 1;
          }
          auto a = math::TopK(full.data(), n, 10, [&](int32_t id) { return seen[id] != 0; });
          // Served: only items some history row has a weight for.
          auto b =
              math::TopK(cut.data(), n, 10, [&](int32_t id) { return seen[id] || !touched[id]; });
          for (const auto& x : a) {
            hits += std::any_of(b.begin(), b.end(), [&](const auto& y) { return y.id == x.id; });
          }
          total += static_cast<int64_t>(a.size());
        }
        const double recall = total > 0 ? hits / total : 0;
        s["truncated_recall@10"][key] = recall;
        recall_sum[key] += recall;
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
  for (auto& [key, sum] : recall_sum) out["mean_truncated_recall@10"][key] = sum / 3;
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
  auto t = std::chrono::steady_clock::now();
  auto b = FitEase(m.by_user, m.by_item, p, &stats);
  const double fit = Since(t);
  if (!b.ok()) {
    std::cerr << b.status() << "\n";
    std::exit(1);
  }
  const double n = static_cast<double>(m.by_user.cols);
  const double gram_bytes = n * n * 4;
  const double peak = PeakRssBytes();
  auto t2 = std::chrono::steady_clock::now();
  EaseNeighbours nb = TopNPerRow(*b, 200, threads);
  const double topn = Since(t2);
  return {{"dataset", path},
          {"users", m.by_user.rows},
          {"items", m.by_user.cols},
          {"interactions", m.by_user.nnz()},
          {"threads", threads},
          {"lambda", p.lambda},
          {"gram_method", stats.gram_method},
          {"fit_seconds", fit},
          {"gram_seconds", stats.gram_seconds},
          {"inverse_seconds", stats.inverse_seconds},
          {"finish_seconds", stats.finish_seconds},
          {"top200_seconds", topn},
          {"published_weights", nb.ids.size()},
          {"gram_bytes", gram_bytes},
          {"rss_at_start_bytes", rss_start},
          {"rss_before_fit_bytes", rss_before},
          {"peak_rss_bytes", peak},
          {"peak_rss_over_gram", peak / gram_bytes},
          {"peak_fit_increase_over_gram", (peak - rss_before) / gram_bytes}};
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
  if (dataset == "ml100k") {
    out = Ml100k(dir + "/ml-100k", threads, top_ns);
  } else if (dataset == "blend") {
    nlohmann::json all = nlohmann::json::array();
    for (uint64_t seed : {42, 43, 44}) all.push_back(Blend(dir + "/ml-100k", threads, seed));
    out = {{"runs", all}};
  } else if (dataset == "synth5m") {
    out = Synth(dir + "/synth5m/interactions.csv", threads, gram);
  } else {
    std::cerr << "--dataset: ml100k or synth5m\n";
    return 2;
  }
  std::cout << out.dump(2) << "\n";
  return 0;
}
