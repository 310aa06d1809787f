#pragma once

// RAII hiredis client (STYLE rule 5): binary-safe argv commands, pipelining,
// connect and command timeouts, AUTH/SELECT, and a bounded pool that hands
// out move-only leases and drops connections that saw an I/O error.
//
// Error mapping (one place): an I/O error or a timeout -> UNAVAILABLE (the
// connection is then broken and dropped by the pool); an error reply from
// Redis to a single command -> FAILED_PRECONDITION with Redis's text (wrong
// type, syntax, NOAUTH, WRONGPASS alike: none is retryable). In a pipeline,
// error replies are values (Reply::Type::kError) so that one bad command does
// not hide the others' results. Pool exhaustion -> RESOURCE_EXHAUSTED.
//
// Redis Cluster: a redis-cluster:// URL makes every Connection a router over
// the cluster's masters (common/redis/cluster.h: slot map, MOVED/ASK,
// retries through a failover, per-node pipelines); callers use the same
// calls. Keys one command or Lua script touches together must share a hash
// tag (common/redis/keyspace.h).
//
// Limits: hiredis 0.14 blocking API, RESP2 only, no TLS.

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
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

class ClusterLink;

struct Options {
  std::string host = "127.0.0.1";
  int port = 6379;
  std::string unix_socket;  // used instead of host:port when set
  std::string username;     // AUTH username password (a Redis 6+ ACL user) when set
  std::string password;     // AUTH when set
  int db = 0;               // SELECT when != 0
  std::chrono::milliseconds connect_timeout{1000};
  // A single command's read/write timeout; on a cluster also the budget for
  // retrying one command through redirects and a failover.
  std::chrono::milliseconds command_timeout{2000};
  // Redis Cluster: the seed nodes (host, port); empty for a single Redis.
  // host/port then name no server.
  std::vector<std::pair<std::string, int>> cluster_seeds;

  bool cluster() const { return !cluster_seeds.empty(); }
};

// redis://[[user]:password@]host[:port][/db], unix:///path.sock[?db=N], or
// redis-cluster://[[user]:password@]host:port[,host:port...] (any reachable node
// will do; the others are learnt from it). INVALID_ARGUMENT naming what is
// wrong.
absl::StatusOr<Options> ParseUrl(std::string_view url);
// The options of one node of a cluster (same password and timeouts).
Options NodeOptions(const Options& cluster, std::string host, int port);
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
  bool is_string() const { return type == Type::kString; }
  bool is_status() const { return type == Type::kStatus; }
  bool is_integer() const { return type == Type::kInteger; }
  bool is_array() const { return type == Type::kArray; }
};

// The status of an error reply: PERMISSION_DENIED for an ACL refusal
// (NOPERM: the connection's user may not run that command or touch that
// key; the message says so and what Redis said), `otherwise` for the rest.
absl::Status ReplyError(const Reply& r,
                        absl::StatusCode otherwise = absl::StatusCode::kFailedPrecondition);

// One hiredis context (blocking, with socket timeouts), owned through a
// unique_ptr whose deleter calls redisFree. Not thread-safe: one user at a
// time, which the Pool's leases guarantee.
class Connection {
 public:
  // Connects, then AUTH and SELECT as the options say. UNAVAILABLE when the
  // server cannot be reached within connect_timeout; a rejected AUTH is
  // FAILED_PRECONDITION ("redis AUTH failed for <url> ...", password redacted).
  static absl::StatusOr<std::unique_ptr<Connection>> Connect(const Options& options);
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  // One command, binary-safe (redisCommandArgv). A Redis error reply is a
  // FAILED_PRECONDITION status carrying Redis's text.
  absl::StatusOr<Reply> Command(std::span<const std::string_view> argv);
  absl::StatusOr<Reply> Command(std::initializer_list<std::string_view> argv) {
    return Command(std::span<const std::string_view>(argv.begin(), argv.size()));
  }
  // As Command, but a Redis error reply comes back as a Reply of
  // Type::kError; only I/O failure is a status (UNAVAILABLE).
  absl::StatusOr<Reply> CommandReply(std::span<const std::string_view> argv);
  // Sends every command, then reads every reply: one round trip. Error
  // replies are Type::kError values in their slot; only I/O failure fails
  // the call (UNAVAILABLE, connection broken).
  absl::StatusOr<std::vector<Reply>> Pipeline(const std::vector<std::vector<std::string>>& cmds);

  // A keyless command on every master (SCRIPT LOAD, INFO, DBSIZE); on a
  // single Redis, one reply. Error replies are values, as in Pipeline.
  absl::StatusOr<std::vector<Reply>> OnEachMaster(std::span<const std::string_view> argv);
  absl::StatusOr<std::vector<Reply>> OnEachMaster(std::initializer_list<std::string_view> argv) {
    return OnEachMaster(std::span<const std::string_view>(argv.begin(), argv.size()));
  }
  // WAIT on every node this connection wrote to: how many replicas (the
  // fewest over those nodes) acknowledged its writes within `timeout`. A
  // master with fewer replicas attached than asked for (its replica was
  // just promoted away, or is down) counts as `replicas` once all of those
  // attached acknowledged: writes go on during a failover, replicated as far
  // as the cluster can.
  absl::StatusOr<int> WaitForReplicas(int replicas, std::chrono::milliseconds timeout);
  // SCAN MATCH `pattern` over the whole keyspace (every master of a
  // cluster): `on_keys` gets each batch and may stop the scan with an error.
  absl::Status Scan(std::string_view pattern, int count,
                    const std::function<absl::Status(std::vector<std::string>&)>& on_keys);

