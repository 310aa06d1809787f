#include "common/redis/cluster.h"

#include <algorithm>
#include <array>
#include <cctype>
#include <charconv>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/status/status.h"

namespace recstack::redis {
namespace {

using Clock = std::chrono::steady_clock;

// Debian's absl has its own string_view: StrCat takes std::string.
std::string S(std::string_view v) { return std::string(v); }

// CRC16-CCITT (XMODEM): polynomial 0x1021, initial value 0, as the cluster
// specification defines the key hash.
constexpr std::array<uint16_t, 256> MakeCrcTable() {
  std::array<uint16_t, 256> t{};
  for (int i = 0; i < 256; ++i) {
    uint16_t crc = static_cast<uint16_t>(i << 8);
    for (int b = 0; b < 8; ++b) crc = (crc & 0x8000) ? (crc << 1) ^ 0x1021 : crc << 1;
    t[i] = crc;
  }
  return t;
}
constexpr std::array<uint16_t, 256> kCrcTable = MakeCrcTable();

uint16_t Crc16(std::string_view s) {
  uint16_t crc = 0;
  for (unsigned char c : s) crc = (crc << 8) ^ kCrcTable[((crc >> 8) ^ c) & 0xff];
  return crc;
}

std::string Upper(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return out;
}

bool ParseCount(std::string_view s, size_t* out) {
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), *out);
  return ec == std::errc() && p == s.data() + s.size();
}

// "MOVED 3999 127.0.0.1:6381" / "ASK 3999 127.0.0.1:6381".
struct Redirect {
  bool ask = false;
  int slot = -1;
  std::string host;
  int port = 0;
  std::string addr() const { return host + ":" + std::to_string(port); }
};

bool ParseRedirect(std::string_view err, Redirect* out) {
  if (err.starts_with("MOVED ")) {
    out->ask = false;
    err.remove_prefix(6);
  } else if (err.starts_with("ASK ")) {
    out->ask = true;
    err.remove_prefix(4);
  } else {
    return false;
  }
  const size_t space = err.find(' ');
  const size_t colon = err.rfind(':');
  if (space == std::string_view::npos || colon == std::string_view::npos || colon < space) {
    return false;
  }
  auto [p1, e1] = std::from_chars(err.data(), err.data() + space, out->slot);
  auto [p2, e2] = std::from_chars(err.data() + colon + 1, err.data() + err.size(), out->port);
  if (e1 != std::errc() || e2 != std::errc()) return false;
  out->host = std::string(err.substr(space + 1, colon - space - 1));
  return true;
}

// Error replies after which the same command is worth sending again once
// the cluster has settled.
bool Transient(std::string_view err) {
  return err.starts_with("TRYAGAIN") || err.starts_with("CLUSTERDOWN") ||
         err.starts_with("LOADING") || err.starts_with("MASTERDOWN");
}

// The slot every key of `keys` is in, -1 for none, or a CROSSSLOT text.
absl::StatusOr<int> SlotOf(const std::vector<std::string_view>& keys) {
  if (keys.empty()) return -1;
  const int slot = KeySlot(keys[0]);
  for (std::string_view k : keys) {
    if (KeySlot(k) != slot) {
      std::vector<std::string> named;
      for (std::string_view key : keys)
        named.push_back(absl::StrCat("'", S(key), "' (slot ", KeySlot(key), ")"));
      return absl::InvalidArgumentError(absl::StrCat(
          "CROSSSLOT keys of one command in different slots: ", absl::StrJoin(named, ", "),
          "; give them one hash tag"));
    }
  }
  return slot;
}

Reply ErrorReply(std::string text) {
  Reply r;
  r.type = Reply::Type::kError;
  r.str = std::move(text);
  return r;
}

}  // namespace

