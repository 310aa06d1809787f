#include "common/ml/gbdt.h"

#include <xgboost/c_api.h>

#include <cmath>
#include <limits>
#include <unordered_set>
#include <utility>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "common/ml/av.h"
#include "common/ml/envelope.h"
#include "common/ml/xgboost_model.h"

namespace recstack::ml {

namespace {

constexpr float kMissing = std::numeric_limits<float>::quiet_NaN();

// XGBoost's last error on this thread, first line only (the rest is a stack).
absl::Status XgbError(absl::StatusCode code, std::string_view call) {
  std::string_view message = XGBGetLastError();
  if (auto nl = message.find('\n'); nl != std::string_view::npos) {
    // "[12:00:00] src/learner.cc:123: the reason\nStack trace: ..."
    message = message.substr(0, nl);
  }
  return absl::Status(code, absl::StrCat("xgboost ", Av(call), ": ", Av(message)));
}

struct DMatrixFree {
  void operator()(void* handle) const { XGDMatrixFree(handle); }
};
using DMatrix = std::unique_ptr<void, DMatrixFree>;

absl::StatusOr<DMatrix> MakeMatrix(std::span<const float> x, size_t rows, size_t cols,
                                   int nthread) {
  DMatrixHandle h = nullptr;
  if (XGDMatrixCreateFromMat_omp(x.data(), rows, cols, kMissing, &h, nthread) != 0) {
    return XgbError(absl::StatusCode::kInternal, "XGDMatrixCreateFromMat");
  }
  return DMatrix(h);
}

absl::Status Bad(std::string_view field, std::string_view rule, double value) {
  return absl::InvalidArgumentError(
      absl::StrCat("gbdt params: ", Av(field), " must be ", Av(rule), " (got ", value, ")"));
}

// Labels, weights and groups of `data` onto `m`.
absl::Status SetInfo(DMatrixHandle m, const Dataset& data, GbdtObjective objective,
                     std::string_view what) {
  if (XGDMatrixSetFloatInfo(m, "label", data.labels.data(), data.rows()) != 0) {
    return XgbError(absl::StatusCode::kInternal, "set label");
  }
  if (objective == GbdtObjective::kBinaryLogistic) {
    if (!data.weights.empty() &&
        XGDMatrixSetFloatInfo(m, "weight", data.weights.data(), data.rows()) != 0) {
      return XgbError(absl::StatusCode::kInternal, "set weight");
    }
    return absl::OkStatus();
  }
  std::vector<unsigned> sizes;
  std::vector<float> group_weights;
  bool weighted = false;
  for (size_t begin = 0; begin < data.rows();) {
    size_t end = begin + 1;
    while (end < data.rows() && data.groups[end] == data.groups[begin]) ++end;
    sizes.push_back(static_cast<unsigned>(end - begin));
    const float w = data.Weight(begin);
    for (size_t i = begin; i < end; ++i) {
      if (data.Weight(i) != w) {
        return absl::InvalidArgumentError(
            absl::StrCat(Av(what), ": rank:ndcg weighs whole groups, but group ",
                         data.groups[begin], " has rows of weight ", w, " and ", data.Weight(i)));
      }
    }
    weighted = weighted || w != 1.0f;
    group_weights.push_back(w);
    begin = end;
  }
  if (XGDMatrixSetUIntInfo(m, "group", sizes.data(), sizes.size()) != 0) {
    return XgbError(absl::StatusCode::kInternal, "set group");
  }
  if (weighted &&
      XGDMatrixSetFloatInfo(m, "weight", group_weights.data(), group_weights.size()) != 0) {
    return XgbError(absl::StatusCode::kInternal, "set weight");
  }
  return absl::OkStatus();
}

// "[3]\ttrain-logloss:0.51\tvalid-logloss:0.60" -> {0.51, 0.60}.
std::vector<double> ParseEval(std::string_view line) {
  std::vector<double> values;
  for (absl::string_view field : absl::StrSplit(Av(line), '\t')) {
    const auto colon = field.rfind(':');
    if (field.empty() || field[0] == '[' || colon == std::string_view::npos) continue;
    double v = std::numeric_limits<double>::quiet_NaN();
    if (!absl::SimpleAtod(field.substr(colon + 1), &v))
      v = std::numeric_limits<double>::quiet_NaN();
    values.push_back(v);
  }
  return values;
}

}  // namespace

std::string_view GbdtObjectiveName(GbdtObjective objective) {
  return objective == GbdtObjective::kRankNdcg ? "rank:ndcg" : "binary:logistic";
}

absl::StatusOr<GbdtObjective> ParseGbdtObjective(std::string_view name) {
  if (name == "rank:ndcg") return GbdtObjective::kRankNdcg;
  if (name == "binary:logistic") return GbdtObjective::kBinaryLogistic;
  return absl::InvalidArgumentError(
      absl::StrCat("unknown gbdt objective '", Av(name), "' (known: rank:ndcg, binary:logistic)"));
}

absl::Status GbdtParams::Validate() const {
  if (rounds < 1 || rounds > 100000) return Bad("rounds", "in 1..100000", rounds);
  if (max_depth < 1 || max_depth > 32) return Bad("max_depth", "in 1..32", max_depth);
  if (!(eta > 0 && eta <= 1)) return Bad("eta", "in (0, 1]", eta);
  if (!(min_child_weight >= 0) || !std::isfinite(min_child_weight)) {
    return Bad("min_child_weight", ">= 0 and finite", min_child_weight);
  }
  if (!(subsample > 0 && subsample <= 1)) return Bad("subsample", "in (0, 1]", subsample);
  if (nthread < 1 || nthread > 256) return Bad("nthread", "in 1..256", nthread);
  return absl::OkStatus();
}

// ---- GbdtModel ----

void GbdtModel::BoosterFree::operator()(void* handle) const { XGBoosterFree(handle); }

GbdtModel::GbdtModel(Booster booster, GbdtObjective objective, std::vector<std::string> names)
    : booster_(std::move(booster)), objective_(objective), feature_names_(std::move(names)) {}

GbdtModel::~GbdtModel() = default;

int GbdtModel::rounds() const {
  int n = 0;
  if (XGBoosterBoostedRounds(booster_.get(), &n) != 0) return 0;
  return n;
}

absl::StatusOr<std::vector<float>> GbdtModel::Run(std::span<const float> x, int type,
                                                  size_t* rows) const {
  if (dims() == 0 || x.size() % dims() != 0 || x.empty()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "gbdt model: ", x.size(), " values are not whole rows of ", dims(), " features"));
  }
  *rows = x.size() / dims();
  auto m = MakeMatrix(x, *rows, dims(), 1);
  if (!m.ok()) return m.status();
  const std::string config = absl::StrCat(
      R"({"type": )", type,
      R"(, "training": false, "iteration_begin": 0, "iteration_end": 0, "strict_shape": false})");
  const bst_ulong* shape = nullptr;
  bst_ulong dim = 0;
  const float* out = nullptr;
  if (XGBoosterPredictFromDMatrix(booster_.get(), m->get(), config.c_str(), &shape, &dim, &out) !=
      0) {
    return XgbError(absl::StatusCode::kInternal, "predict");
  }
  size_t total = 1;
  for (bst_ulong i = 0; i < dim; ++i) total *= shape[i];
  const size_t expected = type == 2 ? *rows * (dims() + 1) : *rows;
  if (total != expected) {
    return absl::InternalError(absl::StrCat("xgboost predict: ", total, " outputs for ", *rows,
                                            " rows (type ", type, "), expected ", expected));
  }
  return std::vector<float>(out, out + total);
}

