#pragma once

// Model versions in Redis (DESIGN §3): the contract between training, which
// publishes, and retrieval/ranking, which read.
//
// Keys (prefix from redis::Keyspace, default "rs:"):
//   rs:model:seq                    INCR counter; version = "v" + counter
//   rs:model:{v}:meta               hash, see ModelMeta (written last but one)
//   rs:model:{v}:items:{chunk}      string, an item chunk in the binary layout below
//   rs:model:{v}:user:{user}        string, `user_floats` little-endian float32
//                                   (factors, then the user bias for explicit models)
//   rs:model:versions               zset version -> created_at_ms (kept versions)
//   rs:model:current                string, the served version (written last)
//   rs:model:updates                pub/sub channel; payload = the new current version
//   rs:model:current:ease           string, the served EASE version (its own slot)
//   rs:model:updates:ease           pub/sub channel of the EASE slot
//
// Item chunk layout (little-endian), at most `chunk_size` items per chunk:
//   char[4]   magic "RSI1"
//   uint32    n       items in this chunk
//   uint32    d       factors
//   uint32    flags   bit 0: a float32 bias follows each item's factors
//   n x { uint8 id_len; id bytes }
//   n x d float32     factors, row-major
//   n float32         biases (only with flag bit 0)
//
// EASE models (algorithm "ease", factors 0, no user keys) store per item the
// weights of its row of B the publisher kept (common/mf/ease.h,
// PublishedNeighbours: rows differ in length, at most `neighbours` each),
// in chunks of the same keys:
//   char[4]   magic "RSE1"
//   uint32    n       items in this chunk
//   uint32    top_n   the most weights any item has
//   uint32    flags   0
//   n x { uint8 id_len; id bytes }
//   n uint32          weights per item
//   m int32           neighbour item indices (into the whole model's item order)
//   m float32         the weights, best first per item (m = the counts' sum)
// They are published, promoted and retained like factor models but in the
// EASE slot (current:ease / updates:ease); retention counts each slot's
// versions separately.
//
// Learned rankers (algorithm "ranker-gbdt" / "ranker-logistic", factors 0,
// no items or users) store one value, the sealed model bytes of
// common/ml/envelope.h:
//   rs:model:{v}:blob               string, the serialized ranker model
//   rs:model:current:gbdt           string, the served gbdt version (its own slot)
//   rs:model:current:logistic       string, the served logistic version
//   rs:model:updates:{gbdt,logistic} pub/sub channels of those slots
//
// Atomicity: every key of a version is written (pipelined) before
// rs:model:current names it, and meta is written after all chunks and users,
// so a reader that sees a version through rs:model:current or the versions
// zset sees all of it. Retention deletes versions beyond the newest `keep`,
// never the current one.

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "common/redis/client.h"

