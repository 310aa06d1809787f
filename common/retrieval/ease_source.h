#pragma once

// The `ease` candidate source (EASE, Steck 2019; trained by
// common/mf/ease.*): a user's score for item j is
//   s_j = sum over the user's history items i of w_i * B_ij,
// with B truncated to the weights the publisher kept (x_u B on the kept
// weights, each B's own; rows differ in length, see PublishedNeighbours in
// common/mf/ease.h; w_i = 1 as in binary training), history and excluded items
// removed, the best k kept. Each candidate is explained by the history item
// that contributed most to its score ("because you watched X").
//
// The EASE model lives in its own slot (rs:model:current:ease, announced on
// rs:model:updates:ease), so it is served next to the factor model;
// EaseModelHolder follows that slot like ModelHolder follows factors.

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "absl/status/status.h"
#include "common/model/holder.h"
#include "common/model/id_index.h"
#include "common/model/model_store.h"
#include "common/redis/subscriber.h"
#include "common/retrieval/retriever.h"

namespace recstack::retrieval {

struct EaseServingModel {
  model::ModelMeta meta;
  std::vector<std::string> item_ids;
  model::IdIndex item_index;  // item id -> row
  // Row i's kept weights: ids/weights[indptr[i] .. indptr[i+1]), best first.
  std::vector<int64_t> indptr;
  std::vector<int32_t> ids;
  std::vector<float> weights;
};

std::shared_ptr<const EaseServingModel> BuildEaseServingModel(model::ItemNeighbours n);

// The k best unseen items for a history (newest first; items unknown to the
// model are skipped, at most `max_history` known ones are used). `blocked`
// items never come back. Ties by the smaller item index.
std::vector<Candidate> EaseRecommend(const EaseServingModel& m,
                                     const std::vector<std::string>& history,
                                     const std::unordered_set<std::string>& blocked, int k,
                                     int max_history);

// Item `item`'s k heaviest weights (its row of B): SimilarItems from EASE.
std::vector<Candidate> EaseSimilar(const EaseServingModel& m, int32_t item, int k);

// The EASE slot of the model store, served (hot-swapped like factors).
class EaseModelHolder {
 public:
  EaseModelHolder(model::ModelStore& store, redis::Options redis_options, redis::Keyspace keys,
                  std::chrono::milliseconds poll_interval = std::chrono::milliseconds(5000));

  // Loads the current EASE version if there is one and follows the slot.
  void Start() { holder_.Start(); }
  void Stop() { holder_.Stop(); }
  absl::Status Load(const std::string& version) { return holder_.Load(version); }
  // nullptr until an EASE model was loaded.
  std::shared_ptr<const EaseServingModel> Current() const { return holder_.Current(); }

 private:
  model::VersionedHolder<EaseServingModel> holder_;
};

}  // namespace recstack::retrieval