absl::StatusOr<std::vector<double>> GbdtModel::PredictBatch(std::span<const float> x) const {
  size_t rows = 0;
  auto out = Run(x, 0, &rows);
  if (!out.ok()) return out.status();
  return std::vector<double>(out->begin(), out->end());
}

absl::StatusOr<double> GbdtModel::Predict(std::span<const float> x) const {
  if (x.size() != dims()) {
    return absl::InvalidArgumentError(absl::StrCat("gbdt model: row has ", x.size(),
                                                   " features, the model was trained on ", dims()));
  }
  auto out = PredictBatch(x);
  if (!out.ok()) return out.status();
  return (*out)[0];
}

absl::StatusOr<std::vector<double>> GbdtModel::MarginBatch(std::span<const float> x) const {
  size_t rows = 0;
  auto out = Run(x, 1, &rows);
  if (!out.ok()) return out.status();
  return std::vector<double>(out->begin(), out->end());
}

absl::StatusOr<std::vector<Explanation>> GbdtModel::ExplainBatch(std::span<const float> x) const {
  size_t rows = 0;
  auto contributions = Run(x, 2, &rows);
  if (!contributions.ok()) return contributions.status();
  auto margins = Run(x, 1, &rows);
  if (!margins.ok()) return margins.status();
  auto scores = Run(x, 0, &rows);
  if (!scores.ok()) return scores.status();
  const size_t d = dims();
  std::vector<Explanation> out(rows);
  for (size_t i = 0; i < rows; ++i) {
    const float* c = contributions->data() + i * (d + 1);
    out[i].contributions.assign(c, c + d);
    out[i].bias = c[d];
    out[i].margin = (*margins)[i];
    out[i].score = (*scores)[i];
  }
  return out;
}

