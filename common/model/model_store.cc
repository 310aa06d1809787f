#include "common/model/model_store.h"

#include <algorithm>
#include <bit>
#include <charconv>
#include <cmath>
#include <cstring>
#include <functional>
#include <string_view>

#include "absl/strings/str_cat.h"
#include "common/events/ids.h"
#include "common/status/status.h"

namespace recstack::model {
namespace {

constexpr char kMagic[4] = {'R', 'S', 'I', '1'};
constexpr char kNeighbourMagic[4] = {'R', 'S', 'E', '1'};
constexpr uint32_t kFlagBiases = 1;
constexpr size_t kHeaderBytes = 16;

void PutU32(std::string* out, uint32_t v) {
  char b[4];
  for (int i = 0; i < 4; ++i) b[i] = static_cast<char>((v >> (8 * i)) & 0xff);
  out->append(b, 4);
}

uint32_t GetU32(const char* p) {
  uint32_t v = 0;
  for (int i = 0; i < 4; ++i)
    v |= static_cast<uint32_t>(static_cast<unsigned char>(p[i])) << (8 * i);
  return v;
}

// Floats are stored little-endian; x86-64 and aarch64 are little-endian, so
// a memcpy is the codec. The static_assert keeps a big-endian port honest.
static_assert(std::endian::native == std::endian::little, "model codec assumes little-endian");

std::string FloatsToBytes(const float* data, size_t n) {
  return std::string(reinterpret_cast<const char*>(data), n * sizeof(float));
}

std::string Sv(absl::string_view s) { return std::string(s.data(), s.size()); }

template <typename T>
bool ParseNumber(std::string_view text, T* out) {
  auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), *out);
  return ec == std::errc() && ptr == text.data() + text.size();
}

// params and metrics are stored in the meta hash as "param.<name>" and
// "metric.<name>" fields, so HGETALL shows them without a JSON parser.
constexpr std::string_view kParamPrefix = "param.";
constexpr std::string_view kMetricPrefix = "metric.";

std::vector<std::string> MetaToHashArgs(const std::string& key, const ModelMeta& m) {
  std::vector<std::string> args = {"HSET", key};
  auto add = [&](std::string field, std::string value) {
    args.push_back(std::move(field));
    args.push_back(std::move(value));
  };
  add("version", m.version);
  add("algorithm", ModelKindName(m.kind));
  add("factors", std::to_string(m.factors));
  if (m.kind == ModelKind::kEase) add("neighbours", std::to_string(m.neighbours));
  add("n_users", std::to_string(m.n_users));
  add("n_items", std::to_string(m.n_items));
  add("n_chunks", std::to_string(m.n_chunks));
  add("chunk_size", std::to_string(m.chunk_size));
  add("has_biases", m.has_biases ? "1" : "0");
  add("global_mean", absl::StrCat(m.global_mean));
  add("regularization", absl::StrCat(m.regularization));
  add("alpha", absl::StrCat(m.alpha));
  add("created_at_ms", std::to_string(m.created_at_ms));
  for (const auto& [k, v] : m.params) add(std::string(kParamPrefix) + k, v);
  for (const auto& [k, v] : m.metrics) add(std::string(kMetricPrefix) + k, absl::StrCat(v));
  return args;
}

}  // namespace

Slot SlotOf(ModelKind kind) {
  switch (kind) {
    case ModelKind::kEase:
      return Slot::kEase;
    case ModelKind::kRankerGbdt:
      return Slot::kRankerGbdt;
    case ModelKind::kRankerLogistic:
      return Slot::kRankerLogistic;
    case ModelKind::kImplicitAls:
    case ModelKind::kExplicitAls:
      break;
  }
  return Slot::kFactors;
}

std::string CurrentKey(const redis::Keyspace& keys, Slot slot) {
  switch (slot) {
    case Slot::kEase:
      return keys.ModelCurrentEase();
    case Slot::kRankerGbdt:
      return keys.ModelCurrentSlot("gbdt");
    case Slot::kRankerLogistic:
      return keys.ModelCurrentSlot("logistic");
    case Slot::kFactors:
      break;
  }
  return keys.ModelCurrent();
}

std::string UpdatesKey(const redis::Keyspace& keys, Slot slot) {
  switch (slot) {
    case Slot::kEase:
      return keys.ModelUpdatesEase();
    case Slot::kRankerGbdt:
      return keys.ModelUpdatesSlot("gbdt");
    case Slot::kRankerLogistic:
      return keys.ModelUpdatesSlot("logistic");
    case Slot::kFactors:
      break;
  }
  return keys.ModelUpdates();
}

std::string ModelKindName(ModelKind kind) {
  switch (kind) {
    case ModelKind::kExplicitAls:
      return "als-explicit";
    case ModelKind::kEase:
      return "ease";
    case ModelKind::kRankerGbdt:
      return "ranker-gbdt";
    case ModelKind::kRankerLogistic:
      return "ranker-logistic";
    case ModelKind::kImplicitAls:
      break;
  }
  return "als-implicit";
}