int KeySlot(std::string_view key) {
  const size_t open = key.find('{');
  if (open != std::string_view::npos) {
    const size_t close = key.find('}', open + 1);
    if (close != std::string_view::npos && close > open + 1) {
      key = key.substr(open + 1, close - open - 1);
    }
  }
  return Crc16(key) & (kClusterSlots - 1);
}

std::vector<std::string_view> CommandKeys(std::span<const std::string_view> argv) {
  std::vector<std::string_view> keys;
  if (argv.size() < 2) return keys;
  const std::string cmd = Upper(argv[0]);
  auto from = [&](size_t first, size_t step = 1, size_t end = SIZE_MAX) {
    for (size_t i = first; i < std::min(end, argv.size()); i += step) keys.push_back(argv[i]);
  };
  auto numkeys_at = [&](size_t pos) {  // numkeys at pos, the keys right after it
    size_t n = 0;
    if (pos < argv.size() && ParseCount(argv[pos], &n)) from(pos + 1, 1, pos + 1 + n);
  };
  static const std::array<std::string_view, 19> kKeyless = {
      "PING",   "INFO",     "SCRIPT",  "CLUSTER", "AUTH",    "SELECT",  "WAIT",
      "DBSIZE", "FLUSHALL", "FLUSHDB", "CONFIG",  "ACL",     "PUBLISH", "SUBSCRIBE",
      "SCAN",   "COMMAND",  "CLIENT",  "ECHO",    "READONLY"};
  if (std::find(kKeyless.begin(), kKeyless.end(), cmd) != kKeyless.end()) return keys;
  if (cmd == "EVAL" || cmd == "EVALSHA" || cmd == "EVAL_RO" || cmd == "EVALSHA_RO" ||
      cmd == "FCALL" || cmd == "FCALL_RO") {
    numkeys_at(2);
  } else if (cmd == "ZUNION" || cmd == "ZINTER" || cmd == "ZDIFF") {
    numkeys_at(1);
  } else if (cmd == "ZUNIONSTORE" || cmd == "ZINTERSTORE" || cmd == "ZDIFFSTORE") {
    keys.push_back(argv[1]);
    numkeys_at(2);
  } else if (cmd == "DEL" || cmd == "UNLINK" || cmd == "EXISTS" || cmd == "MGET" ||
             cmd == "TOUCH" || cmd == "WATCH") {
    from(1);
  } else if (cmd == "MSET" || cmd == "MSETNX") {
    from(1, 2);
  } else if (cmd == "XREAD" || cmd == "XREADGROUP") {
    for (size_t i = 1; i < argv.size(); ++i) {
      if (Upper(argv[i]) == "STREAMS") {
        const size_t n = (argv.size() - i - 1) / 2;
        from(i + 1, 1, i + 1 + n);
        break;
      }
    }
  } else if (cmd == "XGROUP" || cmd == "XINFO" || cmd == "OBJECT" || cmd == "MEMORY") {
    if (argv.size() >= 3) keys.push_back(argv[2]);
  } else {
    keys.push_back(argv[1]);
  }
  return keys;
}

bool IsReadOnlyCommand(std::string_view name) {
  static const std::array<std::string_view, 27> kReads = {
      "GET",      "MGET",    "EXISTS",        "TYPE",   "TTL",       "PTTL",   "HGET",
      "HMGET",    "HGETALL", "HLEN",          "ZRANGE", "ZREVRANGE", "ZSCORE", "ZMSCORE",
      "ZCARD",    "ZUNION",  "ZRANGEBYSCORE", "XRANGE", "XREVRANGE", "XLEN",   "XINFO",
      "SMEMBERS", "LRANGE",  "PING",          "INFO",   "DBSIZE",    "STRLEN"};
  const std::string cmd = Upper(name);
  return std::find(kReads.begin(), kReads.end(), cmd) != kReads.end();
}

