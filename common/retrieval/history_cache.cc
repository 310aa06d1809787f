#include "common/retrieval/history_cache.h"

#include <algorithm>
#include <utility>

#include "absl/hash/hash.h"
#include "absl/strings/string_view.h"
#include "common/status/macros.h"

namespace recstack::retrieval {

HistoryCache::HistoryCache(HistoryCacheOptions options)
    : enabled_(options.capacity > 0),
      entries_(std::max<size_t>(options.capacity, 1), options.ttl, /*ttl_jitter=*/0.5) {}

std::atomic<uint64_t>& HistoryCache::Stripe(std::string_view user) const {
  return generations_[absl::HashOf(absl::string_view(user.data(), user.size())) % kStripes];
}

uint64_t HistoryCache::Generation(std::string_view user) const { return Stripe(user).load(); }

std::optional<events::UserHistory> HistoryCache::Get(std::string_view user, int n) {
  if (!live()) return std::nullopt;
  std::optional<Entry> e = entries_.Get(user);
  if (!e.has_value()) return std::nullopt;
  const events::UserHistory& h = *e->history;
  // Read with fewer items than asked for, and more in Redis: not enough.
  if (e->read_n < n && static_cast<int64_t>(h.items.size()) < h.length) return std::nullopt;
  events::UserHistory out;
  out.length = h.length;
  const size_t take = std::min(h.items.size(), static_cast<size_t>(std::max(n, 0)));
  out.items.assign(h.items.begin(), h.items.begin() + static_cast<std::ptrdiff_t>(take));
  return out;
}

void HistoryCache::Put(std::string_view user, uint64_t generation, int read_n,
                       events::UserHistory history) {
  if (!live()) return;
  auto kept = std::make_shared<const events::UserHistory>(std::move(history));
  std::lock_guard<std::mutex> lock(mu_);
  if (Stripe(user).load() != generation) return;  // announced (or resubscribed) since the read
  entries_.Put(user, Entry{read_n, std::move(kept)});
}

void HistoryCache::Forget(std::span<const std::string_view> users) {
  std::lock_guard<std::mutex> lock(mu_);
  for (std::string_view user : users) {
    Stripe(user).fetch_add(1);
    entries_.Erase(user);
  }
}

void HistoryCache::SetLive(bool live) {
  std::lock_guard<std::mutex> lock(mu_);
  // Whatever was read before now may have missed an announcement.
  for (auto& g : generations_) g.fetch_add(1);
  entries_.Clear();
  live_ = live;
}

absl::StatusOr<events::UserHistory> HistoryCachedSource::History(const std::string& user, int n,
                                                                 bool count) {
  if (auto hit = cache_.Get(user, n)) {
    if (!count) hit->length = 0;  // as the source answers without a count
    return *std::move(hit);
  }
  if (!cache_.live()) return inner_.History(user, n, count);
  // With the length, so that a short history is known to be whole.
  const uint64_t generation = cache_.Generation(user);
  RECSTACK_ASSIGN_OR_RETURN(events::UserHistory read, inner_.History(user, n, /*count=*/true));
  cache_.Put(user, generation, n, read);
  if (!count) read.length = 0;
  return read;
}

HistoryUpdatesFollower::HistoryUpdatesFollower(const redis::Options& redis,
                                               const redis::Keyspace& keys, HistoryCache& cache)
    : cache_(cache), subscriber_(redis, {keys.UserUpdates()},
                                 [&cache](std::string_view, std::string_view message) {
                                   cache.Forget(redis::ParseUpdates(message));
                                 }) {
  subscriber_.set_on_subscribed([&cache] { cache.SetLive(true); });
  subscriber_.set_on_disconnected([&cache] { cache.SetLive(false); });
}

void HistoryUpdatesFollower::Start() { subscriber_.Start(); }

void HistoryUpdatesFollower::Stop() {
  subscriber_.Stop();
  cache_.SetLive(false);
}

}  // namespace recstack::retrieval