absl::StatusOr<ModelKind> ParseModelKind(std::string_view name) {
  if (name == "als-implicit") return ModelKind::kImplicitAls;
  if (name == "als-explicit") return ModelKind::kExplicitAls;
  if (name == "ease") return ModelKind::kEase;
  if (name == "ranker-gbdt") return ModelKind::kRankerGbdt;
  if (name == "ranker-logistic") return ModelKind::kRankerLogistic;
  return absl::InvalidArgumentError(
      absl::StrCat("unknown algorithm '", Sv(absl::string_view(name.data(), name.size())),
                   "' (known: als-implicit, als-explicit, ease, ranker-gbdt, ranker-logistic)"));
}

absl::StatusOr<ModelMeta> ParseModelMeta(const redis::Reply& reply) {
  if (reply.type != redis::Reply::Type::kArray || reply.elements.empty()) {
    return absl::NotFoundError("model meta is missing");
  }
  ModelMeta m;
  bool have_version = false;
  if (reply.elements.size() % 2 != 0)
    return absl::DataLossError("model meta is not field/value pairs");
  for (size_t i = 0; i + 1 < reply.elements.size(); i += 2) {
    const std::string& f = reply.elements[i].str;
    const std::string& v = reply.elements[i + 1].str;
    bool ok = true;
    if (f == "version") {
      m.version = v;
      have_version = true;
    } else if (f == "algorithm") {
      auto a = ParseModelKind(v);
      ok = a.ok();
      if (ok) m.kind = *a;
    } else if (f == "factors") {
      ok = ParseNumber(v, &m.factors);
    } else if (f == "neighbours") {
      ok = ParseNumber(v, &m.neighbours);
    } else if (f == "n_users") {
      ok = ParseNumber(v, &m.n_users);
    } else if (f == "n_items") {
      ok = ParseNumber(v, &m.n_items);
    } else if (f == "n_chunks") {
      ok = ParseNumber(v, &m.n_chunks);
    } else if (f == "chunk_size") {
      ok = ParseNumber(v, &m.chunk_size);
    } else if (f == "has_biases") {
      m.has_biases = v == "1";
    } else if (f == "global_mean") {
      ok = ParseNumber(v, &m.global_mean) && std::isfinite(m.global_mean);
    } else if (f == "regularization") {
      ok = ParseNumber(v, &m.regularization) && std::isfinite(m.regularization);
    } else if (f == "alpha") {
      ok = ParseNumber(v, &m.alpha) && std::isfinite(m.alpha);
    } else if (f == "created_at_ms") {
      ok = ParseNumber(v, &m.created_at_ms);
    } else if (f.starts_with(kParamPrefix)) {
      m.params[f.substr(kParamPrefix.size())] = v;
    } else if (f.starts_with(kMetricPrefix)) {
      double d = 0;
      ok = ParseNumber(v, &d);
      m.metrics[f.substr(kMetricPrefix.size())] = d;
    }
    if (!ok) return absl::DataLossError(absl::StrCat("model meta field ", f, " is garbled: ", v));
  }
  const bool shaped = IsRanker(m.kind)             ? true
                      : m.kind == ModelKind::kEase ? m.neighbours > 0
                                                   : m.factors > 0;
  if (!have_version || !shaped) return absl::DataLossError("model meta is incomplete");
  // The sizes a reader allocates and loops by: consistent with each other
  // (as Publish writes them) or the version is refused before any chunk.
  auto bad = [&](std::string_view what) {
    return absl::DataLossError(absl::StrCat("model meta of ", m.version, ": ", std::string(what)));
  };
  if (m.n_users < 0 || m.n_items < 0 || m.factors < 0 || m.neighbours < 0 || m.n_chunks < 0 ||
      m.chunk_size < 0) {
    return bad("a negative size");
  }
  if (IsRanker(m.kind)) {
    if (m.n_items != 0 || m.n_users != 0 || m.n_chunks != 0) return bad("a ranker with items");
  } else {
    if (m.n_items < 1 || m.n_items > kMaxModelItems) {
      return bad(absl::StrCat(m.n_items, " items (1-", kMaxModelItems, ")"));
    }
    if (m.chunk_size < 1 || m.n_chunks != (m.n_items + m.chunk_size - 1) / m.chunk_size) {
      return bad(absl::StrCat(m.n_chunks, " chunks of ", m.chunk_size, " do not hold ", m.n_items,
                              " items"));
    }
  }
  return m;
}

