#pragma once

// The served model version (DESIGN §5): loaded from Redis at start, followed
// through rs:model:updates (with polling as a fallback), each new version
// indexed off the request path and swapped in atomically. A request holds a
// shared_ptr to the version it started on, so a swap never disturbs it.

#include <atomic>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include "absl/status/statusor.h"
#include "common/math/dense.h"
#include "common/model/holder.h"
#include "common/model/id_index.h"
#include "common/model/model_store.h"
#include "common/redis/subscriber.h"
#include "common/retrieval/candidate_index.h"

namespace recstack::retrieval {

// Every item's best cosine neighbours (itself excluded), best first, ties by
// index: row i is entries[i * per_item, (i + 1) * per_item), padded with
// id -1 when the catalogue has fewer than per_item + 1 items.
struct NeighbourTable {
  int per_item = 0;
  std::vector<math::ScoredId> entries;
  double build_seconds = 0;
};
// The table of `factors` (n x d) with `norms` (|row|): blocked GEMM of unit
// rows against all rows, then a k-heap per row.
// Returns nullptr when `cancelled` (checked between blocks) says so.
std::unique_ptr<NeighbourTable> BuildNeighbourTable(
    const math::Matrix& factors, const std::vector<float>& norms, int per_item,
    const std::function<bool()>& cancelled = nullptr);

struct ServingModel {
  model::ModelMeta meta;
  std::vector<std::string> item_ids;
  model::IdIndex item_index;              // item id -> row
  math::Matrix factors;                   // n_items x d
  std::vector<float> norms;               // |y_i|, for item-to-item cosine
  std::vector<float> gram_plus_reg;       // Y^T Y + lambda I (d x d), for fold-in
  std::unique_ptr<CandidateIndex> exact;  // ExactIndex, or Int8ExactIndex (same answers)
  // Set once the background build finishes (large catalogues only).
  std::atomic<const HnswIndex*> hnsw{nullptr};
  std::unique_ptr<HnswIndex> hnsw_owner;
  double hnsw_recall = 0;
  double index_build_seconds = 0;
  // Set once the background build finishes; until then item-to-item scans.
  std::atomic<const NeighbourTable*> neighbours{nullptr};
  std::unique_ptr<NeighbourTable> neighbours_owner;

  // HNSW when built, else exact.
  const CandidateIndex& index() const {
    const HnswIndex* h = hnsw.load();
    return h != nullptr ? static_cast<const CandidateIndex&>(*h) : *exact;
  }
};

struct HolderOptions {
  int64_t hnsw_min_items = 50'000;  // catalogues at least this large get HNSW
  HnswParams hnsw;
  double hnsw_target_recall = 0.95;
  int recall_queries = 200;
  // Exact search through an int8 filter (Int8ExactIndex: the same results,
  // n * (d + 8) more bytes); off by default.
  bool exact_int8 = false;
  std::chrono::milliseconds poll_interval{5000};
  // Neighbours per item precomputed in the background at each load (0: none,
  // e.g. ranking, which only needs the factors).
  int neighbours_per_item = 200;
};

// Builds a serving model from loaded item factors (exposed for tests and
// benchmarks); HNSW is built inline here when asked for.
std::shared_ptr<ServingModel> BuildServingModel(model::ItemFactors items,
                                                const HolderOptions& options, bool build_hnsw_now);

// The factor model being served, whatever serves it (the Retriever's view;
// unit tests give it a fixed model).
class ServingModels {
 public:
  virtual ~ServingModels() = default;
  // nullptr until a model was loaded.
  virtual std::shared_ptr<const ServingModel> Current() const = 0;
};

// The factors slot of the model store, served: each version becomes a
// ServingModel (exact index at once; HNSW for large catalogues and the
// neighbour table built in the background, off the request path).
class ModelHolder final : public ServingModels {
 public:
  using Listener = std::function<void(const ServingModel&)>;

  ModelHolder(model::ModelStore& store, redis::Options redis_options, redis::Keyspace keys,
              HolderOptions options);
  ~ModelHolder() override;

  // Loads the current version if there is one and starts following updates.
  void Start();
  void Stop();
  // Loads `version` now (tests, and the update path).
  absl::Status Load(const std::string& version);

  std::shared_ptr<const ServingModel> Current() const override;
  // Called after a load and after each background build finishes. Set
  // before Start.
  void set_listener(Listener l) { listener_ = std::move(l); }

 private:
  // HNSW (large catalogues) and the neighbour table, off the request path.
  void BuildIndexesLater(std::shared_ptr<ServingModel> m);

  HolderOptions options_;
  Listener listener_;
  std::mutex builder_mu_;
  std::thread builder_;
  model::VersionedHolder<ServingModel> holder_;  // last: stops before the rest goes
};

}  // namespace recstack::retrieval
