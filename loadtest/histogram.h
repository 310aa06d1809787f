#pragma once

// A log-linear latency histogram (the HdrHistogram layout): values are
// nanoseconds; below 256 ns every value has its own bucket, above that each
// power of two is split into 128 equal buckets, so a reported value is
// within 1/256 (0.4%) of the true one. Values above kMaxNs (60 s) are
// clamped into the last bucket; max() stays exact. Recording is a shift and
// an increment, with no allocation: one histogram per thread, merged at the
// end.

#include <array>
#include <cstdint>

namespace recstack::loadtest {

namespace internal {
// Values below 2^(sub_bits+1) map to themselves; above, octave b (2^b <= v <
// 2^(b+1)) is cut into 2^sub_bits buckets of width 2^(b - sub_bits).
constexpr int LogLinearBucket(int64_t v, int sub_bits) {
  if (v < (int64_t{2} << sub_bits)) return static_cast<int>(v);
  const int b = 63 - __builtin_clzll(static_cast<uint64_t>(v));
  const int shift = b - sub_bits;
  return (shift << sub_bits) + static_cast<int>(v >> shift);
}
}  // namespace internal

class LatencyHistogram {
 public:
  static constexpr int64_t kMaxNs = 60'000'000'000;  // 60 s
  static constexpr int kSubBits = 7;                 // 128 buckets per octave

  void Record(int64_t ns);
  void Merge(const LatencyHistogram& other);
  void Clear();

  int64_t count() const { return count_; }
  int64_t max_ns() const { return max_; }
  int64_t min_ns() const { return count_ == 0 ? 0 : min_; }
  double mean_ns() const { return count_ == 0 ? 0 : sum_ / static_cast<double>(count_); }

  // The value at quantile q in [0, 1]: the smallest recorded value v with
  // at least ceil(q * count) values <= v, to bucket precision, never above
  // max(). 0 when empty.
  int64_t Percentile(double q) const;

  // Bucket arithmetic, public for tests.
  static int BucketOf(int64_t ns);
  static int64_t BucketLow(int bucket);
  static int64_t BucketWidth(int bucket);

 private:
  static constexpr int kBuckets = internal::LogLinearBucket(kMaxNs, kSubBits) + 1;

  std::array<int64_t, kBuckets> counts_{};
  int64_t count_ = 0;
  int64_t max_ = 0;
  int64_t min_ = 0;
  double sum_ = 0;
};

}  // namespace recstack::loadtest
