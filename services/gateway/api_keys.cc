#include "services/gateway/api_keys.h"

#include <openssl/evp.h>
#include <sys/stat.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <fstream>
#include <optional>
#include <sstream>
#include <unordered_set>

#include <nlohmann/json.hpp>

#include "absl/strings/str_cat.h"
#include "common/log/log.h"

namespace recstack::gateway {
namespace {

bool ValidName(std::string_view s) {
  if (s.empty() || s.size() > 64) return false;
  return std::all_of(s.begin(), s.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
           c == '.' || c == '-';
  });
}

bool ValidKey(std::string_view s) {
  if (s.size() < kMinApiKeyLength || s.size() > kMaxApiKeyLength) return false;
  return std::all_of(s.begin(), s.end(), [](char c) { return c > ' ' && c < 127; });
}

std::optional<std::string> FromHex(std::string_view hex) {
  if (hex.size() != 64) return std::nullopt;
  std::string out(32, '\0');
  auto nibble = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  };
  for (size_t i = 0; i < 32; ++i) {
    const int hi = nibble(hex[2 * i]), lo = nibble(hex[2 * i + 1]);
    if (hi < 0 || lo < 0) return std::nullopt;
    out[i] = static_cast<char>(hi * 16 + lo);
  }
  return out;
}

std::optional<double> Number(const nlohmann::json& v) {
  if (!v.is_number()) return std::nullopt;
  return v.get<double>();
}

}  // namespace

std::string Sha256(std::string_view data) {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  // CHECK-worthy: SHA-256 of a buffer cannot fail short of memory exhaustion.
  if (EVP_Digest(data.data(), data.size(), md, &len, EVP_sha256(), nullptr) != 1 || len != 32) {
    std::abort();
  }
  return std::string(reinterpret_cast<const char*>(md), len);
}

absl::StatusOr<std::vector<ApiKeySpec>> ParseApiKeys(std::string_view text) {
  const nlohmann::json doc = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (doc.is_discarded()) return absl::InvalidArgumentError("not valid JSON");
  if (!doc.is_object() || !doc.contains("keys") || !doc["keys"].is_array()) {
    return absl::InvalidArgumentError(R"(expected {"keys": [...]})");
  }
  const nlohmann::json& keys = doc["keys"];
  if (keys.empty() || keys.size() > static_cast<size_t>(kMaxApiKeys)) {
    return absl::InvalidArgumentError(
        absl::StrCat("\"keys\" holds ", keys.size(), " entries; 1-", kMaxApiKeys, " allowed"));
  }
  std::vector<ApiKeySpec> out;
  std::unordered_set<std::string> names, digests;
  for (size_t i = 0; i < keys.size(); ++i) {
    const nlohmann::json& k = keys[i];
    const std::string where = absl::StrCat("keys[", i, "]");
    if (!k.is_object()) return absl::InvalidArgumentError(absl::StrCat(where, ": not an object"));
    for (const auto& [field, value] : k.items()) {
      if (field != "name" && field != "key" && field != "sha256" && field != "rate_per_second" &&
          field != "burst") {
        return absl::InvalidArgumentError(absl::StrCat(where, ": unknown field \"", field, "\""));
      }
    }
    ApiKeySpec spec;
    if (!k.contains("name") || !k["name"].is_string() ||
        !ValidName(k["name"].get_ref<const std::string&>())) {
      return absl::InvalidArgumentError(
          absl::StrCat(where, ": \"name\" must be 1-64 of [A-Za-z0-9_.-]"));
    }
    spec.name = k["name"].get<std::string>();
    const std::string named = absl::StrCat(where, " (\"", spec.name, "\")");
    if (!names.insert(spec.name).second) {
      return absl::InvalidArgumentError(absl::StrCat(named, ": the name is used twice"));
    }
    const bool has_key = k.contains("key"), has_hash = k.contains("sha256");
    if (has_key == has_hash) {
      return absl::InvalidArgumentError(
          absl::StrCat(named, ": give exactly one of \"key\" and \"sha256\""));
    }
    if (has_key) {
      if (!k["key"].is_string() || !ValidKey(k["key"].get_ref<const std::string&>())) {
        return absl::InvalidArgumentError(
            absl::StrCat(named, ": \"key\" must be ", kMinApiKeyLength, "-", kMaxApiKeyLength,
                         " printable ASCII characters without spaces"));
      }
      spec.sha256 = Sha256(k["key"].get_ref<const std::string&>());
    } else {
      std::optional<std::string> d;
      if (k["sha256"].is_string()) d = FromHex(k["sha256"].get_ref<const std::string&>());
      if (!d) {
        return absl::InvalidArgumentError(
            absl::StrCat(named, ": \"sha256\" must be 64 hex digits"));
      }
      spec.sha256 = *std::move(d);
    }
    if (!digests.insert(spec.sha256).second) {
      return absl::InvalidArgumentError(absl::StrCat(named, ": the same key as an earlier entry"));
    }
    std::optional<double> rate =
        k.contains("rate_per_second") ? Number(k["rate_per_second"]) : std::optional<double>();
    if (!rate || !(*rate > 0 && *rate <= kMaxApiKeyRate)) {
      return absl::InvalidArgumentError(
          absl::StrCat(named, ": \"rate_per_second\" must be a number in (0, 1e6]"));
    }
    spec.rate_per_second = *rate;
    spec.burst = std::max(1.0, *rate);
    if (k.contains("burst")) {
      std::optional<double> burst = Number(k["burst"]);
      if (!burst || !(*burst >= 1 && *burst <= kMaxApiKeyBurst)) {
        return absl::InvalidArgumentError(
            absl::StrCat(named, ": \"burst\" must be a number in [1, 1e9]"));
      }
      spec.burst = *burst;
    }
    out.push_back(std::move(spec));
  }
  return out;
}

