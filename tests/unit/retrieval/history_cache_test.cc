#include "common/retrieval/history_cache.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace recstack::retrieval {
namespace {

// Histories in memory, counting the reads that reach it; `during_read`
// runs inside a read (after the history is taken), to race with it.
class CountingSource final : public RetrievalSource {
 public:
  absl::StatusOr<events::UserHistory> History(const std::string& user, int n, bool count) override {
    events::UserHistory out;
    {
      std::lock_guard<std::mutex> lock(mu);
      ++reads;
      asks.push_back({n, count});
      auto it = histories.find(user);
      if (it != histories.end()) out.items = it->second;
    }
    if (during_read) during_read();
    if (!error.ok()) return error;
    if (count) out.length = static_cast<int64_t>(out.items.size());
    if (static_cast<int>(out.items.size()) > n) out.items.resize(n);
    return out;
  }
  absl::StatusOr<std::optional<std::vector<float>>> UserVector(const std::string&,
                                                               const std::string&) override {
    return std::optional<std::vector<float>>();
  }
  absl::StatusOr<redis::ItemCounts> TopTrending(int64_t, int) override {
    return redis::ItemCounts{};
  }
  absl::Status ScanUsers(
      const std::string&,
      const std::function<absl::Status(const std::vector<std::string>&)>&) override {
    return absl::OkStatus();
  }

  void Set(const std::string& user, std::vector<std::string> items) {
    std::lock_guard<std::mutex> lock(mu);
    histories[user] = std::move(items);
  }