std::shared_ptr<ClusterTopology> ClusterTopology::For(const Options& options) {
  static std::mutex mu;
  static std::map<std::string, std::weak_ptr<ClusterTopology>> all;
  std::string key = absl::StrCat(options.username, ":", options.password);
  for (const auto& [host, port] : options.cluster_seeds)
    absl::StrAppend(&key, "|", host, ":", port);
  std::lock_guard<std::mutex> lock(mu);
  if (auto found = all[key].lock()) return found;
  auto made = std::make_shared<ClusterTopology>(options);
  all[key] = made;
  return made;
}

absl::StatusOr<std::shared_ptr<const ClusterTopology::Map>> ClusterTopology::Get() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (map_ != nullptr) return map_;
  }
  RECSTACK_RETURN_IF_ERROR(Refresh());
  std::lock_guard<std::mutex> lock(mu_);
  return map_;
}

absl::Status ClusterTopology::Refresh() {
  const auto asked = Clock::now();
  std::lock_guard<std::mutex> one(refresh_mu_);
  {
    std::lock_guard<std::mutex> lock(mu_);
    // Someone reloaded while this caller waited, or very recently.
    if (map_ != nullptr && (loaded_at_ >= asked || asked - loaded_at_ < kMinRefreshInterval)) {
      return absl::OkStatus();
    }
  }
  return Load();
}

void ClusterTopology::NoteMoved(int slot, const std::string& host, int port) {
  if (slot < 0 || slot >= kClusterSlots) return;
  std::lock_guard<std::mutex> lock(mu_);
  if (map_ == nullptr) return;
  auto next = std::make_shared<Map>(*map_);
  int index = -1;
  for (size_t i = 0; i < next->masters.size(); ++i) {
    if (next->masters[i].host == host && next->masters[i].port == port) index = static_cast<int>(i);
  }
  if (index < 0) {
    next->masters.push_back({host, port});
    index = static_cast<int>(next->masters.size() - 1);
  }
  next->owner[slot] = static_cast<int16_t>(index);
  map_ = std::move(next);
}

absl::Status ClusterTopology::Load() {
  // Known nodes first (the seeds may be gone), then the seeds.
  std::vector<Node> candidates;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (map_ != nullptr) {
      candidates = map_->masters;
      candidates.insert(candidates.end(), map_->replicas.begin(), map_->replicas.end());
    }
  }
  for (const auto& [host, port] : options_.cluster_seeds) candidates.push_back({host, port});
  std::vector<std::string> failures;
  for (const Node& node : candidates) {
    Options o = NodeOptions(options_, node.host, node.port);
    o.connect_timeout = std::min(o.connect_timeout, std::chrono::milliseconds(500));
    auto conn = Connection::Connect(o);
    if (!conn.ok()) {
      failures.push_back(absl::StrCat(node.addr(), ": ", conn.status().message()));
      continue;
    }
    auto reply = (*conn)->Command({"CLUSTER", "SLOTS"});
    if (!reply.ok() || !reply->is_array() || reply->elements.empty()) {
      failures.push_back(absl::StrCat(
          node.addr(), ": ",
          reply.ok() ? "CLUSTER SLOTS is empty (cluster not formed?)" : reply.status().message()));
      continue;
    }
    auto next = std::make_shared<Map>();
    auto index_of = [](std::vector<Node>& nodes, Node n) {
      for (size_t i = 0; i < nodes.size(); ++i) {
        if (nodes[i].host == n.host && nodes[i].port == n.port) return static_cast<int>(i);
      }
      nodes.push_back(std::move(n));
      return static_cast<int>(nodes.size() - 1);
    };
    bool malformed = false;
    for (const Reply& range : reply->elements) {
      if (!range.is_array() || range.elements.size() < 3 || !range.elements[2].is_array() ||
          range.elements[2].elements.size() < 2) {
        malformed = true;
        break;
      }
      auto node_of = [&](const Reply& r) {
        // An empty host means "the node you asked".
        std::string host = r.elements[0].str.empty() ? node.host : r.elements[0].str;
        return Node{std::move(host), static_cast<int>(r.elements[1].integer)};
      };
      const int master = index_of(next->masters, node_of(range.elements[2]));
      for (size_t i = 3; i < range.elements.size(); ++i) {
        if (range.elements[i].is_array() && range.elements[i].elements.size() >= 2) {
          index_of(next->replicas, node_of(range.elements[i]));
        }
      }
      const long long lo = range.elements[0].integer, hi = range.elements[1].integer;
      for (long long s = std::max(0LL, lo); s <= std::min<long long>(hi, kClusterSlots - 1); ++s) {
        next->owner[s] = static_cast<int16_t>(master);
      }
    }
    if (malformed) {
      failures.push_back(absl::StrCat(node.addr(), ": malformed CLUSTER SLOTS reply"));
      continue;
    }
    std::lock_guard<std::mutex> lock(mu_);
    map_ = std::move(next);
    loaded_at_ = Clock::now();
    return absl::OkStatus();
  }
  return absl::UnavailableError(absl::StrCat("redis cluster: no node answered CLUSTER SLOTS (",
                                             absl::StrJoin(failures, "; "), ")"));
}

