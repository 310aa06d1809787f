// The feedback loop's core without sockets: the log's join, its persistence,
// ranker training on a simulated log with a planted click model, off-policy
// estimates against a simulation of the target, and the experiment readout
// against hand counts.

#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <map>

#include <nlohmann/json.hpp>

#include "common/events/event.h"
#include "common/math/rng.h"
#include "common/ml/logistic.h"
#include "common/rank/features.h"
#include "common/rank/learned.h"
#include "services/training/feedback_log.h"
#include "services/training/feedback_loop.h"

namespace recstack::training {
namespace {

constexpr uint8_t kImpression = 8, kClick = 2;

double Sigmoid(double m) { return 1.0 / (1.0 + std::exp(-m)); }

// A logged world: users see k items per request; item quality q drives the
// click probability sigmoid(-1.5 + 2 q) times the examination (1/(p+1))^eta.
// The features carry q in `popularity` and its opposite in
// `retrieval_score`, so the hand-set linear ranker orders them badly.
struct World {
  FeedbackView view;
  double explore = 0;
  double eta = 1;
  int k = 8;
  math::Rng rng{7};
  int64_t now = 1'000'000'000;

  static double Examine(int position, double eta) { return std::pow(1.0 / (position + 1), eta); }
  static double Relevance(double q) { return Sigmoid(-1.5 + 2 * q); }

