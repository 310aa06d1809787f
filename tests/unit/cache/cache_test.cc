// The caches of the request path: LRU with TTL, single flight (one recompute
// however many wait), and a value refreshed in the background.
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <barrier>
#include <chrono>
#include <cmath>
#include <thread>
#include <vector>

#include "common/cache/lru.h"
#include "common/cache/refreshed.h"
#include "common/cache/single_flight.h"

namespace recstack::cache {
namespace {

using namespace std::chrono_literals;

TEST(LruCache, EvictsTheLeastRecentlyUsed) {
  LruCache<int> c(2);
  c.Put("a", 1);
  c.Put("b", 2);
  ASSERT_EQ(c.Get("a"), 1);  // a is now the most recent
  c.Put("c", 3);             // evicts b
  EXPECT_FALSE(c.Get("b").has_value());
  EXPECT_EQ(c.Get("a"), 1);
  EXPECT_EQ(c.Get("c"), 3);
  EXPECT_EQ(c.size(), 2u);
  EXPECT_EQ(c.hits(), 3u);
  EXPECT_EQ(c.misses(), 1u);
}

TEST(LruCache, AHitOutsideTheNewestQuarterMovesToTheFront) {
  // Capacity 8: a hit moves its entry unless it is among the newest 2.
  LruCache<int> c(8);
  for (int i = 0; i < 8; ++i) c.Put("k" + std::to_string(i), i);
  ASSERT_EQ(c.Get("k0"), 0);  // the oldest: moved to the front
  ASSERT_EQ(c.Get("k7"), 7);  // the newest: left where it is (the front)
  c.Put("k8", 8);             // evicts k1, the least recently used
  EXPECT_FALSE(c.Get("k1").has_value());
  EXPECT_EQ(c.Get("k0"), 0);  // among the newest 2: stays second
  // Five more evict the five least recently used, k2-k6, oldest first;
  // k0 and k7, used since, stay.
  for (int i = 9; i < 14; ++i) c.Put("k" + std::to_string(i), i);
  for (int i = 2; i <= 6; ++i) EXPECT_FALSE(c.Get("k" + std::to_string(i)).has_value()) << i;
  EXPECT_EQ(c.Get("k0"), 0);
  EXPECT_EQ(c.Get("k7"), 7);
  EXPECT_EQ(c.size(), 8u);
}

TEST(LruCache, ErasedAndClearedEntriesAreGoneAndTheirRoomReused) {
  LruCache<int> c(3);
  c.Put("a", 1);
  c.Put("b", 2);
  c.Put("c", 3);
  c.Erase("b");
  c.Erase("nothing");  // not held: nothing happens
  EXPECT_FALSE(c.Get("b").has_value());
  EXPECT_EQ(c.size(), 2u);
  c.Put("d", 4);  // fits in b's room: a and c stay
  EXPECT_EQ(c.Get("a"), 1);
  EXPECT_EQ(c.Get("c"), 3);
  EXPECT_EQ(c.Get("d"), 4);
  c.Put("b", 5);  // a fourth: evicts the least recently used, a
  EXPECT_FALSE(c.Get("a").has_value());
  EXPECT_EQ(c.Get("b"), 5);
  c.Clear();
  EXPECT_EQ(c.size(), 0u);
  for (const char* k : {"a", "b", "c", "d"}) EXPECT_FALSE(c.Get(k).has_value()) << k;
  c.Put("e", 6);
  EXPECT_EQ(c.Get("e"), 6);
  EXPECT_EQ(c.size(), 1u);
}

TEST(LruCache, EntriesExpireAfterTheirTtl) {
  LruCache<int> c(10, 30ms);
  c.Put("a", 1);
  EXPECT_EQ(c.Get("a"), 1);
  std::this_thread::sleep_for(60ms);
  EXPECT_FALSE(c.Get("a").has_value());
  c.Put("a", 2);  // a fresh Put restarts the clock
  EXPECT_EQ(c.Get("a"), 2);
}

// With jitter 0.5 and a 400 ms ttl, entries put together live uniformly
// 200-400 ms: none is gone before 200 ms, about (t - 200) / 200 of them at
// t, all after 400 ms. The share is checked against that closed form for
// the time the reads actually took place (within 5 standard deviations of
// a binomial of 2000), so a slow machine moves the expectation, not the
// verdict.
TEST(LruCache, JitteredLifetimesAreSpreadUniformly) {
  constexpr int kN = 2000;
  LruCache<int> c(kN, 400ms, 0.5);
  const auto t0 = std::chrono::steady_clock::now();
  for (int i = 0; i < kN; ++i) c.Put("k" + std::to_string(i), i);
  const auto put_end = std::chrono::steady_clock::now();
  auto ms_since = [](std::chrono::steady_clock::time_point t) {
    return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t).count();
  };
  // Nothing expires before 200 ms (checked only when the reads surely come
  // before then).
  if (ms_since(t0) < 150) {
    int present = 0;
    for (int i = 0; i < kN; ++i) present += c.Get("k" + std::to_string(i)).has_value();
    if (ms_since(t0) < 195) EXPECT_EQ(present, kN);
  }
  std::this_thread::sleep_until(t0 + 300ms);
  const double from = ms_since(put_end);  // every entry is at least this old
  int expired = 0;
  for (int i = 0; i < kN; ++i) expired += !c.Get("k" + std::to_string(i)).has_value();
  const double to = ms_since(t0);  // and at most this old
  auto share = [](double age_ms) { return std::clamp((age_ms - 200) / 200, 0.0, 1.0); };
  const double slack = 5 * std::sqrt(0.25 / kN);
  EXPECT_GE(expired, kN * (share(from) - slack)) << "reads " << from << "-" << to << " ms after";
  EXPECT_LE(expired, kN * (share(to) + slack)) << "reads " << from << "-" << to << " ms after";
  // The last entry was put at put_end, which a loaded machine may push well
  // past t0: every lifetime ends by put_end + 400 ms.
  std::this_thread::sleep_until(put_end + 420ms);
  for (int i = 0; i < kN; ++i) EXPECT_FALSE(c.Get("k" + std::to_string(i)).has_value()) << i;
}

TEST(SingleFlight, HundredConcurrentColdReadsComputeOnce) {
  SingleFlightCache<int, int> c(10s);
  std::atomic<int> computes{0};
  constexpr int kReaders = 100;
  std::barrier start(kReaders);
  std::vector<std::thread> readers;
  std::atomic<int> right{0};
  for (int i = 0; i < kReaders; ++i) {
    readers.emplace_back([&] {
      start.arrive_and_wait();
      auto v = c.Get(7, [&]() -> absl::StatusOr<int> {
        computes++;
        std::this_thread::sleep_for(100ms);  // long enough for all to pile up
        return 42;
      });
      if (v.ok() && *v == 42) right++;
    });
  }
  for (auto& t : readers) t.join();
  EXPECT_EQ(computes.load(), 1);
  EXPECT_EQ(c.computes(), 1u);
  EXPECT_EQ(right.load(), kReaders);
}

TEST(SingleFlight, StaleValueServedWhileOneRefreshes) {
  SingleFlightCache<int, int> c(20ms);
  ASSERT_EQ(*c.Get(1, [] { return absl::StatusOr<int>(1); }), 1);
  std::this_thread::sleep_for(40ms);  // stale now
  std::atomic<bool> in_compute{false}, release{false};
  std::thread refresher([&] {
    auto v = c.Get(1, [&]() -> absl::StatusOr<int> {
      in_compute = true;
      while (!release) std::this_thread::sleep_for(1ms);
      return 2;
    });
    EXPECT_EQ(*v, 2);
  });
  while (!in_compute) std::this_thread::sleep_for(1ms);
  // Another reader gets the stale value at once and computes nothing.
  int other_computes = 0;
  auto v = c.Get(1, [&]() -> absl::StatusOr<int> {
    other_computes++;
    return 3;
  });
  EXPECT_EQ(*v, 1);
  EXPECT_EQ(other_computes, 0);
  release = true;
  refresher.join();
  EXPECT_EQ(*c.Get(1, [] { return absl::StatusOr<int>(9); }), 2);  // fresh again
}

TEST(SingleFlight, AFailureReachesTheWaitersAndIsNotCached) {
  SingleFlightCache<int, int> c(10s);
  std::atomic<int> computes{0};
  std::barrier start(8);
  std::vector<std::thread> readers;
  std::atomic<int> failed{0};
  for (int i = 0; i < 8; ++i) {
    readers.emplace_back([&] {
      start.arrive_and_wait();
      auto v = c.Get(1, [&]() -> absl::StatusOr<int> {
        computes++;
        std::this_thread::sleep_for(50ms);
        return absl::UnavailableError("redis down");
      });
      if (!v.ok() && absl::IsUnavailable(v.status())) failed++;
    });
  }
  for (auto& t : readers) t.join();
  EXPECT_EQ(computes.load(), 1);
  EXPECT_EQ(failed.load(), 8);
  // Not cached: the next read computes again, and succeeds.
  EXPECT_EQ(*c.Get(1, [] { return absl::StatusOr<int>(5); }), 5);
}

TEST(Refreshed, KeepsTheLastGoodValueAndRefreshesInTheBackground) {
  std::atomic<int> n{0};
  std::atomic<bool> fail{false};
  Refreshed<int> r(
      [&]() -> absl::StatusOr<int> {
        if (fail) return absl::UnavailableError("down");
        return ++n;
      },
      10ms);
  EXPECT_EQ(r.Get(), nullptr);
  ASSERT_TRUE(r.Start().ok());
  ASSERT_NE(r.Get(), nullptr);
  const int first = *r.Get();
  EXPECT_GE(first, 1);
  std::this_thread::sleep_for(100ms);
  EXPECT_GT(*r.Get(), first);  // refreshed meanwhile
  fail = true;
  std::this_thread::sleep_for(50ms);
  const int last_good = *r.Get();
  std::this_thread::sleep_for(50ms);
  EXPECT_EQ(*r.Get(), last_good);  // failures keep the last good value
  EXPECT_FALSE(r.last_status().ok());
  r.Stop();
}

}  // namespace
}  // namespace recstack::cache