ClusterLink::ClusterLink(Options options, std::shared_ptr<ClusterTopology> topology)
    : options_(std::move(options)), topology_(std::move(topology)),
      command_timeout_(options_.command_timeout) {}

ClusterLink::~ClusterLink() = default;

absl::StatusOr<Connection*> ClusterLink::Node(const std::string& addr) {
  auto it = nodes_.find(addr);
  if (it != nodes_.end() && !it->second->broken() && !it->second->PeerClosed()) {
    return it->second.get();
  }
  if (it != nodes_.end()) nodes_.erase(it);
  const size_t colon = addr.rfind(':');
  Options o = NodeOptions(options_, addr.substr(0, colon), std::stoi(addr.substr(colon + 1)));
  o.command_timeout = command_timeout_;
  RECSTACK_ASSIGN_OR_RETURN(std::unique_ptr<Connection> conn, Connection::Connect(o));
  Connection* raw = conn.get();
  nodes_[addr] = std::move(conn);
  return raw;
}

absl::StatusOr<std::string> ClusterLink::OwnerOf(int slot) {
  RECSTACK_ASSIGN_OR_RETURN(auto map, topology_->Get());
  if (map->masters.empty()) return absl::UnavailableError("redis cluster: no master known");
  if (slot < 0) return map->masters.front().addr();
  const int owner = map->owner[slot];
  if (owner < 0) {
    return absl::UnavailableError(absl::StrCat("redis cluster: slot ", slot, " has no master"));
  }
  return map->masters[owner].addr();
}

bool ClusterLink::Backoff(int attempt, Clock::time_point deadline) const {
  const auto now = Clock::now();
  if (now >= deadline) return false;
  const auto wait = std::min<std::chrono::milliseconds>(
      std::chrono::milliseconds(10 << std::min(attempt - 1, 4)), std::chrono::milliseconds(200));
  std::this_thread::sleep_for(
      std::min<Clock::duration>(wait, std::chrono::duration_cast<Clock::duration>(deadline - now)));
  return true;
}

