#pragma once

// Experiments (DESIGN §6): each lists variants (ranker + params + traffic
// share). A user lands in a variant by a salted FNV-1a hash of
// "<salt>:<user>" mapped to [0, 1): stable across requests, processes and
// machines, and independent between experiments with different salts.
// The first experiment decides the ranker; JSON config:
//   {"experiments": [{"name": "rank-v2", "salt": "s1", "variants": [
//       {"name": "control", "ranker": "linear", "traffic": 0.5},
//       {"name": "diverse", "ranker": "linear+mmr", "traffic": 0.5,
//        "params": {"mmr_lambda": "0.7"}}]}]}

#include <functional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "common/rank/rankers.h"

namespace recstack::ranking {

struct Variant {
  std::string name, ranker;
  double traffic = 0;
  RankerParams params;
};

struct Experiment {
  std::string name, salt;
  std::vector<Variant> variants;
};

// Checks one variant's ranker (e.g. that it exists and has a published
// model); the message becomes part of the parse error.
using RankerCheck = std::function<absl::Status(const std::string& ranker, const RankerParams&)>;

// Shares must be in [0, 1] and sum to 1 (within 1e-6); names must be unique;
// every variant's ranker passes `check` (none: any non-empty name).
absl::StatusOr<std::vector<Experiment>> ParseExperiments(const std::string& json,
                                                         const RankerCheck& check = nullptr);

// The check a ranking service makes: the registry creates the ranker
// (without its "+mmr"), so an unknown ranker and a learned ranker with no
// published model are both refused, naming the problem.
RankerCheck RegistryCheck(const RankerRegistry& registry);
// One experiment "default" with one variant "control" running `ranker`.
std::vector<Experiment> DefaultExperiments(const std::string& ranker = "linear");

// [0, 1) for (salt, user).
double HashToUnit(std::string_view salt, std::string_view user);
const Variant& Assign(const Experiment& e, std::string_view user);

}  // namespace recstack::ranking
