#pragma once

// RAII hiredis client (STYLE rule 5): binary-safe argv commands, pipelining,
// connect and command timeouts, AUTH/SELECT, and a bounded pool that hands
// out move-only leases and drops connections that saw an I/O error.
//
// Error mapping (one place): an I/O error or a timeout -> UNAVAILABLE (the
// connection is then broken and dropped by the pool); an error reply from
// Redis to a single command -> FAILED_PRECONDITION with Redis's text. In a
// pipeline, error replies are values (Reply::Type::kError) so that one bad
// command does not hide the others' results.

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <initializer_list>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "common/redis/keyspace.h"

struct redisContext;
struct redisReply;

namespace recstack::redis {

struct Options {
  std::string host = "127.0.0.1";
  int port = 6379;
  std::string unix_socket;  // used instead of host:port when set
  std::string password;     // AUTH when set
  int db = 0;               // SELECT when != 0
  std::chrono::milliseconds connect_timeout{1000};
  std::chrono::milliseconds command_timeout{2000};
};

// redis://[:password@]host[:port][/db] or unix:///path.sock[?db=N].
// INVALID_ARGUMENT naming what is wrong.
absl::StatusOr<Options> ParseUrl(std::string_view url);
// The URL of `options` with the password shown as ***.
std::string ToUrl(const Options& options);

// An owned copy of a redisReply.
struct Reply {
  enum class Type { kNil, kString, kStatus, kInteger, kArray, kError };
  Type type = Type::kNil;
  std::string str;  // kString, kStatus, kError
  long long integer = 0;
  std::vector<Reply> elements;  // kArray

  bool is_nil() const { return type == Type::kNil; }
  bool is_error() const { return type == Type::kError; }
};

class Connection {
 public:
  // Connects, then AUTH and SELECT as the options say.
  static absl::StatusOr<std::unique_ptr<Connection>> Connect(const Options& options);
  ~Connection();
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  absl::StatusOr<Reply> Command(std::span<const std::string_view> argv);
  absl::StatusOr<Reply> Command(std::initializer_list<std::string_view> argv) {
    return Command(std::span<const std::string_view>(argv.begin(), argv.size()));
  }
  // Sends every command, then reads every reply: one round trip.
  absl::StatusOr<std::vector<Reply>> Pipeline(const std::vector<std::vector<std::string>>& cmds);

  // After an I/O error or timeout the connection is unusable.
  bool broken() const { return broken_; }

 private:
  friend class Subscriber;  // reads pushes straight from the context
  explicit Connection(redisContext* ctx) : ctx_(ctx) {}
  absl::Status IoError(std::string_view what);

  redisContext* ctx_;
  bool broken_ = false;
};

class Pool;
class Subscriber;

// A connection borrowed from a Pool; returns it on destruction (or drops it
// when it is broken). Move-only.
class Lease {
 public:
  Lease(Lease&& other) noexcept;
  Lease& operator=(Lease&& other) noexcept;
  Lease(const Lease&) = delete;
  Lease& operator=(const Lease&) = delete;
  ~Lease();

  Connection* operator->() { return conn_.get(); }
  Connection& operator*() { return *conn_; }

 private:
  friend class Pool;
  Lease(Pool* pool, std::unique_ptr<Connection> conn) : pool_(pool), conn_(std::move(conn)) {}
  void Release();

  Pool* pool_;
  std::unique_ptr<Connection> conn_;
};

// Thread-safe, bounded (at most `max_connections` open or leased), lazily
// connecting. A failed connect is not retried within `reconnect_backoff` so
// that a Redis outage costs callers one fast UNAVAILABLE, not a timeout each.
class Pool {
 public:
  Pool(Options options, size_t max_connections);
  ~Pool();
  Pool(const Pool&) = delete;
  Pool& operator=(const Pool&) = delete;

  // Waits up to `wait` for a free slot; UNAVAILABLE when Redis cannot be
  // reached, RESOURCE_EXHAUSTED when every slot stayed leased.
  absl::StatusOr<Lease> Acquire(std::chrono::milliseconds wait = std::chrono::milliseconds(1000));

  absl::StatusOr<Reply> Command(std::span<const std::string_view> argv);
  absl::StatusOr<Reply> Command(std::initializer_list<std::string_view> argv) {
    return Command(std::span<const std::string_view>(argv.begin(), argv.size()));
  }
  absl::StatusOr<std::vector<Reply>> Pipeline(const std::vector<std::vector<std::string>>& cmds);
  // PING; for readiness probes.
  absl::Status Ping();

  const Options& options() const { return options_; }

 private:
  friend class Lease;
  void Return(std::unique_ptr<Connection> conn);

  const Options options_;
  const size_t max_connections_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<std::unique_ptr<Connection>> idle_;
  size_t leased_ = 0;
  std::chrono::steady_clock::time_point next_connect_attempt_{};
  absl::Status last_connect_error_;
};

// A Lua script run with EVALSHA. Redis names scripts by their SHA-1, which
// SCRIPT LOAD returns; the first Load remembers it. Thread-safe.
class Script {
 public:
  explicit Script(std::string lua) : lua_(std::move(lua)) {}
  const std::string& source() const { return lua_; }
  // SCRIPT LOAD on `conn` (cheap when already loaded); returns the SHA-1.
  absl::StatusOr<std::string> Load(Connection& conn) const;
  // EVALSHA, loading the script on NOSCRIPT (after a restart or SCRIPT FLUSH).
  absl::StatusOr<Reply> Run(Connection& conn, const std::vector<std::string>& keys,
                            const std::vector<std::string>& args) const;
  // The EVALSHA argv for a pipeline; call Load on that connection first.
  std::vector<std::string> EvalShaCommand(std::string_view sha,
                                          const std::vector<std::string>& keys,
                                          const std::vector<std::string>& args) const;

 private:
  std::string lua_;
};

}  // namespace recstack::redis