absl::StatusOr<Reply> ClusterLink::CommandReply(std::span<const std::string_view> argv) {
  auto slot = SlotOf(CommandKeys(argv));
  if (!slot.ok()) return ErrorReply(std::string(slot.status().message()));
  const std::string_view name = argv.empty() ? std::string_view("command") : argv[0];
  const bool read_only = IsReadOnlyCommand(name);
  const auto deadline = Clock::now() + command_timeout_;
  std::string ask;  // the node an ASK sent this command to
  absl::Status last;
  int redirects = 0, failures = 0;
  bool now = true;  // redirects are followed at once, failures after a backoff
  for (;;) {
    if (!now && !Backoff(++failures, deadline)) {
      return absl::UnavailableError(absl::StrCat("redis cluster: ", S(name), " gave up after ",
                                                 command_timeout_.count(),
                                                 " ms: ", last.message()));
    }
    now = false;
    std::string addr = ask;
    if (addr.empty()) {
      auto owner = OwnerOf(*slot);
      if (!owner.ok()) {
        last = owner.status();
        (void)topology_->Refresh();
        continue;
      }
      addr = *std::move(owner);
    }
    auto conn = Node(addr);
    if (!conn.ok()) {  // refused or timed out before anything was sent
      last = conn.status();
      ask.clear();
      (void)topology_->Refresh();
      continue;
    }
    absl::StatusOr<Reply> reply;
    if (!ask.empty()) {
      std::vector<std::vector<std::string>> two = {
          {"ASKING"}, std::vector<std::string>(argv.begin(), argv.end())};
      auto both = (*conn)->Pipeline(two);
      if (both.ok()) reply = std::move((*both)[1]);
      else reply = both.status();
      ask.clear();
    } else {
      reply = (*conn)->CommandReply(argv);
    }
    if (!reply.ok()) {  // sent, then the link failed: outcome unknown
      Drop(addr);
      (void)topology_->Refresh();
      last = reply.status();
      if (read_only) continue;
      return absl::UnavailableError(absl::StrCat("redis cluster: ", addr, " failed during ",
                                                 S(name),
                                                 " (outcome unknown): ", reply.status().message()));
    }
    if (reply->is_error()) {
      Redirect r;
      if (ParseRedirect(reply->str, &r) && ++redirects <= 16) {
        if (r.ask) {
          ask = r.addr();
        } else {
          topology_->NoteMoved(r.slot, r.host, r.port);
          (void)topology_->Refresh();
        }
        now = true;
        continue;
      }
      if (Transient(reply->str)) {
        last = absl::UnavailableError(reply->str);
        (void)topology_->Refresh();
        continue;
      }
    }
    return reply;
  }
}

absl::StatusOr<std::vector<Reply>> ClusterLink::Pipeline(
    const std::vector<std::vector<std::string>>& cmds) {
  std::vector<Reply> out(cmds.size());
  std::vector<size_t> again;  // re-run one by one: redirected or node not reachable
  std::map<std::string, std::vector<size_t>> by_node;
  for (size_t i = 0; i < cmds.size(); ++i) {
    std::vector<std::string_view> argv(cmds[i].begin(), cmds[i].end());
    auto slot = SlotOf(CommandKeys(argv));
    if (!slot.ok()) {
      out[i] = ErrorReply(std::string(slot.status().message()));
      continue;
    }
    auto owner = OwnerOf(*slot);
    if (!owner.ok()) {
      again.push_back(i);
      continue;
    }
    by_node[*owner].push_back(i);
  }
  // Every node's part is written before any is read.
  std::vector<std::pair<std::string, Connection*>> sent;
  for (const auto& [addr, indices] : by_node) {
    auto conn = Node(addr);
    if (!conn.ok()) {
      again.insert(again.end(), indices.begin(), indices.end());
      continue;
    }
    std::vector<const std::vector<std::string>*> part;
    part.reserve(indices.size());
    for (size_t i : indices) part.push_back(&cmds[i]);
    absl::Status st = (*conn)->PipelineSend(part);
    if (!st.ok()) {
      Drop(addr);
      (void)topology_->Refresh();
      return absl::UnavailableError(
          absl::StrCat("redis cluster: ", addr, " failed during a pipeline: ", st.message()));
    }
    sent.emplace_back(addr, *conn);
  }
  absl::Status failed;
  for (const auto& [addr, conn] : sent) {
    const auto& indices = by_node[addr];
    auto replies = conn->PipelineReceive(indices.size());
    if (!replies.ok()) {
      Drop(addr);
      if (failed.ok()) {
        failed = absl::UnavailableError(absl::StrCat(
            "redis cluster: ", addr,
            " failed during a pipeline (outcome unknown): ", replies.status().message()));
      }
      continue;  // read the other nodes' replies so their links stay in step
    }
    for (size_t j = 0; j < indices.size(); ++j) {
      Reply& r = (*replies)[j];
      Redirect redirect;
      if (r.is_error() && (ParseRedirect(r.str, &redirect) || Transient(r.str))) {
        if (!redirect.ask && redirect.slot >= 0) {
          topology_->NoteMoved(redirect.slot, redirect.host, redirect.port);
        }
        again.push_back(indices[j]);
      } else {
        out[indices[j]] = std::move(r);
      }
    }
  }
  if (!failed.ok()) {
    (void)topology_->Refresh();
    return failed;
  }
  if (!again.empty()) (void)topology_->Refresh();
  for (size_t i : again) {
    std::vector<std::string_view> argv(cmds[i].begin(), cmds[i].end());
    RECSTACK_ASSIGN_OR_RETURN(out[i], CommandReply(argv));
  }
  return out;
}

