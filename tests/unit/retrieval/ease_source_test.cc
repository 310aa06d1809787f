// The ease source against the training side's oracle: its scores are
// TruncatedScores of the same top-N model, seen and excluded items never
// come back, and each candidate names its largest contributor.
#include "common/retrieval/ease_source.h"

#include <gtest/gtest.h>

#include <algorithm>

#include "common/math/rng.h"
#include "common/math/topk.h"
#include "common/mf/ease.h"

namespace recstack::retrieval {
namespace {

struct Fixture {
  mf::EaseNeighbours nb;
  std::shared_ptr<const EaseServingModel> model;
};

// `importance`: rows of different lengths, as the publisher's default
// truncation makes them (q made up: item i's importance falls with i).
Fixture Make(int n, int top_n, uint64_t seed, bool importance = false) {
  math::Rng rng(seed);
  math::Matrix b(n, n);
  for (int i = 0; i < n; ++i) {
    for (int j = 0; j < n; ++j)
      b.at(i, j) = i == j ? 0.0f : static_cast<float>(rng.Uniform() - 0.3);
  }
  Fixture f;
  if (importance) {
    std::vector<float> q(n);
    for (int i = 0; i < n; ++i) q[i] = 1.0f / static_cast<float>(1 + i);
    f.nb = mf::SelectByImportance(b, q, top_n, 2, 4 * top_n, 1);
  } else {
    f.nb = mf::TopNPerRow(b, top_n, 1);
  }
  model::ItemNeighbours in;
  in.meta.version = "v1";
  in.meta.kind = model::ModelKind::kEase;
  in.meta.neighbours = f.nb.MostPerRow();
  for (int i = 0; i < n; ++i) in.item_ids.push_back("i" + std::to_string(i));
  in.indptr = f.nb.indptr;
  in.ids = f.nb.ids;
  in.weights = f.nb.weights;
  f.model = BuildEaseServingModel(std::move(in));
  return f;
}

TEST(EaseSource, MatchesTruncatedScoresAndFiltersSeen) {
  const int n = 120;
  for (bool importance : {false, true}) {
    SCOPED_TRACE(importance ? "importance" : "magnitude");
    Fixture f = Make(n, 15, 3, importance);
    if (importance) ASSERT_GT(f.nb.MostPerRow(), 15);  // rows of different lengths
    math::Rng rng(9);
    for (int trial = 0; trial < 20; ++trial) {
      std::vector<int32_t> hist;
      std::vector<std::string> history;
      while (hist.size() < 6) {
        const int32_t i = static_cast<int32_t>(rng.Below(n));
        if (std::find(hist.begin(), hist.end(), i) != hist.end()) continue;
        hist.push_back(i);
        history.push_back("i" + std::to_string(i));
      }
      std::unordered_set<std::string> blocked(history.begin(), history.end());
      blocked.insert("i" + std::to_string(trial));  // an excluded item
      // Oracle: the training side's truncated score, blocked and untouched
      // items out.
      std::vector<float> ones(hist.size(), 1.0f), s(n);
      mf::TruncatedScores(f.nb, n, hist.data(), ones.data(), static_cast<int64_t>(hist.size()),
                          s.data());
      std::vector<char> touched(n, 0);
      for (int32_t i : hist) {
        for (int64_t p = f.nb.indptr[i]; p < f.nb.indptr[i + 1]; ++p) touched[f.nb.ids[p]] = 1;
      }
      auto want = math::TopK(s.data(), n, 10, [&](int32_t id) {
        return !touched[id] || blocked.count("i" + std::to_string(id)) > 0;
      });
      auto got = EaseRecommend(*f.model, history, blocked, 10, 100);
      ASSERT_EQ(got.size(), want.size());
      for (size_t r = 0; r < got.size(); ++r) {
        EXPECT_EQ(got[r].item_id, "i" + std::to_string(want[r].id))
            << "trial " << trial << " rank " << r;
        EXPECT_NEAR(got[r].score, want[r].score, 1e-5);
        EXPECT_EQ(got[r].source, "ease");
        EXPECT_FALSE(blocked.count(got[r].item_id));
        // The explanation is the history item with the largest weight to it.
        float best = -1e30f;
        std::string because;
        for (int32_t i : hist) {
          for (int64_t p = f.nb.indptr[i]; p < f.nb.indptr[i + 1]; ++p) {
            if (f.nb.ids[p] == want[r].id && f.nb.weights[p] > best) {
              best = f.nb.weights[p];
              because = "i" + std::to_string(i);
            }
          }
        }
        EXPECT_EQ(got[r].because_item_id, because);
      }
    }
  }
}

TEST(EaseSource, HistoryLimitUnknownItemsAndSimilar) {
  Fixture f = Make(50, 5, 4);
  // Only the newest history item counts with max_history 1; unknown ids
  // are skipped, not counted.
  auto one = EaseRecommend(*f.model, {"nope", "i7", "i8"}, {}, 5, 1);
  ASSERT_EQ(one.size(), 5u);
  for (size_t r = 0; r < one.size(); ++r) {
    EXPECT_EQ(one[r].item_id, "i" + std::to_string(f.nb.ids[f.nb.indptr[7] + r]));
    EXPECT_EQ(one[r].because_item_id, "i7");
  }
  EXPECT_TRUE(EaseRecommend(*f.model, {"nope"}, {}, 5, 10).empty());
  auto sim = EaseSimilar(*f.model, 7, 3);
  ASSERT_EQ(sim.size(), 3u);
  EXPECT_EQ(sim[0].item_id, one[0].item_id);
  EXPECT_FLOAT_EQ(static_cast<float>(sim[0].score), f.nb.weights[f.nb.indptr[7]]);
}

}  // namespace
}  // namespace recstack::retrieval
