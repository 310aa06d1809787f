#pragma once

// One open-loop run: requests leave on a schedule (constant or Poisson
// arrivals at `rate`) whatever the server does, over `connections` HTTP/2
// connections, on async gRPC completion queues; each request's latency is
// measured from its *scheduled* send time, so when the server (or this
// client) falls behind, the queueing shows up in the percentiles instead of
// silently lowering the rate (coordinated omission).

#include <grpcpp/security/credentials.h>

#include <array>
#include <chrono>
#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "common/config/ports.h"
#include "common/data/synthetic.h"
#include "loadtest/histogram.h"
#include "loadtest/options.h"
#include "loadtest/workload.h"
#include "nlohmann/json.hpp"

namespace recstack::loadtest {

struct OpResult {
  LatencyHistogram latency;  // every measured completion, errors included
  int64_t ok = 0;
  std::map<std::string, int64_t> errors;  // by gRPC code name
  // OK answers the gateway marked degraded, by the reason's head
  // ("retrieval failed", "ranking failed", "gateway overloaded", ...).
  std::map<std::string, int64_t> degraded;
};

// An event the server acknowledged, and when (Unix ms, as the answer arrived).
struct AckedEvent {
  std::string id;
  int64_t unix_ms = 0;
};

// One second of the measured window.
struct SecondStats {
  LatencyHistogram latency;
  int64_t ok = 0, errors = 0, degraded = 0;
  double rate = 0;  // the scheduled rate of that second
};

// The click model of --simulate-clicks. A simulated user examines the item
// at 1-based `position` with probability (1/position)^eta and clicks an
// examined item with its true probability: P(click) = (1/p)^eta * prob.
double ExaminationProbability(int position, double eta);
double SimulatedClickProbability(int position, double eta, double click_probability);
// One user's decision with one uniform draw `u` in [0, 1): clicked iff
// u < SimulatedClickProbability(...). With eta 0 this is `u < prob`.
bool SimulatedClick(int position, double eta, double click_probability, double u);

// The key of a Recommend's experiment variant in ClickStats::by_variant:
// the variant's name, "none" when it has none (e.g. a degraded answer).
std::string VariantKey(std::string_view variant);

struct VariantClicks {
  int64_t impressions = 0;
  int64_t clicks = 0;
  double expected_clicks = 0;  // sum of their P(click), examination included
};

struct ClickStats {
  int64_t impressions = 0;     // items returned by measured Recommends
  int64_t clicks = 0;          // of those, clicked
  double expected_clicks = 0;  // sum of their P(click), examination included
  int64_t events_sent = 0;     // IngestEvents calls carrying clicks
  int64_t events_failed = 0;
  std::map<std::string, VariantClicks> by_variant;  // by VariantKey

  // One impression of an item with true click probability `prob` at
  // 1-based `position`, decided by the uniform draw `u` (SimulatedClick);
  // returns whether it was clicked.
  bool Record(std::string_view variant, int position, double eta, double prob, double u);
  void Merge(const ClickStats& other);
  // {impressions, clicks, ctr, expected_ctr, click_requests,
  //  click_requests_failed, by_variant: {name: {impressions, clicks, ctr,
  //  expected_ctr}}}.
  nlohmann::json ToJson() const;
};

struct RunResult {
  Target target = Target::kGateway;
  double target_rate = 0;
  double seconds = 0;     // the measured window (after warm-up)
  int64_t scheduled = 0;  // requests scheduled in the window
  int64_t sent = 0;       // every request sent, the warm-up's included
  int64_t completed = 0;  // of those, answered (OK or not)
  int64_t ok = 0;
  int64_t errors = 0;    // failed, timed out or refused locally
  int64_t degraded = 0;  // OK but degraded (a fallback answered)
  std::map<std::string, int64_t> degraded_by_reason;
  std::vector<SecondStats> timeline;  // with RunOptions::timeline
  double achieved_rate = 0;           // completed / time from window start to the last answer
  std::map<std::string, int64_t> errors_by_code;
  LatencyHistogram latency;  // all operations
  std::array<OpResult, kNumOps> ops;
  LatencyHistogram send_lag;  // how late this client sent (its own health)
  ClickStats clicks;
  // The wall-clock time (Unix ms) at which the measured window began: second
  // i of the timeline starts at window_start_unix_ms + 1000 i.
  int64_t window_start_unix_ms = 0;
  // With RunOptions::event_id_prefix (repeated here): ingest events sent
  // (warm-up included) and those acknowledged, in no particular order.
  std::string event_id_prefix;
  int64_t events_sent = 0;
  std::vector<AckedEvent> acked_events;

  nlohmann::json ToJson() const;
  // One line for humans: rate, achieved, errors, percentiles.
  std::string Summary() const;
};

absl::StatusOr<RunResult> Run(const RunOptions& options, const Catalog& catalog);

// Nanoseconds as microseconds with one decimal, as the JSON reports them.
double RoundedUs(int64_t ns);

// Click-through baselines for --simulate-clicks, under the same click model
// (position bias `eta`): the mean P(click) of a user's true top-k items shown
// in their true order at positions 1..k (an oracle recommender) and of
// random items at positions 1..k, over `samples` users drawn like the load
// test draws them.
struct ClickBaselines {
  double oracle_ctr = 0;
  double random_ctr = 0;
  double position_bias = 0;

  // {oracle_ctr, random_ctr, position_bias}.
  nlohmann::json ToJson() const;
};
ClickBaselines ComputeClickBaselines(const data::GroundTruth& truth, const Catalog& catalog,
                                     double zipf, int k, int samples, uint64_t seed, double eta);

// Adds share_of_oracle = ctr / oracle_ctr to a `clicks` object (ClickStats::
// ToJson) and to each of its by_variant entries; nothing when the oracle's
// CTR is not positive.
void AddShareOfOracle(nlohmann::json& clicks, double oracle_ctr);
// Human lines: the overall CTR next to the baselines, then one per variant.
std::string ClickSummary(const nlohmann::json& clicks, const ClickBaselines& baselines, int k);

}  // namespace recstack::loadtest
