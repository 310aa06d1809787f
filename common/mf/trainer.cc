#include "common/mf/trainer.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <memory>

#include "absl/strings/str_cat.h"
#include "common/math/blas.h"

namespace recstack::mf {
namespace {

double Since(std::chrono::steady_clock::time_point t) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t).count();
}

bool LowerIsBetter(const std::string& metric) {
  return metric == "rmse" || metric == "mae" || metric == "loss";
}

// The held-out rows were tracked in this order (Train calls TrackPairs), so
// row j's prediction is the model's tracked prediction j: for Gibbs the
// posterior predictive mean ("rmse"), while "rmse_mean_factors" scores the
// posterior-mean factors and biases that get published.
std::map<std::string, double> EvaluateRatings(const ExplicitModel& als,
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

// RMSE and MAE of the model on its training rows (clipped predictions, as
// on the test rows).
std::map<std::string, double> TrainRatingMetrics(const ExplicitModel& model,
                                                 const math::CsrMatrix& by_user) {
  double se = 0, ae = 0;
  for (int64_t u = 0; u < by_user.rows; ++u) {
    for (int64_t p = by_user.indptr[u]; p < by_user.indptr[u + 1]; ++p) {
      const double e =
          by_user.values[p] - model.Predict(static_cast<int32_t>(u), by_user.indices[p]);
      se += e * e;
      ae += std::abs(e);
    }
  }
  const double n = static_cast<double>(std::max<int64_t>(1, by_user.nnz()));
  return {{"train_rmse", std::sqrt(se / n)}, {"train_mae", ae / n}};
}

// The training rows as test rows, and an exclusion matrix with no items:
// ranking metrics on the training set itself.
struct TrainAsTest {
  std::vector<Row> rows;
  math::CsrMatrix nothing;
};

TrainAsTest MakeTrainAsTest(const math::CsrMatrix& by_user) {
  TrainAsTest t;
  t.rows.reserve(by_user.nnz());
  for (int64_t u = 0; u < by_user.rows; ++u) {
    for (int64_t p = by_user.indptr[u]; p < by_user.indptr[u + 1]; ++p)
      t.rows.push_back({static_cast<int32_t>(u), by_user.indices[p], by_user.values[p]});
  }
  t.nothing.rows = by_user.rows;
  t.nothing.cols = by_user.cols;
  t.nothing.indptr.assign(by_user.rows + 1, 0);
  return t;
}

// "train_" + each ranking metric's name (rows and user counts dropped).
void AddTrainRanking(const std::map<std::string, double>& m, std::map<std::string, double>* out) {
  for (const auto& [k, v] : m) {
    if (k.find('@') != std::string::npos) (*out)["train_" + k] = v;
  }
}

}  // namespace

absl::StatusOr<Algorithm> ParseAlgorithmName(std::string_view name) {
  if (name == "als-implicit") return Algorithm::kImplicitAls;
  if (name == "als-explicit") return Algorithm::kExplicitAls;
  if (name == "ease") return Algorithm::kEase;
  if (name == "sgd-explicit") return Algorithm::kSgdExplicit;
  return absl::InvalidArgumentError(
      absl::StrCat("unknown algorithm '", std::string(name),
                   "' (known: als-implicit, als-explicit, ease, sgd-explicit)"));
}

bool IsExplicit(Algorithm a) {
  return a == Algorithm::kExplicitAls || a == Algorithm::kSgdExplicit;
}

std::string AlgorithmName(Algorithm a) {
  switch (a) {
    case Algorithm::kExplicitAls:
      return "als-explicit";
    case Algorithm::kEase:
      return "ease";
    case Algorithm::kSgdExplicit:
      return "sgd-explicit";
    case Algorithm::kImplicitAls:
      break;
  }
  return "als-implicit";
}

