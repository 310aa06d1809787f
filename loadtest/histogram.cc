#include "loadtest/histogram.h"

#include <algorithm>
#include <cmath>

namespace recstack::loadtest {

int LatencyHistogram::BucketOf(int64_t ns) {
  return internal::LogLinearBucket(std::clamp<int64_t>(ns, 0, kMaxNs), kSubBits);
}

int64_t LatencyHistogram::BucketLow(int bucket) {
  if (bucket < (2 << kSubBits)) return bucket;
  const int shift = (bucket >> kSubBits) - 1;
  const int64_t top = bucket - (static_cast<int64_t>(shift) << kSubBits);
  return top << shift;
}

int64_t LatencyHistogram::BucketWidth(int bucket) {
  if (bucket < (2 << kSubBits)) return 1;
  return int64_t{1} << ((bucket >> kSubBits) - 1);
}

void LatencyHistogram::Record(int64_t ns) {
  if (ns < 0) ns = 0;
  ++counts_[BucketOf(ns)];
  if (count_ == 0 || ns < min_) min_ = ns;
  if (ns > max_) max_ = ns;
  ++count_;
  sum_ += static_cast<double>(ns);
}

void LatencyHistogram::Merge(const LatencyHistogram& other) {
  if (other.count_ == 0) return;
  for (int i = 0; i < kBuckets; ++i) counts_[i] += other.counts_[i];
  min_ = count_ == 0 ? other.min_ : std::min(min_, other.min_);
  max_ = std::max(max_, other.max_);
  count_ += other.count_;
  sum_ += other.sum_;
}

void LatencyHistogram::Clear() { *this = LatencyHistogram(); }

int64_t LatencyHistogram::Percentile(double q) const {
  if (count_ == 0) return 0;
  q = std::clamp(q, 0.0, 1.0);
  const int64_t rank = std::max<int64_t>(1, static_cast<int64_t>(std::ceil(q * count_)));
  int64_t seen = 0;
  for (int i = 0; i < kBuckets; ++i) {
    seen += counts_[i];
    if (seen >= rank) {
      // The middle of the bucket, clamped to what was really recorded.
      const int64_t mid = BucketLow(i) + BucketWidth(i) / 2;
      return std::clamp(mid, min_, max_);
    }
  }
  return max_;
}

}  // namespace recstack::loadtest