std::string EncodeNeighbourChunk(const std::vector<std::string>& ids, const int64_t* indptr,
                                 const int32_t* neighbour_ids, const float* weights) {
  const size_t n = ids.size();
  const size_t m = static_cast<size_t>(indptr[n] - indptr[0]);
  uint32_t top_n = 0;
  for (size_t j = 0; j < n; ++j)
    top_n = std::max(top_n, static_cast<uint32_t>(indptr[j + 1] - indptr[j]));
  std::string out;
  size_t id_bytes = 0;
  for (const auto& id : ids) id_bytes += 1 + id.size();
  out.reserve(kHeaderBytes + id_bytes + n * 4 + m * 8);
  out.append(kNeighbourMagic, 4);
  PutU32(&out, static_cast<uint32_t>(n));
  PutU32(&out, top_n);
  PutU32(&out, 0);
  for (const auto& id : ids) {
    out.push_back(static_cast<char>(static_cast<uint8_t>(std::min<size_t>(id.size(), 255))));
    out.append(id.data(), std::min<size_t>(id.size(), 255));
  }
  for (size_t j = 0; j < n; ++j) PutU32(&out, static_cast<uint32_t>(indptr[j + 1] - indptr[j]));
  out.append(reinterpret_cast<const char*>(neighbour_ids + indptr[0]), m * sizeof(int32_t));
  out += FloatsToBytes(weights + indptr[0], m);
  return out;
}

absl::Status DecodeNeighbourChunk(std::string_view bytes, int64_t n_items, ItemNeighbours* out) {
  if (bytes.size() < kHeaderBytes || std::memcmp(bytes.data(), kNeighbourMagic, 4) != 0) {
    return absl::DataLossError("ease chunk: bad magic or truncated header");
  }
  const uint32_t n = GetU32(bytes.data() + 4);
  const uint32_t top_n = GetU32(bytes.data() + 8);
  size_t pos = kHeaderBytes;
  // All or nothing: a chunk that fails leaves `out` as it was.
  const size_t first_id = out->item_ids.size();
  const bool had_indptr = !out->indptr.empty();
  const size_t first_ptr = out->indptr.size();
  const size_t base = out->ids.size();
  auto fail = [&](std::string what) {
    out->item_ids.resize(first_id);
    out->indptr.resize(had_indptr ? first_ptr : 0);
    out->ids.resize(base);
    out->weights.resize(base);
    return absl::DataLossError(absl::StrCat("ease chunk: ", what));
  };
  for (uint32_t i = 0; i < n; ++i) {
    if (pos >= bytes.size()) return fail("truncated ids");
    const size_t len = static_cast<unsigned char>(bytes[pos++]);
    if (pos + len > bytes.size()) return fail("truncated id");
    const std::string_view id = bytes.substr(pos, len);
    if (!ids::ValidateId("item_id", id).ok()) return fail(absl::StrCat("item ", i, "'s id is bad"));
    out->item_ids.emplace_back(id);
    pos += len;
  }
  if (bytes.size() - pos < static_cast<size_t>(n) * 4) return fail("truncated counts");
  if (out->indptr.empty()) out->indptr.push_back(0);
  uint64_t m = 0;
  for (uint32_t i = 0; i < n; ++i) {
    const uint32_t c = GetU32(bytes.data() + pos + 4 * i);
    if (c > top_n) return fail("an item has more weights than the header's top_n");
    m += c;
    out->indptr.push_back(out->indptr.back() + c);
  }
  pos += static_cast<size_t>(n) * 4;
  if (bytes.size() - pos != m * 8) {
    return fail(absl::StrCat(bytes.size() - pos, " bytes of weights, expected ", m * 8));
  }
  if (m > 0) {  // (an empty vector's data() may be null)
    out->ids.resize(base + m);
    out->weights.resize(base + m);
    std::memcpy(out->ids.data() + base, bytes.data() + pos, m * sizeof(int32_t));
    std::memcpy(out->weights.data() + base, bytes.data() + pos + m * sizeof(int32_t),
                m * sizeof(float));
  }
  for (size_t j = base; j < base + m; ++j) {
    if (const int32_t bad = out->ids[j]; bad < 0 || bad >= n_items) {
      return fail(
          absl::StrCat("neighbour index ", bad, " outside the model's ", n_items, " items"));
    }
    if (!std::isfinite(out->weights[j])) return fail("a weight is not finite");
  }
  return absl::OkStatus();
}

std::string EncodeItemChunk(const std::vector<std::string>& ids, const float* factors,
                            const float* biases, int32_t d) {
  std::string out;
  size_t id_bytes = 0;
  for (const auto& id : ids) id_bytes += 1 + id.size();
  out.reserve(kHeaderBytes + id_bytes + ids.size() * (d + 1) * sizeof(float));
  out.append(kMagic, 4);
  PutU32(&out, static_cast<uint32_t>(ids.size()));
  PutU32(&out, static_cast<uint32_t>(d));
  PutU32(&out, biases != nullptr ? kFlagBiases : 0);
  for (const auto& id : ids) {
    out.push_back(static_cast<char>(static_cast<uint8_t>(std::min<size_t>(id.size(), 255))));
    out.append(id.data(), std::min<size_t>(id.size(), 255));
  }
  out += FloatsToBytes(factors, ids.size() * static_cast<size_t>(d));
  if (biases != nullptr) out += FloatsToBytes(biases, ids.size());
  return out;
}

