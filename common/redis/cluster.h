#pragma once

// Redis Cluster on hiredis 0.14 (Debian has no C++ cluster client). A
// cluster connection (Connection with Options::cluster()) routes each
// command to the master owning its slot, CRC16 of the key or of its hash tag
// ("{...}"), from a slot map shared by every connection of the process to
// that cluster:
//
// - MOVED: the slot is re-pointed at once, the whole map reloaded (CLUSTER
//   SLOTS, at most every kMinRefreshInterval), the command sent again.
// - ASK: ASKING and the command go to the named node once; the map stays.
// - TRYAGAIN, CLUSTERDOWN, LOADING, a refused connect or a closed idle
//   socket: the map is reloaded and the command retried with backoff until
//   the retry budget (the command timeout) is spent, then UNAVAILABLE with
//   the last reason. A failover (a master killed, its replica promoted)
//   costs the callers of that slot a wait, not an error, when it completes
//   within the budget.
// - An I/O error after a command was sent leaves its outcome unknown: reads
//   are retried, anything else is UNAVAILABLE (the caller's idempotency keys
//   make its retry safe).
// - Keys of one command in different slots: a CROSSSLOT error reply naming
//   the keys and their slots, sent nowhere (a bug in the caller's keyspace).
//
// Pipelines are split by node, every node's part is written before any is
// read (one round trip per node, concurrently), and replies come back in the
// caller's order; redirected commands are re-run one by one afterwards, so
// their order relative to the others is not kept.

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "common/redis/client.h"

namespace recstack::redis {

inline constexpr int kClusterSlots = 16384;

// The slot of a key: CRC16-XMODEM of its hash tag (the part between the
// first '{' and the next '}', when not empty) or of the whole key, mod 16384.
int KeySlot(std::string_view key);

// The keys of a command, for the commands recstack sends (Redis's key
// specifications for them); empty for keyless commands (PING, INFO, SCRIPT,
// PUBLISH, SCAN, WAIT, ...).
std::vector<std::string_view> CommandKeys(std::span<const std::string_view> argv);

// True for commands that only read, which are retried after an I/O error.
bool IsReadOnlyCommand(std::string_view name);

// The slot map of one cluster, shared by the connections of the process.
class ClusterTopology {
 public:
  struct Node {
    std::string host;
    int port = 0;
    std::string addr() const { return host + ":" + std::to_string(port); }
  };
  struct Map {
    std::vector<Node> masters;
    std::vector<Node> replicas;
    std::vector<int16_t> owner = std::vector<int16_t>(kClusterSlots, -1);  // index in masters
  };

  // The topology of the cluster `options` names (one per seed list, user and
  // password), created on first use.
  static std::shared_ptr<ClusterTopology> For(const Options& options);

  explicit ClusterTopology(Options options) : options_(std::move(options)) {}

  // The current map, loading it when there is none yet (UNAVAILABLE naming
  // every node tried when none answers).
  absl::StatusOr<std::shared_ptr<const Map>> Get();
  // Reloads the map from any node that answers (known nodes first, then the
  // seeds), unless it was loaded less than kMinRefreshInterval ago. One
  // reload at a time; callers waiting on it use its result.
  absl::Status Refresh();
  // A MOVED reply's news, applied at once: `slot` is served by host:port.
  void NoteMoved(int slot, const std::string& host, int port);

  static constexpr std::chrono::milliseconds kMinRefreshInterval{100};

 private:
  absl::Status Load();

  const Options options_;
  std::mutex refresh_mu_;  // one reload at a time
  std::mutex mu_;          // guards map_ and loaded_at_
  std::shared_ptr<const Map> map_;
  std::chrono::steady_clock::time_point loaded_at_{};
};

// One connection's links to the cluster's nodes (a single-node Connection
// per node, opened on first use). Not thread-safe, like Connection.
class ClusterLink {
 public:
  ClusterLink(Options options, std::shared_ptr<ClusterTopology> topology);
  ~ClusterLink();

  absl::StatusOr<Reply> CommandReply(std::span<const std::string_view> argv);
  absl::StatusOr<std::vector<Reply>> Pipeline(const std::vector<std::vector<std::string>>& cmds);
  absl::StatusOr<std::vector<Reply>> OnEachMaster(std::span<const std::string_view> argv);
  absl::Status Scan(std::string_view pattern, int count,
                    const std::function<absl::Status(std::vector<std::string>&)>& on_keys);
  absl::Status SetCommandTimeout(std::chrono::milliseconds timeout);
  absl::StatusOr<int> WaitForReplicas(int replicas, std::chrono::milliseconds timeout);
  std::shared_ptr<ClusterTopology> topology() const { return topology_; }

 private:
  // The connection to `addr`, opened (AUTH included) when there is none or
  // the idle one was closed by the peer.
  absl::StatusOr<Connection*> Node(const std::string& addr);
  void Drop(const std::string& addr) { nodes_.erase(addr); }
  // Runs `fn` on every master; when one cannot be reached (a failover under
  // way) reloads the map, calls `restart` and starts over, within the
  // command timeout.
  absl::Status ForEachMaster(const std::function<absl::Status(Connection&)>& fn,
                             const std::function<void()>& restart);
  // The master serving `slot` (-1: any master) in the current map.
  absl::StatusOr<std::string> OwnerOf(int slot);
  // Sleeps before retry `attempt` (>= 1) unless the budget is spent.
  bool Backoff(int attempt, std::chrono::steady_clock::time_point deadline) const;

  Options options_;
  std::shared_ptr<ClusterTopology> topology_;
  std::map<std::string, std::unique_ptr<Connection>> nodes_;
  std::chrono::milliseconds command_timeout_;
};

}  // namespace recstack::redis
