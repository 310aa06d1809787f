#include "services/ingestion/redis_event_storage.h"

#include <algorithm>
#include <charconv>

#include <nlohmann/json.hpp>

#include "absl/strings/str_cat.h"
#include "common/redis/item_hash.h"
#include "common/redis/subscriber.h"
#include "common/status/status.h"

namespace recstack::ingestion {
namespace {

// One call writes up to kEventsPerCall events of one partition (all their
// keys share its slot on a cluster), in order.
// KEYS: stream, trend, trend meta, then per event: marker, history,
//       popularity (its hour).
// ARGV: dedup_ttl, maxlen, history_cap, pop_ttl, trend half-life ms, the
//       user-updates channel, then per event: user, item, ts, pop_weight,
//       is_interaction, n, and the stream entry's n field/value strings.
// Returns per event 1 (written) or 0 (a duplicate of a marker still set).
// The users whose histories it changed are published on the channel, one
// per line (redis::UpdatesMessage), after the writes and in the same
// script: a cache of histories (common/retrieval/history_cache.h) cannot
// hear of a change before it can read it, on one node or a cluster (a
// PUBLISH reaches every node).
// The trend zset (common/redis/popularity.h) holds weight x 2^((ts - epoch)
// / half_life); once a new event's exponent passes 64 the whole set is
// scaled down and the epoch moved forward (O(n), every 64 half-lives).
// Events more than 60 half-lives older than the epoch add nothing.
constexpr char kWriteEventsLua[] = R"lua(
local out = {}
local a = 7
local epoch, hl
local changed, seen = {}, {}
for k = 4, #KEYS, 3 do
  local user, item, ts, w = ARGV[a], ARGV[a + 1], tonumber(ARGV[a + 2]), tonumber(ARGV[a + 3])
  local n = tonumber(ARGV[a + 5])
  local interaction, f = ARGV[a + 4] == '1', a + 6
  a = f + n
  if not redis.call('SET', KEYS[k], '1', 'NX', 'EX', ARGV[1]) then
    out[#out + 1] = 0
  else
    out[#out + 1] = 1
    redis.call('XADD', KEYS[1], 'MAXLEN', '~', ARGV[2], '*', unpack(ARGV, f, a - 1))
    if interaction then
      redis.call('ZADD', KEYS[k + 1], 'GT', ts, item)
      local c = redis.call('ZCARD', KEYS[k + 1])
      local cap = tonumber(ARGV[3])
      if c > cap then redis.call('ZREMRANGEBYRANK', KEYS[k + 1], 0, c - cap - 1) end
      if not seen[user] then
        seen[user] = true
        changed[#changed + 1] = user
      end
    end
    if w > 0 then
      redis.call('ZINCRBY', KEYS[k + 2], w, item)
      redis.call('EXPIRE', KEYS[k + 2], ARGV[4])
      if not epoch then
        local m = redis.call('HMGET', KEYS[3], 'epoch_ms', 'half_life_ms')
        epoch, hl = tonumber(m[1]), tonumber(m[2])
        if not epoch or not hl then
          epoch, hl = ts, tonumber(ARGV[5])
          redis.call('HSET', KEYS[3], 'epoch_ms', epoch, 'half_life_ms', hl)
        end
      end
      local e = (ts - epoch) / hl
      if e > 64 then
        local shift = math.floor(e)
        local s = 2 ^ (-shift)
        local all = redis.call('ZRANGE', KEYS[2], 0, -1, 'WITHSCORES')
        for i = 1, #all, 2 do redis.call('ZADD', KEYS[2], tonumber(all[i + 1]) * s, all[i]) end
        epoch = epoch + shift * hl
        redis.call('HSET', KEYS[3], 'epoch_ms', epoch)
        e = e - shift
      end
      if e > -60 then redis.call('ZINCRBY', KEYS[2], w * 2 ^ e, item) end
    end
  end
end
if #changed > 0 then redis.call('PUBLISH', ARGV[6], table.concat(changed, '\n')) end
return out
)lua";

// Events per script call. A call blocks Redis while it runs, about 17 us
// an impression with its context (1.1 ms for 64 under load), so a batch goes
// as calls of 32, pipelined: Redis serves other clients between them.
constexpr size_t kEventsPerCall = 32;

std::string Fmt(double v) {
  char buf[32];
  auto [p, ec] = std::to_chars(buf, buf + sizeof(buf), v);
  return std::string(buf, p);
}

}  // namespace

RedisEventStorage::RedisEventStorage(redis::Pool& pool, redis::Keyspace keys)
    : pool_(pool), keys_(std::move(keys)), script_(kWriteEventsLua) {}

absl::StatusOr<EventStorage::Appended> RedisEventStorage::Append(
    std::span<const events::Event> events, const StoreOptions& options) {
  // One script call per kEventsPerCall events of a partition, all pipelined
  // on one connection (a cluster sends each call to its slot's master).
  std::vector<std::vector<size_t>> by_partition(keys_.partitions());
  for (size_t i = 0; i < events.size(); ++i)
    by_partition[keys_.PartitionOf(events[i].user_id)].push_back(i);
  struct Call {
    std::vector<std::string> keys, args;
    std::vector<size_t> events;  // indices into `events`, in order
  };
  std::vector<Call> calls;
  for (int p = 0; p < keys_.partitions(); ++p) {
    const std::vector<size_t>& mine = by_partition[p];
    for (size_t first = 0; first < mine.size(); first += kEventsPerCall) {
      Call& c = calls.emplace_back();
      c.events.assign(mine.begin() + first,
                      mine.begin() + std::min(mine.size(), first + kEventsPerCall));
      c.keys = {keys_.Events(p), keys_.Trend(p), keys_.TrendMeta(p)};
      c.args = {
          std::to_string(options.dedup_ttl_s),           std::to_string(options.stream_maxlen),
          std::to_string(options.history_cap),           std::to_string(options.popularity_ttl_s),
          std::to_string(options.trending_half_life_ms), keys_.UserUpdates()};
      for (size_t i : c.events) {
        const events::Event& e = events[i];
        const int64_t hour = e.timestamp_ms / redis::Keyspace::kMsPerHour;
        c.keys.push_back(keys_.EventMarker(p, e.event_id));
        c.keys.push_back(keys_.History(e.user_id));
        c.keys.push_back(keys_.Popularity(p, hour));
        const std::string ts = std::to_string(e.timestamp_ms);
        const bool ctx = !e.context.empty() || !e.shown.empty();
        c.args.insert(
            c.args.end(),
            {e.user_id, e.item_id, ts, Fmt(events::PopularityWeight(e.type)),
             events::IsInteraction(e.type) ? "1" : "0", ctx ? "14" : "12", "id", e.event_id, "user",
             e.user_id, "item", e.item_id, "type", std::string(events::EventTypeName(e.type)),
             "value", Fmt(e.value), "ts", ts});
        if (ctx) {
          c.args.push_back("ctx");
          nlohmann::json j(e.context);
          if (!e.shown.empty()) j[events::kShownContextKey] = events::EncodeShown(e.shown);
          c.args.push_back(j.dump());
        }
      }
    }
  }

  RECSTACK_ASSIGN_OR_RETURN(redis::Lease lease, pool_.Acquire());
  std::string sha = script_.sha();
  if (sha.empty()) {
    RECSTACK_ASSIGN_OR_RETURN(sha, script_.Load(*lease));
  }
  Appended out;
  out.outcomes.assign(events.size(), Outcome::kDuplicate);
  std::vector<size_t> pending(calls.size());
  for (size_t c = 0; c < calls.size(); ++c) pending[c] = c;
  for (int attempt = 0; !pending.empty(); ++attempt) {
    std::vector<std::vector<std::string>> cmds;
    cmds.reserve(pending.size());
    for (size_t c : pending)
      cmds.push_back(script_.EvalShaCommand(sha, calls[c].keys, calls[c].args));
    RECSTACK_ASSIGN_OR_RETURN(std::vector<redis::Reply> replies, lease->Pipeline(cmds));
    std::vector<size_t> unknown;  // NOSCRIPT: that call ran nothing
    for (size_t r = 0; r < replies.size(); ++r) {
      const redis::Reply& reply = replies[r];
      const Call& call = calls[pending[r]];
      if (reply.is_error() && reply.str.starts_with("NOSCRIPT") && attempt == 0) {
        unknown.push_back(pending[r]);
        continue;
      }
      if (reply.is_error()) {
        // Any other error (OOM, READONLY, NOPERM) fails the batch: the
        // caller may retry it safely, the markers make the rest duplicates.
        return absl::UnavailableError(absl::StrCat("redis rejected an event write: ", reply.str));
      }
      if (!reply.is_array() || reply.elements.size() != call.events.size()) {
        return absl::InternalError("the event script answered the wrong number of outcomes");
      }
      for (size_t j = 0; j < call.events.size(); ++j) {
        out.outcomes[call.events[j]] =
            reply.elements[j].integer == 1 ? Outcome::kAccepted : Outcome::kDuplicate;
      }
    }
    pending = std::move(unknown);
    // A server that lost its scripts (restart, failover, SCRIPT FLUSH).
    if (!pending.empty()) {
      RECSTACK_ASSIGN_OR_RETURN(sha, script_.Load(*lease));
    }
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
  // Announced once written (a second trip: on a cluster the hashes live on
  // other nodes than the one that takes the PUBLISH, and a cache must not
  // hear of a change before it can read it). If the PUBLISH fails, so does
  // the call, and its retry writes the same hashes and announces them.
  std::vector<std::string> ids;
  ids.reserve(items.size());
  for (const ItemRecord& it : items) ids.push_back(it.item_id);
  RECSTACK_ASSIGN_OR_RETURN(redis::Reply published, pool_.Command({"PUBLISH", keys_.ItemUpdates(),
                                                                   redis::UpdatesMessage(ids)}));
  if (published.is_error()) return absl::UnavailableError(absl::StrCat("redis: ", published.str));
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
