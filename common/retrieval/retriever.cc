#include "common/retrieval/retriever.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <set>
#include <span>
#include <unordered_set>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/str_cat.h"
#include "common/events/ids.h"
#include "common/log/log.h"
#include "common/math/kernels.h"
#include "common/mf/fold_in.h"
#include "common/redis/popularity.h"
#include "common/retrieval/ease_source.h"
#include "common/status/status.h"

namespace recstack::retrieval {
namespace {

// An item-to-item candidate: model row t.id, found as a neighbour of row
// `seed`.
Candidate Item2ItemCandidate(const ServingModel& m, const math::ScoredId& t, int32_t seed) {
  return {m.item_ids[t.id], t.score, "item2item", m.item_ids[seed]};
}

int64_t Micros(std::chrono::steady_clock::time_point t) {
  return std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::steady_clock::now() - t)
      .count();
}

constexpr std::string_view kSourceNames[kNumSources] = {"mf", "item2item", "trending", "ease"};
constexpr int Idx(Source s) { return static_cast<int>(s); }

}  // namespace

std::vector<float> FoldIn(const ServingModel& m, const std::vector<int32_t>& items) {
  return mf::FoldInUser(m.factors, m.gram_plus_reg.data(), items, m.meta.regularization,
                        m.meta.alpha);
}

Retriever::Retriever(const ServingModels& models, RetrievalSource& source, const Clock& clock,
                     RetrieverOptions options)
    : holder_(models), source_(source), clock_(clock), options_(options),
      cache_(options.user_cache_size), neighbours_(options.neighbour_cache_size),
      trending_([this] { return source_.TopTrending(clock_.NowMs(), options_.trending_keep); },
                options.trending_refresh) {}

void Retriever::Start() {
  absl::Status st = trending_.Start();
  if (!st.ok()) log::Warn("trending not loaded yet", {{"error", st.message()}});
}

absl::StatusOr<std::vector<Candidate>> Retriever::Trending(int k) {
  auto list = trending_.Get();
  if (list == nullptr) {
    return absl::UnavailableError(
        absl::StrCat("trending not loaded yet: ", trending_.last_status().message()));
  }
  std::vector<Candidate> out;
  out.reserve(std::min<size_t>(k, list->size()));
  for (const auto& [item, score] : *list) {
    if (static_cast<int>(out.size()) >= k) break;
    out.push_back({item, score, "trending", ""});
  }
  return out;
}

std::vector<Candidate> Retriever::Neighbours(const ServingModel& m, int32_t item, int k,
                                             const std::function<bool(int32_t)>& skip) const {
  const auto lists = NeighboursOfEach(m, {item}, k, skip);
  std::vector<Candidate> out;
  for (const auto& t : lists[0]) out.push_back(Item2ItemCandidate(m, t, item));
  return out;
}

