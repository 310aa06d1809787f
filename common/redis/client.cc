#include "common/redis/client.h"

#include <hiredis/hiredis.h>
#include <sys/socket.h>
#include <sys/time.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstdlib>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "common/redis/cluster.h"
#include "common/status/status.h"

namespace recstack::redis {
namespace {

std::string S(std::string_view v) { return std::string(v); }

timeval ToTimeval(std::chrono::milliseconds ms) {
  timeval tv;
  tv.tv_sec = ms.count() / 1000;
  tv.tv_usec = (ms.count() % 1000) * 1000;
  return tv;
}

Reply Convert(const redisReply* r) {
  Reply out;
  switch (r->type) {
    case REDIS_REPLY_STRING:
      out.type = Reply::Type::kString;
      out.str.assign(r->str, r->len);
      break;
    case REDIS_REPLY_STATUS:
      out.type = Reply::Type::kStatus;
      out.str.assign(r->str, r->len);
      break;
    case REDIS_REPLY_ERROR:
      out.type = Reply::Type::kError;
      out.str.assign(r->str, r->len);
      break;
    case REDIS_REPLY_INTEGER:
      out.type = Reply::Type::kInteger;
      out.integer = r->integer;
      break;
    case REDIS_REPLY_ARRAY:
      out.type = Reply::Type::kArray;
      out.elements.reserve(r->elements);
      for (size_t i = 0; i < r->elements; ++i) out.elements.push_back(Convert(r->element[i]));
      break;
    default:
      out.type = Reply::Type::kNil;
  }
  return out;
}

struct ReplyDeleter {
  void operator()(void* r) const { freeReplyObject(r); }
};
using ReplyPtr = std::unique_ptr<redisReply, ReplyDeleter>;

bool ParseInt(std::string_view s, int* out) {
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), *out);
  return ec == std::errc() && p == s.data() + s.size();
}

// "[user:]password" of "[user:]password@": AUTH user password (an ACL
// user, Redis 6+) or AUTH password (the default user).
void AuthOf(std::string_view auth, Options* o) {
  size_t colon = auth.find(':');
  o->username = colon == std::string_view::npos ? "" : S(auth.substr(0, colon));
  o->password = S(colon == std::string_view::npos ? auth : auth.substr(colon + 1));
}

// "user:***@", ":***@" or "" for a URL.
std::string AuthPart(const Options& o) {
  if (o.password.empty() && o.username.empty()) return "";
  return absl::StrCat(o.username, ":***@");
}

absl::StatusOr<Options> ParseClusterUrl(std::string_view url) {
  Options o;
  auto bad = [&](std::string_view why) {
    return absl::InvalidArgumentError(absl::StrCat("redis url '", S(url), "': ", S(why)));
  };
  std::string_view rest = url.substr(std::string_view("redis-cluster://").size());
  size_t at = rest.rfind('@');
  if (at != std::string_view::npos) {
    AuthOf(rest.substr(0, at), &o);
    rest = rest.substr(at + 1);
  }
  if (rest.find('/') != std::string_view::npos) return bad("a cluster has no database number");
  for (size_t start = 0; start <= rest.size();) {
    size_t comma = rest.find(',', start);
    if (comma == std::string_view::npos) comma = rest.size();
    std::string_view node = rest.substr(start, comma - start);
    start = comma + 1;
    size_t colon = node.rfind(':');
    int port = 0;
    if (colon == std::string_view::npos || colon == 0 || !ParseInt(node.substr(colon + 1), &port) ||
        port <= 0 || port > 65535) {
      return bad(absl::StrCat("node '", S(node), "' is not host:port (port 1-65535)"));
    }
    std::string host = S(node.substr(0, colon));
    if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
      host = host.substr(1, host.size() - 2);
    }
    o.cluster_seeds.emplace_back(std::move(host), port);
  }
  o.host = o.cluster_seeds.front().first;
  o.port = o.cluster_seeds.front().second;
  return o;
}

}  // namespace