absl::Status DecodeItemChunk(std::string_view bytes, int32_t d, std::vector<std::string>* ids,
                             std::vector<float>* factors, std::vector<float>* biases) {
  if (d <= 0) return absl::InvalidArgumentError(absl::StrCat("item chunk: factors ", d, " <= 0"));
  if (bytes.size() < kHeaderBytes || std::memcmp(bytes.data(), kMagic, 4) != 0) {
    return absl::DataLossError("item chunk: bad magic or truncated header");
  }
  const uint32_t n = GetU32(bytes.data() + 4);
  const uint32_t chunk_d = GetU32(bytes.data() + 8);
  const uint32_t flags = GetU32(bytes.data() + 12);
  if (chunk_d != static_cast<uint32_t>(d)) {
    return absl::DataLossError(absl::StrCat("item chunk: ", chunk_d, " factors, meta says ", d));
  }
  if ((flags & ~kFlagBiases) != 0) return absl::DataLossError("item chunk: unknown flags");
  // All or nothing: a chunk that fails leaves the outputs as they were.
  const size_t first = ids->size();
  const size_t fo = factors->size();
  const size_t bo = biases->size();
  auto fail = [&](std::string what) {
    ids->resize(first);
    factors->resize(fo);
    biases->resize(bo);
    return absl::DataLossError(absl::StrCat("item chunk: ", what));
  };
  size_t pos = kHeaderBytes;
  // Each id takes at least one byte: a count past the bytes is corrupt.
  if (n > bytes.size() - pos) return fail(absl::StrCat(n, " items in ", bytes.size(), " bytes"));
  ids->reserve(first + n);
  for (uint32_t i = 0; i < n; ++i) {
    if (pos >= bytes.size()) return fail("truncated ids");
    const size_t len = static_cast<unsigned char>(bytes[pos++]);
    if (pos + len > bytes.size()) return fail("truncated id");
    const std::string_view id = bytes.substr(pos, len);
    if (!ids::ValidateId("item_id", id).ok()) return fail(absl::StrCat("item ", i, "'s id is bad"));
    ids->emplace_back(id);
    pos += len;
  }
  const size_t nf = static_cast<size_t>(n) * static_cast<size_t>(d);
  const bool with_biases = (flags & kFlagBiases) != 0;
  const size_t need = (nf + (with_biases ? n : 0)) * sizeof(float);
  if (bytes.size() - pos != need) {
    return fail(absl::StrCat(bytes.size() - pos, " bytes of floats, expected ", need));
  }
  // (No memcpy of nothing: an empty vector's data() may be null.)
  if (nf > 0) {
    factors->resize(fo + nf);
    std::memcpy(factors->data() + fo, bytes.data() + pos, nf * sizeof(float));
  }
  pos += nf * sizeof(float);
  if (with_biases && n > 0) {
    biases->resize(bo + n);
    std::memcpy(biases->data() + bo, bytes.data() + pos, n * sizeof(float));
  }
  auto finite = [](const float* p, size_t count) {
    return std::all_of(p, p + count, [](float x) { return std::isfinite(x); });
  };
  if (!finite(factors->data() + fo, nf) || !finite(biases->data() + bo, biases->size() - bo)) {
    return fail("a factor or bias is not finite");
  }
  return absl::OkStatus();
}

ItemFactorsAssembler::ItemFactorsAssembler(ModelMeta meta) { out_.meta = std::move(meta); }

absl::Status ItemFactorsAssembler::Add(std::string_view chunk) {
  const ModelMeta& m = out_.meta;
  if (m.kind == ModelKind::kEase || IsRanker(m.kind)) {
    return absl::FailedPreconditionError(
        absl::StrCat("model ", m.version, " is ", ModelKindName(m.kind), ", not a factors model"));
  }
  if (chunks_ >= m.n_chunks) {
    return absl::DataLossError(
        absl::StrCat("model ", m.version, ": more than ", m.n_chunks, " chunks"));
  }
  const size_t before = out_.item_ids.size();
  RECSTACK_RETURN_IF_ERROR(
      Annotate(DecodeItemChunk(chunk, m.factors, &out_.item_ids, &out_.factors, &out_.biases),
               absl::StrCat("model ", m.version, " chunk ", chunks_)));
  const int64_t got = static_cast<int64_t>(out_.item_ids.size() - before);
  const int64_t want = std::min<int64_t>(m.chunk_size, m.n_items - int64_t{chunks_} * m.chunk_size);
  const bool biases_ok = out_.biases.size() == (m.has_biases ? out_.item_ids.size() : 0);
  if (got != want || !biases_ok) {
    out_.item_ids.resize(before);
    out_.factors.resize(before * m.factors);
    out_.biases.resize(m.has_biases ? before : 0);
    return absl::DataLossError(
        absl::StrCat("model ", m.version, " chunk ", chunks_, ": ", got, " items",
                     biases_ok ? "" : (m.has_biases ? " without biases" : " with biases"),
                     ", meta says ", want, m.has_biases ? " with biases" : ""));
  }
  // The first chunk agrees with the meta: reserve for the whole model, up to
  // a bound (past it the vectors grow; a lying meta costs no more than that).
  if (chunks_++ == 0 && m.n_chunks > 1) {
    constexpr int64_t kMaxReserveFloats = int64_t{1} << 26;  // 256 MiB
    if (m.n_items * (m.factors + 1) <= kMaxReserveFloats) {
      out_.item_ids.reserve(m.n_items);
      out_.factors.reserve(m.n_items * m.factors);
      if (m.has_biases) out_.biases.reserve(m.n_items);
    }
  }
  return absl::OkStatus();
}

