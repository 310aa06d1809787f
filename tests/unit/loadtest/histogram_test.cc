#include "loadtest/histogram.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <vector>

#include "common/math/rng.h"

namespace recstack::loadtest {
namespace {

TEST(LatencyHistogram, BucketsAreContiguousAndFine) {
  // Every bucket starts where the previous one ended, and is at most 1/128
  // of its lower bound wide (above the exact region).
  int64_t expected_low = 0;
  for (int b = 0; b <= LatencyHistogram::BucketOf(LatencyHistogram::kMaxNs); ++b) {
    ASSERT_EQ(LatencyHistogram::BucketLow(b), expected_low) << b;
    ASSERT_EQ(LatencyHistogram::BucketOf(expected_low), b);
    const int64_t w = LatencyHistogram::BucketWidth(b);
    if (expected_low >= 256) ASSERT_LE(w * 128, expected_low) << b;
    ASSERT_EQ(LatencyHistogram::BucketOf(expected_low + w - 1), b);
    expected_low += w;
  }
}

TEST(LatencyHistogram, PercentilesWithinOnePercentFrom1usTo60s) {
  math::Rng rng(3);
  std::vector<int64_t> values;
  LatencyHistogram h;
  for (int i = 0; i < 20000; ++i) {
    // Log-uniform over 1 us .. 60 s.
    const int64_t v = static_cast<int64_t>(std::exp(std::log(1e3) + rng.Uniform() * std::log(6e7)));
    values.push_back(v);
    h.Record(v);
  }
  std::sort(values.begin(), values.end());
  for (double q : {0.01, 0.1, 0.5, 0.9, 0.99, 0.999}) {
    const int64_t exact = values[static_cast<size_t>(std::ceil(q * values.size())) - 1];
    const double got = static_cast<double>(h.Percentile(q));
    EXPECT_NEAR(got, static_cast<double>(exact), 0.01 * static_cast<double>(exact)) << q;
  }
  EXPECT_EQ(h.Percentile(1.0), values.back());
  EXPECT_EQ(h.max_ns(), values.back());
  EXPECT_EQ(h.min_ns(), values.front());
  EXPECT_EQ(h.count(), 20000);
}

TEST(LatencyHistogram, SmallCountsAndEmpty) {
  LatencyHistogram h;
  EXPECT_EQ(h.Percentile(0.99), 0);
  h.Record(1000);
  h.Record(2000);
  h.Record(3000);
  h.Record(1'000'000);
  EXPECT_NEAR(h.Percentile(0.5), 2000, 20);  // 2nd of 4
  EXPECT_NEAR(h.Percentile(0.75), 3000, 30);
  EXPECT_EQ(h.Percentile(0.99), 1'000'000);  // never above the max, within a bucket of it
  EXPECT_DOUBLE_EQ(h.mean_ns(), (1000 + 2000 + 3000 + 1'000'000) / 4.0);
}

TEST(LatencyHistogram, ClampsButKeepsTheTrueMax) {
  LatencyHistogram h;
  h.Record(-5);
  h.Record(LatencyHistogram::kMaxNs * 2);
  EXPECT_EQ(h.count(), 2);
  EXPECT_EQ(h.min_ns(), 0);
  EXPECT_EQ(h.max_ns(), LatencyHistogram::kMaxNs * 2);
  EXPECT_GE(h.Percentile(1.0), LatencyHistogram::kMaxNs * 99 / 100);
}

TEST(LatencyHistogram, MergeEqualsRecordingEverything) {
  LatencyHistogram a, b, all;
  math::Rng rng(5);
  for (int i = 0; i < 1000; ++i) {
    const int64_t v = 1000 + static_cast<int64_t>(rng.Below(5'000'000));
    (i % 3 == 0 ? a : b).Record(v);
    all.Record(v);
  }
  a.Merge(b);
  EXPECT_EQ(a.count(), all.count());
  EXPECT_EQ(a.max_ns(), all.max_ns());
  EXPECT_EQ(a.min_ns(), all.min_ns());
  for (double q : {0.5, 0.9, 0.99}) EXPECT_EQ(a.Percentile(q), all.Percentile(q));
}

}  // namespace
}  // namespace recstack::loadtest