absl::StatusOr<Explanation> GbdtModel::Explain(std::span<const float> x) const {
  if (x.size() != dims()) {
    return absl::InvalidArgumentError(absl::StrCat("gbdt model: row has ", x.size(),
                                                   " features, the model was trained on ", dims()));
  }
  auto out = ExplainBatch(x);
  if (!out.ok()) return out.status();
  return std::move((*out)[0]);
}

// Payload (format version 1):
//   u8 objective (0 rank:ndcg, 1 binary:logistic)
//   u32 d; d x str feature name
//   bytes  XGBoost model, UBJSON (XGBoosterSaveModelToBuffer)
absl::StatusOr<std::string> GbdtModel::Serialize() const {
  bst_ulong len = 0;
  const char* data = nullptr;
  if (XGBoosterSaveModelToBuffer(booster_.get(), R"({"format": "ubj"})", &len, &data) != 0) {
    return XgbError(absl::StatusCode::kInternal, "save model");
  }
  ByteWriter w;
  w.U8(objective_ == GbdtObjective::kRankNdcg ? 0 : 1);
  w.U32(static_cast<uint32_t>(dims()));
  for (const auto& name : feature_names_) w.Str(name);
  w.Bytes(std::string_view(data, len));
  return Seal(kMagic, kFormatVersion, w.out());
}

absl::StatusOr<GbdtModel> GbdtModel::Parse(std::string_view bytes) {
  constexpr std::string_view kWhat = "gbdt model";
  auto payload = Unseal(bytes, kMagic, kFormatVersion, kWhat);
  if (!payload.ok()) return payload.status();
  ByteReader r(*payload, kWhat);
  auto objective_code = r.U8();
  if (!objective_code.ok()) return objective_code.status();
  if (*objective_code > 1) {
    return absl::InvalidArgumentError(
        absl::StrCat(Av(kWhat), ": unknown objective code ", *objective_code));
  }
  auto d = r.U32();
  if (!d.ok()) return d.status();
  if (*d == 0 || *d > r.remaining() / 4) {
    return absl::InvalidArgumentError(absl::StrCat(Av(kWhat), ": implausible feature count ", *d));
  }
  std::vector<std::string> names;
  std::unordered_set<std::string_view> seen;
  for (uint32_t j = 0; j < *d; ++j) {
    auto name = r.Str();
    if (!name.ok()) return name.status();
    if (name->empty() || !seen.insert(*name).second) {
      return absl::InvalidArgumentError(
          absl::StrCat(Av(kWhat), ": empty or duplicate feature name '", Av(*name), "'"));
    }
    names.emplace_back(*name);
  }
  auto blob = r.Bytes();
  if (!blob.ok()) return blob.status();
  if (auto s = r.ExpectEnd(); !s.ok()) return s;

  // XGBoost reads only what passed the check: its own reader trusts lengths.
  const GbdtObjective objective =
      *objective_code == 0 ? GbdtObjective::kRankNdcg : GbdtObjective::kBinaryLogistic;
  if (auto s = CheckXgboostModel(*blob, *d, GbdtObjectiveName(objective)); !s.ok()) return s;

  BoosterHandle h = nullptr;
  if (XGBoosterCreate(nullptr, 0, &h) != 0) {
    return XgbError(absl::StatusCode::kInternal, "create booster");
  }
  Booster booster(h);
  if (XGBoosterLoadModelFromBuffer(h, blob->data(), blob->size()) != 0) {
    return XgbError(absl::StatusCode::kInvalidArgument, "load model");
  }
  // Serving is single-threaded per call and silent; neither is saved in the model.
  if (XGBoosterSetParam(h, "nthread", "1") != 0 || XGBoosterSetParam(h, "verbosity", "0") != 0) {
    return XgbError(absl::StatusCode::kInternal, "set param");
  }
  bst_ulong features = 0;
  if (XGBoosterGetNumFeature(h, &features) != 0) {
    return XgbError(absl::StatusCode::kInvalidArgument, "number of features");
  }
  if (features != *d) {
    return absl::InvalidArgumentError(
        absl::StrCat(Av(kWhat), ": the trees use ", features, " features, the header names ", *d));
  }
  GbdtModel model(std::move(booster), objective, std::move(names));
  // XGBoost checks some parameters only when it predicts (size_leaf_vector,
  // found by tests/fuzz/ranker_fuzz.cc): one row, scored and explained, or
  // the model is refused here instead of failing every request.
  const std::vector<float> row(*d, 0.0f);
  if (auto e = model.ExplainBatch(row); !e.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat(Av(kWhat), ": XGBoost cannot predict with it: ", e.status().message()));
  }
  return model;
}