std::vector<std::vector<math::ScoredId>> Retriever::NeighboursOfEach(
    const ServingModel& m, const std::vector<int32_t>& items, int k,
    const std::function<bool(int32_t)>& skip) const {
  const int64_t n = m.factors.rows(), d = m.factors.cols(), s = static_cast<int64_t>(items.size());
  std::vector<std::vector<math::ScoredId>> out(s);
  // The first k entries of `list` that the request's filter keeps. Exact
  // when k of them survive, or when the list holds every other item.
  auto emit = [&](int64_t j, std::span<const math::ScoredId> list) {
    out[j].clear();
    for (const auto& t : list) {
      if (static_cast<int>(out[j].size()) >= k) break;
      if (skip && skip(t.id)) continue;
      out[j].push_back(t);
    }
    return static_cast<int>(out[j].size()) >= k || static_cast<int64_t>(list.size()) >= n - 1;
  };
  auto key = [&](int32_t item) { return absl::StrCat(m.meta.version, "\x1f", item); };

  // Once the model's neighbour table is built, a seed is a lookup and
  // nothing else: its candidates are the survivors of the filter among its
  // table->per_item best neighbours, fewer than k when the filter removes
  // more (the price of no scan on the request path). Until then popular
  // seeds repeat (most users' recent items are popular items) and their
  // unfiltered lists come from the cache.
  const NeighbourTable* table = m.neighbours.load();
  std::vector<int64_t> misses;
  for (int64_t j = 0; j < s; ++j) {
    if (table != nullptr && k <= table->per_item) {
      // The row in place (no copy); padding (id -1) only at its end.
      const math::ScoredId* first =
          table->entries.data() + static_cast<int64_t>(items[j]) * table->per_item;
      size_t len = table->per_item;
      while (len > 0 && first[len - 1].id < 0) --len;
      emit(j, std::span<const math::ScoredId>(first, len));
      continue;
    }
    auto hit = neighbours_.Get(key(items[j]));
    if (!hit.has_value() || !emit(j, **hit)) misses.push_back(j);
  }
  if (misses.empty()) return out;

  // Cosine: dot products against each seed's unit vector, divided by the
  // candidates' norms. A cache-sized block of rows at a time, every seed
  // over it: the matrix is read from memory once, not once per seed.
  const int64_t t = static_cast<int64_t>(misses.size());
  std::vector<float> q(t * d);
  for (int64_t j = 0; j < t; ++j) {
    const int32_t item = items[misses[j]];
    const float qn = m.norms[item] > 0 ? m.norms[item] : 1.0f;
    const float* row = m.factors.row(item);
    for (int64_t c = 0; c < d; ++c) q[j * d + c] = row[c] / qn;
  }
  std::vector<float> scores(t * n);
  constexpr int64_t kBlockRows = 512;  // 128 KiB of 64-factor rows: stays in L2
  for (int64_t b = 0; b < n; b += kBlockRows) {
    const int64_t rows = std::min(kBlockRows, n - b);
    for (int64_t j = 0; j < t; ++j) {
      math::RowDots(m.factors.row(b), rows, d, q.data() + j * d, scores.data() + j * n + b);
    }
  }
  for (int64_t j = 0; j < t; ++j) {
    float* sc = scores.data() + j * n;
    for (int64_t i = 0; i < n; ++i) sc[i] = m.norms[i] > 0 ? sc[i] / m.norms[i] : 0.0f;
    const int32_t item = items[misses[j]];
    auto list = std::make_shared<const std::vector<math::ScoredId>>(
        math::TopK(sc, n, std::max(k, kCachedNeighbours), [&](int32_t id) { return id == item; }));
    neighbours_.Put(key(item), list);
    if (emit(misses[j], *list)) continue;
    // The filter removed too many of the cached length: rank everything.
    auto top = math::TopK(sc, n, k, [&](int32_t id) { return id == item || (skip && skip(id)); });
    out[misses[j]] = std::move(top);
  }
  return out;
}

std::string_view SourceName(Source source) { return kSourceNames[Idx(source)]; }

absl::StatusOr<Source> ParseSource(std::string_view name) {
  for (int i = 0; i < kNumSources; ++i) {
    if (name == kSourceNames[i]) return static_cast<Source>(i);
  }
  return absl::InvalidArgumentError(absl::StrCat("unknown source '", std::string(name),
                                                 "' (known: mf, item2item, trending, ease)"));
}

struct Retriever::Context {
  std::shared_ptr<const ServingModel> m;       // null before the first model
  std::shared_ptr<const EaseServingModel> em;  // null without an EASE model
  std::vector<std::string> recent;             // the request's, then history, newest first
  std::unordered_set<std::string> blocked;     // recent + the request's exclude list
  // The same by model index (when m), a bit per item: 12.5 KB for 100k
  // items instead of a byte each (100 KB allocated and cleared per request).
  std::vector<uint64_t> blocked_bits;
  bool Skip(int32_t id) const { return (blocked_bits[id >> 6] >> (id & 63)) & 1; }
};

absl::StatusOr<std::array<bool, kNumSources>> Retriever::ChooseSources(const RetrieveQuery& q,
                                                                       const Context& c) const {
  // All sources by default; ease only once it has a model.
  const bool all = q.sources.empty();
  std::array<bool, kNumSources> want = {all, all, all, all && c.em != nullptr};
  for (const auto& s : q.sources) {
    RECSTACK_ASSIGN_OR_RETURN(Source src, ParseSource(s));
    want[Idx(src)] = true;
  }
  // An EASE-only stack answers a default request from ease (and trending).
  if (c.m == nullptr && all && c.em != nullptr)
    want[Idx(Source::kMf)] = want[Idx(Source::kItem2Item)] = false;
  // Before the first model only trending can answer, and only when that is
  // all the request asked for.
  if (c.m == nullptr && (want[Idx(Source::kMf)] || want[Idx(Source::kItem2Item)])) {
    return absl::FailedPreconditionError(
        "no model has been published yet (sources=trending still works)");
  }
  return want;
}