namespace {

// An assembler's last check: every chunk and every item the meta promised.
absl::Status CheckComplete(const ModelMeta& m, size_t items, int chunks) {
  if (chunks != m.n_chunks || static_cast<int64_t>(items) != m.n_items) {
    return absl::DataLossError(absl::StrCat("model ", m.version, ": ", items, " items in ", chunks,
                                            " chunks, meta says ", m.n_items, " in ", m.n_chunks));
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<ItemFactors> ItemFactorsAssembler::Finish() && {
  RECSTACK_RETURN_IF_ERROR(CheckComplete(out_.meta, out_.item_ids.size(), chunks_));
  return std::move(out_);
}

ItemNeighboursAssembler::ItemNeighboursAssembler(ModelMeta meta) { out_.meta = std::move(meta); }

absl::Status ItemNeighboursAssembler::Add(std::string_view chunk) {
  const ModelMeta& m = out_.meta;
  if (m.kind != ModelKind::kEase) {
    return absl::FailedPreconditionError(
        absl::StrCat("model ", m.version, " is ", ModelKindName(m.kind), ", not ease"));
  }
  if (chunks_ >= m.n_chunks) {
    return absl::DataLossError(
        absl::StrCat("model ", m.version, ": more than ", m.n_chunks, " chunks"));
  }
  const size_t before = out_.item_ids.size();
  const size_t ptrs = out_.indptr.size(), nbrs = out_.ids.size();
  RECSTACK_RETURN_IF_ERROR(Annotate(DecodeNeighbourChunk(chunk, m.n_items, &out_),
                                    absl::StrCat("model ", m.version, " chunk ", chunks_)));
  const int64_t got = static_cast<int64_t>(out_.item_ids.size() - before);
  const int64_t want = std::min<int64_t>(m.chunk_size, m.n_items - int64_t{chunks_} * m.chunk_size);
  int64_t most = 0;
  for (size_t i = ptrs == 0 ? 0 : ptrs - 1; i + 1 < out_.indptr.size(); ++i)
    most = std::max(most, out_.indptr[i + 1] - out_.indptr[i]);
  if (got != want || most > m.neighbours) {
    out_.item_ids.resize(before);
    out_.indptr.resize(ptrs);
    out_.ids.resize(nbrs);
    out_.weights.resize(nbrs);
    return absl::DataLossError(absl::StrCat("model ", m.version, " chunk ", chunks_, ": ", got,
                                            " items with up to ", most, " weights, meta says ",
                                            want, " with up to ", m.neighbours));
  }
  ++chunks_;
  return absl::OkStatus();
}

absl::StatusOr<ItemNeighbours> ItemNeighboursAssembler::Finish() && {
  RECSTACK_RETURN_IF_ERROR(CheckComplete(out_.meta, out_.item_ids.size(), chunks_));
  return std::move(out_);
}

ModelStore::ModelStore(redis::Pool& pool, redis::Keyspace keyspace)
    : pool_(pool), keys_(std::move(keyspace)) {}

absl::StatusOr<ModelMeta> ModelStore::Publish(const ModelData& model,
                                              const PublishOptions& options) {
  const ModelMeta& in = model.meta;
  const bool ease = in.kind == ModelKind::kEase;
  const bool ranker = IsRanker(in.kind);
  const int32_t d = ease || ranker ? 0 : in.factors;
  if (!ease && !ranker && d <= 0) return absl::InvalidArgumentError("publish: factors must be > 0");
  if (options.chunk_size <= 0 || options.keep_versions < 1 || options.pipeline_batch <= 0) {
    return absl::InvalidArgumentError(
        "publish: chunk_size, keep_versions, pipeline_batch must be > 0");
  }
  const size_t nu = model.user_ids.size();
  const size_t ni = model.item_ids.size();
  if (ranker) {
    if (nu != 0 || ni != 0 || model.blob.empty()) {
      return absl::InvalidArgumentError("publish: a ranker model is one blob, no users or items");
    }
  } else if (ni == 0) {
    return absl::InvalidArgumentError("publish: the model has no items");
  } else if (ease) {
    if (nu != 0 || model.neighbour_indptr.size() != ni + 1 || model.neighbour_indptr[0] != 0 ||
        model.neighbour_ids.size() != static_cast<size_t>(model.neighbour_indptr[ni]) ||
        model.neighbour_weights.size() != model.neighbour_ids.size() || in.neighbours <= 0) {
      return absl::InvalidArgumentError(
          "publish: an ease model needs no users, neighbours > 0 and indptr (items + 1) matching "
          "its ids and weights");
    }
    for (size_t i = 0; i < ni; ++i) {
      if (model.neighbour_indptr[i + 1] < model.neighbour_indptr[i] ||
          model.neighbour_indptr[i + 1] - model.neighbour_indptr[i] > in.neighbours) {
        return absl::InvalidArgumentError(absl::StrCat(
            "publish: item ", i, " has more than neighbours = ", in.neighbours, " weights"));
      }
    }
    for (int32_t id : model.neighbour_ids) {
      if (id < 0 || static_cast<size_t>(id) >= ni) {
        return absl::InvalidArgumentError(
            absl::StrCat("publish: neighbour index ", id, " out of range"));
      }
    }
  } else if (model.user_factors.size() != nu * d || model.item_factors.size() != ni * d) {
    return absl::InvalidArgumentError("publish: factor arrays do not match ids * factors");
  }
  const bool biases = in.has_biases;
  if (biases && (model.user_biases.size() != nu || model.item_biases.size() != ni)) {
    return absl::InvalidArgumentError("publish: bias arrays do not match the ids");
  }
  for (const auto& id : model.item_ids) {
    if (absl::Status st = ids::ValidateId("item_id", id); !st.ok()) return Annotate(st, "publish");
  }

  RECSTACK_ASSIGN_OR_RETURN(redis::Reply seq,
                            pool_.Command({"INCR", Sv(keys_.prefix()) + "model:seq"}));
  ModelMeta meta = in;
  meta.version = absl::StrCat("v", seq.integer);
  meta.n_users = static_cast<int64_t>(nu);
  meta.n_items = static_cast<int64_t>(ni);
  meta.chunk_size = options.chunk_size;
  meta.n_chunks = static_cast<int32_t>((ni + options.chunk_size - 1) / options.chunk_size);
  if (meta.created_at_ms == 0) {
    RECSTACK_ASSIGN_OR_RETURN(redis::Reply t, pool_.Command({"TIME"}));
    if (t.elements.size() == 2) {
      int64_t s = 0, us = 0;
      ParseNumber(t.elements[0].str, &s);
      ParseNumber(t.elements[1].str, &us);
      meta.created_at_ms = s * 1000 + us / 1000;
    }
  }

  std::vector<std::vector<std::string>> batch;
  auto flush = [&]() -> absl::Status {
    if (batch.empty()) return absl::OkStatus();
    RECSTACK_ASSIGN_OR_RETURN(auto replies, pool_.Pipeline(batch));
    for (const auto& r : replies) {
      if (r.is_error()) return absl::InternalError(absl::StrCat("publish: redis said ", r.str));
    }
    batch.clear();
    return absl::OkStatus();
  };
  auto push = [&](std::vector<std::string> cmd) -> absl::Status {
    batch.push_back(std::move(cmd));
    if (static_cast<int32_t>(batch.size()) >= options.pipeline_batch) return flush();
    return absl::OkStatus();
  };

  const std::string& v = meta.version;
  for (int32_t c = 0; c < meta.n_chunks; ++c) {
    const size_t begin = static_cast<size_t>(c) * options.chunk_size;
    const size_t end = std::min(ni, begin + options.chunk_size);
    std::vector<std::string> ids(model.item_ids.begin() + begin, model.item_ids.begin() + end);
    RECSTACK_RETURN_IF_ERROR(push(
        {"SET", keys_.ModelItems(v, c),
         ease ? EncodeNeighbourChunk(ids, model.neighbour_indptr.data() + begin,
                                     model.neighbour_ids.data(), model.neighbour_weights.data())
              : EncodeItemChunk(ids, model.item_factors.data() + begin * d,
                                biases ? model.item_biases.data() + begin : nullptr, d)}));
  }
  if (ranker) RECSTACK_RETURN_IF_ERROR(push({"SET", keys_.ModelBlob(v), model.blob}));
  const size_t user_floats = d + (biases ? 1 : 0);
  std::vector<float> row(user_floats);
  for (size_t u = 0; u < nu; ++u) {
    std::memcpy(row.data(), model.user_factors.data() + u * d, d * sizeof(float));
    if (biases) row[d] = model.user_biases[u];
    RECSTACK_RETURN_IF_ERROR(push(
        {"SET", keys_.ModelUser(v, model.user_ids[u]), FloatsToBytes(row.data(), user_floats)}));
  }
  // Meta after every chunk and user: a reader that finds meta finds all of it.
  RECSTACK_RETURN_IF_ERROR(push(MetaToHashArgs(keys_.ModelMeta(v), meta)));
  RECSTACK_RETURN_IF_ERROR(
      push({"ZADD", keys_.ModelVersions(), std::to_string(meta.created_at_ms), v}));
  RECSTACK_RETURN_IF_ERROR(flush());

  const std::string current_key = CurrentKey(keys_, SlotOf(in.kind));
  const std::string updates = UpdatesKey(keys_, SlotOf(in.kind));
  if (options.make_current) {
    RECSTACK_ASSIGN_OR_RETURN(auto replies,
                              pool_.Pipeline({{"SET", current_key, v}, {"PUBLISH", updates, v}}));
    for (const auto& r : replies) {
      if (r.is_error()) return absl::InternalError(absl::StrCat("publish: redis said ", r.str));
    }
  }

  // Retention: keep the newest `keep_versions` of this version's slot, never
  // a current one.
  RECSTACK_ASSIGN_OR_RETURN(auto versions, ListVersions());
  const Slot slot = SlotOf(in.kind);
  auto current = CurrentVersion(slot);
  int32_t kept = 0;
  for (const ModelMeta& old : versions) {
    if (SlotOf(old.kind) != slot) continue;
    if (++kept <= options.keep_versions) continue;
    if (current.ok() && old.version == *current) continue;
    RECSTACK_RETURN_IF_ERROR(DeleteVersion(old.version));
  }
  return meta;
}

absl::Status ModelStore::Promote(std::string_view version) {
  RECSTACK_ASSIGN_OR_RETURN(ModelMeta meta, GetMeta(version));
  const Slot slot = SlotOf(meta.kind);
  RECSTACK_ASSIGN_OR_RETURN(auto replies,
                            pool_.Pipeline({{"SET", CurrentKey(keys_, slot), meta.version},
                                            {"PUBLISH", UpdatesKey(keys_, slot), meta.version}}));
  for (const auto& r : replies) {
    if (r.is_error()) return absl::InternalError(absl::StrCat("promote: redis said ", r.str));
  }
  return absl::OkStatus();
}

absl::StatusOr<std::string> ModelStore::CurrentVersion(Slot slot) {
  const std::string key = CurrentKey(keys_, slot);
  RECSTACK_ASSIGN_OR_RETURN(redis::Reply r, pool_.Command({"GET", key}));
  if (r.is_nil()) return absl::NotFoundError("no model has been published yet");
  return r.str;
}

absl::StatusOr<ModelMeta> ModelStore::GetMeta(std::string_view version) {
  const std::string key = keys_.ModelMeta(version);
  RECSTACK_ASSIGN_OR_RETURN(redis::Reply r, pool_.Command({"HGETALL", key}));
  if (r.type == redis::Reply::Type::kArray && r.elements.empty()) {
    return absl::NotFoundError(absl::StrCat(
        "model version ", Sv(absl::string_view(version.data(), version.size())), " is not kept"));
  }
  return ParseModelMeta(r);
}

absl::StatusOr<std::vector<ModelMeta>> ModelStore::ListVersions() {
  const std::string key = keys_.ModelVersions();
  RECSTACK_ASSIGN_OR_RETURN(redis::Reply r, pool_.Command({"ZREVRANGE", key, "0", "-1"}));
  std::vector<ModelMeta> out;
  for (const auto& e : r.elements) {
    auto meta = GetMeta(e.str);
    if (meta.ok()) {
      out.push_back(*std::move(meta));
    } else if (!absl::IsNotFound(meta.status())) {
      return meta.status();
    }
  }
  return out;
}

namespace {

// Reads every chunk of `meta`'s version, a few per round trip (each is
// ~1 MB), and hands each to `decode` in order. Retention deletes meta before
// chunks: a missing chunk of a version whose meta is gone (`meta_gone`)
// means it was deleted while we read it.
absl::Status ReadChunks(redis::Pool& pool, const redis::Keyspace& keys, const ModelMeta& meta,
                        const std::function<bool()>& meta_gone,
                        const std::function<absl::Status(const std::string&)>& decode) {
  constexpr int kChunksPerRoundTrip = 8;
  std::vector<std::vector<std::string>> cmds;
  for (int64_t c = 0; c < meta.n_chunks; c += kChunksPerRoundTrip) {
    cmds.clear();
    for (int64_t j = c; j < std::min<int64_t>(meta.n_chunks, c + kChunksPerRoundTrip); ++j) {
      cmds.push_back({"GET", keys.ModelItems(meta.version, static_cast<int>(j))});
    }
    RECSTACK_ASSIGN_OR_RETURN(auto replies, pool.Pipeline(cmds));
    for (size_t j = 0; j < replies.size(); ++j) {
      if (replies[j].type != redis::Reply::Type::kString) {
        if (meta_gone()) {
          return absl::NotFoundError(
              absl::StrCat("model ", meta.version, " was deleted while loading"));
        }
        return absl::DataLossError(
            absl::StrCat("model ", meta.version, ": chunk ", c + j, " is missing"));
      }
      RECSTACK_RETURN_IF_ERROR(decode(replies[j].str));
    }
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<ItemFactors> ModelStore::LoadItems(std::string_view version) {
  RECSTACK_ASSIGN_OR_RETURN(ModelMeta meta, GetMeta(version));
  if (meta.kind == ModelKind::kEase || IsRanker(meta.kind)) {
    return absl::FailedPreconditionError(absl::StrCat(
        "model ", meta.version, " is ", ModelKindName(meta.kind), ", not a factors model"));
  }
  ItemFactorsAssembler items(meta);
  RECSTACK_RETURN_IF_ERROR(ReadChunks(
      pool_, keys_, meta, [&] { return absl::IsNotFound(GetMeta(meta.version).status()); },
      [&](const std::string& bytes) { return items.Add(bytes); }));
  return std::move(items).Finish();
}

absl::StatusOr<ItemNeighbours> ModelStore::LoadNeighbours(std::string_view version) {
  RECSTACK_ASSIGN_OR_RETURN(ModelMeta meta, GetMeta(version));
  if (meta.kind != ModelKind::kEase) {
    return absl::FailedPreconditionError(
        absl::StrCat("model ", meta.version, " is ", ModelKindName(meta.kind), ", not ease"));
  }
  ItemNeighboursAssembler neighbours(meta);
  RECSTACK_RETURN_IF_ERROR(ReadChunks(
      pool_, keys_, meta, [&] { return absl::IsNotFound(GetMeta(meta.version).status()); },
      [&](const std::string& bytes) { return neighbours.Add(bytes); }));
  return std::move(neighbours).Finish();
}

absl::StatusOr<std::string> ModelStore::LoadBlob(std::string_view version) {
  RECSTACK_ASSIGN_OR_RETURN(ModelMeta meta, GetMeta(version));
  if (!IsRanker(meta.kind)) {
    return absl::FailedPreconditionError(
        absl::StrCat("model ", meta.version, " is ", ModelKindName(meta.kind), ", not a ranker"));
  }
  RECSTACK_ASSIGN_OR_RETURN(redis::Reply r, pool_.Command({"GET", keys_.ModelBlob(meta.version)}));
  if (r.is_nil()) {
    return absl::NotFoundError(absl::StrCat("model ", meta.version, ": its model bytes are gone"));
  }
  return r.str;
}

absl::StatusOr<std::optional<std::vector<float>>> ModelStore::GetUserVector(
    std::string_view version, std::string_view user) {
  const std::string key = keys_.ModelUser(version, user);
  RECSTACK_ASSIGN_OR_RETURN(redis::Reply r, pool_.Command({"GET", key}));
  if (r.is_nil()) return std::optional<std::vector<float>>();
  if (r.type != redis::Reply::Type::kString) return absl::DataLossError("user vector is garbled");
  RECSTACK_ASSIGN_OR_RETURN(std::vector<float> v, DecodeUserVector(r.str));
  return std::optional<std::vector<float>>(std::move(v));
}

absl::StatusOr<std::vector<float>> DecodeUserVector(std::string_view bytes) {
  // Publish writes factors (> 0) floats: an empty row is as garbled as a
  // ragged one (and an empty vector has no data() to copy into).
  if (bytes.empty() || bytes.size() % sizeof(float) != 0) {
    return absl::DataLossError("user vector is garbled");
  }
  std::vector<float> v(bytes.size() / sizeof(float));
  std::memcpy(v.data(), bytes.data(), bytes.size());
  if (!std::all_of(v.begin(), v.end(), [](float x) { return std::isfinite(x); })) {
    return absl::DataLossError("user vector has a value that is not finite");
  }
  return v;
}

absl::Status ModelStore::DeleteVersion(std::string_view version) {
  for (Slot slot : kAllSlots) {
    auto current = CurrentVersion(slot);
    if (current.ok() && *current == version) {
      return absl::FailedPreconditionError("refusing to delete the current model version");
    }
  }
  const std::string v(version);
  // Meta first: once it is gone no reader starts on this version.
  auto meta = GetMeta(v);
  std::vector<std::vector<std::string>> cmds = {{"DEL", keys_.ModelMeta(v)},
                                                {"ZREM", keys_.ModelVersions(), v},
                                                {"UNLINK", keys_.ModelBlob(v)}};
  if (meta.ok()) {
    for (int32_t c = 0; c < meta->n_chunks; ++c) cmds.push_back({"UNLINK", keys_.ModelItems(v, c)});
  }
  RECSTACK_ASSIGN_OR_RETURN(auto replies, pool_.Pipeline(cmds));
  // User keys: SCAN by pattern (ids may hold glob characters, so escape them).
  std::string pattern = keys_.ModelUser(v, "");
  std::string escaped;
  for (char ch : pattern) {
    if (ch == '*' || ch == '?' || ch == '[' || ch == ']' || ch == '\\') escaped.push_back('\\');
    escaped.push_back(ch);
  }
  escaped.push_back('*');
  // One UNLINK per key: on a cluster the keys of a batch are in many slots.
  return pool_.Scan(escaped, 1000, [&](std::vector<std::string>& keys) -> absl::Status {
    std::vector<std::vector<std::string>> del;
    del.reserve(keys.size());
    for (auto& k : keys) del.push_back({"UNLINK", std::move(k)});
    RECSTACK_ASSIGN_OR_RETURN(auto replies, pool_.Pipeline(del));
    for (const auto& r : replies) {
      if (r.is_error()) return absl::UnavailableError(absl::StrCat("redis: ", r.str));
    }
    return absl::OkStatus();
  });
}

redis::Options ModelLoadOptions(redis::Options redis) {
  redis.command_timeout = std::chrono::milliseconds(30000);
  return redis;
}

}  // namespace recstack::model
