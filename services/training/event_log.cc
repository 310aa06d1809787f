#include "services/training/event_log.h"

#include <fcntl.h>
#include <unistd.h>

#include <charconv>
#include <cstring>
#include <filesystem>
#include <fstream>

#include "absl/strings/str_cat.h"
#include "common/events/event.h"
#include "common/status/status.h"

namespace recstack::training {
namespace {

constexpr uint8_t kRating = static_cast<uint8_t>(events::EventType::kRating);

// Stream entries per XREADGROUP. Redis builds a reply in one go, blocking
// every other client meanwhile, at about 4 us an entry with the consumer
// group's bookkeeping: 10,000 impressions took 14.5 ms, the serving path's
// worst stall under load. 250 take about 1 ms, and the loop reads on until
// the stream is drained.
constexpr size_t kReadCountN = 250;
constexpr std::string_view kReadCount = "250";

std::pair<uint64_t, uint64_t> ParseId(std::string_view id) {
  uint64_t ms = 0, seq = 0;
  size_t dash = id.find('-');
  std::from_chars(id.data(), id.data() + std::min(dash, id.size()), ms);
  if (dash != std::string_view::npos)
    std::from_chars(id.data() + dash + 1, id.data() + id.size(), seq);
  return {ms, seq};
}

void PutBytes(std::string* out, const void* p, size_t n) {
  out->append(static_cast<const char*>(p), n);
}

}  // namespace

bool StreamIdLess(std::string_view a, std::string_view b) { return ParseId(a) < ParseId(b); }

EventLog::EventLog(redis::Pool& pool, redis::Keyspace keys, std::string state_dir,
                   std::string group, std::string consumer)
    : pool_(pool), keys_(std::move(keys)), dir_(std::move(state_dir)), group_(std::move(group)),
      consumer_(std::move(consumer)), last_ids_(keys_.partitions(), "0-0"),
      group_ready_(keys_.partitions(), false) {}

EventLog::~EventLog() {
  if (file_ != nullptr) std::fclose(file_);
}

absl::Status EventLog::Open() {
  std::lock_guard<std::mutex> lock(mu_);
  std::error_code ec;
  std::filesystem::create_directories(dir_, ec);
  if (ec)
    return absl::PermissionDeniedError(absl::StrCat("--state-dir ", dir_, ": ", ec.message()));
  const std::string path = dir_ + "/events.log";
  // Read complete records; cut a torn tail.
  std::string bytes;
  {
    std::ifstream in(path, std::ios::binary);
    bytes.assign(std::istreambuf_iterator<char>(in), {});
  }
  // Files from before partitions: the last id of partition 0.
  {
    std::ifstream in(dir_ + "/last_id");
    std::string id;
    if (in >> id) last_ids_[0] = id;
  }
  size_t pos = 0, good = 0;
  std::vector<LoggedEvent> batch;
  auto read_event = [&](size_t* at) -> bool {
    size_t p = *at;
    auto need = [&](size_t n) { return p + n <= bytes.size(); };
    if (!need(1)) return false;
    const size_t ul = static_cast<unsigned char>(bytes[p++]);
    if (ul == 0 || !need(ul + 1)) return false;
    std::string_view user(bytes.data() + p, ul);
    p += ul;
    const size_t il = static_cast<unsigned char>(bytes[p++]);
    if (!need(il + 1 + 4 + 8)) return false;
    std::string_view item(bytes.data() + p, il);
    p += il;
    LoggedEvent e;
    e.type = static_cast<uint8_t>(bytes[p++]);
    std::memcpy(&e.value, bytes.data() + p, 4);
    p += 4;
    std::memcpy(&e.timestamp_ms, bytes.data() + p, 8);
    p += 8;
    e.user = users_.Intern(user);
    e.item = items_.Intern(item);
    batch.push_back(e);
    *at = p;
    return true;
  };
  while (pos < bytes.size()) {
    batch.clear();
    size_t p = pos;
    if (bytes[p] != 0) {  // an event outside any batch: a file from before partitions
      if (!read_event(&p)) break;
    } else {
      // A header and its whole batch, or nothing of it.
      if (p + 1 + 2 + 4 + 1 > bytes.size()) break;
      uint16_t part = 0;
      uint32_t count = 0;
      std::memcpy(&part, bytes.data() + p + 1, 2);
      std::memcpy(&count, bytes.data() + p + 3, 4);
      const size_t id_len = static_cast<unsigned char>(bytes[p + 7]);
      p += 8;
      if (p + id_len > bytes.size()) break;
      std::string id(bytes.data() + p, id_len);
      p += id_len;
      bool whole = true;
      for (uint32_t i = 0; i < count && whole; ++i) whole = read_event(&p);
      if (!whole) break;
      if (part >= last_ids_.size()) {
        return absl::FailedPreconditionError(absl::StrCat(
            path, " holds events of partition ", part, " but the stack has ", last_ids_.size(),
            " partitions (--event-partitions changed? start from an empty --state-dir)"));
      }
      last_ids_[part] = std::move(id);
    }
    events_.insert(events_.end(), batch.begin(), batch.end());
    pos = good = p;
  }
  if (good < bytes.size()) std::filesystem::resize_file(path, good, ec);
  file_ = std::fopen(path.c_str(), "ab");
  if (file_ == nullptr)
    return absl::PermissionDeniedError(absl::StrCat(path, ": cannot open for append"));
  return absl::OkStatus();
}

absl::Status EventLog::Append(const std::vector<LoggedEvent>& events, int partition,
                              const std::string& last_id) {
  // The header and its batch in one write (see the header comment).
  std::string buf;
  buf.push_back('\0');
  const uint16_t part = static_cast<uint16_t>(partition);
  const uint32_t count = static_cast<uint32_t>(events.size());
  PutBytes(&buf, &part, 2);
  PutBytes(&buf, &count, 4);
  buf.push_back(static_cast<char>(last_id.size()));
  buf += last_id;
  for (const LoggedEvent& e : events) {
    const std::string& u = users_.Name(e.user);
    const std::string& i = items_.Name(e.item);
    buf.push_back(static_cast<char>(u.size()));
    buf += u;
    buf.push_back(static_cast<char>(i.size()));
    buf += i;
    buf.push_back(static_cast<char>(e.type));
    PutBytes(&buf, &e.value, 4);
    PutBytes(&buf, &e.timestamp_ms, 8);
  }
  if (std::fwrite(buf.data(), 1, buf.size(), file_) != buf.size() || std::fflush(file_) != 0 ||
      fsync(fileno(file_)) != 0) {
    return absl::DataLossError(absl::StrCat(dir_, "/events.log: write failed"));
  }
  last_ids_[partition] = last_id;
  return absl::OkStatus();
}

absl::StatusOr<int64_t> EventLog::StreamLength() {
  std::vector<std::vector<std::string>> cmds;
  for (int p = 0; p < keys_.partitions(); ++p) cmds.push_back({"XLEN", keys_.Events(p)});
  RECSTACK_ASSIGN_OR_RETURN(std::vector<redis::Reply> replies, pool_.Pipeline(cmds));
  int64_t total = 0;
  for (const redis::Reply& r : replies) {
    if (r.is_error()) return absl::UnavailableError(absl::StrCat("redis: ", r.str));
    total += r.integer;
  }
  return total;
}

absl::StatusOr<int64_t> EventLog::Sync() {
  std::lock_guard<std::mutex> lock(mu_);
  if (file_ == nullptr) return absl::FailedPreconditionError("the event log is not open");
  int64_t added = 0;
  for (int p = 0; p < keys_.partitions(); ++p) {
    RECSTACK_ASSIGN_OR_RETURN(int64_t n, SyncPartition(p));
    added += n;
  }
  return added;
}

absl::StatusOr<int64_t> EventLog::SyncPartition(int partition) {
  const std::string stream = keys_.Events(partition);
  std::string& last_id = last_ids_[partition];
  if (!group_ready_[partition]) {
    auto r = pool_.Command({"XGROUP", "CREATE", stream, group_, "0", "MKSTREAM"});
    if (!r.ok() && std::string(r.status().message()).find("BUSYGROUP") == std::string::npos) {
      return r.status();
    }
    group_ready_[partition] = true;
  }
  int64_t added = 0;
  // First the entries delivered to us but never acknowledged, then new ones.
  for (const char* start : {"0", ">"}) {
    while (true) {
      RECSTACK_ASSIGN_OR_RETURN(redis::Reply r,
                                pool_.Command({"XREADGROUP", "GROUP", group_, consumer_, "COUNT",
                                               kReadCount, "STREAMS", stream, start}));
      if (r.is_nil() || r.elements.empty() || r.elements[0].elements.size() < 2) break;
      const auto& entries = r.elements[0].elements[1].elements;
      if (entries.empty()) break;
      std::vector<LoggedEvent> batch;
      std::vector<RawFeedback> feedback;
      std::vector<std::string> ack = {"XACK", stream, group_};
      std::string last;
      for (const auto& entry : entries) {
        if (entry.elements.size() < 2) continue;
        const std::string& id = entry.elements[0].str;
        ack.push_back(id);
        last = id;
        if (!StreamIdLess(last_id, id)) continue;  // persisted before a crash
        std::string_view user, item, type, ctx;
        float value = 0;
        int64_t ts = 0;
        const auto& f = entry.elements[1].elements;
        for (size_t k = 0; k + 1 < f.size(); k += 2) {
          const std::string& name = f[k].str;
          const std::string& v = f[k + 1].str;
          if (name == "user") user = v;
          else if (name == "item") item = v;
          else if (name == "type") type = v;
          else if (name == "value") std::from_chars(v.data(), v.data() + v.size(), value);
          else if (name == "ts") std::from_chars(v.data(), v.data() + v.size(), ts);
          else if (name == "ctx") ctx = v;
        }
        events::EventType parsed = events::EventType::kUnspecified;
        events::ParseEventType(type, &parsed);
        const uint8_t t = static_cast<uint8_t>(parsed);
        if (user.empty() || item.empty() || t == 0 || user.size() > 255 || item.size() > 255)
          continue;
        if (feedback_ != nullptr && ctx.find("request_id") != std::string_view::npos &&
            (parsed == events::EventType::kImpression || parsed == events::EventType::kClick)) {
          feedback.push_back(
              {id, t, std::string(user), std::string(item), ts, std::string(ctx), partition});
        }
        // An impression is not an interaction: it is kept in the feedback
        // log (within its retention), not in the snapshot that matrices are
        // built from, which would otherwise grow by ten entries per
        // Recommend for ever.
        if (parsed == events::EventType::kImpression) continue;
        batch.push_back({users_.Intern(user), items_.Intern(item), t, value, ts});
      }
      // The feedback first: it skips what it kept before, the event log
      // does not, so this order never counts an event twice.
      if (feedback_ != nullptr) RECSTACK_RETURN_IF_ERROR(feedback_->Append(feedback));
      if (!batch.empty() || StreamIdLess(last_id, last)) {
        RECSTACK_RETURN_IF_ERROR(Append(batch, partition, last));
      }
      events_.insert(events_.end(), batch.begin(), batch.end());
      added += static_cast<int64_t>(batch.size());
      std::vector<std::string_view> argv(ack.begin(), ack.end());
      RECSTACK_RETURN_IF_ERROR(pool_.Command(argv).status());
      // Pending entries come back until acknowledged: one pass of "0" is
      // enough once they are.
      if (std::string_view(start) == "0" && entries.size() < kReadCountN) break;
    }
  }
  return added;
}

int64_t EventLog::size() const {
  std::lock_guard<std::mutex> lock(mu_);
  return static_cast<int64_t>(events_.size());
}

mf::Dataset EventLog::BuildDataset(bool explicit_ratings,
                                   const std::map<std::string, double>& weights) const {
  std::lock_guard<std::mutex> lock(mu_);
  mf::Dataset d;
  double w[events::kNumEventTypes] = {};
  for (int t = 1; t < events::kNumEventTypes; ++t) {
    auto it = weights.find(std::string(events::EventTypeName(static_cast<events::EventType>(t))));
    w[t] = it == weights.end() ? 0 : it->second;
  }
  // Ids are re-interned so that users/items with no usable event are left out.
  for (const LoggedEvent& e : events_) {
    if (explicit_ratings) {
      if (e.type != kRating) continue;
      d.rows.push_back(
          {d.users.Intern(users_.Name(e.user)), d.items.Intern(items_.Name(e.item)), e.value});
      d.timestamps.push_back(e.timestamp_ms);
    } else {
      if (e.type >= 9 || w[e.type] <= 0) continue;
      const float base = e.type == kRating ? e.value : (e.value > 0 ? e.value : 1.0f);
      d.rows.push_back({d.users.Intern(users_.Name(e.user)), d.items.Intern(items_.Name(e.item)),
                        static_cast<float>(w[e.type] * base)});
      d.timestamps.push_back(e.timestamp_ms);
    }
  }
  return d;
}

}  // namespace recstack::training
