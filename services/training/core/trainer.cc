#include "services/training/core/trainer.h"

#include <chrono>
#include <cmath>

#include "absl/strings/str_cat.h"

namespace recstack::training {
namespace {

double Since(std::chrono::steady_clock::time_point t) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t).count();
}

bool LowerIsBetter(const std::string& metric) { return metric == "rmse" || metric == "mae" || metric == "loss"; }

// The held-out rows were tracked in this order (Train calls TrackPairs), so
// row j's prediction is the model's tracked prediction j: for Gibbs the
// posterior predictive mean ("rmse"), while "rmse_mean_factors" scores the
// posterior-mean factors and biases that get published.
std::map<std::string, double> EvaluateRatings(const ExplicitAls& als,
                                              const std::vector<Row>& test) {
  RatingMetrics m;
  double se = 0, ae = 0, se_pub = 0, ae_pub = 0;
  for (size_t j = 0; j < test.size(); ++j) {
    const Row& r = test[j];
    if (r.user < 0 || r.item < 0) m.fallback_rows++;
    const double e = r.value - als.TrackedPrediction(j);
    se += e * e;
    ae += std::abs(e);
    if (als.sampling()) {
      const double e_pub =
          r.value - als.Predict(r.user < 0 ? -1 : r.user, r.item < 0 ? -1 : r.item);
      se_pub += e_pub * e_pub;
      ae_pub += std::abs(e_pub);
    }
  }
  m.rows = static_cast<int64_t>(test.size());
  if (m.rows > 0) {
    m.rmse = std::sqrt(se / m.rows);
    m.mae = ae / m.rows;
  }
  std::map<std::string, double> out = ToMap(m);
  if (als.sampling() && m.rows > 0) {
    out["rmse_mean_factors"] = std::sqrt(se_pub / m.rows);
    out["mae_mean_factors"] = ae_pub / m.rows;
    out["samples"] = als.samples();
  }
  return out;
}

}  // namespace

absl::StatusOr<Algorithm> ParseAlgorithmName(std::string_view name) {
  if (name == "als-implicit") return Algorithm::kImplicitAls;
  if (name == "als-explicit") return Algorithm::kExplicitAls;
  return absl::InvalidArgumentError(
      absl::StrCat("unknown algorithm '", std::string(name), "' (known: als-implicit, als-explicit)"));
}

std::string AlgorithmName(Algorithm a) {
  return a == Algorithm::kExplicitAls ? "als-explicit" : "als-implicit";
}

absl::Status TrainConfig::Validate() const {
  if (absl::Status st = als.Validate(); !st.ok()) return st;
  if (k < 1 || k > 1000) return absl::InvalidArgumentError(absl::StrCat("k must be 1-1000, got ", k));
  if (patience < 1) return absl::InvalidArgumentError("patience must be >= 1");
  return absl::OkStatus();
}

absl::StatusOr<TrainResult> Train(int32_t n_users, int32_t n_items, std::vector<Row> train,
                                  const std::vector<Row>& test, const TrainConfig& config,
                                  const std::function<bool(const IterationReport&)>& progress) {
  if (absl::Status st = config.Validate(); !st.ok()) return st;
  if (train.empty()) return absl::InvalidArgumentError("no training rows");
  TrainResult result;
  result.n_users = n_users;
  result.n_items = n_items;
  result.n_train = static_cast<int64_t>(train.size());
  result.n_test = static_cast<int64_t>(test.size());
  const bool implicit = config.algorithm == Algorithm::kImplicitAls;
  InteractionMatrix m = BuildMatrix(n_users, n_items, std::move(train), /*sum_duplicates=*/implicit);

  ImplicitAls ials(config.als);
  ExplicitAls eals(config.als);
  if (!implicit) {
    std::vector<std::pair<int32_t, int32_t>> pairs;
    pairs.reserve(test.size());
    for (const Row& r : test)
      pairs.emplace_back(r.user < 0 ? -1 : r.user, r.item < 0 ? -1 : r.item);
    eals.TrackPairs(std::move(pairs));
  }
  const std::string& stop_metric = config.early_stopping_metric;
  double best = 0;
  int since_best = 0;
  TrainedModel best_model;
  auto snapshot = [&](TrainedModel* out) {
    out->algorithm = config.algorithm;
    if (implicit) {
      out->user_factors = ials.user_factors();
      out->item_factors = ials.item_factors();
    } else {
      out->user_factors = eals.user_factors();
      out->item_factors = eals.item_factors();
      out->user_bias = eals.user_bias();
      out->item_bias = eals.item_bias();
      out->global_mean = eals.global_mean();
    }
  };
  auto evaluate = [&]() -> std::map<std::string, double> {
    if (test.empty()) return {};
    auto t = std::chrono::steady_clock::now();
    std::map<std::string, double> out =
        implicit ? ToMap(EvaluateRanking(ials.user_factors(), ials.item_factors(), m.by_user, test,
                                         config.k, config.als.threads),
                         config.k)
                 : EvaluateRatings(eals, test);
    result.eval_seconds += Since(t);
    return out;
  };

  auto iter_start = std::chrono::steady_clock::now();
  auto on_iteration = [&](int it) -> bool {
    IterationReport rep;
    rep.iteration = it;
    rep.seconds = Since(iter_start);
    result.fit_seconds += rep.seconds;
    if (config.compute_loss) rep.loss = implicit ? ials.Loss(m.by_user) : eals.Loss(m.by_user);
    const bool last = it == config.als.iterations;
    if (config.evaluate_each_iteration || last) rep.metrics = evaluate();
    result.history.push_back(rep);
    bool go_on = true;
    if (!stop_metric.empty() && rep.metrics.count(stop_metric)) {
      const double v = rep.metrics[stop_metric];
      const bool better = result.best_iteration == 0 || (LowerIsBetter(stop_metric) ? v < best : v > best);
      if (better) {
        best = v;
        result.best_iteration = it;
        since_best = 0;
        snapshot(&best_model);
      } else if (++since_best >= config.patience) {
        go_on = false;
      }
    }
    if (progress && !progress(rep)) {
      result.cancelled = true;
      go_on = false;
    }
    iter_start = std::chrono::steady_clock::now();
    return go_on;
  };
  absl::Status st = implicit ? ials.Fit(m.by_user, m.by_item, on_iteration)
                             : eals.Fit(m.by_user, m.by_item, on_iteration);
  if (!st.ok()) return st;
  if (implicit) {
    result.gram_seconds = ials.gram_seconds();
    result.solve_seconds = ials.solve_seconds();
  }
  if (result.best_iteration > 0 && !result.cancelled) {
    result.model = std::move(best_model);
    result.metrics = result.history[result.best_iteration - 1].metrics;
  } else {
    snapshot(&result.model);
    result.best_iteration = static_cast<int>(result.history.size());
    result.metrics = result.history.empty() ? std::map<std::string, double>{} : result.history.back().metrics;
    if (result.metrics.empty() && !test.empty()) result.metrics = evaluate();
  }
  return result;
}

}  // namespace recstack::training
