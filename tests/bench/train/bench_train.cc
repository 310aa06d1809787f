// recstack-bench-train: implicit ALS on synth5m with the peer's settings
// (implicit 0.7.3: 64 factors, regularization 0.01, confidence = value,
// conjugate gradient, 2 threads), against the BLAS peak measured in the same
// run: the median time of a 2048^3 sgemm on 2 threads. Reports the SIMD path
// the kernels took (`kernel`; RECSTACK_SIMD=avx2 forces the AVX2 path on an
// AVX-512 machine), the CPU, and where an iteration's time went.
#include <sys/resource.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>
#include <vector>

#include "common/math/blas.h"
#include "common/math/blas_core.h"
#include "common/math/dense.h"
#include "common/math/rng.h"
#include "common/math/simd.h"
#include "common/mf/als.h"
#include "common/mf/dataset.h"
#include "common/mf/evaluate.h"
#include "common/model/model_store.h"

namespace {

double Median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v.empty() ? 0 : v[v.size() / 2];
}

double Now() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

// The 1-minute load average (the machine is shared: other load moves the
// timings); -1 if unreadable.
double LoadAverage() {
  std::ifstream f("/proc/loadavg");
  double load = -1;
  f >> load;
  return f ? load : -1;
}

double SgemmSeconds(int threads, int reps) {
  using recstack::math::Matrix;
  const int n = 2048;
  Matrix a(n, n), b(n, n), c(n, n);
  recstack::math::Rng rng(1);
  for (size_t i = 0; i < a.size(); ++i) {
    a.data()[i] = static_cast<float>(rng.Uniform());
    b.data()[i] = static_cast<float>(rng.Uniform());
  }
  recstack::math::SetBlasThreads(threads);
  std::vector<double> t;
  recstack::math::Gemm(false, false, n, n, n, 1.f, a.data(), n, b.data(), n, 0.f, c.data(),
                       n);  // warm-up
  for (int r = 0; r < reps; ++r) {
    const double s = Now();
    recstack::math::Gemm(false, false, n, n, n, 1.f, a.data(), n, b.data(), n, 0.f, c.data(), n);
    t.push_back(Now() - s);
  }
  return Median(t);
}

}  // namespace