namespace recstack::model {

// What a stored version is, and so how it is read and served: the kinds of
// model the store holds. Not how it was fitted: that is the trainer's
// mf::Algorithm (common/mf/trainer.h), which has fitting methods the store
// does not tell apart (sgd-explicit is stored as kExplicitAls); the training
// service maps one to the other in one place (training::StoredKind).
enum class ModelKind { kImplicitAls, kExplicitAls, kEase, kRankerGbdt, kRankerLogistic };

// The "algorithm" field of the meta hash (and the name users see):
// "als-implicit" / "als-explicit" / "ease" / "ranker-gbdt" / "ranker-logistic".
std::string ModelKindName(ModelKind kind);
absl::StatusOr<ModelKind> ParseModelKind(std::string_view name);
inline bool IsRanker(ModelKind k) {
  return k == ModelKind::kRankerGbdt || k == ModelKind::kRankerLogistic;
}

// Which current key a version is served from.
enum class Slot { kFactors, kEase, kRankerGbdt, kRankerLogistic };
inline constexpr Slot kAllSlots[] = {Slot::kFactors, Slot::kEase, Slot::kRankerGbdt,
                                     Slot::kRankerLogistic};
Slot SlotOf(ModelKind kind);
// rs:model:current[:ease|:gbdt|:logistic] and the slot's update channel.
std::string CurrentKey(const redis::Keyspace& keys, Slot slot);
std::string UpdatesKey(const redis::Keyspace& keys, Slot slot);

struct ModelMeta {
  std::string version;
  ModelKind kind = ModelKind::kImplicitAls;  // the meta hash's "algorithm"
  int32_t factors = 0;                       // 0 for ease
  int32_t neighbours = 0;                    // ease: the most weights any item keeps
  int64_t n_users = 0;
  int64_t n_items = 0;
  int32_t n_chunks = 0;
  int32_t chunk_size = 0;
  bool has_biases = false;  // explicit models: user and item biases
  float global_mean = 0;    // explicit models
  // The regularization the factors were trained with; fold-in uses the same.
  float regularization = 0;
  float alpha = 0;  // implicit confidence scale
  int64_t created_at_ms = 0;
  std::map<std::string, std::string> params;  // every training knob, as text
  std::map<std::string, double> metrics;      // evaluation results
};

// A trained model as training hands it to the publisher; row-major float32.
struct ModelData {
  ModelMeta meta;  // version and created_at_ms are assigned by Publish
  std::vector<std::string> user_ids;
  std::vector<float> user_factors;  // n_users * factors
  std::vector<float> user_biases;   // n_users, explicit only
  std::vector<std::string> item_ids;
  std::vector<float> item_factors;  // n_items * factors
  std::vector<float> item_biases;   // n_items, explicit only
  // ease: item i's weights are neighbour_ids/weights[indptr[i] .. indptr[i+1])
  std::vector<int64_t> neighbour_indptr;  // n_items + 1
  std::vector<int32_t> neighbour_ids;     // indices into item_ids
  std::vector<float> neighbour_weights;
  // rankers: the sealed model; no users, items or factors.
  std::string blob;
};

// The item side of a version, as retrieval serves it.
struct ItemFactors {
  ModelMeta meta;
  std::vector<std::string> item_ids;  // row order
  std::vector<float> factors;         // n_items * factors, row-major
  std::vector<float> biases;          // empty unless meta.has_biases
};

// An EASE version, as retrieval serves it (CSR by item).
struct ItemNeighbours {
  ModelMeta meta;
  std::vector<std::string> item_ids;
  std::vector<int64_t> indptr;  // n_items + 1
  std::vector<int32_t> ids;
  std::vector<float> weights;
};

struct PublishOptions {
  int32_t chunk_size = 4096;      // items per chunk key
  int32_t keep_versions = 3;      // newest versions kept (>= 1)
  int32_t pipeline_batch = 1000;  // commands per pipeline round trip
  bool make_current = true;       // false: write the version but do not serve it
};

class ModelStore {
 public:
  ModelStore(redis::Pool& pool, redis::Keyspace keyspace);

  // Writes a new version, flips current (unless !make_current), announces it
  // on rs:model:updates, then applies retention. Returns the meta as stored.
  absl::StatusOr<ModelMeta> Publish(const ModelData& model, const PublishOptions& options);

  // Makes a kept version current and announces it. NotFound for a version
  // that is not kept (or incomplete).
  absl::Status Promote(std::string_view version);

  // The current version name of a slot; NotFound (FailedPrecondition would
  // also be fair) when no model was ever published there.
  absl::StatusOr<std::string> CurrentVersion(Slot slot = Slot::kFactors);
  absl::StatusOr<ModelMeta> GetMeta(std::string_view version);
  // Kept versions, newest first.
  absl::StatusOr<std::vector<ModelMeta>> ListVersions();

  // All item factors of a version (reads every chunk, pipelined);
  // FailedPrecondition for an ease version.
  absl::StatusOr<ItemFactors> LoadItems(std::string_view version);
  // All item-item weights of an ease version; FailedPrecondition otherwise.
  absl::StatusOr<ItemNeighbours> LoadNeighbours(std::string_view version);
  // One user's factors (and bias, as the last float, for explicit models);
  // std::nullopt when the model does not know the user.
  absl::StatusOr<std::optional<std::vector<float>>> GetUserVector(std::string_view version,
                                                                  std::string_view user);

