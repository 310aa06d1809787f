#include "services/ingestion/redis_event_storage.h"

#include <charconv>

#include <nlohmann/json.hpp>

#include "absl/strings/str_cat.h"
#include "common/redis/item_hash.h"
#include "common/status/status.h"

namespace recstack::ingestion {
namespace {

// KEYS: marker, stream, history, popularity (hour), trend, trend meta
// ARGV: dedup_ttl, maxlen, history_cap, item, ts, pop_weight, pop_ttl,
//       is_interaction, trend half-life ms, then the stream entry's
//       field/value pairs.
// The trend zset (common/redis/popularity.h) holds weight x 2^((ts - epoch)
// / half_life); once a new event's exponent passes 64 the whole set is
// scaled down and the epoch moved forward (O(n), every 64 half-lives).
// Events more than 60 half-lives older than the epoch add nothing.
constexpr char kWriteEventLua[] = R"lua(
if not redis.call('SET', KEYS[1], '1', 'NX', 'EX', ARGV[1]) then return 0 end
redis.call('XADD', KEYS[2], 'MAXLEN', '~', ARGV[2], '*', unpack(ARGV, 10))
if ARGV[8] == '1' then
  redis.call('ZADD', KEYS[3], 'GT', ARGV[5], ARGV[4])
  local n = redis.call('ZCARD', KEYS[3])
  local cap = tonumber(ARGV[3])
  if n > cap then redis.call('ZREMRANGEBYRANK', KEYS[3], 0, n - cap - 1) end
end
local w = tonumber(ARGV[6])
if w > 0 then
  redis.call('ZINCRBY', KEYS[4], ARGV[6], ARGV[4])
  redis.call('EXPIRE', KEYS[4], ARGV[7])
  local ts = tonumber(ARGV[5])
  local m = redis.call('HMGET', KEYS[6], 'epoch_ms', 'half_life_ms')
  local epoch, hl = tonumber(m[1]), tonumber(m[2])
  if not epoch or not hl then
    epoch, hl = ts, tonumber(ARGV[9])
    redis.call('HSET', KEYS[6], 'epoch_ms', epoch, 'half_life_ms', hl)
  end
  local e = (ts - epoch) / hl
  if e > 64 then
    local shift = math.floor(e)
    local f = 2 ^ (-shift)
    local all = redis.call('ZRANGE', KEYS[5], 0, -1, 'WITHSCORES')
    for i = 1, #all, 2 do redis.call('ZADD', KEYS[5], tonumber(all[i + 1]) * f, all[i]) end
    epoch = epoch + shift * hl
    redis.call('HSET', KEYS[6], 'epoch_ms', epoch)
    e = e - shift
  end
  if e > -60 then redis.call('ZINCRBY', KEYS[5], w * 2 ^ e, ARGV[4]) end
end
return 1
)lua";

std::string Fmt(double v) {
  char buf[32];
  auto [p, ec] = std::to_chars(buf, buf + sizeof(buf), v);
  return std::string(buf, p);
}

}  // namespace

RedisEventStorage::RedisEventStorage(redis::Pool& pool, redis::Keyspace keys)
    : pool_(pool), keys_(std::move(keys)), script_(kWriteEventLua) {}

absl::StatusOr<EventStorage::Appended> RedisEventStorage::Append(
    std::span<const events::Event> events, const StoreOptions& options) {
  RECSTACK_ASSIGN_OR_RETURN(redis::Lease lease, pool_.Acquire());
  RECSTACK_ASSIGN_OR_RETURN(std::string sha, script_.Load(*lease));
  const std::string dedup_ttl = std::to_string(options.dedup_ttl_s);
  const std::string maxlen = std::to_string(options.stream_maxlen);
  const std::string cap = std::to_string(options.history_cap);
  const std::string pop_ttl = std::to_string(options.popularity_ttl_s);
  const std::string half_life = std::to_string(options.trending_half_life_ms);
  std::vector<std::vector<std::string>> cmds;
  cmds.reserve(events.size());
  for (const events::Event& e : events) {
    const int64_t hour = e.timestamp_ms / redis::Keyspace::kMsPerHour;
    // All in the user's partition: one slot on a cluster.
    const int p = keys_.PartitionOf(e.user_id);
    std::vector<std::string> keys = {
        keys_.EventMarker(p, e.event_id), keys_.Events(p), keys_.History(e.user_id),
        keys_.Popularity(p, hour),        keys_.Trend(p),  keys_.TrendMeta(p)};
    std::vector<std::string> args = {dedup_ttl,
                                     maxlen,
                                     cap,
                                     e.item_id,
                                     std::to_string(e.timestamp_ms),
                                     Fmt(events::PopularityWeight(e.type)),
                                     pop_ttl,
                                     events::IsInteraction(e.type) ? "1" : "0",
                                     half_life,
                                     "id",
                                     e.event_id,
                                     "user",
                                     e.user_id,
                                     "item",
                                     e.item_id,
                                     "type",
                                     std::string(events::EventTypeName(e.type)),
                                     "value",
                                     Fmt(e.value),
                                     "ts",
                                     std::to_string(e.timestamp_ms)};
    if (!e.context.empty()) {
      args.push_back("ctx");
      args.push_back(nlohmann::json(e.context).dump());
    }
    cmds.push_back(script_.EvalShaCommand(sha, keys, args));
  }
  RECSTACK_ASSIGN_OR_RETURN(std::vector<redis::Reply> replies, lease->Pipeline(cmds));
  Appended out;
  out.outcomes.reserve(events.size());
  for (const redis::Reply& r : replies) {
    if (r.is_error()) {
      // NOSCRIPT cannot happen after Load on this connection; any error here
      // (OOM, READONLY) fails the batch: the caller may retry it safely.
      return absl::UnavailableError(absl::StrCat("redis rejected an event write: ", r.str));
    }
    out.outcomes.push_back(r.integer == 1 ? Outcome::kAccepted : Outcome::kDuplicate);
  }
  if (options.wait_replicas > 0) {
    RECSTACK_ASSIGN_OR_RETURN(out.replicas,
                              lease->WaitForReplicas(options.wait_replicas, options.wait_timeout));
  }
  return out;
}

