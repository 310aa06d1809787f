#include "services/training/feedback_log.h"

#include <fcntl.h>
#include <unistd.h>

#include <charconv>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>
#include <span>
#include <unordered_map>

#include <nlohmann/json.hpp>

#include "absl/strings/str_cat.h"
#include "common/events/event.h"
#include "common/log/log.h"
#include "common/rank/features.h"
#include "services/training/event_log.h"

namespace recstack::training {
namespace {

constexpr uint8_t kImpressionType = static_cast<uint8_t>(events::EventType::kImpression);
constexpr uint8_t kClickType = static_cast<uint8_t>(events::EventType::kClick);

void PutStr(std::string* out, std::string_view s) {
  const uint16_t n = static_cast<uint16_t>(std::min<size_t>(s.size(), 65535));
  out->append(reinterpret_cast<const char*>(&n), 2);
  out->append(s.data(), n);
}

// Reads one u16-prefixed string at *p; false when the bytes run out.
bool GetStr(std::string_view in, size_t* p, std::string* out) {
  if (*p + 2 > in.size()) return false;
  uint16_t n = 0;
  std::memcpy(&n, in.data() + *p, 2);
  *p += 2;
  if (*p + n > in.size()) return false;
  out->assign(in.data() + *p, n);
  *p += n;
  return true;
}

std::string Encode(const RawFeedback& e) {
  std::string payload;
  payload.push_back(static_cast<char>(e.type));
  PutStr(&payload, e.stream_id);
  PutStr(&payload, e.user);
  PutStr(&payload, e.item);
  PutStr(&payload, e.context_json);
  payload.append(reinterpret_cast<const char*>(&e.timestamp_ms), 8);
  // Partition 0 writes nothing more: logs from before partitions read alike.
  if (e.partition != 0) {
    const uint16_t part = static_cast<uint16_t>(e.partition);
    payload.append(reinterpret_cast<const char*>(&part), 2);
  }
  std::string out;
  const uint32_t n = static_cast<uint32_t>(payload.size());
  out.append(reinterpret_cast<const char*>(&n), 4);
  out += payload;
  return out;
}

bool Decode(std::string_view payload, RawFeedback* e) {
  size_t p = 0;
  if (payload.empty()) return false;
  e->type = static_cast<uint8_t>(payload[p++]);
  if (!GetStr(payload, &p, &e->stream_id) || !GetStr(payload, &p, &e->user) ||
      !GetStr(payload, &p, &e->item) || !GetStr(payload, &p, &e->context_json) ||
      (p + 8 != payload.size() && p + 10 != payload.size())) {
    return false;
  }
  std::memcpy(&e->timestamp_ms, payload.data() + p, 8);
  e->partition = 0;
  if (p + 10 == payload.size()) {
    uint16_t part = 0;
    std::memcpy(&part, payload.data() + p + 8, 2);
    e->partition = part;
  }
  return true;
}

// Calls f(e, record bytes) for each whole record of `bytes`; returns the
// length of the whole records (a torn or undecodable tail is not).
template <typename F>
size_t ForEachRecord(std::string_view bytes, F&& f) {
  size_t pos = 0;
  while (pos + 4 <= bytes.size()) {
    uint32_t n = 0;
    std::memcpy(&n, bytes.data() + pos, 4);
    if (pos + 4 + n > bytes.size()) break;
    RawFeedback e;
    if (!Decode(bytes.substr(pos + 4, n), &e)) break;
    f(e, bytes.substr(pos, 4 + n));
    pos += 4 + n;
  }
  return pos;
}

// old index -> index in `to`, interning on first use; -1 stays -1.
int32_t Remap(int32_t i, const mf::IdMap& from, mf::IdMap& to, std::vector<int32_t>& memo) {
  if (i < 0) return i;
  if (memo[i] < 0) memo[i] = to.Intern(from.Name(i));
  return memo[i];
}

template <typename T>
bool ParseNum(const std::string& s, T* out) {
  auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), *out);
  return ec == std::errc() && ptr == s.data() + s.size();
}

}  // namespace

