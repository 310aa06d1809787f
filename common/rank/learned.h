#pragma once

// The learned rankers `gbdt` and `logistic` (issue 13, docs/rankers.md):
// models trained by the training service on logged impressions and served
// here. Each is a model-store slot of its own (common/model/model_store.h):
// published atomically, followed and hot-swapped like factor models, rolled
// back by promoting an older version. "gbdt" scores with the slot's current
// version, "gbdt@v12" with a pinned one.
//
// A model is checked against the feature schema when it is loaded (its
// column names must be LearnedFeatureNames(with or without position)); a
// model that fails to parse or check is not served and the previous
// version stays.

#include <chrono>
#include <map>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "absl/status/statusor.h"
#include "common/ml/dataset.h"
#include "common/ml/gbdt.h"
#include "common/ml/logistic.h"
#include "common/model/holder.h"
#include "common/model/model_store.h"
#include "common/rank/rankers.h"

namespace recstack::ranking {

enum class LearnedKind { kGbdt, kLogistic };
inline constexpr LearnedKind kLearnedKinds[] = {LearnedKind::kGbdt, LearnedKind::kLogistic};
std::string LearnedKindName(LearnedKind kind);  // "gbdt" | "logistic"
// INVALID_ARGUMENT naming the two for anything else.
absl::StatusOr<LearnedKind> ParseLearnedKind(std::string_view name);
model::ModelKind ModelKindOf(LearnedKind kind);
model::Slot SlotOf(LearnedKind kind);

// The bias term of an explanation, in Contribution::feature.
inline constexpr int kBiasFeature = -1;

// One published version, parsed and checked.
class RankerModel {
 public:
  // INVALID_ARGUMENT for bytes that are not a `kind` model or whose columns
  // are not the learned feature schema.
  static absl::StatusOr<std::shared_ptr<RankerModel>> FromBytes(LearnedKind kind,
                                                                std::string version,
                                                                std::string_view bytes);

  // Scores of candidates as serving sees them: the position column (when
  // the model has one) set to kServingPosition. P(click) for binary models,
  // the margin for rank:ndcg.
  std::vector<double> ScoreRows(const std::vector<FeatureRow>& rows) const;
  // Scores of raw rows of dims() columns (training's evaluation).
  absl::StatusOr<std::vector<double>> Predict(std::span<const float> x) const;
  // Per-feature contributions plus the bias (kBiasFeature); they sum to the
  // margin (log-odds for binary models). One batch for all rows.
  std::vector<std::vector<Contribution>> Explain(const std::vector<const FeatureRow*>& rows) const;

  LearnedKind kind() const { return kind_; }
  const std::string& version() const { return version_; }
  bool with_position() const { return with_position_; }
  size_t dims() const { return kNumFeatures + (with_position_ ? 1 : 0); }

 private:
  RankerModel(LearnedKind kind, std::string version, bool with_position,
              std::variant<ml::LogisticModel, ml::GbdtModel> model);
  std::vector<float> Matrix(const std::vector<const FeatureRow*>& rows) const;

  LearnedKind kind_;
  std::string version_;
  bool with_position_;
  std::variant<ml::LogisticModel, ml::GbdtModel> model_;
};

// Reads `version` from the store: its meta must say the ranker's model kind.
absl::StatusOr<std::shared_ptr<RankerModel>> LoadRankerModel(model::ModelStore& store,
                                                             LearnedKind kind,
                                                             const std::string& version);

// A Ranker over one model: ScoreAll scores in one batch, Explain fills the
// served items' contributions.
std::unique_ptr<Ranker> MakeLearnedRanker(std::shared_ptr<const RankerModel> model);

// The current version of each learned ranker, followed, and pinned versions
// loaded on first use (a few kept).
class RankerModels {
 public:
  RankerModels(model::ModelStore& store, redis::Options redis_options, redis::Keyspace keys,
               std::chrono::milliseconds poll_interval = std::chrono::milliseconds(5000));
  ~RankerModels();
  void Start();
  void Stop();
  // The slot's current version (empty `version`) or a pinned one; NOT_FOUND
  // when nothing is published or the version is not kept (or not loadable;
  // such a pin is retried at most every kRetryFailed).
  absl::StatusOr<std::shared_ptr<const RankerModel>> Get(LearnedKind kind,
                                                         const std::string& version);

 private:
  model::ModelStore& store_;
  std::map<LearnedKind, std::unique_ptr<model::VersionedHolder<RankerModel>>> holders_;
  std::mutex mu_;
  std::map<std::string, std::shared_ptr<const RankerModel>> pinned_;  // "gbdt@v3"
  // Pins that could not be loaded, and when: retried after kRetryFailed.
  static constexpr std::chrono::seconds kRetryFailed{5};
  std::map<std::string, std::pair<std::chrono::steady_clock::time_point, absl::Status>> failed_;
};

// Registers "gbdt" and "logistic", scoring with `models` (which must outlive
// the registry's use).
void RegisterLearned(RankerRegistry& registry, RankerModels& models);

}  // namespace recstack::ranking