// History: what to filter, what to fold in, where item2item starts.
absl::Status Retriever::LoadHistory(const RetrieveQuery& q, Context& c, RetrieveResult& res) {
  const bool handed_on = q.history_items > 0;
  RECSTACK_ASSIGN_OR_RETURN(
      events::UserHistory hist,
      source_.History(q.user_id, std::max(options_.history_for_seen, q.history_items), handed_on));
  if (handed_on) {
    events::UserHistory& out = res.history.emplace();
    out.length = hist.length;
    const size_t n = std::min(hist.items.size(), static_cast<size_t>(q.history_items));
    out.items.assign(hist.items.begin(), hist.items.begin() + n);
  }
  c.recent = q.recent;
  for (auto& item : hist.items) c.recent.push_back(std::move(item));
  c.blocked.insert(c.recent.begin(), c.recent.end());
  c.blocked.insert(q.exclude.begin(), q.exclude.end());
  if (c.m != nullptr) {
    c.blocked_bits.assign((c.m->item_ids.size() + 63) / 64, 0);
    // All at once: the index prefetches the batch's slots (up to
    // history_for_seen ids, the bulk of retrieval's lookups).
    std::vector<std::string_view> ids(c.blocked.begin(), c.blocked.end());
    std::vector<int32_t> rows;
    c.m->item_index.FindAll(ids, &rows);
    for (int32_t row : rows) {
      if (row >= 0) c.blocked_bits[row >> 6] |= uint64_t{1} << (row & 63);
    }
  }
  return absl::OkStatus();
}

// The user's vector (stored, cached, or folded in from history) against
// the item index.
Retriever::SourceOutput Retriever::FromMf(const RetrieveQuery& q, const Context& c,
                                          RetrieveResult& res) {
  SourceOutput out;
  const ServingModel& m = *c.m;
  const std::string cache_key = absl::StrCat(m.meta.version, "\x1f", q.user_id);
  std::optional<std::vector<float>> vec = cache_.Get(cache_key);
  if (!vec.has_value()) {
    auto stored = source_.UserVector(m.meta.version, q.user_id);
    if (!stored.ok()) {
      out.report.error = std::string(stored.status().message());
    } else {
      vec = stored->value_or(std::vector<float>{});
      cache_.Put(cache_key, *vec);
    }
  }
  if (vec.has_value() && !vec->empty()) {
    res.user_vector = "model";
  } else if (out.report.error.empty()) {
    // Unknown to the model: fold in from history, newest first.
    std::vector<int32_t> items;
    for (const auto& id : c.recent) {
      if (static_cast<int>(items.size()) >= options_.history_for_fold_in) break;
      const int32_t row = m.item_index.Find(id);
      if (row >= 0) items.push_back(row);
    }
    if (!items.empty()) {
      vec = FoldIn(m, items);
      res.user_vector = "folded_in";
    }
  }
  if (vec.has_value() && static_cast<int>(vec->size()) >= m.meta.factors &&
      res.user_vector != "none") {
    auto top = m.index().Search(vec->data(), q.k, [&c](int32_t id) { return c.Skip(id); });
    for (const auto& s : top) out.candidates.push_back({m.item_ids[s.id], s.score, "mf", ""});
  }
  return out;
}

// Neighbours of the most recent items, round-robin over the seeds so the
// newest item leads but all show.
Retriever::SourceOutput Retriever::FromItem2Item(const RetrieveQuery& q, const Context& c) const {
  SourceOutput out;
  const ServingModel& m = *c.m;
  std::vector<int32_t> seeds;
  for (const auto& id : c.recent) {
    if (static_cast<int>(seeds.size()) >= options_.item2item_seeds) break;
    const int32_t row = m.item_index.Find(id);
    if (row >= 0) seeds.push_back(row);
  }
  if (seeds.empty()) return out;
  const auto lists = NeighboursOfEach(m, seeds, q.k, [&c](int32_t id) { return c.Skip(id); });
  // Round-robin on the model's rows, and only the first q.k distinct ones
  // become candidates (the merge takes at most q.k of a source): the
  // strings of the other (seeds - 1) x q.k are never made.
  absl::flat_hash_set<int32_t> seen;
  for (size_t r = 0; r < static_cast<size_t>(q.k); ++r) {
    for (size_t l = 0; l < lists.size(); ++l) {
      if (static_cast<int>(out.candidates.size()) >= q.k) return out;
      if (r >= lists[l].size() || !seen.insert(lists[l][r].id).second) continue;
      out.candidates.push_back(Item2ItemCandidate(m, lists[l][r], seeds[l]));
    }
  }
  return out;
}