uint64_t RequestKey(std::string_view request_id) {
  uint64_t h = 0xcbf29ce484222325ULL;  // FNV-1a
  for (unsigned char c : request_id) {
    h ^= c;
    h *= 0x100000001b3ULL;
  }
  return h;
}

std::vector<uint8_t> FeedbackView::Labels(int64_t attribution_ms) const {
  // (request, item) -> click times.
  std::unordered_multimap<uint64_t, const Click*> by_request;
  by_request.reserve(clicks.size());
  for (const Click& c : clicks) by_request.emplace(c.request, &c);
  std::vector<uint8_t> labels(impressions.size(), 0);
  for (size_t i = 0; i < impressions.size(); ++i) {
    const Impression& imp = impressions[i];
    auto [lo, hi] = by_request.equal_range(imp.request);
    for (auto it = lo; it != hi; ++it) {
      const Click& c = *it->second;
      if (c.item == imp.item && c.ts_ms >= imp.ts_ms - 1000 &&
          c.ts_ms <= imp.ts_ms + attribution_ms) {
        labels[i] = 1;
        break;
      }
    }
  }
  return labels;
}

FeedbackLog::FeedbackLog(std::string state_dir, FeedbackRetention retention)
    : dir_(std::move(state_dir)), retention_(retention) {}

FeedbackLog::~FeedbackLog() {
  if (file_ != nullptr) std::fclose(file_);
}

absl::Status FeedbackLog::Open() {
  std::lock_guard<std::mutex> lock(mu_);
  std::error_code ec;
  std::filesystem::create_directories(dir_, ec);
  if (ec)
    return absl::PermissionDeniedError(absl::StrCat("--state-dir ", dir_, ": ", ec.message()));
  const std::string path = dir_ + "/feedback.log";
  std::string bytes;
  {
    std::ifstream in(path, std::ios::binary);
    bytes.assign(std::istreambuf_iterator<char>(in), {});
  }
  // Twice over the bytes: the newest timestamp first, for the cutoff.
  const size_t whole = ForEachRecord(bytes, [&](const RawFeedback& e, std::string_view) {
    newest_ms_ = std::max(newest_ms_, e.timestamp_ms);
  });
  const int64_t cutoff = Cutoff();
  int64_t kept_bytes = 0;
  ForEachRecord(std::string_view(bytes).substr(0, whole),
                [&](const RawFeedback& e, std::string_view record) {
                  if (Keeps(e, cutoff)) {
                    Index(e);
                    kept_bytes += static_cast<int64_t>(record.size());
                  } else {
                    ++dropped_;
                  }
                  last_ids_[e.partition] = e.stream_id;
                });
  retained_at_ms_ = newest_ms_;
  if (whole < bytes.size()) std::filesystem::resize_file(path, whole, ec);
  file_ = std::fopen(path.c_str(), "ab");
  if (file_ == nullptr)
    return absl::PermissionDeniedError(absl::StrCat(path, ": cannot open for append"));
  file_bytes_ = static_cast<int64_t>(whole);
  // A file mostly of dropped entries is rewritten now.
  compacted_bytes_ = kept_bytes;
  return Retain();
}

absl::Status FeedbackLog::Append(const std::vector<RawFeedback>& entries) {
  FeedbackStats after;
  std::function<void(const FeedbackStats&)> observer;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (file_ == nullptr) return absl::FailedPreconditionError("the feedback log is not open");
    std::string buf;
    std::vector<const RawFeedback*> fresh;
    for (const RawFeedback& e : entries) {
      auto kept = last_ids_.find(e.partition);
      if (kept != last_ids_.end() && !StreamIdLess(kept->second, e.stream_id))
        continue;  // kept before
      buf += Encode(e);
      fresh.push_back(&e);
    }
    if (fresh.empty()) return absl::OkStatus();
    if (std::fwrite(buf.data(), 1, buf.size(), file_) != buf.size() || std::fflush(file_) != 0 ||
        fsync(fileno(file_)) != 0) {
      return absl::DataLossError(absl::StrCat(dir_, "/feedback.log: write failed"));
    }
    file_bytes_ += static_cast<int64_t>(buf.size());
    for (const RawFeedback* e : fresh) newest_ms_ = std::max(newest_ms_, e->timestamp_ms);
    const int64_t cutoff = Cutoff();
    for (const RawFeedback* e : fresh) {
      if (Keeps(*e, cutoff)) {
        Index(*e);
      } else {
        ++dropped_;  // persisted (and acknowledged), but already out of the window
      }
      last_ids_[e->partition] = e->stream_id;
    }
    if (absl::Status st = Retain(); !st.ok()) return st;
    after = StatsLocked();
    observer = observer_;
  }
  if (observer) observer(after);
  return absl::OkStatus();
}