absl::StatusOr<std::vector<HistoryEntry>> RedisEventStorage::History(std::string_view user,
                                                                     int limit) {
  const std::string key = keys_.History(user);
  const std::string stop = std::to_string(limit - 1);
  RECSTACK_ASSIGN_OR_RETURN(redis::Reply r,
                            pool_.Command({"ZREVRANGE", key, "0", stop, "WITHSCORES"}));
  std::vector<HistoryEntry> out;
  for (size_t i = 0; i + 1 < r.elements.size(); i += 2) {
    int64_t ts = 0;
    const std::string& s = r.elements[i + 1].str;
    std::from_chars(s.data(), s.data() + s.size(), ts);
    out.push_back({r.elements[i].str, ts});
  }
  return out;
}

absl::StatusOr<redis::ItemCounts> RedisEventStorage::TopTrending(int64_t now_ms, int k) {
  return redis::TopTrending(pool_, keys_, now_ms, k);
}

absl::StatusOr<redis::ItemCounts> RedisEventStorage::SumPopularity(int64_t now_ms,
                                                                   int window_hours) {
  return redis::SumPopularity(pool_, keys_, now_ms, window_hours);
}

absl::Status RedisEventStorage::PutItems(const std::vector<ItemRecord>& items) {
  std::vector<std::vector<std::string>> cmds;
  for (const ItemRecord& it : items) {
    std::string cats;
    for (size_t c = 0; c < it.categories.size(); ++c)
      absl::StrAppend(&cats, c ? "|" : "", it.categories[c]);
    std::vector<std::string> cmd = {
        "HSET",          keys_.Item(it.item_id),          "title", it.title, "categories", cats,
        "created_at_ms", std::to_string(it.created_at_ms)};
    for (const auto& [k, v] : it.attributes) {
      cmd.push_back(absl::StrCat("attr.", k));
      cmd.push_back(v);
    }
    cmds.push_back(std::move(cmd));
  }
  if (cmds.empty()) return absl::OkStatus();
  RECSTACK_ASSIGN_OR_RETURN(auto replies, pool_.Pipeline(cmds));
  for (const auto& r : replies) {
    if (r.is_error()) return absl::UnavailableError(absl::StrCat("redis: ", r.str));
  }
  return absl::OkStatus();
}

absl::StatusOr<std::vector<ItemRecord>> RedisEventStorage::GetItems(
    const std::vector<std::string>& ids) {
  std::vector<std::vector<std::string>> cmds;
  for (const auto& id : ids) cmds.push_back({"HGETALL", keys_.Item(id)});
  if (cmds.empty()) return std::vector<ItemRecord>{};
  RECSTACK_ASSIGN_OR_RETURN(auto replies, pool_.Pipeline(cmds));
  std::vector<ItemRecord> out;
  for (size_t i = 0; i < replies.size(); ++i) {
    redis::ItemFields f;
    if (!redis::ParseItemHash(replies[i], &f)) continue;
    ItemRecord it;
    it.item_id = ids[i];
    it.title = std::move(f.title);
    it.categories = std::move(f.categories);
    it.created_at_ms = f.created_at_ms;
    it.attributes = std::move(f.attributes);
    out.push_back(std::move(it));
  }
  return out;
}

}  // namespace recstack::ingestion
