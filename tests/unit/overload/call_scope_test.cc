#include "common/overload/call_scope.h"

#include <gtest/gtest.h>

#include <chrono>
#include <latch>
#include <optional>
#include <thread>
#include <vector>

namespace recstack::overload {
namespace {

using namespace std::chrono_literals;

TEST(CallScope, APermitOutsideACallIsReleasedAtOnce) {
  ConcurrencyLimiter l("test", LimiterOptions{}, nullptr);
  auto p = l.TryAcquire();
  ASSERT_TRUE(p.has_value());
  ReleaseAfterSend(*std::move(p));
  EXPECT_EQ(l.inflight(), 0);
  EXPECT_EQ(HeldForCall(), 0);
}

TEST(CallScope, APermitInsideACallIsHeldUntilItsOuterEnd) {
  ConcurrencyLimiter l("test", LimiterOptions{}, nullptr);
  BeginCall();
  BeginCall();  // nested: counts once
  auto p = l.TryAcquire();
  ASSERT_TRUE(p.has_value());
  ReleaseAfterSend(*std::move(p));
  EXPECT_EQ(l.inflight(), 1);
  EndCall();
  EXPECT_EQ(l.inflight(), 1);
  EndCall();
  EXPECT_EQ(l.inflight(), 0);
  EndCall();  // unbalanced: ignored
  EXPECT_EQ(HeldForCall(), 0);
}

TEST(CallScope, EachThreadHoldsItsOwnCallsPermits) {
  ConcurrencyLimiter l("test", LimiterOptions{}, nullptr);
  BeginCall();
  std::thread other([&] {
    auto p = l.TryAcquire();
    ASSERT_TRUE(p.has_value());
    ReleaseAfterSend(*std::move(p));  // no call on this thread
  });
  other.join();
  EXPECT_EQ(l.inflight(), 0);
  EXPECT_EQ(HeldForCall(), 0);
  EndCall();
}

// The time until the answer is sent is the request's latency: a fast
// handler whose answer waited counts as slow, and with the limit in use
// the limit is cut.
TEST(CallScope, TheWaitForTheSendCountsInTheLatency) {
  LimiterOptions o;
  o.initial_limit = 4;
  o.min_limit = 1;
  o.max_limit = 8;
  o.latency_target = 5ms;
  o.backoff = 0.5;
  ConcurrencyLimiter l("test", o, nullptr);
  // All four are admitted before any answer is sent.
  std::latch all_admitted(4);
  std::vector<std::thread> calls;
  for (int i = 0; i < 4; ++i) {
    calls.emplace_back([&] {
      BeginCall();
      auto p = l.TryAcquire();
      all_admitted.count_down();
      ASSERT_TRUE(p.has_value());
      ReleaseAfterSend(*std::move(p));  // the handler returns at once...
      all_admitted.wait();
      std::this_thread::sleep_for(10ms);  // ...and its answer waits to be sent
      EndCall();
    });
  }
  for (auto& t : calls) t.join();
  EXPECT_EQ(l.limit(), 2);
}

}  // namespace
}  // namespace recstack::overload
