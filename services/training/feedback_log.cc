#include "services/training/feedback_log.h"

#include <fcntl.h>
#include <unistd.h>

#include <charconv>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <unordered_map>

#include <nlohmann/json.hpp>

#include "absl/strings/str_cat.h"
#include "common/events/event.h"
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

FeedbackLog::FeedbackLog(std::string state_dir) : dir_(std::move(state_dir)) {}

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
  size_t pos = 0;
  while (pos + 4 <= bytes.size()) {
    uint32_t n = 0;
    std::memcpy(&n, bytes.data() + pos, 4);
    if (pos + 4 + n > bytes.size()) break;
    RawFeedback e;
    if (!Decode(std::string_view(bytes.data() + pos + 4, n), &e)) break;
    Index(e);
    last_ids_[e.partition] = e.stream_id;
    pos += 4 + n;
  }
  if (pos < bytes.size()) std::filesystem::resize_file(path, pos, ec);
  file_ = std::fopen(path.c_str(), "ab");
  if (file_ == nullptr)
    return absl::PermissionDeniedError(absl::StrCat(path, ": cannot open for append"));
  return absl::OkStatus();
}

absl::Status FeedbackLog::Append(const std::vector<RawFeedback>& entries) {
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
  for (const RawFeedback* e : fresh) {
    Index(*e);
    last_ids_[e->partition] = e->stream_id;
  }
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
  Impression imp;
  imp.ts_ms = e.timestamp_ms;
  imp.request = RequestKey(request);
  imp.user = all_.users.Intern(e.user);
  imp.item = all_.items.Intern(e.item);
  ParseNum(field("position"), &imp.position);
  float propensity = 1;
  if (ParseNum(field("propensity"), &propensity) && propensity > 0 && propensity <= 1) {
    imp.propensity = propensity;
  }
  imp.explored = field("explored") == "1";
  for (auto [key, out] : {std::pair{"experiment", &imp.experiment},
                          std::pair{"variant", &imp.variant}, std::pair{"ranker", &imp.ranker}}) {
    const std::string v = field(key);
    if (!v.empty()) *out = all_.names.Intern(v);
  }
  const std::string features = field("features");
  if (!features.empty()) {
    auto values = field("feature_schema") == std::to_string(ranking::kFeatureSchema)
                      ? ranking::DecodeFeatures(features, ranking::kNumFeatures)
                      : absl::StatusOr<std::vector<float>>(
                            absl::InvalidArgumentError("another feature schema"));
    if (values.ok()) {
      imp.features = static_cast<int64_t>(all_.features.size());
      all_.features.insert(all_.features.end(), values->begin(), values->end());
    } else {
      ++unusable_;
    }
  }
  all_.impressions.push_back(imp);
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

}  // namespace recstack::training
