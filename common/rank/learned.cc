#include "common/rank/learned.h"

#include <type_traits>
#include <utility>

#include "absl/strings/str_cat.h"
#include "common/log/log.h"
#include "common/ml/envelope.h"

namespace recstack::ranking {
namespace {

// The columns a model must have: the schema, with or without position.
absl::StatusOr<bool> CheckColumns(const std::vector<std::string>& names, const std::string& what) {
  if (names == LearnedFeatureNames(true)) return true;
  if (names == LearnedFeatureNames(false)) return false;
  std::string got;
  for (const auto& n : names) absl::StrAppend(&got, got.empty() ? "" : ",", n);
  return absl::InvalidArgumentError(absl::StrCat(
      what, ": its columns (", got, ") are not the ranking feature schema ", kFeatureSchema));
}

class LearnedRanker final : public Ranker {
 public:
  explicit LearnedRanker(std::shared_ptr<const RankerModel> model) : model_(std::move(model)) {}
  Scored Score(const FeatureRow& row) const override {
    Scored s;
    s.score = model_->ScoreRows({row}).front();
    s.contributions = std::move(model_->Explain({&row}).front());
    return s;
  }
  std::vector<Scored> ScoreAll(const std::vector<FeatureRow>& rows) const override {
    std::vector<double> scores = model_->ScoreRows(rows);
    std::vector<Scored> out(rows.size());
    for (size_t i = 0; i < rows.size(); ++i) out[i].score = scores[i];
    return out;
  }
  void Explain(const std::vector<const FeatureRow*>& rows,
               const std::vector<Scored*>& scored) const override {
    std::vector<std::vector<Contribution>> c = model_->Explain(rows);
    for (size_t i = 0; i < scored.size() && i < c.size(); ++i)
      scored[i]->contributions = std::move(c[i]);
  }
  std::string version() const override { return model_->version(); }

