// The concurrency limiter: sheds at its limit, recovers when requests
// finish, adapts (AIMD) to the latency it sees.
#include "common/overload/limiter.h"

#include <gtest/gtest.h>

#include <chrono>
#include <thread>
#include <vector>

namespace recstack::overload {
namespace {

using namespace std::chrono_literals;

TEST(ConcurrencyLimiter, ShedsAtTheLimitAndRecovers) {
  LimiterOptions o;
  o.initial_limit = 3;
  o.adaptive = false;
  prometheus::Registry registry;
  ConcurrencyLimiter l("test", o, &registry);
  std::vector<ConcurrencyLimiter::Permit> held;
  for (int i = 0; i < 3; ++i) {
    auto p = l.TryAcquire();
    ASSERT_TRUE(p.has_value());
    held.push_back(std::move(*p));
  }
  EXPECT_EQ(l.inflight(), 3);
  ConcurrencyLimiter::Verdict why;
  EXPECT_FALSE(l.TryAcquire(std::chrono::system_clock::time_point::max(), &why).has_value());
  EXPECT_EQ(why, ConcurrencyLimiter::Verdict::kOverLimit);
  EXPECT_EQ(l.shed(), 1u);
  held.pop_back();  // one finishes
  EXPECT_EQ(l.inflight(), 2);
  EXPECT_TRUE(l.TryAcquire().has_value());
  held.clear();
  EXPECT_EQ(l.inflight(), 0);
}

TEST(ConcurrencyLimiter, ShedsARequestWhoseDeadlinePassed) {
  ConcurrencyLimiter l("test", {}, nullptr);
  ConcurrencyLimiter::Verdict why;
  EXPECT_FALSE(l.TryAcquire(std::chrono::system_clock::now() - 1ms, &why).has_value());
  EXPECT_EQ(why, ConcurrencyLimiter::Verdict::kDeadlinePassed);
  EXPECT_TRUE(l.TryAcquire(std::chrono::system_clock::now() + 1s, &why).has_value());
  EXPECT_EQ(why, ConcurrencyLimiter::Verdict::kAdmitted);
}

// Holds `n` permits at once and releases them after `hold`; returns false
// if one was shed.
bool Burst(ConcurrencyLimiter& l, int n, std::chrono::milliseconds hold, bool dropped = false) {
  std::vector<ConcurrencyLimiter::Permit> held;
  for (int i = 0; i < n; ++i) {
    auto p = l.TryAcquire();
    if (!p.has_value()) return false;
    if (dropped) p->set_dropped();
    held.push_back(std::move(*p));
  }
  std::this_thread::sleep_for(hold);
  return true;
}

TEST(ConcurrencyLimiter, SlowRequestsWithTheLimitInUseLowerItFastOnesRaiseIt) {
  LimiterOptions o;
  o.initial_limit = 20;
  o.min_limit = 2;
  o.max_limit = 40;
  o.latency_target = 5ms;
  o.backoff = 0.5;
  ConcurrencyLimiter l("test", o, nullptr);
  // 20 slow requests at once, one stall: the first to finish halves the
  // limit (20 -> 10); the other 19 were admitted before that cut, so they
  // leave it alone (one cut per generation, as TCP's once per round trip).
  ASSERT_TRUE(Burst(l, 20, 8ms));
  EXPECT_EQ(l.limit(), 10);
  // Overload that lasts: every generation admitted after a cut and slow
  // again cuts again, down to the floor.
  ASSERT_TRUE(Burst(l, 10, 8ms));
  EXPECT_EQ(l.limit(), 5);
  ASSERT_TRUE(Burst(l, 5, 8ms));
  EXPECT_EQ(l.limit(), 2);
  ASSERT_TRUE(Burst(l, 2, 8ms));
  EXPECT_EQ(l.limit(), 2);
  // A dropped request counts as slow however fast it was.
  ConcurrencyLimiter d("test", o, nullptr);
  ASSERT_TRUE(Burst(d, 20, 0ms, /*dropped=*/true));
  EXPECT_EQ(d.limit(), 10);
  // Fast requests with the limit in use raise it by one each.
  for (int i = 0; i < 10; ++i) {
    const int cap = l.limit();
    ASSERT_TRUE(Burst(l, cap, 0ms)) << i;
  }
  EXPECT_GT(l.limit(), 10);
  EXPECT_LE(l.limit(), 40);
}

TEST(ConcurrencyLimiter, SlowRequestsAtLightLoadLeaveTheLimitAlone) {
  // A slow but lightly loaded service (a sanitizer build, a cold cache) must
  // not shed: samples taken with less than half the limit in use do not
  // move it, however slow they are.
  LimiterOptions o;
  o.initial_limit = 16;
  o.min_limit = 2;
  o.latency_target = 1ms;
  o.backoff = 0.5;
  ConcurrencyLimiter l("test", o, nullptr);
  for (int i = 0; i < 20; ++i) ASSERT_TRUE(Burst(l, 3, 3ms)) << i;
  EXPECT_EQ(l.limit(), 16);
  EXPECT_EQ(l.shed(), 0u);
  // The same latency with the limit in use lowers it.
  ASSERT_TRUE(Burst(l, 16, 3ms));
  EXPECT_LT(l.limit(), 16);
}

}  // namespace
}  // namespace recstack::overload