int ApiKeys::Decision::RetryAfterHeader() const {
  return std::max(1, static_cast<int>(std::ceil(retry_after_s)));
}

ApiKeys::ApiKeys(std::string path, const Clock& clock, prometheus::Registry* registry)
    : path_(std::move(path)), clock_(clock), registry_(registry),
      table_(std::make_shared<const Table>()) {
  if (registry_ == nullptr) return;
  requests_ = &prometheus::BuildCounter()
                   .Name("recstack_api_key_requests_total")
                   .Help("Requests with a known API key, by key and whether it was within its rate")
                   .Register(*registry_);
  auto& rejected = prometheus::BuildCounter()
                       .Name("recstack_api_key_rejected_total")
                       .Help("Requests refused for a missing or unknown API key")
                       .Register(*registry_);
  missing_ = &rejected.Add({{"reason", "missing"}});
  unknown_ = &rejected.Add({{"reason", "unknown"}});
  auto& reloads = prometheus::BuildCounter()
                      .Name("recstack_api_keys_reloads_total")
                      .Help("Loads of the API key file, by result (an error keeps the keys)")
                      .Register(*registry_);
  reload_ok_ = &reloads.Add({{"result", "ok"}});
  reload_error_ = &reloads.Add({{"result", "error"}});
  loaded_ = &prometheus::BuildGauge()
                 .Name("recstack_api_keys_loaded")
                 .Help("API keys in force")
                 .Register(*registry_)
                 .Add({});
}

ApiKeys::~ApiKeys() { Stop(); }

std::shared_ptr<const ApiKeys::Table> ApiKeys::table() const {
  std::lock_guard<std::mutex> lock(mu_);
  return table_;
}

size_t ApiKeys::size() const { return table()->size(); }

absl::Status ApiKeys::Load() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    have_file_id_ = false;
  }
  return ReloadIfChanged();
}

absl::Status ApiKeys::ReloadIfChanged() {
  struct stat st {};
  if (::stat(path_.c_str(), &st) != 0) {
    if (reload_error_) reload_error_->Increment();
    return absl::InvalidArgumentError(
        absl::StrCat("--api-keys ", path_, ": cannot read: ", std::strerror(errno)));
  }
  const FileId id{static_cast<uint64_t>(st.st_ino), static_cast<uint64_t>(st.st_size),
                  static_cast<int64_t>(st.st_mtim.tv_sec) * 1'000'000'000 + st.st_mtim.tv_nsec};
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (have_file_id_ && id == file_id_) return absl::OkStatus();
  }
  std::ifstream in(path_, std::ios::binary);
  std::stringstream text;
  text << in.rdbuf();
  absl::Status status;
  if (!in) {
    status = absl::InvalidArgumentError(absl::StrCat("--api-keys ", path_, ": cannot read"));
  } else {
    absl::StatusOr<std::vector<ApiKeySpec>> specs = ParseApiKeys(text.str());
    status = specs.ok() ? Install(*specs)
                        : absl::InvalidArgumentError(
                              absl::StrCat("--api-keys ", path_, ": ", specs.status().message()));
  }
  {
    // A bad file is read once, not every poll: it is looked at again when it
    // changes.
    std::lock_guard<std::mutex> lock(mu_);
    file_id_ = id;
    have_file_id_ = true;
  }
  if (status.ok()) {
    if (reload_ok_) reload_ok_->Increment();
  } else if (reload_error_) {
    reload_error_->Increment();
  }
  return status;
}