  // One request of user `user` in (experiment, variant) ordered by
  // decreasing `retrieval_score` (the logging ranker), maybe shuffled;
  // returns the qualities in shown order.
  std::vector<double> Serve(int user, int experiment = -1, int variant = -1,
                            double ctr_boost = 1.0) {
    const uint64_t request = rng.Next();
    std::vector<std::array<float, ranking::kNumFeatures>> items(k);
    std::vector<double> q(k);
    for (int i = 0; i < k; ++i) {
      q[i] = rng.Normal();
      items[i].fill(0);
      items[i][ranking::kPopularity] = static_cast<float>(q[i] + 0.3 * rng.Normal());
      items[i][ranking::kRetrievalScore] = static_cast<float>(-q[i] + 0.3 * rng.Normal());
      items[i][ranking::kSourceMf] = 1;
      items[i][ranking::kRetrievalPosition] = static_cast<float>(i);
    }
    // The logging policy: by retrieval score, best first.
    std::vector<int> order(k);
    std::iota(order.begin(), order.end(), 0);
    std::sort(order.begin(), order.end(), [&](int a, int b) {
      return items[a][ranking::kRetrievalScore] > items[b][ranking::kRetrievalScore];
    });
    const bool shuffled = explore > 0 && rng.Uniform() < explore;
    std::vector<int> shown = order;
    if (shuffled) {
      for (int i = k - 1; i > 0; --i) std::swap(shown[i], shown[rng.Below(i + 1)]);
    }
    std::vector<double> shown_q;
    for (int p = 0; p < k; ++p) {
      const int it = shown[p];
      Impression imp;
      imp.ts_ms = now++;
      imp.request = request;
      imp.user = user;
      imp.item = view.items.Intern("i" + std::to_string(rng.Below(1'000'000)));
      imp.position = p;
      imp.propensity =
          static_cast<float>((order[p] == it ? 1 - explore : 0) + (explore > 0 ? explore / k : 0));
      imp.explored = shuffled;
      imp.experiment = experiment;
      imp.variant = variant;
      imp.features = static_cast<int64_t>(view.features.size());
      view.features.insert(view.features.end(), items[it].begin(), items[it].end());
      view.impressions.push_back(imp);
      const double pclick = std::min(1.0, ctr_boost * Relevance(q[it])) * Examine(p, eta);
      if (rng.Uniform() < pclick) view.clicks.push_back({imp.ts_ms + 5000, request, imp.item});
      shown_q.push_back(q[it]);
    }
    return shown_q;
  }
};

RawFeedback Entry(std::string id, uint8_t type, std::string item, int64_t ts, nlohmann::json ctx) {
  return {std::move(id), type, "u1", std::move(item), ts, ctx.dump()};
}

TEST(FeedbackView, ClicksJoinByRequestAndItemWithinTheWindow) {
  FeedbackView v;
  const int32_t a = v.items.Intern("a"), b = v.items.Intern("b");
  v.impressions = {{.ts_ms = 1000, .request = 1, .item = a},
                   {.ts_ms = 1000, .request = 1, .item = b},
                   {.ts_ms = 1000, .request = 2, .item = a},
                   {.ts_ms = 1000, .request = 3, .item = a}};
  v.clicks = {{.ts_ms = 5000, .request = 1, .item = a},           // joins impression 0
              {.ts_ms = 5000, .request = 9, .item = b},           // another request
              {.ts_ms = 1000 + 60'001, .request = 2, .item = a},  // too late
              {.ts_ms = 500, .request = 3, .item = a}};           // 0.5 s early: clocks
  EXPECT_EQ(v.Labels(60'000), (std::vector<uint8_t>{1, 0, 0, 1}));
  EXPECT_EQ(v.Labels(100'000), (std::vector<uint8_t>{1, 0, 1, 1}));
}

TEST(FeedbackLog, PersistsSkipsRepeatsAndCutsATornTail) {
  const std::string dir = ::testing::TempDir() + "/feedback_log_test";
  std::filesystem::remove_all(dir);
  const std::string features =
      ranking::EncodeFeatures(std::vector<float>(ranking::kNumFeatures, 0.5f));
  {
    FeedbackLog log(dir);
    ASSERT_TRUE(log.Open().ok());
    ASSERT_TRUE(log.Append({Entry("1-0", kImpression, "a", 1000,
                                  {{"request_id", "r1"},
                                   {"position", "0"},
                                   {"propensity", "0.8"},
                                   {"features", features},
                                   {"feature_schema", std::to_string(ranking::kFeatureSchema)},
                                   {"experiment", "e"},
                                   {"variant", "control"}}),
                            Entry("2-0", kImpression, "b", 1000,
                                  {{"request_id", "r1"},
                                   {"position", "1"},
                                   {"features", "1,2"},
                                   {"feature_schema", "1"}}),
                            Entry("3-0", kClick, "a", 2000, {{"request_id", "r1"}})})
                    .ok());
    // Already kept: a replay after a crash adds nothing.
    ASSERT_TRUE(log.Append({Entry("2-0", kImpression, "b", 1000, {{"request_id", "r1"}})}).ok());
    EXPECT_EQ(log.impressions(), 2);
    EXPECT_EQ(log.clicks(), 1);
    EXPECT_EQ(log.unusable(), 1);  // "1,2" is not a whole vector
  }
  {
    std::ofstream torn(dir + "/feedback.log", std::ios::app | std::ios::binary);
    torn.write("\x40\x00\x00\x00garbage", 11);
  }
  FeedbackLog log(dir);
  ASSERT_TRUE(log.Open().ok());
  EXPECT_EQ(log.impressions(), 2);
  EXPECT_EQ(log.clicks(), 1);
  const FeedbackView v = log.Snapshot();
  ASSERT_EQ(v.impressions.size(), 2u);
  EXPECT_FLOAT_EQ(v.impressions[0].propensity, 0.8f);
  ASSERT_NE(v.Features(v.impressions[0]), nullptr);
  EXPECT_FLOAT_EQ(v.Features(v.impressions[0])[3], 0.5f);
  EXPECT_EQ(v.Features(v.impressions[1]), nullptr);
  EXPECT_EQ(v.names.Name(v.impressions[0].variant), "control");
  EXPECT_EQ(v.Labels(60'000), (std::vector<uint8_t>{1, 0}));
  // And appends after the cut land whole.
  ASSERT_TRUE(log.Append({Entry("4-0", kClick, "b", 2000, {{"request_id", "r1"}})}).ok());
  FeedbackLog again(dir);
  ASSERT_TRUE(again.Open().ok());
  EXPECT_EQ(again.clicks(), 2);
}

// The gateway's format: one IMPRESSION per answer, every item shown in
// "shown" (events::EncodeShown). Each becomes an impression of its own
// with the answer's request, names and exploration flag, its own position,
// propensity and vector; a vector of another length is unusable but the
// impression still counts; and it all reads back the same after a restart.
TEST(FeedbackLog, AnAnswersImpressionBecomesOneImpressionPerItemShown) {
  const std::string dir = ::testing::TempDir() + "/feedback_answer_test";
  std::filesystem::remove_all(dir);
  std::vector<float> f0(ranking::kNumFeatures, 0.25f), f2(ranking::kNumFeatures, 2.0f);
  const std::vector<events::ShownItem> shown = {
      {"a", 0, 0.8, f0}, {"b", 1, 0.05, {1.0f, 2.0f}}, {"c", 2, 0, f2}};
  const nlohmann::json answer = {
      {"request_id", "r1"}, {"feature_schema", std::to_string(ranking::kFeatureSchema)},
      {"experiment", "e"},  {"variant", "control"},
      {"explored", "1"},    {events::kShownContextKey, events::EncodeShown(shown)}};
  auto check = [&](const FeedbackLog& log) {
    EXPECT_EQ(log.impressions(), 3);
    const FeedbackView v = log.Snapshot();
    ASSERT_EQ(v.impressions.size(), 3u);
    for (int i = 0; i < 3; ++i) {
      const Impression& imp = v.impressions[i];
      EXPECT_EQ(v.items.Name(imp.item), shown[i].item_id);
      EXPECT_EQ(imp.position, i);
      EXPECT_EQ(imp.request, RequestKey("r1"));
      EXPECT_EQ(imp.ts_ms, 1000);
      EXPECT_TRUE(imp.explored);
      EXPECT_EQ(v.names.Name(imp.variant), "control");
    }
    EXPECT_FLOAT_EQ(v.impressions[0].propensity, 0.8f);
    EXPECT_FLOAT_EQ(v.impressions[1].propensity, 0.05f);
    EXPECT_FLOAT_EQ(v.impressions[2].propensity, 1.0f);  // 0: not said
    ASSERT_NE(v.Features(v.impressions[0]), nullptr);
    EXPECT_FLOAT_EQ(v.Features(v.impressions[0])[4], 0.25f);
    EXPECT_EQ(v.Features(v.impressions[1]), nullptr);
    ASSERT_NE(v.Features(v.impressions[2]), nullptr);
    EXPECT_FLOAT_EQ(v.Features(v.impressions[2])[0], 2.0f);
    // The click on the second item joins it, not the others.
    EXPECT_EQ(v.Labels(60'000), (std::vector<uint8_t>{0, 1, 0}));
  };
  {
    FeedbackLog log(dir);
    ASSERT_TRUE(log.Open().ok());
    ASSERT_TRUE(log.Append({Entry("1-0", kImpression, "a", 1000, answer),
                            Entry("2-0", kClick, "b", 3000, {{"request_id", "r1"}})})
                    .ok());
    EXPECT_EQ(log.unusable(), 1);  // b's two values are not a whole vector
    check(log);
  }
  FeedbackLog log(dir);
  ASSERT_TRUE(log.Open().ok());
  check(log);
  // Text that is not shown items counts as unusable and adds nothing.
  nlohmann::json bad = answer;
  bad[events::kShownContextKey] = "a\t0";
  ASSERT_TRUE(log.Append({Entry("3-0", kImpression, "a", 4000, bad)}).ok());
  EXPECT_EQ(log.impressions(), 3);
}

// Retention: a 16 s window over 6,000 impressions 100 ms apart, each of
// its own user and request, with a feature vector that says its timestamp,
// every third one clicked 2 s later. What the log keeps must be exactly the
// window (dropping is due every window/16 = 1 s of event time), each kept
// impression with its own features, names and click; the file must have
// been rewritten; a restart must read back the same window and skip repeats.
TEST(FeedbackLog, RetentionKeepsTheWindowAndCompactsTheFile) {
  const std::string dir = ::testing::TempDir() + "/feedback_retention_test";
  std::filesystem::remove_all(dir);
  constexpr int64_t kWindow = 16'000, kStep = 100;
  constexpr int kImpressions = 6000;
  const FeedbackRetention retention{.window_ms = kWindow, .compact_min_bytes = 64 << 10};
  int64_t seq = 0;  // stream ids in append order
  auto impression = [&](int i) {
    std::vector<float> f(ranking::kNumFeatures, 0.f);
    f[0] = static_cast<float>(i);
    RawFeedback e =
        Entry(std::to_string(++seq) + "-0", kImpression, "i" + std::to_string(i % 700), i * kStep,
              {{"request_id", "r" + std::to_string(i)},
               {"position", "0"},
               {"features", ranking::EncodeFeatures(f)},
               {"feature_schema", std::to_string(ranking::kFeatureSchema)},
               {"variant", "v" + std::to_string(i % 3)}});
    e.user = "u" + std::to_string(i);
    return e;
  };
  auto click = [&](int i) {
    return Entry(std::to_string(++seq) + "-0", kClick, "i" + std::to_string(i % 700),
                 i * kStep + 2000, {{"request_id", "r" + std::to_string(i)}});
  };
  // What a log keeps when its window last cut at `cutoff`: the impressions
  // from there on, each with its own user, item, variant, features and click.
  const int64_t newest = (kImpressions - 1) * kStep;
  auto check = [&](const FeedbackView& v, int64_t cutoff) {
    std::vector<int> expected;
    for (int i = 0; i < kImpressions; ++i) {
      if (i * kStep >= cutoff) expected.push_back(i);
    }
    ASSERT_EQ(v.impressions.size(), expected.size());
    const std::vector<uint8_t> labels = v.Labels(60'000);
    for (size_t j = 0; j < expected.size(); ++j) {
      const int i = expected[j];
      const Impression& imp = v.impressions[j];
      ASSERT_EQ(imp.ts_ms, i * kStep);
      EXPECT_EQ(v.users.Name(imp.user), "u" + std::to_string(i));
      EXPECT_EQ(v.items.Name(imp.item), "i" + std::to_string(i % 700));
      EXPECT_EQ(v.names.Name(imp.variant), "v" + std::to_string(i % 3));
      ASSERT_NE(v.Features(imp), nullptr);
      EXPECT_EQ(v.Features(imp)[0], static_cast<float>(i));
      // Every third impression was clicked 2 s later (the last ones' clicks
      // never came).
      EXPECT_EQ(labels[j], i % 3 == 0 && i * kStep + 2000 <= newest ? 1 : 0) << i;
    }
  };
  int64_t appended = 0;  // impressions and clicks
  RawFeedback last;
  {
    FeedbackLog log(dir, retention);
    ASSERT_TRUE(log.Open().ok());
    for (int i = 0; i < kImpressions; ++i) {
      // In stream order: the click of impression i - 20 (2 s later) comes
      // with impression i.
      std::vector<RawFeedback> batch;
      if (i >= 20 && (i - 20) % 3 == 0) batch.push_back(click(i - 20));
      batch.push_back(impression(i));
      ASSERT_TRUE(log.Append(batch).ok());
      appended += static_cast<int64_t>(batch.size());
      last = batch.back();
    }
    // Dropping is due every window/16 = 1 s of event time: it last cut when
    // the newest event was at a whole second.
    const int64_t cutoff = newest / 1000 * 1000 - kWindow;
    check(log.Snapshot(), cutoff);
    const FeedbackStats st = log.stats();
    EXPECT_EQ(st.impressions, (newest - cutoff) / kStep + 1);
    EXPECT_GE(st.compactions, 1);
    EXPECT_EQ(st.file_bytes,
              static_cast<int64_t>(std::filesystem::file_size(dir + "/feedback.log")));
    // Rewritten once it doubled past 64 KiB: about 200 kept impressions
    // (~40 KB) and what came since.
    EXPECT_LT(st.file_bytes, 200 << 10);
    EXPECT_EQ(st.dropped_entries, appended - st.impressions - st.clicks);
  }
  // A restart cuts at exactly the window before the newest event.
  FeedbackLog again(dir, retention);
  ASSERT_TRUE(again.Open().ok());
  check(again.Snapshot(), newest - kWindow);
  // The newest entry is in the file still: a replay of it adds nothing.
  ASSERT_TRUE(again.Append({last}).ok());
  EXPECT_EQ(again.impressions(), kWindow / kStep + 1);
  // Without retention (the default) nothing is dropped, however new an entry.
  FeedbackLog all(dir);
  ASSERT_TRUE(all.Open().ok());
  const int64_t before = all.impressions();
  EXPECT_GE(before, again.impressions());
  ASSERT_TRUE(all.Append({impression(kImpressions + 1000)}).ok());
  EXPECT_EQ(all.impressions(), before + 1);
}

TEST(TrainRanker, LearnedRankersBeatTheHandSetOneOnAPlantedClickModel) {
  World w;
  w.explore = 0.2;
  for (int r = 0; r < 3000; ++r) w.Serve(r % 500);
  for (auto kind : {ranking::LearnedKind::kGbdt, ranking::LearnedKind::kLogistic}) {
    RankerJobSpec spec;
    spec.kind = kind;
    spec.gbdt.rounds = 40;
    spec.gbdt.max_depth = 4;
    spec.logistic.epochs = 10;
    auto out = TrainRanker(w.view, spec);
    ASSERT_TRUE(out.ok()) << out.status();
    EXPECT_EQ(out->rows, 3000 * w.k);
    EXPECT_EQ(out->train_rows + out->valid_rows, out->rows);
    EXPECT_GT(out->positives, 0);
    // Linear trusts retrieval_score, which is planted against quality.
    EXPECT_LT(out->baseline.at("auc"), 0.45);
    EXPECT_GT(out->metrics.at("auc"), 0.65) << ranking::LearnedKindName(kind);
    EXPECT_GT(out->metrics.at("ndcg@10"), out->baseline.at("ndcg@10") + 0.05);
    EXPECT_LT(out->metrics.at("logloss"), out->baseline.at("logloss"));
    EXPECT_FALSE(out->history.empty());
    // The model loads as serving loads it, with the position column.
    auto model = ranking::RankerModel::FromBytes(kind, "v1", out->blob);
    ASSERT_TRUE(model.ok()) << model.status();
    EXPECT_TRUE((*model)->with_position());
  }
}

TEST(TrainRanker, ServedGbdtContributionsSumToItsMargin) {
  World w;
  for (int r = 0; r < 1500; ++r) w.Serve(r % 300);
  RankerJobSpec spec;
  spec.gbdt.rounds = 30;
  auto out = TrainRanker(w.view, spec);
  ASSERT_TRUE(out.ok()) << out.status();
  auto model = ranking::RankerModel::FromBytes(ranking::LearnedKind::kGbdt, "v1", out->blob);
  ASSERT_TRUE(model.ok());
  auto ranker = ranking::MakeLearnedRanker(*model);
  for (size_t i = 0; i < 50; ++i) {
    ranking::FeatureRow row;
    const float* f = w.view.Features(w.view.impressions[i]);
    for (int j = 0; j < ranking::kNumFeatures; ++j) row.f[j] = f[j];
    std::vector<ranking::Scored> s = ranker->ScoreAll({row});
    EXPECT_TRUE(s[0].contributions.empty());  // scoring alone does not explain
    ranker->Explain({&row}, {&s[0]});
    double sum = 0;
    bool has_bias = false, has_position = false;
    for (const auto& c : s[0].contributions) {
      sum += c.contribution;
      has_bias |= c.feature == ranking::kBiasFeature;
      has_position |= ranking::FeatureName(c.feature) == "position";
    }
    EXPECT_TRUE(has_bias);
    EXPECT_TRUE(has_position);
    const double margin = std::log(s[0].score / (1 - s[0].score));
    EXPECT_NEAR(sum, margin, 1e-4);
  }
}

TEST(TrainRanker, IpsNeedsExplorationAndWeighsClicksByExamination) {
  World w;
  for (int r = 0; r < 500; ++r) w.Serve(r);
  RankerJobSpec spec;
  spec.position = PositionMode::kIps;
  auto none = TrainRanker(w.view, spec);
  ASSERT_FALSE(none.ok());
  EXPECT_NE(std::string(none.status().message()).find("--explore-rate"), std::string::npos);

  World e;
  e.explore = 1.0;  // every request randomly ordered: examination is identified
  for (int r = 0; r < 6000; ++r) e.Serve(r % 1000);
  auto theta = ExaminationByPosition(e.view, e.view.Labels(kDefaultAttributionMs));
  ASSERT_TRUE(theta.ok()) << theta.status();
  // (1/(p+1))^1 within sampling error (a few hundred clicks a position).
  for (int p = 1; p < 4; ++p) EXPECT_NEAR((*theta)[p], 1.0 / (p + 1), 0.08) << p;
  auto out = TrainRanker(e.view, spec);
  ASSERT_TRUE(out.ok()) << out.status();
  auto model = ranking::RankerModel::FromBytes(ranking::LearnedKind::kGbdt, "v", out->blob);
  ASSERT_TRUE(model.ok());
  EXPECT_FALSE((*model)->with_position());
}

TEST(TrainRanker, BadInputNamesTheProblem) {
  World w;
  for (int r = 0; r < 5; ++r) w.Serve(r);
  RankerJobSpec spec;
  spec.window_ms = 0;
  EXPECT_NE(std::string(TrainRanker(w.view, spec).status().message()).find("--window"),
            std::string::npos);
  spec.window_ms = kDefaultWindowMs;
  auto few = TrainRanker(w.view, spec);
  EXPECT_EQ(few.status().code(), absl::StatusCode::kFailedPrecondition);
  spec.position = PositionMode::kIps;
  spec.gbdt.objective = ml::GbdtObjective::kRankNdcg;
  EXPECT_EQ(spec.Validate().code(), absl::StatusCode::kInvalidArgument);
}

TEST(TrainRanker, AMaskedFeatureIsMissingForTheLearners) {
  World w;
  for (int r = 0; r < 1500; ++r) w.Serve(r % 300);
  RankerJobSpec spec;
  spec.kind = ranking::LearnedKind::kLogistic;
  spec.logistic.epochs = 3;
  spec.mask_feature = "popularity";
  spec.mask_rate = 0.3;
  const int masked = ranking::FeatureIndex("popularity");
  // Imputed: the masked feature, and only it, gets an is-missing column.
  auto out = TrainRanker(w.view, spec);
  ASSERT_TRUE(out.ok()) << out.status();
  auto model = ml::LogisticModel::Parse(out->blob);
  ASSERT_TRUE(model.ok()) << model.status();
  for (size_t j = 0; j < model->dims(); ++j) {
    EXPECT_EQ(model->has_indicator()[j], static_cast<int>(j) == masked ? 1 : 0) << j;
  }
  // The draw is seeded: the same job twice is the same model.
  auto again = TrainRanker(w.view, spec);
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again->blob, out->blob);
  // Dropped: no indicator.
  spec.logistic.missing = ml::MissingPolicy::kDropRows;
  auto dropped = TrainRanker(w.view, spec);
  ASSERT_TRUE(dropped.ok()) << dropped.status();
  auto dm = ml::LogisticModel::Parse(dropped->blob);
  ASSERT_TRUE(dm.ok());
  for (uint8_t has : dm->has_indicator()) EXPECT_EQ(has, 0);
  // Every row masked and dropped leaves nothing to learn from.
  spec.mask_rate = 1;
  EXPECT_FALSE(TrainRanker(w.view, spec).ok());
  // No mask: no indicator.
  spec.mask_feature.clear();
  spec.logistic.missing = ml::MissingPolicy::kImputeWithIndicator;
  auto plain = TrainRanker(w.view, spec);
  ASSERT_TRUE(plain.ok());
  auto pm = ml::LogisticModel::Parse(plain->blob);
  ASSERT_TRUE(pm.ok());
  for (uint8_t has : pm->has_indicator()) EXPECT_EQ(has, 0);
}

TEST(TrainRanker, ABadMaskNamesTheProblem) {
  RankerJobSpec spec;
  spec.mask_feature = "no_such_feature";
  spec.mask_rate = 0.5;
  EXPECT_EQ(spec.Validate().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(std::string(spec.Validate().message()).find("no_such_feature"), std::string::npos);
  spec.mask_feature = "popularity";
  spec.mask_rate = 1.5;
  EXPECT_NE(std::string(spec.Validate().message()).find("mask rate"), std::string::npos);
  spec.mask_rate = 0.5;
  EXPECT_TRUE(spec.Validate().ok());
}

// Ranks by popularity (the planted quality signal), as a target policy.
class ByPopularity final : public ranking::Ranker {
 public:
  ranking::Scored Score(const ranking::FeatureRow& row) const override {
    return {row.f[ranking::kPopularity], {}};
  }
};

TEST(OffPolicy, IpsMatchesTheTargetsSimulatedCtr) {
  World w;
  w.explore = 0.5;
  for (int r = 0; r < 8000; ++r) w.Serve(r % 1000);
  ByPopularity target;
  auto est = EvaluateOffPolicy(w.view, target, kDefaultAttributionMs, 0.95);
  ASSERT_TRUE(est.ok()) << est.status();
  EXPECT_EQ(est->requests, 8000);
  EXPECT_NEAR(est->explored_share, 0.5, 0.03);
  // The truth, by simulation: the target orders the same kind of lists by
  // popularity; expected CTR per impression from the planted model.
  math::Rng rng(99);
  double truth = 0;
  const int n = 40000;
  for (int r = 0; r < n; ++r) {
    std::vector<std::pair<double, double>> items(w.k);  // (popularity, q)
    for (auto& [pop, q] : items) {
      q = rng.Normal();
      pop = q + 0.3 * rng.Normal();
    }
    std::sort(items.begin(), items.end(), [](auto& a, auto& b) { return a.first > b.first; });
    for (int p = 0; p < w.k; ++p)
      truth += World::Relevance(items[p].second) * World::Examine(p, w.eta);
  }
  truth /= static_cast<double>(n) * w.k;
  // The logging policy is worse than the target: the estimate must see it.
  EXPECT_GT(truth, est->logged_ctr * 1.5);
  EXPECT_NEAR(est->ips.estimate, truth, 4 * std::sqrt(est->ips.variance) + 0.002);
  EXPECT_NEAR(est->snips.estimate, truth, 4 * std::sqrt(est->snips.variance) + 0.002);
  EXPECT_LT(est->ips.ci.lo, est->ips.estimate);
  EXPECT_GT(est->ips.ci.hi, est->ips.estimate);
}

TEST(Experiment, ReadoutCountsUsersImpressionsAndClicksPerVariant) {
  World w;
  const int32_t exp = w.view.names.Intern("rank-ab");
  const int32_t a = w.view.names.Intern("control"), b = w.view.names.Intern("treatment");
  // 400 users, each in one arm; the treatment's relevance is boosted 1.5x.
  for (int r = 0; r < 4000; ++r) {
    const int user = r % 400;
    const bool treated = user % 2 == 1;
    w.Serve(user, exp, treated ? b : a, treated ? 1.5 : 1.0);
  }
  ranking::Experiment cfg{
      "rank-ab", "s", {{"control", "linear", 0.5, {}}, {"treatment", "gbdt", 0.5, {}}}};
  auto r = ReportExperiment(w.view, cfg, "", kDefaultAttributionMs);
  ASSERT_TRUE(r.ok()) << r.status();
  ASSERT_EQ(r->variants.size(), 2u);
  const auto labels = w.view.Labels(kDefaultAttributionMs);
  std::map<int32_t, int64_t> impressions, clicks;
  for (size_t i = 0; i < w.view.impressions.size(); ++i) {
    ++impressions[w.view.impressions[i].variant];
    clicks[w.view.impressions[i].variant] += labels[i];
  }
  EXPECT_EQ(r->variants[0].users, 200);
  EXPECT_EQ(r->variants[0].impressions, impressions[a]);
  EXPECT_EQ(r->variants[0].clicks, clicks[a]);
  EXPECT_EQ(r->variants[1].clicks, clicks[b]);
  EXPECT_EQ(r->variants[1].ranker, "gbdt");
  ASSERT_EQ(r->comparisons.size(), 1u);
  EXPECT_GT(r->comparisons[0].rel_lift_ci.lo, 0);  // a planted lift, found
  EXPECT_GT(r->srm_p_value, 0.01);

  ranking::Experiment other{"nope", "s", cfg.variants};
  EXPECT_EQ(ReportExperiment(w.view, other, "", kDefaultAttributionMs).status().code(),
            absl::StatusCode::kNotFound);
}

}  // namespace
}  // namespace recstack::training