BlockScorer ModelScorer(const TrainedModel& model, const math::CsrMatrix& train, int threads) {
  if (model.algorithm == Algorithm::kEase) {
    const math::Matrix* b = &model.ease_weights;
    const bool binarize = model.ease_binarized;
    return [b, binarize, &train, threads](const int32_t* users, int64_t count, float* scores) {
      const int64_t n = b->cols();
      ParallelFor(count, threads, 8, [&](int64_t begin, int64_t end, int) {
        std::vector<float> values;
        for (int64_t j = begin; j < end; ++j) {
          const int32_t u = users[j];
          const int64_t p0 = train.indptr[u], len = train.indptr[u + 1] - p0;
          values.assign(train.values.begin() + p0, train.values.begin() + p0 + len);
          if (binarize) {
            for (float& v : values) v = v != 0 ? 1.0f : 0.0f;
          }
          EaseScores(*b, train.indices.data() + p0, values.data(), len, scores + j * n);
        }
      });
    };
  }
  const math::Matrix* U = &model.user_factors;
  const math::Matrix* V = &model.item_factors;
  return [U, V, threads](const int32_t* users, int64_t count, float* scores) {
    const int64_t n = V->rows(), d = V->cols();
    math::Matrix ub(count, d);
    for (int64_t j = 0; j < count; ++j)
      std::copy(U->row(users[j]), U->row(users[j]) + d, ub.row(j));
    math::SetBlasThreads(threads);
    math::Gemm(false, true, count, n, d, 1.0f, ub.data(), d, V->data(), d, 0.0f, scores, n);
  };
}

BlockScorer BlendScorer(BlockScorer a, BlockScorer b, double weight, int64_t n_items) {
  return [a = std::move(a), b = std::move(b), weight, n_items](const int32_t* users, int64_t count,
                                                               float* scores) {
    std::vector<float> other(static_cast<size_t>(count) * n_items);
    a(users, count, scores);
    b(users, count, other.data());
    auto standardise = [n_items](float* s) {
      double sum = 0, sq = 0;
      for (int64_t i = 0; i < n_items; ++i) sum += s[i];
      const double mean = sum / n_items;
      for (int64_t i = 0; i < n_items; ++i) sq += (s[i] - mean) * (s[i] - mean);
      const double sd = std::sqrt(sq / n_items);
      const double inv = sd > 0 ? 1.0 / sd : 0.0;
      for (int64_t i = 0; i < n_items; ++i) s[i] = static_cast<float>((s[i] - mean) * inv);
    };
    for (int64_t j = 0; j < count; ++j) {
      float* sa = scores + j * n_items;
      float* sb = other.data() + j * n_items;
      standardise(sa);
      standardise(sb);
      for (int64_t i = 0; i < n_items; ++i) {
        sa[i] = static_cast<float>(weight * sa[i] + (1 - weight) * sb[i]);
      }
    }
  };
}

namespace {

// EASE is one closed-form fit: one "iteration" in the history.
absl::StatusOr<TrainResult> TrainEase(TrainResult result, std::vector<Row> train,
                                      const std::vector<Row>& test, const TrainConfig& config,
                                      const std::function<bool(const IterationReport&)>& progress) {
  EaseParams params = config.ease;
  params.threads = config.als.threads;
  if (result.n_items > params.max_items) {
    // Before building anything (the matrices could be large).
    return absl::InvalidArgumentError(absl::StrCat(
        "ease: ", result.n_items, " items is above the limit of ", params.max_items,
        " (memory O(items^2), time O(items^3)); raise --ease-max-items or use als-implicit"));
  }
  InteractionMatrix m = BuildMatrix(static_cast<int32_t>(result.n_users),
                                    static_cast<int32_t>(result.n_items), std::move(train),
                                    /*sum_duplicates=*/true);
  auto t = std::chrono::steady_clock::now();
  EaseFitStats stats;
  absl::StatusOr<math::Matrix> b = FitEase(m.by_user, m.by_item, params, &stats);
  if (!b.ok()) return b.status();
  IterationReport rep;
  rep.iteration = 1;
  rep.seconds = Since(t);
  result.fit_seconds = rep.seconds;
  result.gram_seconds = stats.gram_seconds;
  result.solve_seconds = stats.inverse_seconds;
  result.gram_method = stats.gram_method;
  result.model.algorithm = Algorithm::kEase;
  result.model.ease_weights = *std::move(b);
  result.model.ease_binarized = params.binarize;
  const BlockScorer score = ModelScorer(result.model, m.by_user, params.threads);
  if (config.compute_loss) {
    // (|X - X B|_F^2 + lambda |B|_F^2) / (users * items), X as trained.
    const int64_t n = result.n_items;
    std::vector<int32_t> users(m.by_user.rows);
    for (int64_t u = 0; u < m.by_user.rows; ++u) users[u] = static_cast<int32_t>(u);
    std::vector<float> s(256 * n);
    double loss = 0;
    for (size_t b0 = 0; b0 < users.size(); b0 += 256) {
      const int64_t count = std::min<int64_t>(256, users.size() - b0);
      score(users.data() + b0, count, s.data());
      for (int64_t j = 0; j < count; ++j) {
        const int32_t u = users[b0 + j];
        float* row = s.data() + j * n;
        for (int64_t p = m.by_user.indptr[u]; p < m.by_user.indptr[u + 1]; ++p) {
          const float x =
              params.binarize ? (m.by_user.values[p] != 0 ? 1.0f : 0.0f) : m.by_user.values[p];
          row[m.by_user.indices[p]] -= x;
        }
        for (int64_t i = 0; i < n; ++i) loss += static_cast<double>(row[i]) * row[i];
      }
    }
    double reg = 0;
    const math::Matrix& bw = result.model.ease_weights;
    for (size_t i = 0; i < bw.size(); ++i) reg += static_cast<double>(bw.data()[i]) * bw.data()[i];
    rep.loss = (loss + params.lambda * reg) /
               std::max<double>(1.0, static_cast<double>(result.n_users) * n);
  }
  if (!test.empty()) {
    auto te = std::chrono::steady_clock::now();
    rep.metrics =
        ToMap(EvaluateRankingWith(score, result.n_items, m.by_user, test, config.k), config.k);
    result.eval_seconds = Since(te);
  }
  if (config.train_metrics) {
    auto te = std::chrono::steady_clock::now();
    const TrainAsTest t = MakeTrainAsTest(m.by_user);
    AddTrainRanking(
        ToMap(EvaluateRankingWith(score, result.n_items, t.nothing, t.rows, config.k), config.k),
        &rep.metrics);
    result.eval_seconds += Since(te);
  }
  result.history.push_back(rep);
  result.metrics = rep.metrics;
  result.best_iteration = 1;
  if (progress && !progress(rep)) result.cancelled = true;
  return result;
}

}  // namespace