  std::mutex mu;
  std::map<std::string, std::vector<std::string>> histories;
  int reads = 0;
  std::vector<std::pair<int, bool>> asks;
  absl::Status error;
  std::function<void()> during_read;
};

class HistoryCacheTest : public ::testing::Test {
 protected:
  HistoryCacheTest() {
    source.Set("u1", {"c", "b", "a"});
    cache.SetLive(true);
  }
  CountingSource source;
  HistoryCache cache{{.capacity = 100}};
  HistoryCachedSource cached{source, cache};
};

std::vector<std::string> Items(const absl::StatusOr<events::UserHistory>& h) {
  EXPECT_TRUE(h.ok()) << h.status();
  return h.ok() ? h->items : std::vector<std::string>{};
}

TEST_F(HistoryCacheTest, ASecondReadIsAnsweredFromMemory) {
  EXPECT_EQ(Items(cached.History("u1", 2, true)), (std::vector<std::string>{"c", "b"}));
  auto again = cached.History("u1", 2, true);
  EXPECT_EQ(Items(again), (std::vector<std::string>{"c", "b"}));
  EXPECT_EQ(again->length, 3);
  EXPECT_EQ(source.reads, 1);
  EXPECT_EQ(cache.hits(), 1u);
  // The miss read the length too, to know when a short history is whole.
  EXPECT_EQ(source.asks.front(), std::make_pair(2, true));
}

TEST_F(HistoryCacheTest, AnswersWithoutALengthWhenNoneWasAskedFor) {
  EXPECT_EQ(cached.History("u1", 5, false)->length, 0);  // a miss
  EXPECT_EQ(cached.History("u1", 5, false)->length, 0);  // a hit
  EXPECT_EQ(cached.History("u1", 5, true)->length, 3);
  EXPECT_EQ(source.reads, 1);
}

TEST_F(HistoryCacheTest, FewerItemsAreCutFromWhatWasRead) {
  ASSERT_TRUE(cached.History("u1", 3, true).ok());
  EXPECT_EQ(Items(cached.History("u1", 1, true)), (std::vector<std::string>{"c"}));
  EXPECT_EQ(Items(cached.History("u1", 0, true)), (std::vector<std::string>{}));
  EXPECT_EQ(source.reads, 1);
}

TEST_F(HistoryCacheTest, MoreItemsThanWereReadGoToTheSourceUnlessTheHistoryIsWhole) {
  ASSERT_TRUE(cached.History("u1", 2, true).ok());  // 2 of 3
  EXPECT_EQ(Items(cached.History("u1", 3, true)), (std::vector<std::string>{"c", "b", "a"}));
  EXPECT_EQ(source.reads, 2);
  // Now the whole history (3 of 3) is held: any n is answered.
  EXPECT_EQ(Items(cached.History("u1", 50, true)), (std::vector<std::string>{"c", "b", "a"}));
  EXPECT_EQ(source.reads, 2);
}

TEST_F(HistoryCacheTest, AnEmptyHistoryIsHeldToo) {
  EXPECT_TRUE(Items(cached.History("nobody", 10, true)).empty());
  EXPECT_TRUE(Items(cached.History("nobody", 10, true)).empty());
  EXPECT_EQ(source.reads, 1);
}

TEST_F(HistoryCacheTest, AnAnnouncedUserIsReadAgain) {
  ASSERT_TRUE(cached.History("u1", 5, true).ok());
  source.Set("u1", {"d", "c", "b", "a"});
  const std::string_view announced[] = {"u0", "u1"};
  cache.Forget(announced);
  EXPECT_EQ(Items(cached.History("u1", 5, true)), (std::vector<std::string>{"d", "c", "b", "a"}));
  EXPECT_EQ(source.reads, 2);
}

TEST_F(HistoryCacheTest, AReadRacingWithAnAnnouncementIsNotKept) {
  // The announcement lands while the (old) history is on its way back.
  source.during_read = [this] {
    source.during_read = nullptr;
    source.Set("u1", {"d", "c", "b", "a"});
    const std::string_view announced[] = {"u1"};
    cache.Forget(announced);
  };
  EXPECT_EQ(Items(cached.History("u1", 5, true)), (std::vector<std::string>{"c", "b", "a"}));
  EXPECT_EQ(cache.size(), 0u);
  EXPECT_EQ(Items(cached.History("u1", 5, true)), (std::vector<std::string>{"d", "c", "b", "a"}));
  EXPECT_EQ(source.reads, 2);
}

TEST_F(HistoryCacheTest, NotLiveEveryReadGoesToTheSourceAndNothingIsKept) {
  ASSERT_TRUE(cached.History("u1", 5, true).ok());
  cache.SetLive(false);  // the subscription is lost
  EXPECT_EQ(cache.size(), 0u);
  ASSERT_TRUE(cached.History("u1", 5, false).ok());
  ASSERT_TRUE(cached.History("u1", 5, false).ok());
  EXPECT_EQ(source.reads, 3);
  EXPECT_EQ(cache.size(), 0u);
  // Asked as the caller asked: no length read for it.
  EXPECT_EQ(source.asks.back(), std::make_pair(5, false));
}

TEST_F(HistoryCacheTest, AReadFromBeforeAResubscriptionIsNotKept) {
  source.during_read = [this] {
    source.during_read = nullptr;
    cache.SetLive(true);  // resubscribed: announcements may have been missed
  };
  ASSERT_TRUE(cached.History("u1", 5, true).ok());
  EXPECT_EQ(cache.size(), 0u);
}

TEST_F(HistoryCacheTest, AnErrorIsPassedOnAndNotKept) {
  source.error = absl::UnavailableError("redis down");
  EXPECT_EQ(cached.History("u1", 5, true).status().code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(cache.size(), 0u);
}

// A source, a live cache of `capacity` users in front of it.
struct Cached {
  explicit Cached(size_t capacity) : cache({.capacity = capacity}), cached(source, cache) {
    cache.SetLive(true);
  }
  CountingSource source;
  HistoryCache cache;
  HistoryCachedSource cached;
};

TEST(HistoryCache, SizeZeroIsOff) {
  Cached c(0);
  EXPECT_FALSE(c.cache.live());
  ASSERT_TRUE(c.cached.History("u1", 5, false).ok());
  ASSERT_TRUE(c.cached.History("u1", 5, false).ok());
  EXPECT_EQ(c.source.reads, 2);
  // Read as asked: no length the caller did not want.
  EXPECT_EQ(c.source.asks.back(), std::make_pair(5, false));
}

TEST(HistoryCache, HoldsAtMostItsCapacity) {
  Cached c(4);
  for (int u = 0; u < 10; ++u) ASSERT_TRUE(c.cached.History("u" + std::to_string(u), 5, true).ok());
  EXPECT_LE(c.cache.size(), 4u);
}

// Writers change histories and then announce them, as ingestion's script
// does; readers must never see a history older than one announced before
// their read began.
TEST(HistoryCache, NeverServesAHistoryOlderThanTheLastAnnouncementBeforeTheRead) {
  Cached c(64);
  CountingSource& source = c.source;
  HistoryCache& cache = c.cache;
  HistoryCachedSource& cached = c.cached;
  constexpr int kUsers = 8;
  std::vector<std::atomic<int>> announced(kUsers);
  for (int u = 0; u < kUsers; ++u) source.Set("u" + std::to_string(u), {"0"});
  std::atomic<bool> stop{false};
  std::atomic<int> stale{0}, reads{0};
  std::thread writer([&] {
    for (int v = 1; v <= 3000; ++v) {
      const int u = v % kUsers;
      const std::string user = "u" + std::to_string(u);
      source.Set(user, {std::to_string(v)});
      const std::string_view users[] = {user};
      cache.Forget(users);
      announced[u] = v;
      // Room for reads between changes, so that some are answered from memory.
      std::this_thread::sleep_for(std::chrono::microseconds(20));
    }
    stop = true;
  });
  std::vector<std::thread> readers;
  for (int r = 0; r < 3; ++r) {
    readers.emplace_back([&, r] {
      for (int i = r; !stop.load(); ++i) {
        const int u = i % kUsers;
        const int floor = announced[u].load();
        auto h = cached.History("u" + std::to_string(u), 1, false);
        ASSERT_TRUE(h.ok());
        ASSERT_EQ(h->items.size(), 1u);
        if (std::stoi(h->items[0]) < floor) ++stale;
        ++reads;
      }
    });
  }
  writer.join();
  for (auto& t : readers) t.join();
  EXPECT_EQ(stale.load(), 0) << "of " << reads.load() << " reads";
  EXPECT_GT(cache.hits(), 0u);
}

}  // namespace
}  // namespace recstack::retrieval
