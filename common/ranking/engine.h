#pragma once

// One Rank call, without gRPC: choose the ranker (the request's override or
// the user's experiment variant), assemble features, score, sort (ties by
// retrieval position), optionally MMR, cut to k, explain the served items.
// A learned ranker without a servable model falls back to `linear`: the
// result says degraded and why, and is never an error.

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "common/model/item_vectors.h"
#include "common/rank/experiments.h"
#include "common/rank/learned.h"
#include "common/rank/rankers.h"
#include "common/ranking/features.h"

namespace recstack::ranking {

constexpr int kMaxCandidates = 5000;
// The candidates a learned ranker scores by default: the first 20 in
// retrieval's order (experiment param "candidates" changes it).
constexpr size_t kLearnedCandidates = 20;

struct RankQuery {
  std::string user_id;
  std::vector<CandidateIn> candidates;
  int k = 10;
  std::string ranker;  // empty: the experiment decides
  // The user's history as retrieval read it; unset: ranking reads it.
  std::optional<KnownHistory> history;
};
using events::kMaxHistoryItems;  // the most history item ids a query may hand on

struct RankedItem {
  std::string item_id;
  std::string source;
  double score = 0;
  double retrieval_score = 0;
  int retrieval_position = 0;
  std::vector<Contribution> contributions;
  int row = -1;  // its index in RankResult::features
};

struct RankResult {
  std::vector<RankedItem> items;
  std::string ranker, experiment, variant;
  std::string ranker_version;  // a learned ranker's model version
  bool degraded = false;       // the asked ranker could not serve; `linear` did
  std::string degraded_reason;
  std::vector<FeatureRow> features;  // every candidate's
  std::vector<SharedMeta> metas;     // every candidate's metadata, as features
};

class RankingEngine {
 public:
  // `holder` (item factors for MMR) may be null: MMR then sees no similarity.
  RankingEngine(FeatureAssembler& features, RankerRegistry registry,
                std::vector<Experiment> experiments, const model::ItemVectorsHolder* holder,
                double mmr_lambda = 0.7);

  absl::StatusOr<RankResult> Rank(const RankQuery& query);
  const RankerRegistry& registry() const { return registry_; }
  const std::vector<Experiment>& experiments() const { return experiments_; }

 private:
  FeatureAssembler& features_;
  RankerRegistry registry_;
  std::vector<Experiment> experiments_;
  const model::ItemVectorsHolder* holder_;
  double mmr_lambda_;
};

}  // namespace recstack::ranking