Options NodeOptions(const Options& cluster, std::string host, int port) {
  Options o = cluster;
  o.cluster_seeds.clear();
  o.unix_socket.clear();
  o.db = 0;
  o.host = std::move(host);
  o.port = port;
  return o;
}

absl::StatusOr<Options> ParseUrl(std::string_view url) {
  Options o;
  auto bad = [&](std::string_view why) {
    return absl::InvalidArgumentError(absl::StrCat("redis url '", S(url), "': ", S(why)));
  };
  if (url.starts_with("unix://")) {
    std::string_view rest = url.substr(7);
    size_t q = rest.find('?');
    o.unix_socket = S(rest.substr(0, q));
    if (o.unix_socket.empty() || o.unix_socket[0] != '/')
      return bad("expected unix:///absolute/path");
    if (q != std::string_view::npos) {
      std::string_view query = rest.substr(q + 1);
      if (!query.starts_with("db=") || !ParseInt(query.substr(3), &o.db) || o.db < 0) {
        return bad("the only query parameter is db=N");
      }
    }
    return o;
  }
  if (url.starts_with("redis-cluster://")) return ParseClusterUrl(url);
  if (!url.starts_with("redis://")) {
    return bad("expected redis://host:port[/db], unix:///path or redis-cluster://host:port,...");
  }
  std::string_view rest = url.substr(8);
  size_t at = rest.rfind('@');
  if (at != std::string_view::npos) {
    // redis://:password@host or redis://user:password@host.
    AuthOf(rest.substr(0, at), &o);
    rest = rest.substr(at + 1);
  }
  size_t slash = rest.find('/');
  std::string_view hostport = rest.substr(0, slash);
  if (slash != std::string_view::npos) {
    std::string_view db = rest.substr(slash + 1);
    if (!db.empty() && (!ParseInt(db, &o.db) || o.db < 0))
      return bad("the path must be a database number");
  }
  size_t colon = hostport.rfind(':');
  if (colon != std::string_view::npos && hostport.find(']') == std::string_view::npos &&
      hostport.find(':') != colon) {
    return bad("IPv6 hosts go in brackets");
  }
  if (colon != std::string_view::npos &&
      (hostport.find(']') == std::string_view::npos || colon > hostport.find(']'))) {
    o.host = S(hostport.substr(0, colon));
    if (!ParseInt(hostport.substr(colon + 1), &o.port) || o.port <= 0 || o.port > 65535) {
      return bad("port must be 1-65535");
    }
  } else {
    o.host = S(hostport);
  }
  if (o.host.size() >= 2 && o.host.front() == '[' && o.host.back() == ']') {
    o.host = o.host.substr(1, o.host.size() - 2);
  }
  if (o.host.empty()) return bad("missing host");
  return o;
}

absl::Status ReplyError(const Reply& r, absl::StatusCode otherwise) {
  if (r.str.starts_with("NOPERM")) {
    return absl::PermissionDeniedError(
        absl::StrCat("redis refused it by ACL (this service's Redis user lacks the right; "
                     "docs/deploy.md lists each service's rights): ",
                     r.str));
  }
  return absl::Status(otherwise, absl::StrCat("redis: ", r.str));
}

std::string ToUrl(const Options& o) {
  if (o.cluster()) {
    std::string out = absl::StrCat("redis-cluster://", AuthPart(o));
    for (size_t i = 0; i < o.cluster_seeds.size(); ++i) {
      absl::StrAppend(&out, i ? "," : "", o.cluster_seeds[i].first, ":", o.cluster_seeds[i].second);
    }
    return out;
  }
  if (!o.unix_socket.empty()) {
    return o.db == 0 ? absl::StrCat("unix://", o.unix_socket)
                     : absl::StrCat("unix://", o.unix_socket, "?db=", o.db);
  }
  return absl::StrCat("redis://", AuthPart(o), o.host, ":", o.port,
                      o.db == 0 ? "" : absl::StrCat("/", o.db));
}

void Connection::ContextDeleter::operator()(redisContext* ctx) const { redisFree(ctx); }