// The in-memory trending list, without blocked items.
Retriever::SourceOutput Retriever::FromTrending(const RetrieveQuery& q, const Context& c) {
  SourceOutput out;
  auto tr = Trending(q.k + static_cast<int>(c.blocked.size()));
  if (!tr.ok()) {
    out.report.error = std::string(tr.status().message());
    return out;
  }
  for (auto& cand : *tr) {
    if (!c.blocked.count(cand.item_id)) out.candidates.push_back(std::move(cand));
    if (static_cast<int>(out.candidates.size()) >= q.k) break;
  }
  return out;
}

// EASE rows of the history (ease_source.h).
Retriever::SourceOutput Retriever::FromEase(const RetrieveQuery& q, const Context& c) const {
  SourceOutput out;
  if (c.em == nullptr) {
    out.report.error = "no ease model has been published";
  } else {
    out.candidates = EaseRecommend(*c.em, c.recent, c.blocked, q.k, options_.ease_history);
  }
  return out;
}

void Retriever::Merge(std::array<std::vector<Candidate>, kNumSources>& per_source, int k,
                      RetrieveResult& res) const {
  const double shares[kNumSources] = {options_.mf_share, options_.item2item_share,
                                      options_.trending_share, options_.ease_share};
  std::unordered_set<std::string> taken;
  std::array<size_t, kNumSources> pos{};
  std::array<int, kNumSources> kept{};
  auto take_from = [&](int s, int limit) {
    while (kept[s] < limit && pos[s] < per_source[s].size() &&
           static_cast<int>(res.candidates.size()) < k) {
      Candidate& c = per_source[s][pos[s]++];
      if (taken.insert(c.item_id).second) {
        res.candidates.push_back(c);
        kept[s]++;
      }
    }
  };
  for (int s = 0; s < kNumSources; ++s) take_from(s, static_cast<int>(std::ceil(shares[s] * k)));
  for (int s = 0; s < kNumSources; ++s) take_from(s, k);
  for (auto& rep : res.sources) {
    if (auto src = ParseSource(rep.source); src.ok()) rep.kept = kept[Idx(*src)];
  }
}

absl::StatusOr<RetrieveResult> Retriever::Retrieve(const RetrieveQuery& q) {
  const auto begin = std::chrono::steady_clock::now();
  RECSTACK_RETURN_IF_ERROR(ids::ValidateId("user_id", q.user_id));
  if (q.k <= 0 || q.k > kMaxK) {
    return absl::InvalidArgumentError(absl::StrCat("k must be 1-", kMaxK, ", got ", q.k));
  }
  Context c;
  c.em = ease_ != nullptr ? ease_->Current() : nullptr;
  c.m = holder_.Current();
  for (const auto& s : q.sources) RECSTACK_RETURN_IF_ERROR(ParseSource(s).status());
  for (const auto& e : q.exclude) RECSTACK_RETURN_IF_ERROR(ids::ValidateId("exclude item", e));
  for (const auto& e : q.recent) RECSTACK_RETURN_IF_ERROR(ids::ValidateId("recent item", e));
  if (q.history_items < 0 || q.history_items > kMaxHistoryItems) {
    return absl::InvalidArgumentError(
        absl::StrCat("history_items must be 0-", kMaxHistoryItems, ", got ", q.history_items));
  }
  RECSTACK_ASSIGN_OR_RETURN(const auto want, ChooseSources(q, c));
  RetrieveResult res;
  if (c.m != nullptr) {
    res.model_version = c.m->meta.version;
  } else if (c.em != nullptr) {
    res.model_version = c.em->meta.version;
  }
  RECSTACK_RETURN_IF_ERROR(LoadHistory(q, c, res));

  std::array<std::vector<Candidate>, kNumSources> per_source;
  for (int s = 0; s < kNumSources; ++s) {
    if (!want[s]) continue;
    const Source src = static_cast<Source>(s);
    const auto t = std::chrono::steady_clock::now();
    const int64_t start_us =
        std::chrono::duration_cast<std::chrono::microseconds>(t - begin).count();
    SourceOutput out;
    switch (src) {
      case Source::kMf:
        out = FromMf(q, c, res);
        break;
      case Source::kItem2Item:
        out = FromItem2Item(q, c);
        break;
      case Source::kTrending:
        out = FromTrending(q, c);
        break;
      case Source::kEase:
        out = FromEase(q, c);
        break;
    }
    out.report.source = std::string(SourceName(src));
    out.report.candidates = static_cast<int>(out.candidates.size());
    out.report.start_us = start_us;
    out.report.latency_us = Micros(t);
    res.sources.push_back(std::move(out.report));
    per_source[s] = std::move(out.candidates);
  }
  Merge(per_source, q.k, res);
  return res;
}

