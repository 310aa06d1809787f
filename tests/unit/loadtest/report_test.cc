#include "loadtest/report.h"

#include <gtest/gtest.h>

#include <algorithm>

namespace recstack::loadtest {
namespace {

RunResult Step(double rate, int64_t p99_us, int64_t errors = 0) {
  RunResult r;
  r.target_rate = rate;
  r.scheduled = 1000;
  for (int i = 0; i < 980; ++i) r.latency.Record(100'000);  // 100 us
  for (int i = 0; i < 20; ++i) r.latency.Record(p99_us * 1000);
  r.completed = r.latency.count();
  r.errors = errors;
  return r;
}

TEST(Sweep, ParsesRanges) {
  auto r = ParseSweep("100:500:100");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(*r, (std::vector<double>{100, 200, 300, 400, 500}));
  auto one = ParseSweep("50:50:10");
  ASSERT_TRUE(one.ok());
  EXPECT_EQ(one->size(), 1u);
  // inf:inf:1 once planned steps until memory ran out (found fuzzing the flags).
  for (const char* bad : {"100:50:10", "0:100:10", "100:200:0", "100:200", "a:b:c", "1:100000:1",
                          "inf:inf:1", "1:inf:1", "1:10:inf", "nan:1:1"}) {
    EXPECT_FALSE(ParseSweep(bad).ok()) << bad;
  }
}

TEST(Sweep, KneeIsTheLastPassingStepBeforeTheFirstMiss) {
  KneeRule rule;
  rule.slo = std::chrono::microseconds(50'000);
  std::vector<RunResult> steps = {Step(100, 1000), Step(200, 20'000), Step(300, 80'000),
                                  Step(400, 10'000)};
  auto knee = FindKnee(steps, rule);
  ASSERT_TRUE(knee.has_value());
  EXPECT_EQ(*knee, 200);
  // Errors beyond the allowed ratio fail a step even when it is fast.
  steps[1] = Step(200, 1000, /*errors=*/5);
  EXPECT_EQ(*FindKnee(steps, rule), 100);
  steps[0] = Step(100, 60'000);
  EXPECT_FALSE(FindKnee(steps, rule).has_value());
}

TEST(Report, CsvRowHasEveryColumn) {
  const std::string header = CsvHeader();
  const std::string row = CsvRow("stack", Step(100, 1000));
  EXPECT_EQ(std::count(header.begin(), header.end(), ','), std::count(row.begin(), row.end(), ','));
  EXPECT_EQ(row.rfind("stack,gateway,100.0,", 0), 0u) << row;
}

}  // namespace
}  // namespace recstack::loadtest