Connection::Connection(redisContext* ctx) : ctx_(ctx) {}
Connection::Connection(std::unique_ptr<ClusterLink> cluster) : cluster_(std::move(cluster)) {}
Connection::~Connection() = default;

absl::StatusOr<std::unique_ptr<Connection>> Connection::Connect(const Options& o) {
  if (o.cluster()) {
    auto topology = ClusterTopology::For(o);
    // Fails fast, naming the nodes tried, when no node answers.
    RECSTACK_RETURN_IF_ERROR(topology->Get().status());
    return std::unique_ptr<Connection>(
        new Connection(std::make_unique<ClusterLink>(o, std::move(topology))));
  }
  timeval tv = ToTimeval(o.connect_timeout);
  redisContext* ctx = o.unix_socket.empty()
                          ? redisConnectWithTimeout(o.host.c_str(), o.port, tv)
                          : redisConnectUnixWithTimeout(o.unix_socket.c_str(), tv);
  if (ctx == nullptr) return absl::UnavailableError("redis: out of memory allocating a context");
  // Owned from here on: every early return frees the context.
  std::unique_ptr<Connection> conn(new Connection(ctx));
  if (ctx->err) {
    return absl::UnavailableError(absl::StrCat("redis ", ToUrl(o), ": ", ctx->errstr));
  }
  RECSTACK_RETURN_IF_ERROR(conn->SetCommandTimeout(o.command_timeout));
  if (!o.password.empty() || !o.username.empty()) {
    auto r = o.username.empty() ? conn->Command({"AUTH", o.password})
                                : conn->Command({"AUTH", o.username, o.password});
    if (!r.ok()) {
      return absl::Status(r.status().code(),
                          absl::StrCat("redis AUTH failed for ", ToUrl(o),
                                       o.username.empty() ? " (check the password): "
                                                          : " (check the user and its password): ",
                                       r.status().message()));
    }
  }
  if (o.db != 0) {
    std::string db = std::to_string(o.db);
    auto r = conn->Command({"SELECT", db});
    if (!r.ok()) {
      return absl::Status(r.status().code(), absl::StrCat("redis SELECT ", db, " on ", ToUrl(o),
                                                          ": ", r.status().message()));
    }
  }
  return conn;
}

absl::Status Connection::SetCommandTimeout(std::chrono::milliseconds timeout) {
  if (cluster_) return cluster_->SetCommandTimeout(timeout);
  if (redisSetTimeout(ctx_.get(), ToTimeval(timeout)) != REDIS_OK) {
    broken_ = true;
    return absl::UnavailableError(
        absl::StrCat("redis: cannot set a ", timeout.count(), " ms command timeout"));
  }
  return absl::OkStatus();
}

absl::Status Connection::IoError(std::string_view what) {
  broken_ = true;
  // hiredis reports a socket timeout (SO_RCVTIMEO/SO_SNDTIMEO) as an I/O
  // error whose text is strerror(EAGAIN).
  const std::string_view errstr(ctx_->errstr);
  const bool timeout =
      ctx_->err == REDIS_ERR_IO && (errno == EAGAIN || errno == EWOULDBLOCK ||
                                    errstr == std::string_view(std::strerror(EAGAIN)));
  return absl::UnavailableError(
      absl::StrCat("redis ", S(what), ": ", timeout ? std::string("timed out") : S(errstr)));
}

absl::StatusOr<Reply> Connection::CommandReply(std::span<const std::string_view> argv) {
  if (cluster_) return cluster_->CommandReply(argv);
  if (broken_) return absl::UnavailableError("redis: connection is broken");
  std::vector<const char*> ptrs(argv.size());
  std::vector<size_t> lens(argv.size());
  for (size_t i = 0; i < argv.size(); ++i) {
    ptrs[i] = argv[i].data();
    lens[i] = argv[i].size();
  }
  ReplyPtr r(static_cast<redisReply*>(
      redisCommandArgv(ctx_.get(), static_cast<int>(argv.size()), ptrs.data(), lens.data())));
  if (r == nullptr) return IoError(argv.empty() ? "command" : argv[0]);
  return Convert(r.get());
}

