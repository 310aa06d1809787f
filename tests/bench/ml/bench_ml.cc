// recstack-bench-ml: what the learned rankers cost, for the ranking service's
// budget: training time on logged-impression-sized data, and the latency of
// scoring / explaining one request's candidates (a batch of --batch rows) and
// of a single row. Seeded synthetic rows (10 features, clicks from a planted
// nonlinear model), one thread; times are CPU time of the process, so a busy
// machine does not inflate them. Prints one JSON object.
#include <time.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <cmath>
#include <iostream>
#include <nlohmann/json.hpp>
#include <vector>

#include "common/math/rng.h"
#include "common/ml/gbdt.h"
#include "common/ml/logistic.h"
#include "common/ml/metrics.h"

namespace {

using recstack::ml::Dataset;

// CPU seconds of this process: on a shared machine the wall clock also
// counts the time other processes held the cores.
double CpuNow() {
  timespec ts{};
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + 1e-9 * static_cast<double>(ts.tv_nsec);
}

double Median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v.empty() ? 0 : v[v.size() / 2];
}

Dataset Make(size_t rows, uint64_t seed) {
  constexpr size_t kDims = 10;
  Dataset data;
  for (size_t j = 0; j < kDims; ++j) data.feature_names.push_back("f" + std::to_string(j));
  recstack::math::Rng rng(seed);
  std::vector<float> x(kDims);
  for (size_t i = 0; i < rows; ++i) {
    for (auto& v : x) v = static_cast<float>(rng.Normal());
    if (rng.Uniform() < 0.1) x[9] = NAN;
    const double m = 0.8 * x[0] - 0.5 * x[1] + 0.7 * x[2] * x[3] + 0.5 * std::fabs(x[4]) - 2.0;
    data.AddRow(x, rng.Uniform() < 1 / (1 + std::exp(-m)) ? 1.0f : 0.0f, i / 20);
  }
  return data;
}

// Median CPU microseconds of `fn` over `reps` calls (single-threaded, so
// CPU time is the latency on an idle core).
template <typename F>
double MedianMicros(int reps, F&& fn) {
  std::vector<double> t;
  for (int r = 0; r < reps; ++r) {
    const double t0 = CpuNow();
    fn();
    t.push_back((CpuNow() - t0) * 1e6);
  }
  return Median(t);
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"recstack-bench-ml: learned-ranker training and scoring cost"};
  size_t rows = 100000;
  size_t batch = 100;
  int reps = 200;
  int explain_reps = 20;
  app.add_option("--rows", rows, "training rows")->check(CLI::Range(1000, 10000000));
  app.add_option("--batch", batch, "rows scored per call (one request's candidates)")
      ->check(CLI::Range(1, 100000));
  app.add_option("--reps", reps, "timed calls per figure")->check(CLI::Range(1, 100000));
  app.add_option("--explain-reps", explain_reps, "timed gbdt explanations (TreeSHAP is slow)")
      ->check(CLI::Range(1, 100000));
  CLI11_PARSE(app, argc, argv);

  const Dataset train = Make(rows, 1), valid = Make(20000, 2);
  std::vector<float> request(valid.features.begin(), valid.features.begin() + batch * valid.dims());
  nlohmann::json out;
  out["rows"] = rows;
  out["features"] = train.dims();
  out["batch"] = batch;

  recstack::ml::LogisticParams lp;  // defaults: adam, batch 256, 20 epochs
  double t0 = CpuNow();
  auto lr = recstack::ml::TrainLogistic(lp, train, &valid);
  const double lr_train = CpuNow() - t0;
  if (!lr.ok()) {
    std::cerr << lr.status() << "\n";
    return 1;
  }
  auto lr_valid = *lr->model.PredictBatch(valid.features);
  out["logistic"] = {
      {"train_cpu_seconds", lr_train},
      {"epochs", lp.epochs},
      {"valid_auc", recstack::ml::Auc(valid.labels, lr_valid)},
      {"valid_logloss", lr->history.back().valid_logloss},
      {"predict_batch_us", MedianMicros(reps, [&] { (void)lr->model.PredictBatch(request); })},
      {"explain_batch_us", MedianMicros(reps,
                                        [&] {
                                          for (size_t i = 0; i < batch; ++i) {
                                            (void)lr->model.Explain(
                                                std::span<const float>(request).subspan(
                                                    i * train.dims(), train.dims()));
                                          }
                                        })},
      {"predict_row_us", MedianMicros(reps, [&] { (void)lr->model.Predict(valid.Row(0)); })},
      {"model_bytes", lr->model.Serialize().size()},
  };

  recstack::ml::GbdtParams gp;  // defaults: binary:logistic, 100 rounds, depth 6, 1 thread
  t0 = CpuNow();
  auto gb = recstack::ml::TrainGbdt(gp, train, &valid);
  const double gb_train = CpuNow() - t0;
  if (!gb.ok()) {
    std::cerr << gb.status() << "\n";
    return 1;
  }
  auto gb_valid = *gb->model.PredictBatch(valid.features);
  out["gbdt"] = {
      {"train_cpu_seconds", gb_train},
      {"rounds", gp.rounds},
      {"max_depth", gp.max_depth},
      {"valid_auc", recstack::ml::Auc(valid.labels, gb_valid)},
      {"valid_logloss", gb->history.back().valid_metric},
      {"predict_batch_us", MedianMicros(reps, [&] { (void)gb->model.PredictBatch(request); })},
      {"explain_batch_us",
       MedianMicros(explain_reps, [&] { (void)gb->model.ExplainBatch(request); })},
      {"predict_row_us", MedianMicros(reps, [&] { (void)gb->model.Predict(valid.Row(0)); })},
      {"model_bytes", gb->model.Serialize()->size()},
  };
  std::cout << out.dump(2) << "\n";
  return 0;
}