  // Changes the read/write timeout for the following commands (e.g. a short
  // one for health probes). UNAVAILABLE if the socket option cannot be set.
  absl::Status SetCommandTimeout(std::chrono::milliseconds timeout);

  // After an I/O error or timeout the connection is unusable: the reply
  // stream may be out of step with the commands sent. A cluster connection
  // is never broken as a whole: it drops and reopens its node links.
  bool broken() const { return broken_; }
  bool cluster() const { return cluster_ != nullptr; }

  ~Connection();

 private:
  friend class Subscriber;   // reads pushes straight from the context
  friend class ClusterLink;  // drives node connections in two halves
  struct ContextDeleter {
    void operator()(redisContext* ctx) const;
  };
  explicit Connection(redisContext* ctx);
  explicit Connection(std::unique_ptr<ClusterLink> cluster);
  absl::Status IoError(std::string_view what);
  // Pipeline in two halves, so a cluster writes to every node before it
  // reads from any.
  absl::Status PipelineSend(const std::vector<const std::vector<std::string>*>& cmds);
  absl::StatusOr<std::vector<Reply>> PipelineReceive(size_t n);
  // True when the peer closed the (idle) socket or it has unread bytes: the
  // connection must not be used.
  bool PeerClosed() const;

  std::unique_ptr<redisContext, ContextDeleter> ctx_;
  std::unique_ptr<ClusterLink> cluster_;
  bool broken_ = false;
  // WaitForReplicas' view of the master's replicas.
  int attached_replicas_ = 0;
  std::chrono::steady_clock::time_point replicas_checked_{};
};

class Pool;
class Subscriber;

// A connection borrowed from a Pool; returns it on destruction (or drops it
// when it is broken). Move-only. A lease must not outlive its pool.
class Lease {
 public:
  Lease(Lease&& other) noexcept;
  Lease& operator=(Lease&& other) noexcept;
  Lease(const Lease&) = delete;
  Lease& operator=(const Lease&) = delete;
  ~Lease();

  Connection* operator->() { return conn_.get(); }
  Connection& operator*() { return *conn_; }
  Connection* get() { return conn_.get(); }

 private:
  friend class Pool;
  Lease(Pool* pool, std::unique_ptr<Connection> conn) : pool_(pool), conn_(std::move(conn)) {}
  void Release();

  Pool* pool_;
  std::unique_ptr<Connection> conn_;
};

// Thread-safe, bounded (at most `max_connections` open or leased, 0 means 1),
// lazily connecting. A failed connect is not retried within kConnectBackoff
// so that a Redis outage costs callers one fast UNAVAILABLE, not a connect
// timeout each. Connections that saw an I/O error are dropped, so the next
// Acquire after Redis comes back connects afresh.
class Pool {
 public:
  Pool(Options options, size_t max_connections);
  ~Pool();
  Pool(const Pool&) = delete;
  Pool& operator=(const Pool&) = delete;

  // Waits up to `wait` for a free slot; UNAVAILABLE when Redis cannot be
  // reached, RESOURCE_EXHAUSTED when every slot stayed leased.
  absl::StatusOr<Lease> Acquire(std::chrono::milliseconds wait = std::chrono::milliseconds(1000));

  // Acquire (default wait), run one command or pipeline, release.
  absl::StatusOr<Reply> Command(std::span<const std::string_view> argv);
  absl::StatusOr<Reply> Command(std::initializer_list<std::string_view> argv) {
    return Command(std::span<const std::string_view>(argv.begin(), argv.size()));
  }
  absl::StatusOr<std::vector<Reply>> Pipeline(const std::vector<std::vector<std::string>>& cmds);
  // Connection::Scan on a leased connection.
  absl::Status Scan(std::string_view pattern, int count,
                    const std::function<absl::Status(std::vector<std::string>&)>& on_keys);
  // PING with a short timeout (at most kPingTimeout) and a short wait for a
  // slot; for readiness probes.
  absl::Status Ping();
  static constexpr std::chrono::milliseconds kPingTimeout{500};
  // After a failed connect, Acquire returns that error without trying again
  // for this long, so an outage costs callers a fast UNAVAILABLE each.
  static constexpr std::chrono::milliseconds kConnectBackoff{200};

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
// SCRIPT LOAD returns; the script remembers it, so a Run usually costs one
// EVALSHA and the source travels only on NOSCRIPT. Thread-safe.
class Script {
 public:
  explicit Script(std::string lua) : lua_(std::move(lua)) {}
  Script(const Script& other);
  Script& operator=(const Script& other);
  const std::string& source() const { return lua_; }
  // The SHA-1 of the last Load, empty before it.
  std::string sha() const;
  // SCRIPT LOAD on `conn` (always a round trip, so the script is known to be
  // on that server; on every master of a cluster); returns the SHA-1 and
  // remembers it.
  absl::StatusOr<std::string> Load(Connection& conn) const;
  // EVALSHA with the remembered SHA-1; on NOSCRIPT (first use, a restart or
  // SCRIPT FLUSH) SCRIPT LOAD, then EVALSHA again. A Lua or Redis error is
  // FAILED_PRECONDITION, like Connection::Command.
  absl::StatusOr<Reply> Run(Connection& conn, const std::vector<std::string>& keys,
                            const std::vector<std::string>& args) const;
  // The EVALSHA argv for a pipeline; call Load on that connection first.
  std::vector<std::string> EvalShaCommand(std::string_view sha,
                                          const std::vector<std::string>& keys,
                                          const std::vector<std::string>& args) const;

 private:
  std::string lua_;
  mutable std::mutex mu_;
  mutable std::string sha_;  // guarded by mu_; empty until the first load
};

}  // namespace recstack::redis