absl::StatusOr<Reply> Connection::Command(std::span<const std::string_view> argv) {
  RECSTACK_ASSIGN_OR_RETURN(Reply out, CommandReply(argv));
  if (out.is_error()) return ReplyError(out);
  return out;
}

absl::StatusOr<std::vector<Reply>> Connection::Pipeline(
    const std::vector<std::vector<std::string>>& cmds) {
  if (cluster_) return cluster_->Pipeline(cmds);
  std::vector<const std::vector<std::string>*> refs;
  refs.reserve(cmds.size());
  for (const auto& cmd : cmds) refs.push_back(&cmd);
  RECSTACK_RETURN_IF_ERROR(PipelineSend(refs));
  return PipelineReceive(cmds.size());
}

absl::Status Connection::PipelineSend(const std::vector<const std::vector<std::string>*>& cmds) {
  if (broken_) return absl::UnavailableError("redis: connection is broken");
  std::vector<const char*> ptrs;
  std::vector<size_t> lens;
  for (const auto* cmd : cmds) {
    ptrs.resize(cmd->size());
    lens.resize(cmd->size());
    for (size_t i = 0; i < cmd->size(); ++i) {
      ptrs[i] = (*cmd)[i].data();
      lens[i] = (*cmd)[i].size();
    }
    // Appends to hiredis's output buffer only.
    if (redisAppendCommandArgv(ctx_.get(), static_cast<int>(cmd->size()), ptrs.data(),
                               lens.data()) != REDIS_OK) {
      return IoError("pipeline append");
    }
  }
  // Write everything now (the first redisGetReply would, but a cluster
  // writes to every node before it reads from any).
  int done = 0;
  while (!done) {
    if (redisBufferWrite(ctx_.get(), &done) != REDIS_OK) return IoError("pipeline write");
  }
  return absl::OkStatus();
}

absl::StatusOr<std::vector<Reply>> Connection::PipelineReceive(size_t n) {
  std::vector<Reply> out;
  out.reserve(n);
  for (size_t i = 0; i < n; ++i) {
    void* raw = nullptr;
    if (redisGetReply(ctx_.get(), &raw) != REDIS_OK || raw == nullptr)
      return IoError("pipeline read");
    ReplyPtr r(static_cast<redisReply*>(raw));
    out.push_back(Convert(r.get()));
  }
  return out;
}

bool Connection::PeerClosed() const {
  if (ctx_ == nullptr) return true;
  char c;
  const ssize_t n = recv(ctx_->fd, &c, 1, MSG_PEEK | MSG_DONTWAIT);
  if (n == 0) return true;  // orderly shutdown: the server went away
  if (n > 0) return true;   // bytes nobody asked for: out of step
  return !(errno == EAGAIN || errno == EWOULDBLOCK);
}

absl::StatusOr<std::vector<Reply>> Connection::OnEachMaster(
    std::span<const std::string_view> argv) {
  if (cluster_) return cluster_->OnEachMaster(argv);
  RECSTACK_ASSIGN_OR_RETURN(Reply r, CommandReply(argv));
  return std::vector<Reply>{std::move(r)};
}