int64_t FeedbackLog::Cutoff() const {
  if (retention_.window_ms <= 0) return std::numeric_limits<int64_t>::min();
  return newest_ms_ - retention_.window_ms;
}

bool FeedbackLog::Keeps(const RawFeedback& e, int64_t cutoff) const {
  if (e.type == kClickType)
    return cutoff == std::numeric_limits<int64_t>::min() || e.timestamp_ms >= cutoff - 1000;
  return e.timestamp_ms >= cutoff;
}

absl::Status FeedbackLog::Retain() {
  if (retention_.window_ms <= 0) return absl::OkStatus();
  const int64_t cutoff = Cutoff();
  if (newest_ms_ - retained_at_ms_ >= std::max<int64_t>(retention_.window_ms / 16, 1000)) {
    retained_at_ms_ = newest_ms_;
    // Impressions and their feature vectors, compacted in place (the
    // offsets only move down: vectors are appended in impression order).
    std::vector<Impression>& imps = all_.impressions;
    std::vector<float>& features = all_.features;
    size_t w = 0;
    int64_t fw = 0;
    for (size_t r = 0; r < imps.size(); ++r) {
      Impression imp = imps[r];
      if (imp.ts_ms < cutoff) {
        ++dropped_;
        continue;
      }
      if (imp.features >= 0) {
        std::memmove(features.data() + fw, features.data() + imp.features,
                     ranking::kNumFeatures * sizeof(float));
        imp.features = fw;
        fw += ranking::kNumFeatures;
      }
      imps[w++] = imp;
    }
    imps.resize(w);
    features.resize(static_cast<size_t>(fw));
    const size_t clicks_before = all_.clicks.size();
    std::erase_if(all_.clicks, [&](const Click& c) { return c.ts_ms < cutoff - 1000; });
    dropped_ += static_cast<int64_t>(clicks_before - all_.clicks.size());
    // After a burst: give the memory back.
    if (imps.capacity() > 4 * imps.size() + 1024) imps.shrink_to_fit();
    if (features.capacity() > 4 * features.size() + 1024) features.shrink_to_fit();
    if (all_.clicks.capacity() > 4 * all_.clicks.size() + 1024) all_.clicks.shrink_to_fit();
    // The id maps only grow with new names: re-interned from what is kept
    // once they have doubled since the last time.
    const int64_t names = int64_t{all_.users.size()} + all_.items.size() + all_.names.size();
    if (names > 4096 && names >= 2 * interned_at_last_remap_) {
      mf::IdMap users, items, tags;
      std::vector<int32_t> mu(all_.users.size(), -1), mi(all_.items.size(), -1),
          mn(all_.names.size(), -1);
      for (Impression& imp : imps) {
        imp.user = Remap(imp.user, all_.users, users, mu);
        imp.item = Remap(imp.item, all_.items, items, mi);
        imp.experiment = Remap(imp.experiment, all_.names, tags, mn);
        imp.variant = Remap(imp.variant, all_.names, tags, mn);
        imp.ranker = Remap(imp.ranker, all_.names, tags, mn);
      }
      for (Click& c : all_.clicks) c.item = Remap(c.item, all_.items, items, mi);
      all_.users = std::move(users);
      all_.items = std::move(items);
      all_.names = std::move(tags);
      interned_at_last_remap_ = int64_t{all_.users.size()} + all_.items.size() + all_.names.size();
    }
  }
  if (file_bytes_ >= retention_.compact_min_bytes && file_bytes_ >= 2 * compacted_bytes_) {
    if (absl::Status st = Compact(); !st.ok()) {
      // The file stays as it is (nothing is lost); tried again once it has
      // doubled once more.
      log::Warn("feedback log not compacted", {{"error", std::string(st.message())}});
      compacted_bytes_ = file_bytes_;
    }
  }
  return absl::OkStatus();
}