absl::Status ClusterLink::ForEachMaster(const std::function<absl::Status(Connection&)>& fn,
                                        const std::function<void()>& restart) {
  const auto deadline = Clock::now() + command_timeout_;
  absl::Status last;
  for (int failures = 0;; ++failures) {
    if (failures > 0) {
      if (!Backoff(failures, deadline)) {
        return absl::UnavailableError(
            absl::StrCat("redis cluster: a master stayed unreachable for ",
                         command_timeout_.count(), " ms: ", last.message()));
      }
      restart();
    }
    auto map = topology_->Get();
    if (!map.ok()) {
      last = map.status();
      continue;
    }
    bool again = false;
    for (const auto& master : (*map)->masters) {
      auto conn = Node(master.addr());
      if (!conn.ok()) {  // a master gone (failover under way): reload, start over
        last = conn.status();
        (void)topology_->Refresh();
        again = true;
        break;
      }
      absl::Status st = fn(**conn);
      if (st.code() == absl::StatusCode::kUnavailable) {
        Drop(master.addr());
        (void)topology_->Refresh();
        return absl::UnavailableError(
            absl::StrCat("redis cluster: ", master.addr(), ": ", st.message()));
      }
      RECSTACK_RETURN_IF_ERROR(st);
    }
    if (!again) return absl::OkStatus();
  }
}

absl::StatusOr<std::vector<Reply>> ClusterLink::OnEachMaster(
    std::span<const std::string_view> argv) {
  std::vector<Reply> out;
  RECSTACK_RETURN_IF_ERROR(ForEachMaster(
      [&](Connection& conn) -> absl::Status {
        RECSTACK_ASSIGN_OR_RETURN(Reply r, conn.CommandReply(argv));
        out.push_back(std::move(r));
        return absl::OkStatus();
      },
      [&] { out.clear(); }));
  return out;
}

absl::Status ClusterLink::Scan(
    std::string_view pattern, int count,
    const std::function<absl::Status(std::vector<std::string>&)>& on_keys) {
  // Each node's SCAN covers that node's keys only: no redirects. A restart
  // after a failover may hand some keys to `on_keys` twice.
  return ForEachMaster([&](Connection& conn) { return conn.Scan(pattern, count, on_keys); }, [] {});
}

absl::StatusOr<int> ClusterLink::WaitForReplicas(int replicas, std::chrono::milliseconds timeout) {
  int fewest = replicas;
  for (auto& [addr, conn] : nodes_) {
    RECSTACK_ASSIGN_OR_RETURN(int got, conn->WaitForReplicas(replicas, timeout));
    fewest = std::min(fewest, got);
  }
  return fewest;
}

absl::Status ClusterLink::SetCommandTimeout(std::chrono::milliseconds timeout) {
  command_timeout_ = timeout;
  for (auto& [addr, conn] : nodes_) RECSTACK_RETURN_IF_ERROR(conn->SetCommandTimeout(timeout));
  return absl::OkStatus();
}

}  // namespace recstack::redis