absl::StatusOr<int> Connection::WaitForReplicas(int replicas, std::chrono::milliseconds timeout) {
  if (cluster_) return cluster_->WaitForReplicas(replicas, timeout);
  // How many replicas this master has, looked up at most once a second: a
  // master whose replica was promoted away must not make every write wait
  // for the whole timeout.
  auto attached = [&]() -> absl::StatusOr<int> {
    RECSTACK_ASSIGN_OR_RETURN(Reply info, Command({"INFO", "replication"}));
    const size_t at = info.str.find("connected_slaves:");
    attached_replicas_ = at == std::string::npos ? 0 : std::atoi(info.str.c_str() + at + 17);
    replicas_checked_ = std::chrono::steady_clock::now();
    return attached_replicas_;
  };
  if (std::chrono::steady_clock::now() - replicas_checked_ > std::chrono::seconds(1)) {
    RECSTACK_RETURN_IF_ERROR(attached().status());
  }
  const int want = std::min(replicas, attached_replicas_);
  if (want == 0) return replicas;
  const std::string n = std::to_string(want), ms = std::to_string(timeout.count());
  RECSTACK_ASSIGN_OR_RETURN(Reply r, Command({"WAIT", n, ms}));
  const int got = static_cast<int>(r.integer);
  if (got >= want) return replicas;
  // A replica went away during the wait?
  RECSTACK_ASSIGN_OR_RETURN(int now_attached, attached());
  return got >= std::min(now_attached, replicas) ? replicas : got;
}

absl::Status Connection::Scan(
    std::string_view pattern, int count,
    const std::function<absl::Status(std::vector<std::string>&)>& on_keys) {
  if (cluster_) return cluster_->Scan(pattern, count, on_keys);
  const std::string n = std::to_string(count);
  std::string cursor = "0";
  do {
    RECSTACK_ASSIGN_OR_RETURN(Reply r, Command({"SCAN", cursor, "MATCH", pattern, "COUNT", n}));
    if (!r.is_array() || r.elements.size() != 2) {
      return absl::InternalError("redis: SCAN returned an unexpected reply");
    }
    cursor = r.elements[0].str;
    std::vector<std::string> keys;
    keys.reserve(r.elements[1].elements.size());
    for (auto& k : r.elements[1].elements) keys.push_back(std::move(k.str));
    if (!keys.empty()) RECSTACK_RETURN_IF_ERROR(on_keys(keys));
  } while (cursor != "0");
  return absl::OkStatus();
}

Lease::Lease(Lease&& other) noexcept : pool_(other.pool_), conn_(std::move(other.conn_)) {
  other.pool_ = nullptr;
}

Lease& Lease::operator=(Lease&& other) noexcept {
  if (this != &other) {
    Release();
    pool_ = other.pool_;
    conn_ = std::move(other.conn_);
    other.pool_ = nullptr;
  }
  return *this;
}

Lease::~Lease() { Release(); }

void Lease::Release() {
  if (pool_ != nullptr) pool_->Return(std::move(conn_));
  pool_ = nullptr;
}

Pool::Pool(Options options, size_t max_connections)
    : options_(std::move(options)), max_connections_(max_connections == 0 ? 1 : max_connections) {}

Pool::~Pool() = default;

absl::StatusOr<Lease> Pool::Acquire(std::chrono::milliseconds wait) {
  std::unique_lock<std::mutex> lock(mu_);
  const auto deadline = std::chrono::steady_clock::now() + wait;
  while (idle_.empty() && leased_ >= max_connections_) {
    if (cv_.wait_until(lock, deadline) == std::cv_status::timeout && idle_.empty() &&
        leased_ >= max_connections_) {
      return absl::ResourceExhaustedError(
          absl::StrCat("redis pool: all ", max_connections_, " connections stayed busy"));
    }
  }
  if (!idle_.empty()) {
    std::unique_ptr<Connection> conn = std::move(idle_.back());
    idle_.pop_back();
    ++leased_;
    return Lease(this, std::move(conn));
  }
  // Connect outside the lock, holding the slot.
  const auto now = std::chrono::steady_clock::now();
  if (now < next_connect_attempt_) return last_connect_error_;
  ++leased_;
  lock.unlock();
  auto conn = Connection::Connect(options_);
  lock.lock();
  if (!conn.ok()) {
    --leased_;
    last_connect_error_ = conn.status();
    // Back off briefly so an outage fails callers fast instead of each one
    // paying the connect timeout.
    next_connect_attempt_ = std::chrono::steady_clock::now() + kConnectBackoff;
    cv_.notify_one();
    return conn.status();
  }
  next_connect_attempt_ = {};
  return Lease(this, std::move(*conn));
}

