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

TEST(ConcurrencyLimiter, SlowRequestsLowerTheLimitFastOnesRaiseIt) {
  LimiterOptions o;
  o.initial_limit = 20;
  o.min_limit = 2;
  o.max_limit = 40;
  o.latency_target = 5ms;
  o.backoff = 0.5;
  ConcurrencyLimiter l("test", o, nullptr);
  // Each slow request halves the limit: 20 -> 10 -> 5 -> 2 (the floor).
  for (int i = 0; i < 4; ++i) {
    auto p = l.TryAcquire();
    ASSERT_TRUE(p.has_value());
    std::this_thread::sleep_for(8ms);
  }
  EXPECT_EQ(l.limit(), 2);
  // A dropped request counts as slow however fast it was.
  {
    auto p = l.TryAcquire();
    p->set_dropped();
  }
  EXPECT_EQ(l.limit(), 2);
  // Fast requests with the limit in use raise it by one each.
  for (int i = 0; i < 10; ++i) {
    auto a = l.TryAcquire();
    auto b = l.TryAcquire();
    ASSERT_TRUE(a.has_value() && b.has_value()) << i;
  }
  EXPECT_GT(l.limit(), 2);
  EXPECT_LE(l.limit(), 40);
}

}  // namespace
}  // namespace recstack::overload
