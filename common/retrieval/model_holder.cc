#include "common/retrieval/model_holder.h"

#include <chrono>
#include <cmath>

#include "absl/strings/str_cat.h"
#include "common/log/log.h"
#include "common/math/blas.h"
#include "common/math/kernels.h"
#include "common/math/rng.h"
#include "common/mf/fold_in.h"

namespace recstack::retrieval {
namespace {

double Since(std::chrono::steady_clock::time_point t) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t).count();
}

void BuildHnsw(ServingModel& m, const HolderOptions& o) {
  const auto t0 = std::chrono::steady_clock::now();
  auto h = std::make_unique<HnswIndex>(m.factors, o.hnsw);
  // Recall is checked on the model's own factors: queries are item vectors.
  const int64_t q = std::min<int64_t>(o.recall_queries, m.factors.rows());
  math::Matrix queries(q, m.factors.cols());
  math::Rng rng(7);
  for (int64_t i = 0; i < q; ++i) {
    const int64_t row = static_cast<int64_t>(rng.Below(m.factors.rows()));
    std::copy(m.factors.row(row), m.factors.row(row) + m.factors.cols(), queries.row(i));
  }
  m.hnsw_recall = h->TuneEf(*m.exact, queries, o.hnsw_target_recall);
  m.index_build_seconds += Since(t0);
  m.hnsw_owner = std::move(h);
  m.hnsw.store(m.hnsw_owner.get());
}

}  // namespace

std::unique_ptr<NeighbourTable> BuildNeighbourTable(const math::Matrix& factors,
                                                    const std::vector<float>& norms, int per_item,
                                                    const std::function<bool()>& cancelled) {
  const auto t0 = std::chrono::steady_clock::now();
  const int64_t n = factors.rows(), d = factors.cols();
  auto table = std::make_unique<NeighbourTable>();
  table->per_item = per_item;
  table->entries.assign(n * per_item, math::ScoredId{-1, 0.0f});
  if (n == 0 || per_item <= 0) return table;
  // Unit rows: a zero row stays zero (cosine 0 with everything).
  math::Matrix unit(n, d);
  for (int64_t i = 0; i < n; ++i) {
    const float inv = norms[i] > 0 ? 1.0f / norms[i] : 0.0f;
    for (int64_t c = 0; c < d; ++c) unit.row(i)[c] = factors.row(i)[c] * inv;
  }
  // 64 query rows at a time: a 64 x n block of scores (25 MB at n = 100k).
  constexpr int64_t kBlock = 64;
  std::vector<float> scores(kBlock * n);
  for (int64_t b = 0; b < n; b += kBlock) {
    if (cancelled && cancelled()) return nullptr;
    const int64_t rows = std::min(kBlock, n - b);
    math::Gemm(false, true, rows, n, d, 1.0f, unit.row(b), d, unit.data(), d, 0.0f, scores.data(),
               n);
    for (int64_t r = 0; r < rows; ++r) {
      float* sc = scores.data() + r * n;
      sc[b + r] = std::nanf("");  // never its own neighbour (TopK skips NaN)
      auto top = math::TopK(sc, n, per_item);
      std::copy(top.begin(), top.end(), table->entries.begin() + (b + r) * per_item);
    }
  }
  table->build_seconds = Since(t0);
  return table;
}

std::shared_ptr<ServingModel> BuildServingModel(model::ItemFactors items, const HolderOptions& o,
                                                bool build_hnsw_now) {
  const auto t0 = std::chrono::steady_clock::now();
  auto m = std::make_shared<ServingModel>();
  m->meta = std::move(items.meta);
  m->item_ids = std::move(items.item_ids);
  const int64_t n = static_cast<int64_t>(m->item_ids.size()), d = m->meta.factors;
  m->factors.Resize(n, d);
  std::copy(items.factors.begin(), items.factors.end(), m->factors.data());
  std::vector<float>().swap(items.factors);
  m->item_index = model::IdIndex(m->item_ids);
  m->norms.resize(n);
  for (int64_t i = 0; i < n; ++i)
    m->norms[i] = std::sqrt(math::Dot(m->factors.row(i), m->factors.row(i), d));
  m->gram_plus_reg = mf::GramPlusRegularization(m->factors, m->meta.regularization);
  if (o.exact_int8) {
    m->exact = std::make_unique<Int8ExactIndex>(m->factors);
  } else {
    m->exact = std::make_unique<ExactIndex>(m->factors);
  }
  m->index_build_seconds = Since(t0);
  if (build_hnsw_now && n >= o.hnsw_min_items) BuildHnsw(*m, o);
  return m;
}

ModelHolder::ModelHolder(model::ModelStore& store, redis::Options redis_options,
                         redis::Keyspace keys, HolderOptions options)
    : options_(options),
      holder_(
          store, std::move(redis_options), std::move(keys),
          {.slot = model::Slot::kFactors, .poll_interval = options.poll_interval, .name = "model"},
          [this](model::ModelStore& st,
                 const std::string& version) -> absl::StatusOr<std::shared_ptr<ServingModel>> {
            auto items = st.LoadItems(version);
            if (!items.ok()) return items.status();
            return BuildServingModel(*std::move(items), options_, /*build_hnsw_now=*/false);
          }) {
  holder_.set_listener([this](const std::shared_ptr<ServingModel>& m) {
    log::Info("model loaded", {{"version", m->meta.version},
                               {"items", m->item_ids.size()},
                               {"factors", m->meta.factors}});
    if (listener_) listener_(*m);
    BuildIndexesLater(m);
  });
}

ModelHolder::~ModelHolder() { Stop(); }

void ModelHolder::Start() { holder_.Start(); }

void ModelHolder::Stop() {
  holder_.Stop();
  std::lock_guard<std::mutex> lock(builder_mu_);
  if (builder_.joinable()) builder_.join();
}

absl::Status ModelHolder::Load(const std::string& version) { return holder_.Load(version); }

std::shared_ptr<const ServingModel> ModelHolder::Current() const { return holder_.Current(); }

void ModelHolder::BuildIndexesLater(std::shared_ptr<ServingModel> m) {
  const bool hnsw = static_cast<int64_t>(m->item_ids.size()) >= options_.hnsw_min_items;
  if (!hnsw && options_.neighbours_per_item <= 0) return;
  std::lock_guard<std::mutex> lock(builder_mu_);
  if (builder_.joinable()) builder_.join();
  builder_ = std::thread([this, m, hnsw] {
    if (hnsw) {
      BuildHnsw(*m, options_);
      log::Info("hnsw built", {{"version", m->meta.version},
                               {"recall_at_10", m->hnsw_recall},
                               {"ef", m->hnsw_owner->ef()},
                               {"seconds", m->index_build_seconds}});
      if (listener_) listener_(*m);
    }
    if (options_.neighbours_per_item > 0) {
      // A newer version made this one obsolete: don't spend the CPU.
      if (!holder_.IsCurrent(m.get())) return;
      auto table = BuildNeighbourTable(m->factors, m->norms, options_.neighbours_per_item,
                                       [this, &m] { return !holder_.IsCurrent(m.get()); });
      if (table == nullptr) return;
      m->neighbours_owner = std::move(table);
      m->neighbours.store(m->neighbours_owner.get());
      log::Info("neighbours built", {{"version", m->meta.version},
                                     {"per_item", options_.neighbours_per_item},
                                     {"seconds", m->neighbours_owner->build_seconds}});
      if (listener_) listener_(*m);
    }
  });
}

}  // namespace recstack::retrieval
