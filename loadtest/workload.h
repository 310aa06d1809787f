#pragma once

// What a load test sends: which users and items (Zipf-like over a data
// set's users and items, the most active first), which operations in which
// proportions, and when (constant or Poisson arrivals).

#include <array>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "common/math/rng.h"

namespace recstack::loadtest {

// Users ordered by activity and items by popularity, most first.
struct Catalog {
  std::vector<std::string> users;
  std::vector<std::string> items;

  // From a data set: DIR/interactions.csv (a `recstack datagen` directory)
  // or a CSV file `user,item[,...]` (a header line is skipped), or a
  // tab-separated one such as MovieLens' u.data.
  static absl::StatusOr<Catalog> FromDataset(const std::string& path);
  // Ids "u0".."u{users-1}" and "i0".."i{items-1}", the ones `recstack
  // datagen` writes, in id order.
  static Catalog Synthetic(int64_t users, int64_t items);
};

// Draws 0..n-1 with P(i) proportional to 1 / (i + 1)^s (s = 0: uniform).
class ZipfSampler {
 public:
  ZipfSampler(int64_t n, double s);
  int64_t Sample(math::Rng& rng) const;
  int64_t size() const { return static_cast<int64_t>(cdf_.size()); }

 private:
  std::vector<double> cdf_;
};

enum class Op { kRecommend = 0, kIngest = 1, kSimilar = 2 };
inline constexpr int kNumOps = 3;
std::string_view OpName(Op op);

// "recommend=90,ingest=5,similar=5": weights, normalised to 1.
struct Mix {
  std::array<double, kNumOps> share{1.0, 0.0, 0.0};

  static absl::StatusOr<Mix> Parse(std::string_view text);
  Op Sample(math::Rng& rng) const;
  std::string ToString() const;
};

// Send times: a constant gap of 1/rate, or exponential gaps (Poisson
// arrivals) with mean 1/rate.
class Arrivals {
 public:
  Arrivals(double rate_per_second, bool poisson, uint64_t seed);
  // Nanoseconds from the previous arrival to the next.
  int64_t NextGapNs();

 private:
  double mean_gap_ns_;
  bool poisson_;
  math::Rng rng_;
  double carry_ = 0;  // fractional nanoseconds of constant gaps
};

}  // namespace recstack::loadtest
