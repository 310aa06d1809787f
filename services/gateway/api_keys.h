#pragma once

// API keys for the gateway's public API (gRPC metadata `x-api-key`, HTTP
// header `X-API-Key` or `Authorization: Bearer KEY`), each with its own rate
// limit, read from a JSON file that is reloaded when it changes (rotation
// without a restart):
//
//   {"keys": [
//     {"name": "web",   "key": "k3y-of-at-least-16-chars", "rate_per_second": 100, "burst": 200},
//     {"name": "batch", "sha256": "<64 hex digits of SHA-256(key)>", "rate_per_second": 5}
//   ]}
//
// Limits (checked on every load; a file that breaks one is refused whole and
// the keys already loaded stay in force):
//   - 1 to 1000 keys; names unique, 1-64 of [A-Za-z0-9_.-] (a metric label);
//   - a key is 16-256 printable ASCII characters without spaces, given as
//     "key" or as the SHA-256 of it ("sha256": 64 hex digits), so the file
//     need not hold the secret; two entries may not share a key;
//   - rate_per_second in (0, 1e6]; burst in [1, 1e9], default
//     max(1, rate_per_second): the token bucket's size.
// Keys are looked up by their SHA-256, so the lookup's time says nothing
// about a key's characters. A key over its rate is refused with
// RESOURCE_EXHAUSTED and the seconds until it has a token again; a request
// without a key, or with one the file does not hold, with UNAUTHENTICATED.
//
// Metrics: recstack_api_key_requests_total{key,result="ok"|"limited"},
// recstack_api_key_rejected_total{reason="missing"|"unknown"},
// recstack_api_keys_loaded, recstack_api_keys_reloads_total{result}.

#include <prometheus/counter.h>
#include <prometheus/gauge.h>
#include <prometheus/registry.h>

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <unordered_map>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "common/clock/clock.h"

namespace recstack::gateway {

inline constexpr int kMaxApiKeys = 1000;
inline constexpr size_t kMinApiKeyLength = 16, kMaxApiKeyLength = 256;
inline constexpr double kMaxApiKeyRate = 1e6, kMaxApiKeyBurst = 1e9;

struct ApiKeySpec {
  std::string name;
  std::string sha256;  // 32 raw bytes
  double rate_per_second = 0;
  double burst = 0;
};

// The file's keys, or INVALID_ARGUMENT naming the entry and what is wrong.
absl::StatusOr<std::vector<ApiKeySpec>> ParseApiKeys(std::string_view json);

// SHA-256 of `data`, 32 raw bytes.
std::string Sha256(std::string_view data);

class ApiKeys {
 public:
  // `registry` may be null (no metrics).
  ApiKeys(std::string path, const Clock& clock, prometheus::Registry* registry);
  ~ApiKeys();
  ApiKeys(const ApiKeys&) = delete;
  ApiKeys& operator=(const ApiKeys&) = delete;

  // Reads the file; an error names the file (at start-up: a bad file is a
  // configuration error).
  absl::Status Load();
  // Reads the file again if its inode, size or modification time changed.
  // On an error the keys in force stay, and the error is returned (logged
  // by the watcher). Returns OK when nothing changed.
  absl::Status ReloadIfChanged();
  // ReloadIfChanged every `every` on a thread, until Stop or destruction.
  void StartWatching(std::chrono::milliseconds every);
  void Stop();

  struct Decision {
    absl::Status status;           // OK, UNAUTHENTICATED or RESOURCE_EXHAUSTED
    std::string key_name;          // when the key is known
    double retry_after_s = 0;      // when RESOURCE_EXHAUSTED
    int RetryAfterHeader() const;  // whole seconds, at least 1 (HTTP Retry-After)
  };
  // Whether a request presenting `key` ("" = none) may go on; takes a token
  // from the key's bucket when it may.
  Decision Check(std::string_view key);

  size_t size() const;
  const std::string& path() const { return path_; }

 private:
  struct Bucket {
    std::mutex mu;
    double rate = 0, burst = 0;
    double tokens = 0;
    int64_t last_ns = 0;
  };
  struct Entry {
    std::string name;
    std::shared_ptr<Bucket> bucket;
    prometheus::Counter* ok = nullptr;
    prometheus::Counter* limited = nullptr;
  };
  using Table = std::unordered_map<std::string, Entry>;  // by SHA-256

  absl::Status Install(const std::vector<ApiKeySpec>& specs);
  std::shared_ptr<const Table> table() const;

  const std::string path_;
  const Clock& clock_;
  prometheus::Registry* registry_;
  prometheus::Family<prometheus::Counter>* requests_ = nullptr;
  prometheus::Counter* missing_ = nullptr;
  prometheus::Counter* unknown_ = nullptr;
  prometheus::Counter* reload_ok_ = nullptr;
  prometheus::Counter* reload_error_ = nullptr;
  prometheus::Gauge* loaded_ = nullptr;

  mutable std::mutex mu_;  // table_ and the file's identity
  std::shared_ptr<const Table> table_;
  struct FileId {
    uint64_t ino = 0, size = 0;
    int64_t mtime_ns = 0;
    bool operator==(const FileId&) const = default;
  } file_id_;
  bool have_file_id_ = false;

  std::mutex watch_mu_;
  std::condition_variable watch_cv_;
  bool stopping_ = false;
  std::thread watcher_;
};

}  // namespace recstack::gateway