void Pool::Return(std::unique_ptr<Connection> conn) {
  std::lock_guard<std::mutex> lock(mu_);
  --leased_;
  if (conn != nullptr && !conn->broken()) idle_.push_back(std::move(conn));
  cv_.notify_one();
}

absl::StatusOr<Reply> Pool::Command(std::span<const std::string_view> argv) {
  auto lease = Acquire();
  if (!lease.ok()) return lease.status();
  return (*lease)->Command(argv);
}

absl::StatusOr<std::vector<Reply>> Pool::Pipeline(
    const std::vector<std::vector<std::string>>& cmds) {
  auto lease = Acquire();
  if (!lease.ok()) return lease.status();
  return (*lease)->Pipeline(cmds);
}

absl::Status Pool::Scan(std::string_view pattern, int count,
                        const std::function<absl::Status(std::vector<std::string>&)>& on_keys) {
  RECSTACK_ASSIGN_OR_RETURN(Lease lease, Acquire());
  return lease->Scan(pattern, count, on_keys);
}

absl::Status Pool::Ping() {
  RECSTACK_ASSIGN_OR_RETURN(Lease lease, Acquire(kPingTimeout));
  const auto timeout = std::min(options_.command_timeout, kPingTimeout);
  RECSTACK_RETURN_IF_ERROR(lease->SetCommandTimeout(timeout));
  auto r = lease->Command({"PING"});
  if (!r.ok()) return r.status();
  // Back to the pool's timeout before the connection is reused.
  return lease->SetCommandTimeout(options_.command_timeout);
}

Script::Script(const Script& other) : lua_(other.lua_) {
  std::lock_guard<std::mutex> lock(other.mu_);
  sha_ = other.sha_;
}

Script& Script::operator=(const Script& other) {
  if (this == &other) return *this;
  std::string sha;
  {
    std::lock_guard<std::mutex> lock(other.mu_);
    sha = other.sha_;
  }
  std::lock_guard<std::mutex> lock(mu_);
  lua_ = other.lua_;
  sha_ = std::move(sha);
  return *this;
}

absl::StatusOr<std::string> Script::Load(Connection& conn) const {
  RECSTACK_ASSIGN_OR_RETURN(std::vector<Reply> replies,
                            conn.OnEachMaster({"SCRIPT", "LOAD", lua_}));
  for (const Reply& r : replies) {
    if (r.is_error()) return ReplyError(r);
  }
  std::lock_guard<std::mutex> lock(mu_);
  sha_ = replies.front().str;
  return sha_;
}

std::string Script::sha() const {
  std::lock_guard<std::mutex> lock(mu_);
  return sha_;
}

std::vector<std::string> Script::EvalShaCommand(std::string_view sha,
                                                const std::vector<std::string>& keys,
                                                const std::vector<std::string>& args) const {
  std::vector<std::string> cmd = {"EVALSHA", S(sha), std::to_string(keys.size())};
  cmd.insert(cmd.end(), keys.begin(), keys.end());
  cmd.insert(cmd.end(), args.begin(), args.end());
  return cmd;
}

absl::StatusOr<Reply> Script::Run(Connection& conn, const std::vector<std::string>& keys,
                                  const std::vector<std::string>& args) const {
  std::string sha = this->sha();
  if (!sha.empty()) {
    auto cmd = EvalShaCommand(sha, keys, args);
    std::vector<std::string_view> argv(cmd.begin(), cmd.end());
    RECSTACK_ASSIGN_OR_RETURN(Reply r, conn.CommandReply(argv));
    if (!r.is_error()) return r;
    if (!r.str.starts_with("NOSCRIPT")) return ReplyError(r);
  }
  // Not known to this server yet (first use, restart, SCRIPT FLUSH).
  RECSTACK_ASSIGN_OR_RETURN(sha, Load(conn));
  auto cmd = EvalShaCommand(sha, keys, args);
  std::vector<std::string_view> argv(cmd.begin(), cmd.end());
  return conn.Command(argv);
}

}  // namespace recstack::redis
