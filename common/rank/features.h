#pragma once

// The ranking feature schema (DESIGN §6, docs/rankers.md): the features of a
// (user, candidate) pair, their names and order. Ranking computes them
// (common/ranking/features.h), the gateway logs the vector each served
// item was scored with, and training learns rankers from those logs; all
// three read the order from here.
//
// Learned rankers see the kNumFeatures features and then `position`, the
// 0-based position the item was shown at (a training feature that models
// position bias; serving sets it to kServingPosition, the top, so every
// candidate is scored as if it were shown first).

#include <array>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"

namespace recstack::ranking {

enum Feature : int {
  kRetrievalScore,
  kSourceMf,
  kSourceItem2Item,
  kSourceTrending,
  kRetrievalPosition,
  kPopularity,
  kItemAgeDays,
  kUserActivity,
  kCategoryOverlap,
  kNumFeatures,
};

// Bumped whenever the features above change meaning or order; logged with
// every impression so training never mixes two layouts.
inline constexpr int kFeatureSchema = 1;

// category_overlap counts the categories of the user's this many newest
// items; the gateway asks retrieval for that many history items to hand on
// to ranking (RankRequest.history).
inline constexpr int kRecentItems = 20;

// Also "position" for kNumFeatures (the learned rankers' extra column) and
// "bias" for -1 (an explanation's intercept).
std::string_view FeatureName(int f);
// -1 for an unknown name (of the kNumFeatures).
int FeatureIndex(std::string_view name);

struct FeatureRow {
  std::string item_id;
  std::array<double, kNumFeatures> f{};
};

// The learned rankers' column names: the features, then "position" when
// `with_position` (the position-as-feature treatment of position bias).
std::vector<std::string> LearnedFeatureNames(bool with_position);
inline constexpr float kServingPosition = 0;

// A feature vector in an impression's context: comma-separated shortest
// round-trip floats. Decode fails (INVALID_ARGUMENT) on a value that is not
// a number or a count other than `expected`.
std::string EncodeFeatures(std::span<const float> values);
absl::StatusOr<std::vector<float>> DecodeFeatures(std::string_view text, size_t expected);

}  // namespace recstack::ranking