absl::Status FeedbackLog::Compact() {
  const std::string path = dir_ + "/feedback.log", tmp = path + ".tmp";
  // Record by record from the file to the new one: the memory it takes is
  // one record, whatever the file's size.
  std::FILE* in = std::fopen(path.c_str(), "rb");
  if (in == nullptr) return absl::DataLossError(absl::StrCat(path, ": cannot read"));
  std::FILE* out = std::fopen(tmp.c_str(), "wb");
  if (out == nullptr) {
    std::fclose(in);
    return absl::PermissionDeniedError(absl::StrCat(tmp, ": cannot create"));
  }
  const int64_t cutoff = Cutoff();
  int64_t read = 0, kept = 0;
  bool written = true;
  std::string record;
  for (;;) {
    uint32_t n = 0;
    if (std::fread(&n, 1, 4, in) != 4) break;
    record.resize(4 + size_t{n});
    std::memcpy(record.data(), &n, 4);
    RawFeedback e;
    if (std::fread(record.data() + 4, 1, n, in) != n ||
        !Decode(std::string_view(record).substr(4), &e)) {
      break;
    }
    read += 4 + int64_t{n};
    auto last = last_ids_.find(e.partition);
    if (Keeps(e, cutoff) || (last != last_ids_.end() && last->second == e.stream_id)) {
      written = written && std::fwrite(record.data(), 1, record.size(), out) == record.size();
      kept += static_cast<int64_t>(record.size());
    }
  }
  std::fclose(in);
  written = written && std::fflush(out) == 0 && fsync(fileno(out)) == 0;
  std::fclose(out);
  std::error_code ec;
  if (read != file_bytes_ || !written) {
    std::filesystem::remove(tmp, ec);
    return absl::DataLossError(
        read != file_bytes_
            ? absl::StrCat(path, ": ", read, " bytes of whole records of ", file_bytes_)
            : absl::StrCat(tmp, ": write failed"));
  }
  std::filesystem::rename(tmp, path, ec);
  if (ec) return absl::DataLossError(absl::StrCat(tmp, " -> ", path, ": ", ec.message()));
  // The rename itself is durable once the folder is synced.
  if (int dir = ::open(dir_.c_str(), O_RDONLY | O_DIRECTORY); dir >= 0) {
    fsync(dir);
    ::close(dir);
  }
  std::fclose(file_);
  file_ = std::fopen(path.c_str(), "ab");
  if (file_ == nullptr)
    return absl::PermissionDeniedError(absl::StrCat(path, ": cannot open for append"));
  log::Info("feedback log compacted", {{"bytes_before", file_bytes_}, {"bytes_after", kept}});
  file_bytes_ = compacted_bytes_ = kept;
  ++compactions_;
  return absl::OkStatus();
}