// ---- Training ----

class GbdtTrainer {
 public:
  static absl::StatusOr<GbdtTrainResult> Run(const GbdtParams& params, const Dataset& train,
                                             const Dataset* valid);
};

absl::StatusOr<GbdtTrainResult> GbdtTrainer::Run(const GbdtParams& params, const Dataset& train,
                                                 const Dataset* valid) {
  if (auto s = params.Validate(); !s.ok()) return s;
  if (auto s = ValidateDataset(train, "train set"); !s.ok()) return s;
  const bool rank = params.objective == GbdtObjective::kRankNdcg;
  if (rank) {
    if (auto s = ValidateGrouped(train, "train set"); !s.ok()) return s;
  }
  if (valid != nullptr) {
    if (auto s = ValidateDataset(*valid, "validation set"); !s.ok()) return s;
    if (valid->feature_names != train.feature_names) {
      return absl::InvalidArgumentError(
          "validation set: feature names differ from the train set's (same columns, same order)");
    }
    if (rank) {
      if (auto s = ValidateGrouped(*valid, "validation set"); !s.ok()) return s;
    }
  }

  auto dtrain = MakeMatrix(train.features, train.rows(), train.dims(), params.nthread);
  if (!dtrain.ok()) return dtrain.status();
  if (auto s = SetInfo(dtrain->get(), train, params.objective, "train set"); !s.ok()) return s;
  DMatrix dvalid;
  if (valid != nullptr) {
    auto m = MakeMatrix(valid->features, valid->rows(), valid->dims(), params.nthread);
    if (!m.ok()) return m.status();
    dvalid = std::move(*m);
    if (auto s = SetInfo(dvalid.get(), *valid, params.objective, "validation set"); !s.ok()) {
      return s;
    }
  }

  std::vector<DMatrixHandle> cached = {dtrain->get()};
  if (dvalid) cached.push_back(dvalid.get());
  BoosterHandle h = nullptr;
  if (XGBoosterCreate(cached.data(), cached.size(), &h) != 0) {
    return XgbError(absl::StatusCode::kInternal, "create booster");
  }
  GbdtModel::Booster booster(h);
  const std::string metric = rank ? "ndcg@10" : "logloss";
  const std::pair<std::string, std::string> settings[] = {
      {"objective", std::string(GbdtObjectiveName(params.objective))},
      {"eval_metric", metric},
      {"tree_method", "hist"},
      {"max_depth", absl::StrCat(params.max_depth)},
      {"eta", absl::StrFormat("%.17g", params.eta)},
      {"min_child_weight", absl::StrFormat("%.17g", params.min_child_weight)},
      {"subsample", absl::StrFormat("%.17g", params.subsample)},
      {"seed", absl::StrCat(params.seed)},
      {"nthread", absl::StrCat(params.nthread)},
      {"verbosity", "0"},
  };
  for (const auto& [key, value] : settings) {
    if (XGBoosterSetParam(h, key.c_str(), value.c_str()) != 0) {
      return XgbError(absl::StatusCode::kInvalidArgument, absl::StrCat("set ", key));
    }
  }

  std::vector<GbdtRound> history;
  const char* names[] = {"train", "valid"};
  for (int round = 0; round < params.rounds; ++round) {
    if (XGBoosterUpdateOneIter(h, round, dtrain->get()) != 0) {
      return XgbError(absl::StatusCode::kInternal, absl::StrCat("boosting round ", round + 1));
    }
    const char* eval = nullptr;
    if (XGBoosterEvalOneIter(h, round, cached.data(), names, cached.size(), &eval) != 0) {
      return XgbError(absl::StatusCode::kInternal, "evaluate");
    }
    const std::vector<double> values = ParseEval(eval);
    GbdtRound r;
    r.round = round + 1;
    r.train_metric = values.empty() ? std::numeric_limits<double>::quiet_NaN() : values[0];
    r.valid_metric = values.size() > 1 ? values[1] : std::numeric_limits<double>::quiet_NaN();
    history.push_back(r);
  }
  // Prediction after training is single-threaded per call like a parsed model.
  if (XGBoosterSetParam(h, "nthread", "1") != 0) {
    return XgbError(absl::StatusCode::kInternal, "set nthread");
  }
  return GbdtTrainResult{GbdtModel(std::move(booster), params.objective, train.feature_names),
                         std::move(history), metric};
}

absl::StatusOr<GbdtTrainResult> TrainGbdt(const GbdtParams& params, const Dataset& train,
                                          const Dataset* valid) {
  return GbdtTrainer::Run(params, train, valid);
}

}  // namespace recstack::ml