 private:
  std::shared_ptr<const RankerModel> model_;
};

}  // namespace

std::string LearnedKindName(LearnedKind kind) {
  return kind == LearnedKind::kGbdt ? "gbdt" : "logistic";
}

absl::StatusOr<LearnedKind> ParseLearnedKind(std::string_view name) {
  if (name == "gbdt") return LearnedKind::kGbdt;
  if (name == "logistic") return LearnedKind::kLogistic;
  return absl::InvalidArgumentError(
      absl::StrCat("unknown learned ranker '", std::string(name), "' (known: gbdt, logistic)"));
}

model::ModelKind ModelKindOf(LearnedKind kind) {
  return kind == LearnedKind::kGbdt ? model::ModelKind::kRankerGbdt
                                    : model::ModelKind::kRankerLogistic;
}

model::Slot SlotOf(LearnedKind kind) {
  return kind == LearnedKind::kGbdt ? model::Slot::kRankerGbdt : model::Slot::kRankerLogistic;
}

RankerModel::RankerModel(LearnedKind kind, std::string version, bool with_position,
                         std::variant<ml::LogisticModel, ml::GbdtModel> model)
    : kind_(kind), version_(std::move(version)), with_position_(with_position),
      model_(std::move(model)) {}

absl::StatusOr<std::shared_ptr<RankerModel>> RankerModel::FromBytes(LearnedKind kind,
                                                                    std::string version,
                                                                    std::string_view bytes) {
  const std::string what = absl::StrCat(LearnedKindName(kind), " model ", version);
  if (kind == LearnedKind::kGbdt) {
    auto m = ml::GbdtModel::Parse(bytes);
    if (!m.ok()) return absl::InvalidArgumentError(absl::StrCat(what, ": ", m.status().message()));
    auto pos = CheckColumns(m->feature_names(), what);
    if (!pos.ok()) return pos.status();
    return std::shared_ptr<RankerModel>(
        new RankerModel(kind, std::move(version), *pos, *std::move(m)));
  }
  auto m = ml::LogisticModel::Parse(bytes);
  if (!m.ok()) return absl::InvalidArgumentError(absl::StrCat(what, ": ", m.status().message()));
  auto pos = CheckColumns(m->feature_names(), what);
  if (!pos.ok()) return pos.status();
  return std::shared_ptr<RankerModel>(
      new RankerModel(kind, std::move(version), *pos, *std::move(m)));
}

std::vector<float> RankerModel::Matrix(const std::vector<const FeatureRow*>& rows) const {
  const size_t d = dims();
  std::vector<float> x(rows.size() * d);
  for (size_t i = 0; i < rows.size(); ++i) {
    float* r = x.data() + i * d;
    for (int f = 0; f < kNumFeatures; ++f) r[f] = static_cast<float>(rows[i]->f[f]);
    if (with_position_) r[kNumFeatures] = kServingPosition;
  }
  return x;
}

absl::StatusOr<std::vector<double>> RankerModel::Predict(std::span<const float> x) const {
  return std::visit([&](const auto& m) { return m.PredictBatch(x); }, model_);
}

std::vector<double> RankerModel::ScoreRows(const std::vector<FeatureRow>& rows) const {
  if (rows.empty()) return {};
  std::vector<const FeatureRow*> ptrs(rows.size());
  for (size_t i = 0; i < rows.size(); ++i) ptrs[i] = &rows[i];
  auto scores = Predict(Matrix(ptrs));
  if (!scores.ok()) {
    // Columns were checked at load, so this is a bug, not bad input.
    log::Error("learned ranker failed",
               {{"version", version_}, {"error", scores.status().message()}});
    return std::vector<double>(rows.size(), 0.0);
  }
  return *std::move(scores);
}

std::vector<std::vector<Contribution>> RankerModel::Explain(
    const std::vector<const FeatureRow*>& rows) const {
  std::vector<std::vector<Contribution>> out(rows.size());
  if (rows.empty()) return out;
  const size_t d = dims();
  const std::vector<float> x = Matrix(rows);
  auto explained = std::visit(
      [&](const auto& m) -> absl::StatusOr<std::vector<ml::Explanation>> {
        if constexpr (std::is_same_v<std::decay_t<decltype(m)>, ml::GbdtModel>) {
          return m.ExplainBatch(x);
        } else {
          std::vector<ml::Explanation> all;
          for (size_t i = 0; i < rows.size(); ++i) {
            auto e = m.Explain(std::span<const float>(x.data() + i * d, d));
            if (!e.ok()) return e.status();
            all.push_back(*std::move(e));
          }
          return all;
        }
      },
      model_);
  if (!explained.ok()) return out;
  for (size_t i = 0; i < rows.size() && i < explained->size(); ++i) {
    const ml::Explanation& e = (*explained)[i];
    out[i].push_back({kBiasFeature, 1.0, e.bias});
    for (size_t j = 0; j < e.contributions.size(); ++j)
      out[i].push_back({static_cast<int>(j), x[i * d + j], e.contributions[j]});
  }
  return out;
}

absl::StatusOr<std::shared_ptr<RankerModel>> LoadRankerModel(model::ModelStore& store,
                                                             LearnedKind kind,
                                                             const std::string& version) {
  auto meta = store.GetMeta(version);
  if (!meta.ok()) return meta.status();
  if (meta->kind != ModelKindOf(kind)) {
    return absl::NotFoundError(absl::StrCat("model ", version, " is ",
                                            model::ModelKindName(meta->kind), ", not ",
                                            model::ModelKindName(ModelKindOf(kind))));
  }
  auto bytes = store.LoadBlob(version);
  if (!bytes.ok()) return bytes.status();
  return RankerModel::FromBytes(kind, version, *bytes);
}

std::unique_ptr<Ranker> MakeLearnedRanker(std::shared_ptr<const RankerModel> model) {
  return std::make_unique<LearnedRanker>(std::move(model));
}

RankerModels::RankerModels(model::ModelStore& store, redis::Options redis_options,
                           redis::Keyspace keys, std::chrono::milliseconds poll_interval)
    : store_(store) {
  for (LearnedKind kind : kLearnedKinds) {
    const std::string name = absl::StrCat(LearnedKindName(kind), " ranker");
    holders_[kind] = std::make_unique<model::VersionedHolder<RankerModel>>(
        store, redis_options, keys,
        model::FollowOptions{.slot = SlotOf(kind), .poll_interval = poll_interval, .name = name},
        [kind, name](model::ModelStore& st,
                     const std::string& version) -> absl::StatusOr<std::shared_ptr<RankerModel>> {
          auto m = LoadRankerModel(st, kind, version);
          if (m.ok()) log::Info(name + " loaded", {{"version", version}});
          return m;
        });
  }
}

RankerModels::~RankerModels() { Stop(); }

void RankerModels::Start() {
  for (auto& [kind, h] : holders_) h->Start();
}

void RankerModels::Stop() {
  for (auto& [kind, h] : holders_) h->Stop();
}

absl::StatusOr<std::shared_ptr<const RankerModel>> RankerModels::Get(LearnedKind kind,
                                                                     const std::string& version) {
  const auto& holder = *holders_.at(kind);
  if (version.empty()) {
    std::shared_ptr<const RankerModel> m = holder.Current();
    if (m == nullptr) {
      return absl::NotFoundError(absl::StrCat("no ", LearnedKindName(kind),
                                              " model is published (recstack ranker train "
                                              "--model ",
                                              LearnedKindName(kind), ")"));
    }
    return m;
  }
  if (std::shared_ptr<const RankerModel> m = holder.Current(); m && m->version() == version) {
    return m;
  }
  const std::string key = absl::StrCat(LearnedKindName(kind), "@", version);
  const auto now = std::chrono::steady_clock::now();
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (auto it = pinned_.find(key); it != pinned_.end()) return it->second;
    // A pin that failed is not asked of Redis again for a while: every
    // request naming it would otherwise pay a round trip to fall back.
    if (auto it = failed_.find(key); it != failed_.end() && now - it->second.first < kRetryFailed)
      return it->second.second;
  }
  auto loaded = LoadRankerModel(store_, kind, version);
  if (!loaded.ok()) {
    absl::Status st =
        absl::NotFoundError(absl::StrCat(key, " cannot be served: ", loaded.status().message()));
    std::lock_guard<std::mutex> lock(mu_);
    if (failed_.size() >= 64) failed_.clear();
    failed_[key] = {now, st};
    return st;
  }
  std::lock_guard<std::mutex> lock(mu_);
  failed_.erase(key);
  if (pinned_.size() >= 8) pinned_.erase(pinned_.begin());
  return pinned_[key] = *std::move(loaded);
}

void RegisterLearned(RankerRegistry& registry, RankerModels& models) {
  for (LearnedKind kind : kLearnedKinds) {
    registry.Register(
        std::string(LearnedKindName(kind)),
        kind == LearnedKind::kGbdt
            ? "gradient-boosted trees learned from logged clicks (XGBoost; @VERSION pins one)"
            : "logistic regression learned from logged clicks (@VERSION pins one)",
        [&models, kind](const RankerParams& params) -> absl::StatusOr<std::unique_ptr<Ranker>> {
          auto it = params.find("version");
          auto m = models.Get(kind, it == params.end() ? "" : it->second);
          if (!m.ok()) return m.status();
          return MakeLearnedRanker(*std::move(m));
        });
  }
}

}  // namespace recstack::ranking