int main(int argc, char** argv) {
  recstack::math::EnsureBlasCoreMatchesCpu(argv);  // may re-execute: first
  using namespace recstack::mf;
  CLI::App app{"Implicit ALS on synth5m vs the OpenBLAS sgemm peak (prints one JSON object)"};
  std::string input = std::string(RECSTACK_DATA_DIR) + "/synth5m/interactions.csv";
  AlsParams p;
  p.factors = 64;
  p.iterations = 15;
  p.regularization = 0.01f;
  p.confidence = Confidence::kValue;
  p.cg_steps = 3;
  p.threads = 2;
  p.seed = 42;
  int k = 10;
  app.add_option("--input", input, "interactions (user,item,value)")->capture_default_str();
  std::string format = "csv";
  app.add_option("--format", format, "input format: csv, movielens (u.data), ml-dat, ml-csv, auto")
      ->capture_default_str();
  app.add_option("--regularization", p.regularization, "lambda")->capture_default_str();
  std::string confidence = "value";
  app.add_option("--confidence", confidence, "value (c = r) or one-plus-alpha (c = 1 + alpha r)")
      ->capture_default_str();
  app.add_option("--alpha", p.alpha, "alpha of --confidence one-plus-alpha")->capture_default_str();
  app.add_option("--iterations", p.iterations, "ALS iterations")->capture_default_str();
  app.add_option("--factors", p.factors, "factors")->capture_default_str();
  app.add_option("--threads", p.threads, "threads")->capture_default_str();
  app.add_option("--cg-steps", p.cg_steps, "CG steps")->capture_default_str();
  std::string solver = "cg";
  app.add_option("--solver", solver, "cg or ials++")->capture_default_str();
  app.add_option("--block-size", p.block_size, "ials++: subspace dimensions")
      ->capture_default_str();
  bool no_order = false;
  app.add_flag("--no-order", no_order, "solve rows in index order, not longest first");
  bool profile = true;
  app.add_flag("--profile,!--no-profile", profile, "time each row's gather and solve (default)");
  int eval_every = 0;
  app.add_option("--eval-every", eval_every,
                 "also evaluate NDCG@10 every N iterations (not timed; 0 = only at the end)");
  std::string redis_url;
  app.add_option("--publish-redis-url", redis_url,
                 "also publish the model to this Redis and report the memory it takes");
  bool json = true;
  app.add_flag("--json,!--no-json", json, "JSON output (default)");
  CLI11_PARSE(app, argc, argv);
  if (solver == "ials++") {
    p.solver = Solver::kSubspace;
  } else if (solver != "cg") {
    std::cerr << "recstack-bench-train: --solver '" << solver << "': cg or ials++\n";
    return 2;
  }
  p.order_rows_by_nnz = !no_order;
  if (confidence == "one-plus-alpha") {
    p.confidence = Confidence::kOnePlusAlpha;
  } else if (confidence != "value") {
    std::cerr << "recstack-bench-train: --confidence '" << confidence
              << "': value or one-plus-alpha\n";
    return 2;
  }
  if (eval_every < 0) {
    std::cerr << "recstack-bench-train: --eval-every must be >= 0, got " << eval_every << "\n";
    return 2;
  }
  auto data_format = recstack::data::ParseFormat(format);
  if (!data_format.ok()) {
    std::cerr << "recstack-bench-train: --format: " << data_format.status().message() << "\n";
    return 2;
  }
  if (auto st = p.Validate(); !st.ok()) {
    std::cerr << "recstack-bench-train: " << st.message() << "\n";
    return 2;
  }

  const double load_start = LoadAverage();
  const double sgemm = SgemmSeconds(p.threads, 5);
  const double t0 = Now();
  auto data = LoadDataset(input, {.format = *data_format});
  if (!data.ok()) {
    std::cerr << "recstack-bench-train: " << data.status().message() << "\n";
    return 1;
  }
  const double load_seconds = Now() - t0;
  std::vector<Row> train, test;
  SplitSpec split{.kind = SplitSpec::Kind::kStratified, .train_fraction = 0.8, .min_user_rows = 5};
  if (auto st = Split(*data, split, 42, &train, &test); !st.ok()) {
    std::cerr << "recstack-bench-train: " << st.message() << "\n";
    return 1;
  }
  std::vector<Row>().swap(data->rows);
  const int32_t nu = data->users.size(), ni = data->items.size();
  const int64_t n_train = static_cast<int64_t>(train.size());
  InteractionMatrix m = BuildMatrix(nu, ni, std::move(train), true);
  const double csr_bytes = static_cast<double>(m.by_user.bytes() + m.by_item.bytes());

  ImplicitAls als(p);
  als.set_profiling(profile);
  std::vector<double> iter_seconds;
  nlohmann::json convergence = nlohmann::json::array();
  double it_start = Now(), fit_elapsed = 0;
  auto st = als.Fit(m.by_user, m.by_item, [&](int it) {
    iter_seconds.push_back(Now() - it_start);
    fit_elapsed += iter_seconds.back();
    if (eval_every > 0 && it % eval_every == 0 && it < p.iterations) {
      RankingMetrics r =
          EvaluateRanking(als.user_factors(), als.item_factors(), m.by_user, test, k, p.threads);
      convergence.push_back({{"iteration", it}, {"fit_seconds", fit_elapsed}, {"ndcg@10", r.ndcg}});
    }
    it_start = Now();
    return true;
  });
  if (!st.ok()) {
    std::cerr << "recstack-bench-train: " << st.message() << "\n";
    return 1;
  }
  const double e0 = Now();
  RankingMetrics rm =
      EvaluateRanking(als.user_factors(), als.item_factors(), m.by_user, test, k, p.threads);
  const double eval_seconds = Now() - e0;
  const double factor_bytes =
      static_cast<double>(als.user_factors().bytes() + als.item_factors().bytes());
  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  const double peak_rss_mb = ru.ru_maxrss / 1024.0;
  const double per_iter = Median(iter_seconds);
  double total_fit = 0;
  for (double s : iter_seconds) total_fit += s;
  convergence.push_back({{"iteration", static_cast<int>(iter_seconds.size())},
                         {"fit_seconds", total_fit},
                         {"ndcg@10", rm.ndcg}});
  const ImplicitAls::Profile& prof = als.profile();
  const double iters = std::max<double>(1, iter_seconds.size());
  nlohmann::json phases = {
      {"gram", prof.gram_seconds / iters},
      {"gather", prof.gather_seconds / iters},
      {"solve_kernel", prof.kernel_seconds / iters},
      {"row_overhead", prof.row_overhead_seconds / iters},
      {"thread_imbalance", prof.imbalance_seconds / iters},
      {"unaccounted", (total_fit - prof.gram_seconds - prof.gather_seconds - prof.kernel_seconds -
                       prof.row_overhead_seconds - prof.imbalance_seconds) /
                          iters}};
  nlohmann::json j = {
      {"kernel", std::string(recstack::math::SimdLevelName(recstack::math::ActiveSimdLevel()))},
      {"kernel_detected",
       std::string(recstack::math::SimdLevelName(recstack::math::DetectSimdLevel()))},
      {"cpu_model", recstack::math::CpuModelName()},
      {"blas_core", recstack::math::BlasCoreName()},
      {"cpu_flags", recstack::math::CpuSimdFlags()},
      {"solver", solver},
      {"input", (std::filesystem::path(input).parent_path().filename() /
                 std::filesystem::path(input).filename())
                    .string()},
      {"seconds_per_iteration", per_iter},
      {"sgemm_seconds", sgemm},
      {"iteration_over_sgemm", per_iter / sgemm},
      {"peak_rss_mb", peak_rss_mb},
      {"csr_plus_factors_mb", (csr_bytes + factor_bytes) / (1 << 20)},
      {"rss_over_csr_plus_factors", peak_rss_mb * (1 << 20) / (csr_bytes + factor_bytes)},
      {"ndcg@10", rm.ndcg},
      {"precision@10", rm.precision},
      {"recall@10", rm.recall},
      {"eval_users", rm.users},
      {"gram_seconds_total", als.gram_seconds()},
      {"solve_seconds_total", als.solve_seconds()},
      {"fit_seconds_total", total_fit},
      {"load_seconds", load_seconds},
      {"load_average_start", load_start},
      {"load_average_end", LoadAverage()},
      {"eval_seconds", eval_seconds},
      {"users", nu},
      {"items", ni},
      {"train_interactions", n_train},
      {"test_interactions", test.size()},
      {"convergence", convergence},
      {"params",
       {{"factors", p.factors},
        {"iterations", p.iterations},
        {"regularization", p.regularization},
        {"confidence", confidence},
        {"alpha", p.alpha},
        {"cg_steps", p.cg_steps},
        {"threads", p.threads},
        {"block_size", p.block_size},
        {"order_rows_by_nnz", p.order_rows_by_nnz}}}};
  if (profile) j["seconds_per_iteration_by_phase"] = phases;
  if (!redis_url.empty()) {
    // The Redis memory of one published model: INFO used_memory around Publish.
    auto opts = recstack::redis::ParseUrl(redis_url);
    if (!opts.ok()) {
      std::cerr << "recstack-bench-train: " << opts.status().message() << "\n";
      return 1;
    }
    opts->command_timeout = std::chrono::milliseconds(60000);
    recstack::redis::Pool pool(*opts, 2);
    auto used = [&]() -> double {
      auto r = pool.Command({"INFO", "memory"});
      if (!r.ok()) return -1;
      const size_t p = r->str.find("used_memory:");
      return p == std::string::npos ? -1 : std::stod(r->str.substr(p + 12)) / 1048576.0;
    };
    recstack::model::ModelData md;
    md.meta.factors = p.factors;
    md.meta.regularization = p.regularization;
    md.user_ids = data->users.names();
    md.item_ids = data->items.names();
    md.user_factors.assign(als.user_factors().data(),
                           als.user_factors().data() + als.user_factors().size());
    md.item_factors.assign(als.item_factors().data(),
                           als.item_factors().data() + als.item_factors().size());
    recstack::model::ModelStore store(pool, recstack::redis::Keyspace());
    const double before = used();
    const double t = Now();
    auto meta = store.Publish(md, {});
    if (!meta.ok()) {
      std::cerr << "recstack-bench-train: publish: " << meta.status().message() << "\n";
      return 1;
    }
    const double after = used();
    j["publish_seconds"] = Now() - t;
    j["redis_used_memory_mb_before"] = before;
    j["redis_used_memory_mb_after"] = after;
    j["redis_model_mb"] = after - before;
    j["model_float_mb"] = (md.user_factors.size() + md.item_factors.size()) * 4 / 1048576.0;
  }
  std::cout << j.dump(json ? -1 : 2) << "\n";
  return 0;
}
