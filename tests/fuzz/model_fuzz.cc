// The model records retrieval and ranking read from Redis
// (common/model/model_store.h), on any bytes: a version's meta hash, its
// item chunks (factors or EASE) and a user row. The input is pieces
// separated by "\n%%\n":
//   meta: one "FIELD VALUE" per line (HGETALL's pairs)
//   then every chunk of the version, in order
// and the last piece is also read as a user row. A record that is accepted
// must be self-consistent, because it is served as it is: the sizes the
// meta states, valid ids, finite floats, neighbour indices in range. Any
// other record must be refused (DATA_LOSS), never crash.
#include <cmath>
#include <string>

#include "common/events/ids.h"
#include "common/model/item_vectors.h"
#include "common/model/model_store.h"
#include "tests/fuzz/fuzz_input.h"

namespace {

namespace md = recstack::model;

bool Finite(const std::vector<float>& v) {
  for (float x : v) {
    if (!std::isfinite(x)) return false;
  }
  return true;
}

void CheckFactors(const md::ItemFactors& f) {
  const md::ModelMeta& m = f.meta;
  FUZZ_CHECK(m.factors > 0);
  FUZZ_CHECK(static_cast<int64_t>(f.item_ids.size()) == m.n_items);
  FUZZ_CHECK(f.factors.size() == f.item_ids.size() * static_cast<size_t>(m.factors));
  FUZZ_CHECK(f.biases.size() == (m.has_biases ? f.item_ids.size() : 0));
  FUZZ_CHECK(Finite(f.factors) && Finite(f.biases));
  for (const auto& id : f.item_ids) FUZZ_CHECK(recstack::ids::ValidateId("item_id", id).ok());
  // What ranking builds from it: every id finds a row of `factors` floats.
  const md::ItemVectors v = md::MakeItemVectors(f);
  FUZZ_CHECK(v.factors.rows() == static_cast<int64_t>(f.item_ids.size()));
  FUZZ_CHECK(v.factors.cols() == m.factors);
  for (const auto& id : f.item_ids) FUZZ_CHECK(v.Find(id) != nullptr);
}

void CheckNeighbours(const md::ItemNeighbours& n) {
  const md::ModelMeta& m = n.meta;
  const size_t items = n.item_ids.size();
  FUZZ_CHECK(static_cast<int64_t>(items) == m.n_items);
  FUZZ_CHECK(n.indptr.size() == items + 1 && n.indptr[0] == 0);
  for (size_t i = 0; i < items; ++i) {
    FUZZ_CHECK(n.indptr[i + 1] >= n.indptr[i]);
    FUZZ_CHECK(n.indptr[i + 1] - n.indptr[i] <= m.neighbours);
  }
  FUZZ_CHECK(n.indptr.back() == static_cast<int64_t>(n.ids.size()));
  FUZZ_CHECK(n.weights.size() == n.ids.size());
  for (int32_t j : n.ids) FUZZ_CHECK(j >= 0 && static_cast<size_t>(j) < items);
  FUZZ_CHECK(Finite(n.weights));
  for (const auto& id : n.item_ids) FUZZ_CHECK(recstack::ids::ValidateId("item_id", id).ok());
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  recstack::fuzz::Input in(data, size);
  const std::vector<std::string_view> pieces = recstack::fuzz::SplitAll(in.Take(), "\n%%\n");

  // The user row: whole finite floats or refused.
  auto user = md::DecodeUserVector(pieces.back());
  if (user.ok()) {
    FUZZ_CHECK(user->size() * sizeof(float) == pieces.back().size() && Finite(*user));
  } else {
    FUZZ_CHECK(user.status().code() == absl::StatusCode::kDataLoss);
  }

  // The meta hash, as HGETALL answers it.
  recstack::redis::Reply hash;
  hash.type = recstack::redis::Reply::Type::kArray;
  for (std::string_view line : recstack::fuzz::SplitAll(pieces.front(), "\n")) {
    if (line.empty()) continue;
    const size_t sp = line.find(' ');
    recstack::redis::Reply field, value;
    field.type = value.type = recstack::redis::Reply::Type::kString;
    field.str = line.substr(0, sp);
    value.str = sp == std::string_view::npos ? "" : line.substr(sp + 1);
    hash.elements.push_back(std::move(field));
    hash.elements.push_back(std::move(value));
  }
  auto meta = md::ParseModelMeta(hash);
  if (!meta.ok()) {
    FUZZ_CHECK(meta.status().code() == absl::StatusCode::kDataLoss ||
               meta.status().code() == absl::StatusCode::kNotFound);
    return 0;
  }
  if (md::IsRanker(meta->kind)) {
    FUZZ_CHECK(meta->n_items == 0 && meta->n_chunks == 0);
    return 0;
  }
  FUZZ_CHECK(meta->n_items >= 1 && meta->chunk_size >= 1);
  FUZZ_CHECK(meta->n_chunks == (meta->n_items + meta->chunk_size - 1) / meta->chunk_size);

  // Its chunks, as LoadItems / LoadNeighbours hand them over: stop at the
  // first refused one.
  const bool ease = meta->kind == md::ModelKind::kEase;
  md::ItemFactorsAssembler factors(*meta);
  md::ItemNeighboursAssembler neighbours(*meta);
  bool refused = false;
  for (size_t i = 1; i < pieces.size() && !refused; ++i) {
    const absl::Status st = ease ? neighbours.Add(pieces[i]) : factors.Add(pieces[i]);
    if (!st.ok()) {
      FUZZ_CHECK(st.code() == absl::StatusCode::kDataLoss);
      refused = true;
    }
  }
  if (refused) return 0;
  if (ease) {
    auto n = std::move(neighbours).Finish();
    if (n.ok()) CheckNeighbours(*n);
  } else {
    auto f = std::move(factors).Finish();
    if (f.ok()) CheckFactors(*f);
  }
  return 0;
}
