#include "services/retrieval/ease_source.h"

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
  m->item_index.reserve(m->item_ids.size());
  for (size_t i = 0; i < m->item_ids.size(); ++i) {
    m->item_index.emplace(m->item_ids[i], static_cast<int32_t>(i));
  }
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
    auto it = m.item_index.find(id);
    if (it != m.item_index.end() && seen_seed.insert(it->second).second)
      seeds.push_back(it->second);
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
    : store_(store),
      redis_options_(std::move(redis_options)),
      keys_(std::move(keys)),
      poll_interval_(poll_interval) {}

EaseModelHolder::~EaseModelHolder() { Stop(); }

void EaseModelHolder::Start() {
  Refresh();
  subscriber_ = std::make_unique<redis::Subscriber>(
      redis_options_, std::vector<std::string>{keys_.ModelUpdatesEase()},
      [this](std::string_view, std::string_view version) {
        absl::Status st = Load(std::string(version));
        if (!st.ok()) {
          log::Warn("ease model update not loaded",
                    {{"version", version}, {"error", st.message()}});
        }
      });
  subscriber_->set_on_subscribed([this] { Refresh(); });
  subscriber_->Start();
  poller_ = std::thread([this] {
    std::unique_lock<std::mutex> lock(mu_);
    while (!stopping_) {
      cv_.wait_for(lock, poll_interval_, [this] { return stopping_; });
      if (stopping_) break;
      lock.unlock();
      Refresh();
      lock.lock();
    }
  });
}

void EaseModelHolder::Stop() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  if (subscriber_) subscriber_->Stop();
  if (poller_.joinable()) poller_.join();
}

void EaseModelHolder::Refresh() {
  auto v = store_.CurrentVersion(model::Slot::kEase);
  if (!v.ok()) return;  // none yet, or Redis down: keep what we have
  auto cur = Current();
  if (cur != nullptr && cur->meta.version == *v) return;
  absl::Status st = Load(*v);
  if (!st.ok()) log::Warn("ease model not loaded", {{"version", *v}, {"error", st.message()}});
}

absl::Status EaseModelHolder::Load(const std::string& version) {
  std::lock_guard<std::mutex> load_lock(load_mu_);
  {
    auto cur = Current();
    if (cur != nullptr && cur->meta.version == version) return absl::OkStatus();
  }
  auto n = store_.LoadNeighbours(version);
  if (!n.ok()) return n.status();
  auto m = BuildEaseServingModel(*std::move(n));
  {
    std::lock_guard<std::mutex> lock(mu_);
    current_ = m;
  }
  log::Info(
      "ease model loaded",
      {{"version", version}, {"items", m->item_ids.size()}, {"neighbours", m->meta.neighbours}});
  return absl::OkStatus();
}

std::shared_ptr<const EaseServingModel> EaseModelHolder::Current() const {
  std::lock_guard<std::mutex> lock(mu_);
  return current_;
}

}  // namespace recstack::retrieval
