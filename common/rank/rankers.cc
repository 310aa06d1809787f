#include "common/rank/rankers.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <numeric>

#include "absl/strings/str_cat.h"
#include "common/math/kernels.h"

namespace recstack::ranking {
namespace {

absl::StatusOr<double> ParamDouble(const RankerParams& p, const std::string& key, double fallback) {
  auto it = p.find(key);
  if (it == p.end()) return fallback;
  double v = 0;
  const std::string& s = it->second;
  auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || ptr != s.data() + s.size() || !std::isfinite(v)) {
    return absl::InvalidArgumentError(
        absl::StrCat("ranker param ", key, "='", s, "' is not a number"));
  }
  return v;
}

}  // namespace

RankerRegistry RankerRegistry::WithBuiltins() {
  RankerRegistry r;
  r.Register("passthrough", "retrieval order, unchanged",
             [](const RankerParams&) -> absl::StatusOr<std::unique_ptr<Ranker>> {
               return std::make_unique<PassthroughRanker>();
             });
  r.Register("linear", "hand-set weights over the features (params weight.<feature>)",
             LinearRanker::Create);
  r.Register("recency", "retrieval score decayed by item age (param half_life_days)",
             RecencyRanker::Create);
  return r;
}

void RankerRegistry::Register(std::string name, std::string description, Factory factory) {
  factories_[std::move(name)] = {std::move(description), std::move(factory)};
}

std::string RankerRegistry::KnownNames() const {
  std::string out;
  for (const auto& [name, f] : factories_) absl::StrAppend(&out, out.empty() ? "" : ", ", name);
  return out;
}

absl::StatusOr<std::unique_ptr<Ranker>> RankerRegistry::Create(const std::string& spec,
                                                               const RankerParams& params) const {
  auto [name, version] = SplitVersion(spec);
  auto it = factories_.find(name);
  if (it == factories_.end()) {
    return absl::InvalidArgumentError(
        absl::StrCat("unknown ranker '", name, "' (known: ", KnownNames(),
                     "; any of them may end in +mmr, a learned one may pin @VERSION)"));
  }
  if (version.empty()) return it->second.second(params);
  RankerParams pinned = params;
  pinned["version"] = version;
  return it->second.second(pinned);
}

bool RankerRegistry::Has(const std::string& name) const {
  return factories_.count(SplitVersion(name).first) > 0;
}

std::pair<std::string, std::string> SplitVersion(const std::string& name) {
  const size_t at = name.find('@');
  if (at == std::string::npos) return {name, ""};
  return {name.substr(0, at), name.substr(at + 1)};
}

std::vector<RankerInfo> RankerRegistry::List() const {
  std::vector<RankerInfo> out;
  for (const auto& [name, f] : factories_) out.push_back({name, f.first});
  return out;
}

std::pair<std::string, bool> SplitMmr(const std::string& spec) {
  constexpr std::string_view kSuffix = "+mmr";
  if (spec.size() > kSuffix.size() &&
      spec.compare(spec.size() - kSuffix.size(), kSuffix.size(), kSuffix) == 0) {
    return {spec.substr(0, spec.size() - kSuffix.size()), true};
  }
  return {spec, false};
}

Scored PassthroughRanker::Score(const FeatureRow& row) const {
  return {-row.f[kRetrievalPosition],
          {{kRetrievalPosition, row.f[kRetrievalPosition], -row.f[kRetrievalPosition]}}};
}

absl::StatusOr<std::unique_ptr<Ranker>> LinearRanker::Create(const RankerParams& params) {
  std::array<double, kNumFeatures> w{};
  w[kRetrievalScore] = 1.0;
  w[kCategoryOverlap] = 0.5;
  w[kPopularity] = 0.05;
  w[kItemAgeDays] = -0.001;
  w[kRetrievalPosition] = -0.01;
  for (const auto& [key, value] : params) {
    if (key.rfind("weight.", 0) != 0) continue;
    const int f = FeatureIndex(std::string_view(key).substr(7));
    if (f < 0)
      return absl::InvalidArgumentError(
          absl::StrCat("linear ranker: no feature named ", key.substr(7)));
    auto v = ParamDouble(params, key, 0);
    if (!v.ok()) return v.status();
    w[f] = *v;
  }
  return std::make_unique<LinearRanker>(w);
}

Scored LinearRanker::Score(const FeatureRow& row) const {
  Scored s;
  for (int f = 0; f < kNumFeatures; ++f) {
    if (w_[f] == 0) continue;
    const double c = w_[f] * row.f[f];
    s.score += c;
    s.contributions.push_back({f, row.f[f], c});
  }
  return s;
}

absl::StatusOr<std::unique_ptr<Ranker>> RecencyRanker::Create(const RankerParams& params) {
  auto h = ParamDouble(params, "half_life_days", 30.0);
  if (!h.ok()) return h.status();
  if (*h <= 0) return absl::InvalidArgumentError("recency ranker: half_life_days must be > 0");
  return std::make_unique<RecencyRanker>(*h);
}

Scored RecencyRanker::Score(const FeatureRow& row) const {
  const double decay = std::exp(-row.f[kItemAgeDays] / half_life_ * std::log(2.0));
  const double score = row.f[kRetrievalScore] * decay;
  // Contributions: what the score owes to relevance and what age took away.
  return {score,
          {{kRetrievalScore, row.f[kRetrievalScore], row.f[kRetrievalScore]},
           {kItemAgeDays, row.f[kItemAgeDays], score - row.f[kRetrievalScore]}}};
}

std::vector<int> MmrRerank(const std::vector<double>& scores,
                           const std::vector<const float*>& vectors, int dim, double lambda,
                           int k) {
  const int n = static_cast<int>(scores.size());
  k = std::min(k, n);
  if (n == 0 || k <= 0) return {};
  const auto [lo, hi] = std::minmax_element(scores.begin(), scores.end());
  const double range = *hi - *lo;
  std::vector<double> rel(n);
  for (int i = 0; i < n; ++i) rel[i] = range > 0 ? (scores[i] - *lo) / range : 1.0;
  std::vector<double> norms(n, 0.0);
  for (int i = 0; i < n; ++i) {
    if (vectors[i] != nullptr) norms[i] = std::sqrt(math::Dot(vectors[i], vectors[i], dim));
  }
  std::vector<double> max_sim(n, 0.0);
  std::vector<char> picked(n, 0);
  std::vector<int> order;
  for (int step = 0; step < k; ++step) {
    // The first unpicked item stands until a better one is found and a NaN
    // (a NaN score, lambda or similarity) counts as the worst, so every step
    // picks an item.
    int best = -1;
    double best_v = 0;
    for (int i = 0; i < n; ++i) {
      if (picked[i]) continue;
      double v = lambda * rel[i] - (1 - lambda) * max_sim[i];
      if (std::isnan(v)) v = -HUGE_VAL;
      if (best < 0 || v > best_v) {
        best_v = v;
        best = i;
      }
    }
    picked[best] = 1;
    order.push_back(best);
    if (vectors[best] == nullptr || norms[best] == 0) continue;
    for (int i = 0; i < n; ++i) {
      if (picked[i] || vectors[i] == nullptr || norms[i] == 0) continue;
      const double cos = math::Dot(vectors[i], vectors[best], dim) / (norms[i] * norms[best]);
      max_sim[i] = std::max(max_sim[i], cos);
    }
  }
  return order;
}

}  // namespace recstack::ranking
