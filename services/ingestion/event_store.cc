#include "services/ingestion/event_store.h"

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"
#include "common/events/ids.h"
#include "common/status/status.h"

namespace recstack::ingestion {

absl::Status CheckBatchSize(int64_t n) {
  if (n == 0) return absl::InvalidArgumentError("the batch has no events");
  if (n > kMaxBatch) {
    return absl::InvalidArgumentError(
        absl::StrCat("the batch has ", n, " events (at most ", kMaxBatch, ")"));
  }
  return absl::OkStatus();
}

std::vector<Rejection> CheckBatch(std::vector<events::Event>& batch, int64_t now_ms,
                                  const events::ValidationLimits& limits,
                                  absl::FunctionRef<uint64_t()> random_bits) {
  const size_t n = batch.size();
  std::vector<Rejection> rejected;
  size_t kept = 0;  // the valid events move down to [0, kept), in order
  for (size_t i = 0; i < n; ++i) {
    events::Event& e = batch[i];
    absl::Status st = events::ValidateEvent(e, now_ms, limits);
    if (!st.ok()) {
      rejected.push_back({.index = static_cast<int>(i),
                          .event_id = e.event_id,
                          .type = e.type,
                          .reason = std::string(st.message())});
      continue;
    }
    events::Normalize(e, now_ms, random_bits());
    if (kept != i) batch[kept] = std::move(e);
    ++kept;
  }
  batch.resize(kept);
  return rejected;
}

absl::Status ValidateItem(const ItemRecord& item) {
  RECSTACK_RETURN_IF_ERROR(ids::ValidateId("item_id", item.item_id));
  if (item.title.size() > 1024) return absl::InvalidArgumentError("title is over 1024 bytes");
  if (item.categories.size() > 32) return absl::InvalidArgumentError("more than 32 categories");
  if (item.attributes.size() > 32) return absl::InvalidArgumentError("more than 32 attributes");
  return absl::OkStatus();
}

EventStore::EventStore(EventStorage& storage, StoreOptions options, const Clock& clock)
    : storage_(storage), options_(options), clock_(clock), window_sums_(options.window_cache_ttl) {}

absl::StatusOr<std::vector<Outcome>> EventStore::Write(const std::vector<events::Event>& events) {
  if (events.empty()) return std::vector<Outcome>{};
  RECSTACK_ASSIGN_OR_RETURN(EventStorage::Appended appended, storage_.Append(events, options_));
  if (appended.outcomes.size() != events.size()) {
    return absl::InternalError(absl::StrCat("storage answered ", appended.outcomes.size(),
                                            " outcomes for ", events.size(), " events"));
  }
  if (options_.wait_replicas > 0 && appended.replicas < options_.wait_replicas) {
    // Written, but a failover now could lose them: not acknowledged. The
    // caller's retry finds them as duplicates once replicated.
    return absl::UnavailableError(absl::StrCat("events written but on ", appended.replicas, " of ",
                                               options_.wait_replicas,
                                               " replicas within the wait: retry"));
  }
  return std::move(appended.outcomes);
}

absl::StatusOr<std::vector<HistoryEntry>> EventStore::History(std::string_view user, int limit) {
  return storage_.History(user, std::clamp(limit, 1, 1000));
}

absl::StatusOr<std::vector<ScoredItem>> EventStore::Trending(int k, int window_hours) {
  redis::ItemCounts sums;
  if (window_hours == 0) {
    RECSTACK_ASSIGN_OR_RETURN(sums, storage_.TopTrending(clock_.NowMs(), k));
  } else {
    // An exact window is a ZUNION over it: computed once per window and
    // shared by every caller for a few seconds (single flight).
    auto sums_or = window_sums_.Get(window_hours, [&]() -> absl::StatusOr<redis::ItemCounts> {
      RECSTACK_ASSIGN_OR_RETURN(auto all, storage_.SumPopularity(clock_.NowMs(), window_hours));
      if (all.size() > kMaxTrending) all.resize(kMaxTrending);
      return all;
    });
    if (!sums_or.ok()) return sums_or.status();
    sums = *std::move(sums_or);
  }
  std::vector<ScoredItem> out;
  for (size_t i = 0; i < sums.size() && static_cast<int>(i) < k; ++i)
    out.push_back({sums[i].first, sums[i].second});
  return out;
}

absl::Status EventStore::UpsertItems(const std::vector<ItemRecord>& items) {
  if (items.empty()) return absl::OkStatus();
  return storage_.PutItems(items);
}

absl::StatusOr<std::vector<ItemRecord>> EventStore::GetItems(const std::vector<std::string>& ids) {
  if (ids.empty()) return std::vector<ItemRecord>{};
  return storage_.GetItems(ids);
}

}  // namespace recstack::ingestion
