#include "common/ml/gbdt.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <thread>
#include <vector>

#include "common/ml/envelope.h"
#include "common/ml/logistic.h"
#include "common/ml/metrics.h"
#include "common/ml/xgboost_model.h"
#include "tests/unit/ml/synth.h"

namespace recstack::ml {
namespace {

using testing::Sigmoid;

// Click when the signs of x0 and x1 agree (90% vs 10%); x2 is noise, x3
// sometimes missing. No linear model can see it: XOR.
Dataset MakeXor(size_t n, uint64_t seed) {
  return testing::Make(
      n, 4, seed,
      [](math::Rng& rng, std::vector<float>& x) {
        x[0] = static_cast<float>(2 * rng.Uniform() - 1);
        x[1] = static_cast<float>(2 * rng.Uniform() - 1);
        x[2] = static_cast<float>(rng.Normal());
        x[3] = rng.Uniform() < 0.2 ? NAN : static_cast<float>(rng.Normal());
      },
      [](const std::vector<float>& x) { return x[0] * x[1] > 0 ? 0.9 : 0.1; });
}

GbdtParams Small() {
  GbdtParams p;
  p.rounds = 40;
  p.max_depth = 3;
  p.eta = 0.3;
  return p;
}

TEST(Gbdt, LearnsAPlantedXorThatLogisticCannot) {
  const Dataset train = MakeXor(4000, 1), valid = MakeXor(2000, 2);
  auto g = TrainGbdt(Small(), train, &valid);
  ASSERT_TRUE(g.ok()) << g.status();
  ASSERT_EQ(g->history.size(), 40u);
  EXPECT_EQ(g->metric, "logloss");
  EXPECT_LT(g->history.back().valid_metric, g->history.front().valid_metric);
  EXPECT_EQ(g->model.rounds(), 40);
  auto l = TrainLogistic(LogisticParams{}, train, &valid);
  ASSERT_TRUE(l.ok()) << l.status();

  auto gs = g->model.PredictBatch(valid.features);
  auto ls = l->model.PredictBatch(valid.features);
  ASSERT_TRUE(gs.ok() && ls.ok()) << gs.status();
  const double auc_g = Auc(valid.labels, *gs), auc_l = Auc(valid.labels, *ls);
  // The Bayes AUC here: P(pos in the 0.9 cell) = 0.9, so 0.9^2 + 2 * 0.9 * 0.1 / 2 = 0.9.
  std::printf("XOR validation AUC: gbdt %.3f, logistic %.3f (Bayes 0.900 in expectation)\n", auc_g,
              auc_l);
  EXPECT_GT(auc_g, 0.85);
  EXPECT_LT(auc_l, 0.6);
  // The XGBoost logloss of the last round agrees with ours on the same rows.
  EXPECT_NEAR(g->history.back().valid_metric, LogLoss(valid.labels, *gs), 1e-4);
}

TEST(Gbdt, ShapContributionsOfEveryRowSumToTheMargin) {
  const Dataset train = MakeXor(3000, 3), valid = MakeXor(1000, 4);
  auto g = TrainGbdt(Small(), train);
  ASSERT_TRUE(g.ok()) << g.status();
  auto ex = g->model.ExplainBatch(valid.features);
  auto margins = g->model.MarginBatch(valid.features);
  ASSERT_TRUE(ex.ok() && margins.ok()) << ex.status();
  ASSERT_EQ(ex->size(), valid.rows());
  double noise_share = 0, total = 0;
  for (size_t i = 0; i < valid.rows(); ++i) {
    const Explanation& e = (*ex)[i];
    ASSERT_EQ(e.contributions.size(), 4u);
    double sum = e.bias;
    for (double c : e.contributions) sum += c;
    ASSERT_NEAR(sum, e.margin, 1e-4) << "row " << i;
    ASSERT_EQ(e.margin, (*margins)[i]);
    ASSERT_NEAR(e.score, Sigmoid(e.margin), 1e-6);
    noise_share += std::fabs(e.contributions[2]) + std::fabs(e.contributions[3]);
    total += std::fabs(e.contributions[0]) + std::fabs(e.contributions[1]) +
             std::fabs(e.contributions[2]) + std::fabs(e.contributions[3]);
  }
  // The attribution goes to the features the rule uses.
  EXPECT_LT(noise_share / total, 0.15);
  auto one = g->model.Explain(valid.Row(0));
  ASSERT_TRUE(one.ok());
  EXPECT_EQ(one->margin, (*ex)[0].margin);
}

// Requests of 10 candidates; an item's click probability rises with f0 and
// |f1| (nonlinear), f2 is noise. Rows of a request are contiguous.
Dataset MakeRanking(size_t requests, uint64_t seed) {
  Dataset data;
  data.feature_names = {"f0", "f1", "f2"};
  math::Rng rng(seed);
  for (size_t r = 0; r < requests; ++r) {
    for (int k = 0; k < 10; ++k) {
      const std::vector<float> x = {static_cast<float>(rng.Normal()),
                                    static_cast<float>(rng.Normal()),
                                    static_cast<float>(rng.Normal())};
      const double p = Sigmoid(1.5 * x[0] + 1.5 * std::fabs(x[1]) - 3.5);
      data.AddRow(x, rng.Uniform() < p ? 1.0f : 0.0f, 1000 + r);
    }
  }
  return data;
}

TEST(Gbdt, RankNdcgWithGroupsBeatsRandomOrder) {
  const Dataset train = MakeRanking(600, 5), valid = MakeRanking(300, 6);
  GbdtParams p = Small();
  p.objective = GbdtObjective::kRankNdcg;
  auto g = TrainGbdt(p, train, &valid);
  ASSERT_TRUE(g.ok()) << g.status();
  EXPECT_EQ(g->metric, "ndcg@10");
  auto scores = g->model.PredictBatch(valid.features);
  ASSERT_TRUE(scores.ok()) << scores.status();
  math::Rng rng(9);
  std::vector<double> random(valid.rows());
  for (auto& s : random) s = rng.Uniform();
  const double ndcg = NdcgAtK(valid.labels, *scores, valid.groups, 10);
  const double ndcg_random = NdcgAtK(valid.labels, random, valid.groups, 10);
  std::printf("rank:ndcg validation NDCG@10: model %.3f, random %.3f (xgboost's: %.3f)\n", ndcg,
              ndcg_random, g->history.back().valid_metric);
  EXPECT_GT(ndcg, ndcg_random + 0.15);
  // For rank objectives the score is the margin.
  auto margins = g->model.MarginBatch(valid.features);
  ASSERT_TRUE(margins.ok());
  EXPECT_EQ(*scores, *margins);
}

TEST(Gbdt, RankNeedsContiguousGroups) {
  Dataset train = MakeRanking(20, 7);
  std::swap(train.groups[3], train.groups[15]);
  GbdtParams p = Small();
  p.objective = GbdtObjective::kRankNdcg;
  auto g = TrainGbdt(p, train);
  ASSERT_EQ(g.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(g.status().message().find("not contiguous"), std::string::npos) << g.status();
  train = MakeRanking(20, 7);
  train.groups.clear();
  train.weights.clear();
  EXPECT_NE(TrainGbdt(p, train).status().message().find("group ids"), std::string::npos);
  train = MakeRanking(20, 7);
  train.weights[1] = 2.0f;  // weight differs inside group 1000
  EXPECT_NE(TrainGbdt(p, train).status().message().find("weighs whole groups"), std::string::npos);
}

TEST(Gbdt, RoundTripPredictsExactlyAndDamageIsRefused) {
  const Dataset train = MakeXor(1500, 8);
  auto g = TrainGbdt(Small(), train);
  ASSERT_TRUE(g.ok()) << g.status();
  auto bytes = g->model.Serialize();
  ASSERT_TRUE(bytes.ok()) << bytes.status();
  auto parsed = GbdtModel::Parse(*bytes);
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  EXPECT_EQ(parsed->feature_names(), train.feature_names);
  EXPECT_EQ(parsed->objective(), GbdtObjective::kBinaryLogistic);
  auto a = g->model.PredictBatch(train.features);
  auto b = parsed->PredictBatch(train.features);
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_EQ(*a, *b);  // bit for bit
  auto ea = g->model.ExplainBatch(train.features);
  auto eb = parsed->ExplainBatch(train.features);
  ASSERT_TRUE(ea.ok() && eb.ok());
  for (size_t i = 0; i < train.rows(); ++i) {
    ASSERT_EQ((*ea)[i].contributions, (*eb)[i].contributions);
  }

  const std::string_view all = *bytes;
  for (size_t len : {size_t{0}, size_t{3}, size_t{16}, size_t{40}, all.size() / 2, all.size() - 5,
                     all.size() - 1}) {
    auto t = GbdtModel::Parse(all.substr(0, len));
    ASSERT_EQ(t.status().code(), absl::StatusCode::kInvalidArgument) << len;
  }
  for (size_t i = 0; i < all.size(); i += std::max<size_t>(1, all.size() / 300)) {
    std::string bad(all);
    bad[i] = static_cast<char>(bad[i] ^ 0x04);
    ASSERT_FALSE(GbdtModel::Parse(bad).ok()) << "flipped byte " << i << " parsed";
  }
  // A well-sealed record whose XGBoost part is garbage: XGBoost's own error,
  // as a Status.
  ByteWriter w;
  w.U8(1);
  w.U32(4);
  for (const auto& n : train.feature_names) w.Str(n);
  w.Bytes("{this is not a model");
  auto garbage = GbdtModel::Parse(Seal(GbdtModel::kMagic, GbdtModel::kFormatVersion, w.out()));
  ASSERT_EQ(garbage.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(garbage.status().message().find("the XGBoost model"), std::string::npos)
      << garbage.status();
  // A logistic record is not a gbdt one.
  auto lr = TrainLogistic(LogisticParams{}, train);
  ASSERT_TRUE(lr.ok());
  EXPECT_NE(GbdtModel::Parse(lr->model.Serialize()).status().message().find("magic"),
            std::string::npos);
}

// The XGBoost part of a record: what XGBoost 1.7 would trust (a length past
// the end, a child index out of range, a cycle) is refused before it sees it
// (common/ml/xgboost_model.h; the first was found by tests/fuzz/ranker_fuzz.cc).
TEST(Gbdt, XgboostBytesAreCheckedBeforeXgboostReadsThem) {
  const Dataset train = MakeXor(600, 9);
  GbdtParams p = Small();
  p.rounds = 3;
  auto g = TrainGbdt(p, train);
  ASSERT_TRUE(g.ok()) << g.status();
  auto sealed = g->model.Serialize();
  ASSERT_TRUE(sealed.ok());
  auto payload = Unseal(*sealed, GbdtModel::kMagic, GbdtModel::kFormatVersion, "gbdt");
  ASSERT_TRUE(payload.ok());
  ByteReader r(*payload, "gbdt");
  ASSERT_TRUE(r.U8().ok() && r.U32().ok());
  for (size_t j = 0; j < train.dims(); ++j) ASSERT_TRUE(r.Str().ok());
  auto blob_view = r.Bytes();
  ASSERT_TRUE(blob_view.ok());
  const std::string blob(*blob_view);
  ASSERT_TRUE(CheckXgboostModel(blob, 4, "binary:logistic").ok());
  EXPECT_FALSE(CheckXgboostModel(blob, 5, "binary:logistic").ok());
  EXPECT_FALSE(CheckXgboostModel(blob, 4, "rank:ndcg").ok());
  // What XGBoost writes for the other objective passes too.
  p.objective = GbdtObjective::kRankNdcg;
  auto rank = TrainGbdt(p, train);
  ASSERT_TRUE(rank.ok()) << rank.status();
  auto rank_bytes = rank->model.Serialize();
  ASSERT_TRUE(rank_bytes.ok());
  EXPECT_TRUE(GbdtModel::Parse(*rank_bytes).ok()) << GbdtModel::Parse(*rank_bytes).status();
  // The record around changed XGBoost bytes, sealed so the checksum passes.
  auto record = [&](const std::string& xgb) {
    ByteWriter w;
    w.U8(1);
    w.U32(4);
    for (const auto& n : train.feature_names) w.Str(n);
    w.Bytes(xgb);
    return Seal(GbdtModel::kMagic, GbdtModel::kFormatVersion, w.out());
  };
  ASSERT_TRUE(GbdtModel::Parse(record(blob)).ok());
  auto refused = [&](const std::string& xgb, const char* what) {
    auto m = GbdtModel::Parse(record(xgb));
    EXPECT_EQ(m.status().code(), absl::StatusCode::kInvalidArgument) << what;
    EXPECT_NE(m.status().message().find("the XGBoost model"), std::string::npos) << m.status();
  };
  // '{' 'L' int64 (big-endian) 7 "learner": a length of 2^40.
  ASSERT_EQ(blob.substr(0, 2), "{L");
  std::string long_key = blob;
  long_key[4] = 1;
  refused(long_key, "a key longer than the bytes");
  refused(blob.substr(0, blob.size() - 1), "truncated");
  refused(blob + "Z", "a byte after the model");
  refused(std::string(40, '[') + std::string(40, ']'), "nested 40 deep");
  // The first tree's left_children: [ $ l # L int64 n, then n int32 big-endian.
  const size_t at = blob.find("left_children");
  ASSERT_NE(at, std::string::npos);
  const size_t first = at + 13 + 1 + 1 + 1 + 1 + 1 + 8;
  ASSERT_EQ(blob.substr(at + 13, 3), "[$l");
  std::string out_of_range = blob, cycle = blob;
  out_of_range[first] = 0x7f;  // node 0's left child: 2^30 and more
  refused(out_of_range, "a child index out of range");
  for (int b = 0; b < 4; ++b) cycle[first + b] = 0;  // node 0 its own left child
  refused(cycle, "a cycle");
  // gbtree_model_param's "size_leaf_vector": "0" as "5": XGBoost loads it
  // and refuses every prediction.
  const size_t leaf = blob.find("size_leaf_vector");
  ASSERT_NE(leaf, std::string::npos);
  std::string vector_leaves = blob;
  ASSERT_EQ(vector_leaves.substr(leaf + 16, 2), "SL");
  ASSERT_EQ(vector_leaves[leaf + 26], '0');
  vector_leaves[leaf + 26] = '5';
  refused(vector_leaves, "vector leaves");
}

TEST(Gbdt, DeterministicForAFixedSeed) {
  const Dataset train = MakeXor(2000, 10), valid = MakeXor(500, 11);
  GbdtParams p = Small();
  p.subsample = 0.7;
  p.seed = 42;
  auto a = TrainGbdt(p, train);
  auto b = TrainGbdt(p, train);
  p.seed = 43;
  auto c = TrainGbdt(p, train);
  ASSERT_TRUE(a.ok() && b.ok() && c.ok());
  EXPECT_EQ(*a->model.Serialize(), *b->model.Serialize());
  EXPECT_EQ(*a->model.PredictBatch(valid.features), *b->model.PredictBatch(valid.features));
  // The seed is used: another one subsamples other rows.
  EXPECT_NE(*a->model.PredictBatch(valid.features), *c->model.PredictBatch(valid.features));
}

TEST(Gbdt, ConcurrentPredictionsMatchSerialOnes) {
  const Dataset train = MakeXor(1500, 12), valid = MakeXor(150, 13);
  auto g = TrainGbdt(Small(), train);
  ASSERT_TRUE(g.ok());
  std::vector<Explanation> serial;
  for (size_t i = 0; i < valid.rows(); ++i) serial.push_back(*g->model.Explain(valid.Row(i)));
  std::vector<int> mismatches(2, 0);
  std::vector<std::thread> threads;
  for (int t = 0; t < 2; ++t) {
    threads.emplace_back([&, t] {
      for (int rep = 0; rep < 2; ++rep) {
        for (size_t i = 0; i < valid.rows(); ++i) {
          auto e = g->model.Explain(valid.Row(i));
          if (!e.ok() || e->contributions != serial[i].contributions ||
              e->margin != serial[i].margin) {
            ++mismatches[t];
          }
        }
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(mismatches[0] + mismatches[1], 0);
}

TEST(Gbdt, BadInputIsRefusedNamingTheProblem) {
  const Dataset train = MakeXor(200, 14);
  auto message = [&](const GbdtParams& p) {
    auto r = TrainGbdt(p, train);
    EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument);
    return std::string(r.status().message());
  };
  GbdtParams p;
  p.rounds = 0;
  EXPECT_NE(message(p).find("rounds"), std::string::npos);
  p = {};
  p.eta = 0;
  EXPECT_NE(message(p).find("eta"), std::string::npos);
  p = {};
  p.subsample = 1.5;
  EXPECT_NE(message(p).find("subsample"), std::string::npos);
  p = {};
  p.max_depth = 0;
  EXPECT_NE(message(p).find("max_depth"), std::string::npos);
  p = {};
  p.nthread = 0;
  EXPECT_NE(message(p).find("nthread"), std::string::npos);
  EXPECT_NE(std::string(ParseGbdtObjective("rank:map").status().message()).find("rank:map"),
            std::string::npos);

  auto g = TrainGbdt(Small(), train);
  ASSERT_TRUE(g.ok());
  const std::vector<float> short_row = {1.0f, 2.0f};
  EXPECT_EQ(g->model.Predict(short_row).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(g->model.ExplainBatch(std::vector<float>(7)).status().code(),
            absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace recstack::ml