absl::Status ApiKeys::Install(const std::vector<ApiKeySpec>& specs) {
  std::shared_ptr<const Table> old = table();
  // A key that stays (same name) keeps its bucket's tokens, so a reload is
  // not a way around the rate.
  std::unordered_map<std::string, std::shared_ptr<Bucket>> by_name;
  for (const auto& [digest, e] : *old) by_name[e.name] = e.bucket;
  auto next = std::make_shared<Table>();
  const int64_t now = clock_.MonotonicNs();
  for (const ApiKeySpec& s : specs) {
    Entry e{.name = s.name};
    auto it = by_name.find(s.name);
    if (it != by_name.end()) {
      e.bucket = it->second;
      std::lock_guard<std::mutex> lock(e.bucket->mu);
      e.bucket->rate = s.rate_per_second;
      e.bucket->burst = s.burst;
      e.bucket->tokens = std::min(e.bucket->tokens, s.burst);
    } else {
      e.bucket = std::make_shared<Bucket>();
      e.bucket->rate = s.rate_per_second;
      e.bucket->burst = s.burst;
      e.bucket->tokens = s.burst;
      e.bucket->last_ns = now;
    }
    if (requests_ != nullptr) {
      e.ok = &requests_->Add({{"key", s.name}, {"result", "ok"}});
      e.limited = &requests_->Add({{"key", s.name}, {"result", "limited"}});
    }
    next->emplace(s.sha256, std::move(e));
  }
  {
    std::lock_guard<std::mutex> lock(mu_);
    table_ = std::move(next);
  }
  if (loaded_) loaded_->Set(static_cast<double>(specs.size()));
  log::Info("API keys loaded", {{"file", path_}, {"keys", static_cast<int64_t>(specs.size())}});
  return absl::OkStatus();
}

ApiKeys::Decision ApiKeys::Check(std::string_view key) {
  Decision d;
  if (key.empty()) {
    if (missing_) missing_->Increment();
    d.status = absl::UnauthenticatedError(
        "missing API key: send it as gRPC metadata x-api-key or the HTTP header X-API-Key");
    return d;
  }
  std::shared_ptr<const Table> t = table();
  auto it = key.size() <= kMaxApiKeyLength ? t->find(Sha256(key)) : t->end();
  if (it == t->end()) {
    if (unknown_) unknown_->Increment();
    d.status = absl::UnauthenticatedError("unknown API key");
    return d;
  }
  const Entry& e = it->second;
  d.key_name = e.name;
  Bucket& b = *e.bucket;
  const int64_t now = clock_.MonotonicNs();
  double rate = 0, burst = 0;
  {
    std::lock_guard<std::mutex> lock(b.mu);
    if (now > b.last_ns) {
      b.tokens = std::min(b.burst, b.tokens + static_cast<double>(now - b.last_ns) * 1e-9 * b.rate);
      b.last_ns = now;
    }
    if (b.tokens >= 1) {
      b.tokens -= 1;
      if (e.ok) e.ok->Increment();
      return d;
    }
    d.retry_after_s = (1 - b.tokens) / b.rate;
    rate = b.rate;
    burst = b.burst;
  }
  if (e.limited) e.limited->Increment();
  d.status = absl::ResourceExhaustedError(
      absl::StrCat("API key \"", e.name, "\" is over its rate (", rate, "/s, burst ", burst,
                   "); retry after ", d.retry_after_s, " s"));
  return d;
}

void ApiKeys::StartWatching(std::chrono::milliseconds every) {
  watcher_ = std::thread([this, every] {
    std::unique_lock<std::mutex> lock(watch_mu_);
    while (!watch_cv_.wait_for(lock, every, [this] { return stopping_; })) {
      lock.unlock();
      if (absl::Status st = ReloadIfChanged(); !st.ok()) {
        log::Error("API key file not reloaded; the keys in force stay", {{"error", st.message()}});
      }
      lock.lock();
    }
  });
}

void ApiKeys::Stop() {
  {
    std::lock_guard<std::mutex> lock(watch_mu_);
    stopping_ = true;
  }
  watch_cv_.notify_all();
  if (watcher_.joinable()) watcher_.join();
}

}  // namespace recstack::gateway
