#include "services/training/feedback_loop.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <limits>
#include <numeric>
#include <unordered_map>

#include "absl/strings/str_cat.h"
#include "common/math/rng.h"
#include "common/ml/metrics.h"
#include "common/status/status.h"

namespace recstack::training {
namespace {

// Each request's impressions that have feature vectors, in log order of
// the requests' first impressions, each request's items by shown position.
std::vector<std::vector<size_t>> GroupByRequest(const FeedbackView& view) {
  std::unordered_map<uint64_t, size_t> index;
  std::vector<std::vector<size_t>> groups;
  for (size_t i = 0; i < view.impressions.size(); ++i) {
    const Impression& imp = view.impressions[i];
    if (imp.features < 0) continue;
    auto [it, fresh] = index.emplace(imp.request, groups.size());
    if (fresh) groups.emplace_back();
    groups[it->second].push_back(i);
  }
  for (auto& g : groups) {
    std::stable_sort(g.begin(), g.end(), [&](size_t a, size_t b) {
      return view.impressions[a].position < view.impressions[b].position;
    });
  }
  return groups;
}

ranking::FeatureRow RowOf(const FeedbackView& view, const Impression& imp) {
  ranking::FeatureRow row;
  const float* f = view.Features(imp);
  for (int j = 0; j < ranking::kNumFeatures; ++j) row.f[j] = f[j];
  return row;
}

// A masked (NaN) feature adds nothing, as an absent term.
double LinearScore(const std::array<double, ranking::kNumFeatures>& w, std::span<const float> x) {
  double s = 0;
  for (int j = 0; j < ranking::kNumFeatures; ++j) {
    if (!std::isnan(x[j])) s += w[j] * x[j];
  }
  return s;
}

}  // namespace

absl::Status RankerJobSpec::Validate() const {
  if (window_ms <= 0) return absl::InvalidArgumentError("--window must be > 0");
  if (attribution_ms <= 0) return absl::InvalidArgumentError("--attribution must be > 0");
  if (!(holdout > 0 && holdout < 1)) return absl::InvalidArgumentError("holdout must be in (0, 1)");
  if (!mask_feature.empty()) {
    const int f = ranking::FeatureIndex(mask_feature);
    if (f < 0 || f >= ranking::kNumFeatures) {
      return absl::InvalidArgumentError(absl::StrCat(
          "mask: unknown feature '", mask_feature, "' (one of the logged features, e.g. ",
          std::string(ranking::FeatureName(static_cast<int>(ranking::Feature::kItemAgeDays))),
          ")"));
    }
  }
  if (!(mask_rate >= 0 && mask_rate <= 1)) {
    return absl::InvalidArgumentError(absl::StrCat("mask rate must be in [0, 1], got ", mask_rate));
  }
  if (kind == ranking::LearnedKind::kLogistic) return logistic.Validate();
  RECSTACK_RETURN_IF_ERROR(gbdt.Validate());
  if (position == PositionMode::kIps && gbdt.objective == ml::GbdtObjective::kRankNdcg) {
    return absl::InvalidArgumentError(
        "position ips weighs single clicks, which rank:ndcg cannot (it weighs whole requests): "
        "use binary:logistic or position feature");
  }
  return absl::OkStatus();
}

absl::StatusOr<std::vector<double>> ExaminationByPosition(const FeedbackView& view,
                                                          const std::vector<uint8_t>& labels) {
  std::vector<double> shown, clicked;
  for (size_t i = 0; i < view.impressions.size(); ++i) {
    const Impression& imp = view.impressions[i];
    if (!imp.explored || imp.position < 0 || imp.position >= 1000) continue;
    if (static_cast<size_t>(imp.position) >= shown.size()) {
      shown.resize(imp.position + 1, 0);
      clicked.resize(imp.position + 1, 0);
    }
    shown[imp.position] += 1;
    clicked[imp.position] += labels[i];
  }
  if (shown.empty() || clicked[0] < 20) {
    return absl::FailedPreconditionError(
        absl::StrCat("position ips needs randomly ordered traffic to estimate examination: ",
                     shown.empty() ? 0 : clicked[0],
                     " clicks at the top of explored requests (at least 20; run the gateway with "
                     "--explore-rate)"));
  }
  const double top = clicked[0] / shown[0];
  std::vector<double> theta(shown.size(), 1.0);
  for (size_t p = 1; p < shown.size(); ++p) {
    const double ctr = shown[p] > 0 ? clicked[p] / shown[p] : top;
    theta[p] = std::clamp(ctr / top, 0.01, 1.0);
  }
  return theta;
}

absl::StatusOr<RankerTrainOutput> TrainRanker(const FeedbackView& view, const RankerJobSpec& spec,
                                              const std::function<bool()>& cancelled) {
  RECSTACK_RETURN_IF_ERROR(spec.Validate());
  const std::vector<uint8_t> labels = view.Labels(spec.attribution_ms);
  const std::vector<std::vector<size_t>> groups = GroupByRequest(view);
  if (groups.size() < 10) {
    return absl::FailedPreconditionError(
        absl::StrCat("only ", groups.size(),
                     " logged requests with feature vectors in the window (at least 10): serve "
                     "and log more traffic first"));
  }
  RankerTrainOutput out;
  out.requests = static_cast<int64_t>(groups.size());
  if (spec.position == PositionMode::kIps) {
    RECSTACK_ASSIGN_OR_RETURN(out.examination, ExaminationByPosition(view, labels));
  }
  const bool with_position = spec.position == PositionMode::kFeature;
  const size_t valid_requests =
      std::max<size_t>(1, static_cast<size_t>(std::lround(spec.holdout * groups.size())));
  const size_t train_requests = groups.size() - valid_requests;
  ml::Dataset train, valid;
  train.feature_names = valid.feature_names = ranking::LearnedFeatureNames(with_position);
  std::vector<uint8_t> valid_explored;  // per held-out row: shown in a random order
  std::vector<float> x(train.dims());
  const int masked = spec.mask_feature.empty() ? -1 : ranking::FeatureIndex(spec.mask_feature);
  for (size_t g = 0; g < groups.size(); ++g) {
    ml::Dataset& d = g < train_requests ? train : valid;
    for (size_t i : groups[g]) {
      const Impression& imp = view.impressions[i];
      const float* f = view.Features(imp);
      std::copy(f, f + ranking::kNumFeatures, x.begin());
      if (with_position) x[ranking::kNumFeatures] = static_cast<float>(imp.position);
      // (request, position) names the impression; the draw is the same for
      // every job with the same seed.
      if (masked >= 0 &&
          math::Rng(imp.request ^ (static_cast<uint64_t>(imp.position) << 48) ^ spec.mask_seed)
                  .Uniform() < spec.mask_rate) {
        x[masked] = std::numeric_limits<float>::quiet_NaN();
      }
      float weight = 1;
      if (!with_position && labels[i] && !out.examination.empty()) {
        const size_t p = std::min<size_t>(imp.position, out.examination.size() - 1);
        weight = static_cast<float>(1.0 / out.examination[p]);
      }
      d.AddRow(x, labels[i], imp.request, weight);
      if (&d == &valid) valid_explored.push_back(imp.explored ? 1 : 0);
      out.positives += labels[i];
    }
  }
  out.train_rows = static_cast<int64_t>(train.rows());
  out.valid_rows = static_cast<int64_t>(valid.rows());
  out.rows = out.train_rows + out.valid_rows;
  const auto positives = [](const ml::Dataset& d) {
    return std::accumulate(d.labels.begin(), d.labels.end(), 0.0);
  };
  if (positives(train) == 0 || positives(train) == static_cast<double>(train.rows())) {
    return absl::FailedPreconditionError(absl::StrCat(
        "the ", train.rows(), " training impressions have ", positives(train),
        " clicks: a ranker needs both clicked and unclicked impressions (are clicks logged with "
        "their request_id?)"));
  }
  if (positives(valid) == 0) {
    return absl::FailedPreconditionError(
        absl::StrCat("no click among the ", valid.rows(),
                     " held-out impressions: log more traffic or raise --holdout"));
  }
  if (cancelled && cancelled()) return absl::CancelledError("cancelled");

  // Train.
  if (spec.kind == ranking::LearnedKind::kLogistic) {
    RECSTACK_ASSIGN_OR_RETURN(ml::LogisticTrainResult res,
                              ml::TrainLogistic(spec.logistic, train, &valid));
    for (const ml::EpochLoss& e : res.history) {
      out.history.push_back(
          {e.epoch,
           e.train_logloss,
           0,
           {{"train_logloss", e.train_logloss}, {"valid_logloss", e.valid_logloss}}});
    }
    out.blob = res.model.Serialize();
  } else {
    RECSTACK_ASSIGN_OR_RETURN(ml::GbdtTrainResult res, ml::TrainGbdt(spec.gbdt, train, &valid));
    for (const ml::GbdtRound& r : res.history) {
      out.history.push_back(
          {r.round,
           r.train_metric,
           0,
           {{"train_" + res.metric, r.train_metric}, {"valid_" + res.metric, r.valid_metric}}});
    }
    RECSTACK_ASSIGN_OR_RETURN(out.blob, res.model.Serialize());
  }
  if (cancelled && cancelled()) return absl::CancelledError("cancelled");

  // Evaluate on the held-out tail, as the model will be served.
  RECSTACK_ASSIGN_OR_RETURN(auto model,
                            ranking::RankerModel::FromBytes(spec.kind, "candidate", out.blob));
  RECSTACK_ASSIGN_OR_RETURN(std::vector<double> scores, model->Predict(valid.features));
  const bool probabilities = spec.kind == ranking::LearnedKind::kLogistic ||
                             spec.gbdt.objective == ml::GbdtObjective::kBinaryLogistic;
  out.metrics["auc"] = ml::Auc(valid.labels, scores);
  if (probabilities) out.metrics["logloss"] = ml::LogLoss(valid.labels, scores);
  std::vector<float> served = valid.features;
  if (with_position) {
    for (size_t r = 0; r < valid.rows(); ++r)
      served[r * valid.dims() + ranking::kNumFeatures] = ranking::kServingPosition;
  }
  RECSTACK_ASSIGN_OR_RETURN(std::vector<double> served_scores, model->Predict(served));
  // NDCG of the served order against the logged clicks. On requests the
  // logging ranker ordered, clicks pile up where it put its favourites
  // (position bias), so any ranker that agrees with it looks good; on the
  // explored requests (random order) a position is no better than another,
  // so that is the figure that ranks rankers ("ndcg@10"; all held-out
  // requests: "ndcg@10_logged").
  const auto ndcg = [&](const std::vector<double>& scores, bool explored_only) {
    std::vector<float> l;
    std::vector<double> s;
    std::vector<uint64_t> g;
    for (size_t r = 0; r < valid.rows(); ++r) {
      if (explored_only && !valid_explored[r]) continue;
      l.push_back(valid.labels[r]);
      s.push_back(scores[r]);
      g.push_back(valid.groups[r]);
    }
    return ml::NdcgAtK(l, s, g, 10);
  };
  int64_t explored_clicked = 0;  // explored held-out requests with a click
  for (size_t r = 0; r < valid.rows();) {
    size_t e = r;
    bool clicked = false;
    for (; e < valid.rows() && valid.groups[e] == valid.groups[r]; ++e)
      clicked = clicked || (valid_explored[e] && valid.labels[e] > 0);
    explored_clicked += clicked ? 1 : 0;
    r = e;
  }
  const bool by_explored = explored_clicked >= 20;
  out.metrics["ndcg@10"] = ndcg(served_scores, by_explored);
  out.metrics["ndcg@10_logged"] = ndcg(served_scores, false);
  out.metrics["ndcg_requests_explored"] = static_cast<double>(by_explored ? explored_clicked : 0);

  // The linear ranker on the same rows.
  RECSTACK_ASSIGN_OR_RETURN(auto linear, ranking::LinearRanker::Create({}));
  const auto& w = static_cast<const ranking::LinearRanker&>(*linear).weights();
  auto linear_scores = [&](const ml::Dataset& d) {
    std::vector<double> s(d.rows());
    for (size_t r = 0; r < d.rows(); ++r) s[r] = LinearScore(w, d.Row(r));
    return s;
  };
  const std::vector<double> lin_valid = linear_scores(valid);
  out.baseline["auc"] = ml::Auc(valid.labels, lin_valid);
  out.baseline["ndcg@10"] = ndcg(lin_valid, by_explored);
  out.baseline["ndcg@10_logged"] = ndcg(lin_valid, false);
  // Its scores are not probabilities: Platt scaling (a one-feature logistic
  // regression fitted on the training rows) makes its log loss comparable.
  ml::Dataset platt_train, platt_valid;
  platt_train.feature_names = platt_valid.feature_names = {"linear_score"};
  const std::vector<double> lin_train = linear_scores(train);
  for (size_t r = 0; r < train.rows(); ++r) {
    const float s = static_cast<float>(lin_train[r]);
    platt_train.AddRow(std::span<const float>(&s, 1), train.labels[r]);
  }
  for (size_t r = 0; r < valid.rows(); ++r) {
    const float s = static_cast<float>(lin_valid[r]);
    platt_valid.AddRow(std::span<const float>(&s, 1), valid.labels[r]);
  }
  ml::LogisticParams platt;
  platt.epochs = 5;
  platt.l2 = 0;
  auto calibrated = ml::TrainLogistic(platt, platt_train);
  if (calibrated.ok()) {
    auto p = calibrated->model.PredictBatch(platt_valid.features);
    if (p.ok()) out.baseline["logloss"] = ml::LogLoss(valid.labels, *p);
  }
  return out;
}

absl::StatusOr<OffPolicyResult> EvaluateOffPolicy(const FeedbackView& view,
                                                  const ranking::Ranker& target,
                                                  int64_t attribution_ms, double confidence) {
  const std::vector<uint8_t> labels = view.Labels(attribution_ms);
  std::vector<stats::LoggedAction> log;
  OffPolicyResult out;
  int64_t explored = 0;
  for (const auto& group : GroupByRequest(view)) {
    std::vector<ranking::FeatureRow> rows;
    rows.reserve(group.size());
    bool positions_ok = true;
    for (size_t k = 0; k < group.size(); ++k) {
      const Impression& imp = view.impressions[group[k]];
      positions_ok = positions_ok && imp.position == static_cast<int32_t>(k);
      rows.push_back(RowOf(view, imp));
    }
    if (!positions_ok) continue;  // part of the answer was not logged
    const std::vector<ranking::Scored> scored = target.ScoreAll(rows);
    std::vector<int> order(rows.size());
    std::iota(order.begin(), order.end(), 0);
    std::stable_sort(order.begin(), order.end(),
                     [&](int a, int b) { return scored[a].score > scored[b].score; });
    std::vector<int> target_position(rows.size());
    for (size_t p = 0; p < order.size(); ++p) target_position[order[p]] = static_cast<int>(p);
    ++out.requests;
    explored += view.impressions[group.front()].explored ? 1 : 0;
    for (size_t k = 0; k < group.size(); ++k) {
      const Impression& imp = view.impressions[group[k]];
      log.push_back({imp.propensity, target_position[k] == imp.position ? 1.0 : 0.0,
                     static_cast<double>(labels[group[k]])});
      out.clicks += labels[group[k]];
    }
  }
  out.impressions = static_cast<int64_t>(log.size());
  if (log.size() < 2) {
    return absl::FailedPreconditionError(absl::StrCat(
        "only ", log.size(), " logged impressions with feature vectors in the window"));
  }
  out.logged_ctr = static_cast<double>(out.clicks) / out.impressions;
  out.explored_share = static_cast<double>(explored) / out.requests;
  RECSTACK_ASSIGN_OR_RETURN(out.ips, stats::InversePropensityEstimate(log, confidence));
  RECSTACK_ASSIGN_OR_RETURN(out.snips, stats::SelfNormalizedEstimate(log, confidence));
  return out;
}

absl::StatusOr<stats::Readout> ReportExperiment(const FeedbackView& view,
                                                const ranking::Experiment& experiment,
                                                const std::string& control,
                                                int64_t attribution_ms) {
  auto exp_id = view.names.Find(experiment.name);
  if (!exp_id.has_value()) {
    return absl::NotFoundError(
        absl::StrCat("no impression of experiment ", experiment.name, " is logged yet"));
  }
  const std::vector<uint8_t> labels = view.Labels(attribution_ms);
  std::vector<std::unordered_map<int32_t, stats::UnitCounts>> per_user(experiment.variants.size());
  std::unordered_map<int32_t, size_t> variant_of;
  for (size_t v = 0; v < experiment.variants.size(); ++v) {
    if (auto id = view.names.Find(experiment.variants[v].name); id.has_value()) variant_of[*id] = v;
  }
  for (size_t i = 0; i < view.impressions.size(); ++i) {
    const Impression& imp = view.impressions[i];
    if (imp.experiment != *exp_id) continue;
    auto it = variant_of.find(imp.variant);
    if (it == variant_of.end()) continue;  // a variant no longer configured
    stats::UnitCounts& u = per_user[it->second][imp.user];
    ++u.impressions;
    u.clicks += labels[i];
  }
  std::vector<stats::VariantData> variants;
  for (size_t v = 0; v < experiment.variants.size(); ++v) {
    const ranking::Variant& cfg = experiment.variants[v];
    stats::VariantData d{cfg.name, cfg.ranker, cfg.traffic, {}};
    d.users.reserve(per_user[v].size());
    for (const auto& [user, counts] : per_user[v]) d.users.push_back(counts);
    variants.push_back(std::move(d));
  }
  return stats::ComputeReadout(experiment.name, variants, control);
}

}  // namespace recstack::training