absl::Status TrainConfig::Validate() const {
  if (algorithm == Algorithm::kEase) {
    if (absl::Status st = ease.Validate(); !st.ok()) return st;
  } else if (absl::Status st = als.Validate(); !st.ok()) {
    return st;
  }
  if (algorithm == Algorithm::kSgdExplicit) {
    if (absl::Status st = sgd.Validate(); !st.ok()) return st;
  }
  if (k < 1 || k > 1000)
    return absl::InvalidArgumentError(absl::StrCat("k must be 1-1000, got ", k));
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
  if (config.algorithm == Algorithm::kEase) {
    return TrainEase(std::move(result), std::move(train), test, config, progress);
  }
  const bool implicit = config.algorithm == Algorithm::kImplicitAls;
  InteractionMatrix m =
      BuildMatrix(n_users, n_items, std::move(train), /*sum_duplicates=*/implicit);

  ImplicitAls ials(config.als);
  std::unique_ptr<ExplicitModel> explicit_model =
      config.algorithm == Algorithm::kSgdExplicit
          ? std::make_unique<SgdExplicit>(config.als, config.sgd)
          : MakeExplicitModel(config.als);
  ExplicitModel& eals = *explicit_model;
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
  TrainAsTest train_as_test;
  if (config.train_metrics && implicit) train_as_test = MakeTrainAsTest(m.by_user);
  auto evaluate = [&]() -> std::map<std::string, double> {
    if (test.empty() && !config.train_metrics) return {};
    auto t = std::chrono::steady_clock::now();
    std::map<std::string, double> out;
    if (!test.empty()) {
      out = implicit ? ToMap(EvaluateRanking(ials.user_factors(), ials.item_factors(), m.by_user,
                                             test, config.k, config.als.threads),
                             config.k)
                     : EvaluateRatings(eals, test);
    }
    if (config.train_metrics && implicit) {
      AddTrainRanking(
          ToMap(EvaluateRanking(ials.user_factors(), ials.item_factors(), train_as_test.nothing,
                                train_as_test.rows, config.k, config.als.threads),
                config.k),
          &out);
    } else if (config.train_metrics) {
      out.merge(TrainRatingMetrics(eals, m.by_user));
    }
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
      const bool better =
          result.best_iteration == 0 || (LowerIsBetter(stop_metric) ? v < best : v > best);
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
    result.metrics =
        result.history.empty() ? std::map<std::string, double>{} : result.history.back().metrics;
    if (result.metrics.empty() && (!test.empty() || config.train_metrics))
      result.metrics = evaluate();
  }
  return result;
}

}  // namespace recstack::mf
