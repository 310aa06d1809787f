#pragma once

// What a load test is told to do, and the checks of it: the target, the
// run's options, the knee rule, and the parsers of the flags' values. No
// RPC, no file: the command line (flags.h) and the fuzzer use these alone,
// the runner (runner.h) and the reports (report.h) build on them.

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "common/config/ports.h"
#include "common/data/synthetic.h"
#include "loadtest/workload.h"

// Only held here (and made by common/grpc/tls.h in main): this header needs
// no gRPC.
namespace grpc {
class ChannelCredentials;
}

namespace recstack::loadtest {

// What the requests go to. kGateway serves every operation; kRetrieval
// recommend (Retrieve) and similar; kRanking recommend (Rank over random
// candidates); kIngestion ingest; kFloor answers everything with Echo.
enum class Target { kGateway, kRetrieval, kRanking, kIngestion, kFloor };
absl::StatusOr<Target> ParseTarget(std::string_view name);
std::string_view TargetName(Target t);

struct RunOptions {
  Target target = Target::kGateway;
  std::string addr = config::DefaultAddress("gateway");
  // Sent as x-api-key metadata on every call when not empty (a gateway with
  // --api-keys).
  std::string api_key;
  double rate = 100;  // requests per second, 0.1 - 1,000,000
  // After `duration` at `rate`, further phases (rate, length), measured too:
  // e.g. an overload at 2x the knee, then the recovery at half of it.
  std::vector<std::pair<double, std::chrono::milliseconds>> then;
  // Per-second figures of the measured window (by scheduled send time).
  bool timeline = false;
  bool poisson = false;
  std::chrono::milliseconds warmup{2000};
  std::chrono::milliseconds duration{10000};
  int connections = 4;                       // 1-64 channels, one TCP connection each
  int threads = 2;                           // completion-queue threads, 1-64
  int k = 10;                                // items per Recommend / SimilarItems
  std::chrono::milliseconds timeout{10000};  // per-request deadline
  Mix mix;
  double zipf = 0.8;  // user/item skew; 0 = uniform
  uint64_t seed = 1;
  int64_t max_inflight = 50000;  // beyond it a request is refused locally
  int ingest_batch = 1;          // events per IngestEvents
  int rank_candidates = 100;     // candidates per Rank (--target ranking)
  int echo_response_bytes = 0;   // padding of each Echo answer (floor)
  // TLS (grpcutil::MakeChannelCredentials); nullptr: plaintext.
  std::shared_ptr<grpc::ChannelCredentials> credentials;
  // With a synthetic data set's ground truth: every item a Recommend
  // returns may be clicked (see position_bias) and is then sent back as a
  // CLICK event.
  const data::GroundTruth* truth = nullptr;
  // Position bias of the simulated users (--position-bias ETA, 0-10): the
  // item at 1-based position p is examined with probability (1/p)^ETA, and
  // an examined item is clicked with its true probability. 0 = every item
  // is examined.
  double position_bias = 1;
  // When not empty, every ingest event gets the id `<prefix><n>` (n = 0, 1,
  // ... in send order, warm-up included) and RunResult::acked_events lists
  // the events the server acknowledged: their IngestEvents call returned OK
  // and did not reject them. A drill compares that list with the event log.
  std::string event_id_prefix;

  absl::Status Validate() const;
};

// InvalidArgument naming --position-bias unless 0 <= eta <= 10.
absl::Status ValidatePositionBias(double eta);

// "100:3000:100": from, to (inclusive), step; all positive, from <= to, at
// most 200 steps.
absl::StatusOr<std::vector<double>> ParseSweep(std::string_view text);

struct KneeRule {
  std::chrono::microseconds slo{100000};  // p99 must stay at or under it
  double max_error_ratio = 0.001;         // errors / scheduled
  double max_degraded_ratio = 0.01;       // degraded answers / scheduled
};

// "gateway=127.0.0.1:9100,retrieval=127.0.0.1:9103" -> name -> HOST:PORT.
absl::StatusOr<std::map<std::string, std::string>> ParseMetricsTargets(const std::string& spec);

}  // namespace recstack::loadtest