void FeedbackLog::Index(const RawFeedback& e) {
  nlohmann::json ctx = nlohmann::json::parse(e.context_json, nullptr, false);
  if (!ctx.is_object()) ctx = nlohmann::json::object();
  auto field = [&](const char* key) -> std::string {
    auto it = ctx.find(key);
    return it != ctx.end() && it->is_string() ? it->get<std::string>() : std::string();
  };
  const std::string request = field("request_id");
  if (request.empty()) return;
  if (e.type == kClickType) {
    all_.clicks.push_back({e.timestamp_ms, RequestKey(request), all_.items.Intern(e.item)});
    return;
  }
  if (e.type != kImpressionType) return;
  // What every item of the answer shares.
  Impression base;
  base.ts_ms = e.timestamp_ms;
  base.request = RequestKey(request);
  base.user = all_.users.Intern(e.user);
  base.explored = field("explored") == "1";
  for (auto [key, out] : {std::pair{"experiment", &base.experiment},
                          std::pair{"variant", &base.variant}, std::pair{"ranker", &base.ranker}}) {
    const std::string v = field(key);
    if (!v.empty()) *out = all_.names.Intern(v);
  }
  const bool schema_ok = field("feature_schema") == std::to_string(ranking::kFeatureSchema);
  auto add = [&](std::string_view item, int32_t position, float propensity,
                 std::span<const float> features, bool has_features) {
    Impression imp = base;
    imp.item = all_.items.Intern(item);
    imp.position = position;
    if (propensity > 0 && propensity <= 1) imp.propensity = propensity;
    if (has_features) {
      if (schema_ok && features.size() == static_cast<size_t>(ranking::kNumFeatures)) {
        imp.features = static_cast<int64_t>(all_.features.size());
        all_.features.insert(all_.features.end(), features.begin(), features.end());
      } else {
        ++unusable_;
      }
    }
    all_.impressions.push_back(imp);
  };
  const std::string shown = field(events::kShownContextKey);
  if (!shown.empty()) {
    // One answer (the gateway's format since 2026-12): every item shown.
    auto items = events::DecodeShown(shown);
    if (!items.ok()) {
      ++unusable_;
      return;
    }
    for (const events::ShownItem& s : *items) {
      add(s.item_id, s.position, static_cast<float>(s.propensity), s.features, !s.features.empty());
    }
    return;
  }
  // One item per event (logs written before answers were logged whole).
  int32_t position = 0;
  ParseNum(field("position"), &position);
  float propensity = 1;
  ParseNum(field("propensity"), &propensity);
  // A vector that does not decode stays empty: said but unusable.
  const std::string features = field("features");
  std::vector<float> values;
  if (!features.empty() && schema_ok) {
    auto decoded = ranking::DecodeFeatures(features, ranking::kNumFeatures);
    if (decoded.ok()) values = *std::move(decoded);
  }
  add(e.item, position, propensity, values, !features.empty());
}

FeedbackView FeedbackLog::Snapshot(int64_t from_ms) const {
  std::lock_guard<std::mutex> lock(mu_);
  FeedbackView v;
  v.users = all_.users;
  v.items = all_.items;
  v.names = all_.names;
  v.clicks = all_.clicks;
  for (const Impression& imp : all_.impressions) {
    if (imp.ts_ms < from_ms) continue;
    Impression copy = imp;
    if (imp.features >= 0) {
      copy.features = static_cast<int64_t>(v.features.size());
      const float* f = all_.features.data() + imp.features;
      v.features.insert(v.features.end(), f, f + ranking::kNumFeatures);
    }
    v.impressions.push_back(copy);
  }
  return v;
}

int64_t FeedbackLog::impressions() const {
  std::lock_guard<std::mutex> lock(mu_);
  return static_cast<int64_t>(all_.impressions.size());
}

int64_t FeedbackLog::clicks() const {
  std::lock_guard<std::mutex> lock(mu_);
  return static_cast<int64_t>(all_.clicks.size());
}

int64_t FeedbackLog::unusable() const {
  std::lock_guard<std::mutex> lock(mu_);
  return unusable_;
}

FeedbackStats FeedbackLog::stats() const {
  std::lock_guard<std::mutex> lock(mu_);
  return StatsLocked();
}

FeedbackStats FeedbackLog::StatsLocked() const {
  FeedbackStats s;
  s.impressions = static_cast<int64_t>(all_.impressions.size());
  s.clicks = static_cast<int64_t>(all_.clicks.size());
  s.file_bytes = file_bytes_;
  s.dropped_entries = dropped_;
  s.compactions = compactions_;
  s.oldest_ms = all_.impressions.empty() ? 0 : all_.impressions.front().ts_ms;
  return s;
}

void FeedbackLog::set_observer(std::function<void(const FeedbackStats&)> observer) {
  std::lock_guard<std::mutex> lock(mu_);
  observer_ = std::move(observer);
}

}  // namespace recstack::training