  // A ranker version's model bytes; FailedPrecondition for other versions,
  // NotFound when the version is not kept.
  absl::StatusOr<std::string> LoadBlob(std::string_view version);
  // Deletes every key of a version (not allowed for the current one).
  absl::Status DeleteVersion(std::string_view version);

 private:
  redis::Pool& pool_;
  redis::Keyspace keys_;
};

// What a reader accepts of the records above, each a pure function of the
// bytes Redis returned (ModelStore reads, these check; the fuzzer in
// tests/fuzz calls them directly). A truncated, corrupt or inconsistent
// record is DATA_LOSS and is never served.

// Item rows are int32 everywhere (indexes, EASE neighbour ids).
inline constexpr int64_t kMaxModelItems = 2'147'483'647;

// The meta hash (HGETALL's field/value array): garbled numbers, a missing
// version or shape, and sizes that disagree (chunks vs items, a ranker with
// items) are DATA_LOSS; no reply or an empty one is NOT_FOUND.
absl::StatusOr<ModelMeta> ParseModelMeta(const redis::Reply& hash);

// Binary codec of one item chunk (exposed for tests and tools). Decoding
// appends to the outputs, or leaves them as they were on an error: factors
// must be `d` (> 0), every id a valid item id (common/events/ids.h), every
// float finite.
std::string EncodeItemChunk(const std::vector<std::string>& ids, const float* factors,
                            const float* biases, int32_t d);
absl::Status DecodeItemChunk(std::string_view bytes, int32_t d, std::vector<std::string>* ids,
                             std::vector<float>* factors, std::vector<float>* biases);

// A stored user row (rs:model:{v}:user:{user}): whole little-endian
// float32s, every one finite.
absl::StatusOr<std::vector<float>> DecodeUserVector(std::string_view bytes);

// A factors version's item side, assembled from its chunks in order and
// checked against its meta (from ParseModelMeta): each chunk holds
// chunk_size items (the last the rest), with biases exactly when the meta
// says so. What Finish returns is self-consistent: n_items ids, n_items *
// factors factors, n_items biases or none.
class ItemFactorsAssembler {
 public:
  explicit ItemFactorsAssembler(ModelMeta meta);
  absl::Status Add(std::string_view chunk);
  // DATA_LOSS unless every chunk the meta names was added.
  absl::StatusOr<ItemFactors> Finish() &&;

 private:
  ItemFactors out_;
  int32_t chunks_ = 0;
};

// The same for an EASE version: at most meta.neighbours weights per item,
// every neighbour index below n_items, indptr n_items + 1 long.
class ItemNeighboursAssembler {
 public:
  explicit ItemNeighboursAssembler(ModelMeta meta);
  absl::Status Add(std::string_view chunk);
  absl::StatusOr<ItemNeighbours> Finish() &&;

 private:
  ItemNeighbours out_;
  int32_t chunks_ = 0;
};

// Binary codec of one EASE chunk: item j of `ids` has the weights at
// positions indptr[j] .. indptr[j+1] of neighbour_ids/weights. Decoding
// appends to `out` (or leaves it as it was on an error) and checks every
// id, every neighbour index (below n_items) and every weight (finite).
std::string EncodeNeighbourChunk(const std::vector<std::string>& ids, const int64_t* indptr,
                                 const int32_t* neighbour_ids, const float* weights);
absl::Status DecodeNeighbourChunk(std::string_view bytes, int64_t n_items, ItemNeighbours* out);

// `redis` with a 30 s command timeout: the options of the pool a serving
// process loads models through (a load moves values of hundreds of MB; the
// request path's pool keeps its short timeout).
redis::Options ModelLoadOptions(redis::Options redis);

}  // namespace recstack::model
