#pragma once

// A synthetic interaction generator with a planted latent model (DESIGN §9),
// the same recipe as ../shared/data/synth5m (its README):
//   1. user factors U (users x rank) and item factors V (items x rank), N(0,1);
//   2. Zipf popularity: a random permutation gives each item a rank r,
//      log popularity = -zipf_exponent * ln(r);
//   3. items per user ~ round(lognormal(ln(m) - sigma^2/2, sigma)), clipped to
//      [1, min(items, 5000)], m = interactions / users;
//   4. affinity s_ui = U_u . V_i / sqrt(rank); a user's items are drawn
//      without replacement with probability proportional to
//      popularity * exp(beta * s) (Gumbel top-k);
//      value = 1 + Poisson(3 * sigmoid(2 s));
//   5. each user's events at sorted uniform times in [end - days, end).
// Ids are "u<N>" and "i<N>". The generator is deterministic for a seed, on
// every platform (math::Rng, no std:: distributions).
//
// Click model (for simulated clicks in load tests):
//   P(click | u, i) = sigmoid(click_scale * s_ui + click_bias)
// With the defaults (and the default sizes: rank 16, 1000 items) a user's
// true top-10 items (TrueTopK) click with about 0.30 and a random item with
// about 0.02; the unit test ClickModelCalibration checks both.

#include <cstdint>
#include <string>
#include <unordered_map>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "common/math/dense.h"

namespace recstack::data {

struct SyntheticParams {
  int64_t users = 2000;
  int64_t items = 1000;
  int64_t interactions = 50000;  // target; the exact count is reported
  int32_t rank = 16;
  uint64_t seed = 7;
  double zipf_exponent = 1.0;
  double activity_sigma = 1.0;
  double beta = 2.0;  // affinity strength in the sampling weights
  int32_t days = 30;
  int64_t end_time_ms = 1767225600000;  // 2026-01-01T00:00:00Z
  double click_scale = 2.77;
  double click_bias = -7.13;

  absl::Status Validate() const;
};

struct SyntheticSummary {
  int64_t users = 0;
  int64_t items = 0;
  int64_t interactions = 0;
  double density = 0;
  double mean_per_user = 0;
  int64_t median_per_user = 0;
  int64_t max_per_user = 0;
  double top1pct_item_share = 0;  // share of interactions on the top 1% of items
  std::vector<std::string> files;
};

// Writes DIR/interactions.csv (user,item,value,timestamp[ms]), DIR/items.csv
// (item,title,categories,created_at_ms) and DIR/truth/ (user_factors.npy,
// item_factors.npy, item_log_popularity.npy, users.txt, items.txt,
// truth.json with every parameter and the click model).
absl::StatusOr<SyntheticSummary> GenerateSynthetic(const SyntheticParams& params,
                                                   const std::string& dir);

// The planted model of a generated data set, loaded from DIR/truth.
class GroundTruth {
 public:
  static absl::StatusOr<GroundTruth> Load(const std::string& dir);

  const SyntheticParams& params() const { return params_; }
  int64_t num_users() const { return user_factors_.rows(); }
  int64_t num_items() const { return item_factors_.rows(); }
  const std::vector<std::string>& item_ids() const { return item_ids_; }
  const std::vector<std::string>& user_ids() const { return user_ids_; }

  // s_ui; NotFound for an unknown id.
  absl::StatusOr<double> Affinity(std::string_view user, std::string_view item) const;
  absl::StatusOr<double> ClickProbability(std::string_view user, std::string_view item) const;
  // The k items with the highest sampling weight log_pop + beta * s,
  // skipping `exclude`; best first.
  absl::StatusOr<std::vector<std::string>> TrueTopK(
      std::string_view user, int k, const std::vector<std::string>& exclude = {}) const;

 private:
  SyntheticParams params_;
  std::vector<std::string> user_ids_, item_ids_;
  std::unordered_map<std::string, int64_t> user_index_, item_index_;
  math::Matrix user_factors_, item_factors_;
  std::vector<float> item_log_pop_;
};

}  // namespace recstack::data
