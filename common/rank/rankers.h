#pragma once

// Ranking models (DESIGN §6). A Ranker turns one candidate's features into a
// score and per-feature contributions (the contributions of a linear model
// are weight * value; any model may report what it likes). The registry maps
// names to factories: adding a model is one class plus one Register line in
// RankerRegistry::WithBuiltins (docs/rankers.md walks through it).
//
// A ranker name may end in "+mmr" (e.g. "linear+mmr"): the ranked list is
// then re-ranked by maximal marginal relevance against item factors.

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "common/math/dense.h"
#include "common/rank/features.h"

namespace recstack::ranking {

struct Contribution {
  int feature;
  double value;
  double contribution;
};

struct Scored {
  double score = 0;
  std::vector<Contribution> contributions;
};

// Parameters from the experiment config, as text ("weight.popularity": "0.3").
using RankerParams = std::map<std::string, std::string>;

class Ranker {
 public:
  virtual ~Ranker() = default;
  virtual Scored Score(const FeatureRow& row) const = 0;
  // Every candidate of one request. A model that scores in batches (the
  // learned rankers) overrides it and may leave the contributions empty,
  // to be filled by Explain for the few items that are served.
  virtual std::vector<Scored> ScoreAll(const std::vector<FeatureRow>& rows) const {
    std::vector<Scored> out;
    out.reserve(rows.size());
    for (const FeatureRow& row : rows) out.push_back(Score(row));
    return out;
  }
  // Fills the contributions ScoreAll left empty, for the served items only
  // (rows[i] was scored into *scored[i]); one batch, as explaining can cost
  // more than scoring (TreeSHAP).
  virtual void Explain(const std::vector<const FeatureRow*>& rows,
                       const std::vector<Scored*>& scored) const {
    (void)rows;
    (void)scored;
  }
  // The learned model's version ("" for hand-set rankers).
  virtual std::string version() const { return ""; }
};

struct RankerInfo {
  std::string name, description;
};

class RankerRegistry {
 public:
  using Factory = std::function<absl::StatusOr<std::unique_ptr<Ranker>>(const RankerParams&)>;

  // passthrough, linear, recency.
  static RankerRegistry WithBuiltins();

  void Register(std::string name, std::string description, Factory factory);
  // INVALID_ARGUMENT naming the known rankers for an unknown name. A name
  // may pin a version, "gbdt@v12": the part after '@' reaches the factory
  // as the param "version". A learned ranker without a model answers
  // NOT_FOUND (its caller falls back, docs/rankers.md).
  absl::StatusOr<std::unique_ptr<Ranker>> Create(const std::string& name,
                                                 const RankerParams& params) const;
  // Whether `name` (without "+mmr", with or without "@VERSION") is registered.
  bool Has(const std::string& name) const;
  std::vector<RankerInfo> List() const;
  std::string KnownNames() const;

 private:
  std::map<std::string, std::pair<std::string, Factory>> factories_;
};

// "linear+mmr" -> {"linear", true}.
std::pair<std::string, bool> SplitMmr(const std::string& spec);
// "gbdt@v12" -> {"gbdt", "v12"}; "linear" -> {"linear", ""}.
std::pair<std::string, std::string> SplitVersion(const std::string& name);

// Retrieval order: score = -position, no contributions beyond it.
class PassthroughRanker final : public Ranker {
 public:
  Scored Score(const FeatureRow& row) const override;
};

// score = sum_f weight_f * feature_f. Params "weight.<feature>" override
// the defaults (retrieval_score 1, category_overlap 0.5, popularity 0.05,
// item_age_days -0.001, retrieval_position -0.01).
class LinearRanker final : public Ranker {
 public:
  static absl::StatusOr<std::unique_ptr<Ranker>> Create(const RankerParams& params);
  explicit LinearRanker(std::array<double, kNumFeatures> weights) : w_(weights) {}
  Scored Score(const FeatureRow& row) const override;
  const std::array<double, kNumFeatures>& weights() const { return w_; }

 private:
  std::array<double, kNumFeatures> w_;
};

// The worked example of docs/rankers.md: favour fresh items.
//   score = retrieval_score * exp(-item_age_days / half_life_days * ln 2)
// Param "half_life_days" (default 30).
class RecencyRanker final : public Ranker {
 public:
  static absl::StatusOr<std::unique_ptr<Ranker>> Create(const RankerParams& params);
  explicit RecencyRanker(double half_life_days) : half_life_(half_life_days) {}
  Scored Score(const FeatureRow& row) const override;

 private:
  double half_life_;
};

// Maximal marginal relevance (Carbonell & Goldstein 1998): repeatedly pick
// argmax lambda * relevance - (1 - lambda) * max cosine to the picked items,
// relevance being the ranker's score scaled to [0, 1]. `vectors[i]` is the
// item's factor row (nullptr when unknown: no similarity). Returns the new
// order as indices into `scores`, k long.
std::vector<int> MmrRerank(const std::vector<double>& scores,
                           const std::vector<const float*>& vectors, int dim, double lambda, int k);

}  // namespace recstack::ranking
