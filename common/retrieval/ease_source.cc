#include "common/retrieval/ease_source.h"

#include <algorithm>

#include "common/log/log.h"
#include "common/math/topk.h"

namespace recstack::retrieval {
namespace {

// Per-thread accumulators sized to the catalogue, reset only where touched:
// a request costs O(history * N), not O(items).
struct Scratch {
  std::vector<float> score, best;
  std::vector<int32_t> from;
  std::vector<char> in_touched;
  std::vector<int32_t> touched;
  void Fit(size_t n) {
    if (score.size() == n) return;
    score.assign(n, 0.0f);
    best.assign(n, 0.0f);
    from.assign(n, -1);
    in_touched.assign(n, 0);
    touched.clear();
  }
};

}  // namespace

std::shared_ptr<const EaseServingModel> BuildEaseServingModel(model::ItemNeighbours n) {
  auto m = std::make_shared<EaseServingModel>();
  m->meta = std::move(n.meta);
  m->item_ids = std::move(n.item_ids);
  m->indptr = std::move(n.indptr);
  m->ids = std::move(n.ids);
  m->weights = std::move(n.weights);
  if (m->indptr.empty()) m->indptr.push_back(0);
  m->item_index = model::IdIndex(m->item_ids);
  return m;
}

std::vector<Candidate> EaseRecommend(const EaseServingModel& m,
                                     const std::vector<std::string>& history,
                                     const std::unordered_set<std::string>& blocked, int k,
                                     int max_history) {
  thread_local Scratch s;
  s.Fit(m.item_ids.size());
  std::vector<int32_t> seeds;
  std::unordered_set<int32_t> seen_seed;
  for (const auto& id : history) {
    if (static_cast<int>(seeds.size()) >= max_history) break;
    const int32_t row = m.item_index.Find(id);
    if (row >= 0 && seen_seed.insert(row).second) seeds.push_back(row);
  }
  for (int32_t i : seeds) {
    for (int64_t p = m.indptr[i]; p < m.indptr[i + 1]; ++p) {
      const int32_t j = m.ids[p];
      const float w = m.weights[p];  // x_ui = 1
      if (!s.in_touched[j]) {
        s.in_touched[j] = 1;
        s.touched.push_back(j);
        s.best[j] = w;
        s.from[j] = i;
      } else if (w > s.best[j]) {
        s.best[j] = w;
        s.from[j] = i;
      }
      s.score[j] += w;
    }
  }
  math::TopKHeap heap(k);
  for (int32_t j : s.touched) {
    if (blocked.count(m.item_ids[j])) continue;
    heap.Push(j, s.score[j]);
  }
  std::vector<Candidate> out;
  for (const auto& t : heap.Take()) {
    out.push_back({m.item_ids[t.id], t.score, "ease", m.item_ids[s.from[t.id]]});
  }
  for (int32_t j : s.touched) {
    s.score[j] = 0.0f;
    s.in_touched[j] = 0;
  }
  s.touched.clear();
  return out;
}

std::vector<Candidate> EaseSimilar(const EaseServingModel& m, int32_t item, int k) {
  std::vector<Candidate> out;
  for (int64_t p = m.indptr[item]; p < m.indptr[item + 1] && static_cast<int>(out.size()) < k;
       ++p) {
    out.push_back({m.item_ids[m.ids[p]], m.weights[p], "ease", m.item_ids[item]});
  }
  return out;
}

EaseModelHolder::EaseModelHolder(model::ModelStore& store, redis::Options redis_options,
                                 redis::Keyspace keys, std::chrono::milliseconds poll_interval)
    : holder_(store, std::move(redis_options), std::move(keys),
              {.slot = model::Slot::kEase, .poll_interval = poll_interval, .name = "ease model"},
              [](model::ModelStore& st,
                 const std::string& version) -> absl::StatusOr<std::shared_ptr<EaseServingModel>> {
                auto n = st.LoadNeighbours(version);
                if (!n.ok()) return n.status();
                auto m =
                    std::const_pointer_cast<EaseServingModel>(BuildEaseServingModel(*std::move(n)));
                log::Info("ease model loaded", {{"version", version},
                                                {"items", m->item_ids.size()},
                                                {"neighbours", m->meta.neighbours}});
                return m;
              }) {}

}  // namespace recstack::retrieval