absl::StatusOr<UserSample> Retriever::SampleUsers(int n) {
  if (n < 1 || n > kMaxSampleUsers) {
    return absl::InvalidArgumentError(absl::StrCat("n must be 1-", kMaxSampleUsers, ", got ", n));
  }
  const std::shared_ptr<const ServingModel> m = holder_.Current();
  if (m == nullptr) return absl::FailedPreconditionError("no factor model is served yet");
  std::lock_guard<std::mutex> lock(sample_mu_);
  if (sample_.model_version != m->meta.version) {
    UserSample fresh;
    fresh.model_version = m->meta.version;
    // Stops early (with a sentinel status) once the sample is full.
    const absl::Status kFull = absl::CancelledError("sample full");
    absl::Status scanned =
        source_.ScanUsers(m->meta.version, [&](const std::vector<std::string>& users) {
          for (const auto& user : users) {
            if (static_cast<int>(fresh.user_ids.size()) >= kMaxSampleUsers) return kFull;
            fresh.user_ids.push_back(user);
          }
          return absl::OkStatus();
        });
    if (!scanned.ok() && scanned != kFull) return scanned;
    if (fresh.user_ids.empty()) {
      return absl::NotFoundError(
          absl::StrCat("no user of model ", m->meta.version, " found in Redis"));
    }
    sample_ = std::move(fresh);
  }
  UserSample out;
  out.model_version = sample_.model_version;
  out.user_ids.assign(sample_.user_ids.begin(),
                      sample_.user_ids.begin() + std::min<size_t>(n, sample_.user_ids.size()));
  return out;
}

absl::StatusOr<RetrieveResult> Retriever::Similar(const std::string& item_id, int k,
                                                  const std::string& source) {
  RECSTACK_RETURN_IF_ERROR(ids::ValidateId("item_id", item_id));
  if (k <= 0 || k > kMaxK)
    return absl::InvalidArgumentError(absl::StrCat("k must be 1-", kMaxK, ", got ", k));
  if (source == "ease") {
    auto em = ease_ != nullptr ? ease_->Current() : nullptr;
    if (em == nullptr) return absl::FailedPreconditionError("no ease model has been published yet");
    const int32_t row = em->item_index.Find(item_id);
    if (row < 0) {
      return absl::NotFoundError(
          absl::StrCat("item '", item_id, "' is not in ease model ", em->meta.version));
    }
    RetrieveResult res;
    res.model_version = em->meta.version;
    res.candidates = EaseSimilar(*em, row, k);
    return res;
  }
  if (!source.empty() && source != "item2item") {
    return absl::InvalidArgumentError(
        absl::StrCat("similar: unknown source '", source, "' (item2item or ease)"));
  }
  auto m = holder_.Current();
  if (m == nullptr) return absl::FailedPreconditionError("no model has been published yet");
  const int32_t row = m->item_index.Find(item_id);
  if (row < 0) {
    return absl::NotFoundError(
        absl::StrCat("item '", item_id, "' is not in model ", m->meta.version));
  }
  RetrieveResult res;
  res.model_version = m->meta.version;
  res.candidates = Neighbours(*m, row, k, nullptr);
  return res;
}

}  // namespace recstack::retrieval
