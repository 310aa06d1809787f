#include "common/data/synthetic.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <numeric>
#include <unordered_set>

#include "absl/strings/str_cat.h"
#include "common/data/npy.h"
#include "common/math/rng.h"
#include "common/math/topk.h"

namespace recstack::data {
namespace {

constexpr const char* kGenres[12] = {"Action", "Comedy",  "Drama",  "Documentary",
                                     "Sci-Fi", "Romance", "Horror", "Animation",
                                     "Jazz",   "Rock",    "Pop",    "Classical"};

double Sigmoid(double x) { return 1.0 / (1.0 + std::exp(-x)); }

// s_ui = u.v / sqrt(rank), summed in double in a fixed order. Not
// math::RowDots: that kernel is multiversioned and its FMA clone rounds
// differently from the baseline one, which would make the data depend on the
// CPU. A float*float product is exact in double, so contraction into an FMA
// cannot change this sum either.
double PlantedAffinity(const float* u, const float* v, int32_t rank, double inv_sqrt_rank) {
  double acc = 0;
  for (int32_t d = 0; d < rank; ++d) acc += static_cast<double>(u[d]) * static_cast<double>(v[d]);
  return acc * inv_sqrt_rank;
}

nlohmann::json ParamsToJson(const SyntheticParams& p) {
  return {{"users", p.users},
          {"items", p.items},
          {"interactions", p.interactions},
          {"rank", p.rank},
          {"seed", p.seed},
          {"zipf_exponent", p.zipf_exponent},
          {"activity_sigma", p.activity_sigma},
          {"beta", p.beta},
          {"days", p.days},
          {"end_time_ms", p.end_time_ms},
          {"click_model",
           {{"formula", "sigmoid(click_scale * s + click_bias), s = u.v / sqrt(rank)"},
            {"calibration",
             "defaults: a user's true top-10 items (by log_popularity + beta * s) click with "
             "about 0.30, a random item with about 0.02 (rank 16, 1000 items)"},
            {"click_scale", p.click_scale},
            {"click_bias", p.click_bias}}}};
}

absl::Status WriteLines(const std::string& path, const std::vector<std::string>& lines) {
  std::ofstream out(path, std::ios::trunc);
  for (const auto& l : lines) out << l << '\n';
  out.close();
  return out ? absl::OkStatus() : absl::DataLossError(absl::StrCat(path, ": write failed"));
}

}  // namespace

absl::Status SyntheticParams::Validate() const {
  if (users < 1 || users > 10'000'000)
    return absl::InvalidArgumentError("--users must be 1-10,000,000");
  if (items < 1 || items > 10'000'000)
    return absl::InvalidArgumentError("--items must be 1-10,000,000");
  if (interactions < users) {
    return absl::InvalidArgumentError(
        "--interactions must be at least --users (every user has one)");
  }
  if (interactions > users * std::min<int64_t>(items, 5000)) {
    return absl::InvalidArgumentError("--interactions exceeds users * min(items, 5000)");
  }
  if (rank < 1 || rank > 256) return absl::InvalidArgumentError("--rank must be 1-256");
  if (days < 1 || days > 3650) return absl::InvalidArgumentError("--days must be 1-3650");
  if (!(zipf_exponent >= 0 && zipf_exponent <= 5)) {
    return absl::InvalidArgumentError("--zipf-exponent must be 0-5");
  }
  if (!(beta >= 0 && beta <= 20)) return absl::InvalidArgumentError("--beta must be 0-20");
  if (end_time_ms < 946684800000LL + days * 86'400'000LL) {
    return absl::InvalidArgumentError("--end-time-ms must leave the whole window after 2000-01-01");
  }
  return absl::OkStatus();
}

absl::StatusOr<SyntheticSummary> GenerateSynthetic(const SyntheticParams& p,
                                                   const std::string& dir) {
  if (absl::Status st = p.Validate(); !st.ok()) return st;
  std::error_code ec;
  std::filesystem::create_directories(std::filesystem::path(dir) / "truth", ec);
  if (ec) return absl::PermissionDeniedError(absl::StrCat(dir, ": ", ec.message()));

  math::Rng rng(p.seed);
  const int32_t r = p.rank;
  math::Matrix U(p.users, r), V(p.items, r);
  for (size_t i = 0; i < U.size(); ++i) U.data()[i] = static_cast<float>(rng.Normal());
  for (size_t i = 0; i < V.size(); ++i) V.data()[i] = static_cast<float>(rng.Normal());
  // Zipf popularity over a random permutation (Fisher-Yates).
  std::vector<int64_t> perm(p.items);
  std::iota(perm.begin(), perm.end(), 0);
  for (int64_t i = p.items - 1; i > 0; --i) std::swap(perm[i], perm[rng.Below(i + 1)]);
  std::vector<float> log_pop(p.items);
  for (int64_t i = 0; i < p.items; ++i) {
    log_pop[perm[i]] = static_cast<float>(-p.zipf_exponent * std::log(static_cast<double>(i + 1)));
  }
  // Activity: log-normal with mean m before clipping.
  const int64_t cap = std::min<int64_t>(p.items, 5000);
  const double m = static_cast<double>(p.interactions) / static_cast<double>(p.users);
  const double sigma = p.activity_sigma;
  std::vector<int64_t> per_user(p.users);
  for (auto& n : per_user) {
    double x = std::exp(std::log(m) - 0.5 * sigma * sigma + sigma * rng.Normal());
    n = std::clamp<int64_t>(std::llround(x), 1, cap);
  }

  const std::string inter_path = (std::filesystem::path(dir) / "interactions.csv").string();
  std::FILE* out = std::fopen(inter_path.c_str(), "wb");
  if (out == nullptr)
    return absl::PermissionDeniedError(absl::StrCat(inter_path, ": cannot write"));
  std::fputs("user,item,value,timestamp\n", out);
  const double inv_sqrt_r = 1.0 / std::sqrt(static_cast<double>(r));
  const int64_t window_ms = static_cast<int64_t>(p.days) * 86'400'000LL;
  std::vector<double> s(p.items);
  std::vector<float> key(p.items);
  std::vector<int64_t> item_count(p.items, 0);
  std::vector<int64_t> times;
  int64_t total = 0;
  for (int64_t u = 0; u < p.users; ++u) {
    for (int64_t i = 0; i < p.items; ++i) {
      s[i] = PlantedAffinity(U.row(u), V.row(i), r, inv_sqrt_r);
      const double gumbel = -std::log(-std::log(rng.UniformOpen()));
      key[i] = static_cast<float>(log_pop[i] + p.beta * s[i] + gumbel);
    }
    auto chosen = math::TopK(key.data(), p.items, static_cast<int>(per_user[u]));
    times.resize(chosen.size());
    for (auto& t : times)
      t = p.end_time_ms - window_ms + static_cast<int64_t>(rng.Below(window_ms));
    std::sort(times.begin(), times.end());
    // Events in time order; the item order is the Gumbel order, so shuffle
    // which item gets which time to avoid leaking the ranking into time.
    for (size_t j = chosen.size(); j > 1; --j) std::swap(chosen[j - 1], chosen[rng.Below(j)]);
    for (size_t j = 0; j < chosen.size(); ++j) {
      const int32_t i = chosen[j].id;
      const int64_t value = 1 + rng.Poisson(3.0 * Sigmoid(2.0 * s[i]));
      std::fprintf(out, "u%lld,i%d,%lld,%lld\n", static_cast<long long>(u), i,
                   static_cast<long long>(value), static_cast<long long>(times[j]));
      item_count[i]++;
    }
    total += static_cast<int64_t>(chosen.size());
  }
  if (std::fclose(out) != 0) return absl::DataLossError(absl::StrCat(inter_path, ": write failed"));

  // Items: title, 1-2 genres from the dominant latent dimensions, created_at.
  const std::string items_path = (std::filesystem::path(dir) / "items.csv").string();
  std::FILE* items_out = std::fopen(items_path.c_str(), "wb");
  if (items_out == nullptr)
    return absl::PermissionDeniedError(absl::StrCat(items_path, ": cannot write"));
  std::fputs("item,title,categories,created_at_ms\n", items_out);
  std::vector<std::string> item_ids(p.items), user_ids(p.users);
  for (int64_t i = 0; i < p.items; ++i) {
    item_ids[i] = absl::StrCat("i", i);
    const float* v = V.row(i);
    int best = 0, second = -1;
    for (int d = 1; d < r; ++d) {
      if (v[d] > v[best]) {
        second = best;
        best = d;
      } else if (second < 0 || v[d] > v[second]) {
        second = d;
      }
    }
    std::string cats = kGenres[best % 12];
    if (second >= 0 && second % 12 != best % 12 && v[second] > 1.0f) {
      absl::StrAppend(&cats, "|", kGenres[second % 12]);
    }
    const int64_t created = p.end_time_ms - static_cast<int64_t>(rng.Below(365LL * 86'400'000LL));
    std::fprintf(items_out, "i%lld,Item %lld,%s,%lld\n", static_cast<long long>(i),
                 static_cast<long long>(i), cats.c_str(), static_cast<long long>(created));
  }
  if (std::fclose(items_out) != 0)
    return absl::DataLossError(absl::StrCat(items_path, ": write failed"));
  for (int64_t u = 0; u < p.users; ++u) user_ids[u] = absl::StrCat("u", u);

  const std::filesystem::path truth = std::filesystem::path(dir) / "truth";
  if (auto st = WriteNpy((truth / "user_factors.npy").string(), U.data(), p.users, r); !st.ok())
    return st;
  if (auto st = WriteNpy((truth / "item_factors.npy").string(), V.data(), p.items, r); !st.ok())
    return st;
  if (auto st = WriteNpy((truth / "item_log_popularity.npy").string(), log_pop.data(), p.items, 0);
      !st.ok())
    return st;
  if (auto st = WriteLines((truth / "users.txt").string(), user_ids); !st.ok()) return st;
  if (auto st = WriteLines((truth / "items.txt").string(), item_ids); !st.ok()) return st;
  {
    std::ofstream j(truth / "truth.json", std::ios::trunc);
    j << ParamsToJson(p).dump(2) << '\n';
  }

  SyntheticSummary sum;
  sum.users = p.users;
  sum.items = p.items;
  sum.interactions = total;
  sum.density = static_cast<double>(total) / (static_cast<double>(p.users) * p.items);
  sum.mean_per_user = static_cast<double>(total) / p.users;
  std::vector<int64_t> sorted = per_user;
  std::sort(sorted.begin(), sorted.end());
  sum.median_per_user = sorted[sorted.size() / 2];
  sum.max_per_user = sorted.back();
  std::sort(item_count.begin(), item_count.end(), std::greater<>());
  const int64_t top = std::max<int64_t>(1, p.items / 100);
  sum.top1pct_item_share = static_cast<double>(std::accumulate(
                               item_count.begin(), item_count.begin() + top, int64_t{0})) /
                           total;
  sum.files = {inter_path,
               items_path,
               (truth / "user_factors.npy").string(),
               (truth / "item_factors.npy").string(),
               (truth / "item_log_popularity.npy").string(),
               (truth / "users.txt").string(),
               (truth / "items.txt").string(),
               (truth / "truth.json").string()};
  return sum;
}

absl::StatusOr<GroundTruth> GroundTruth::Load(const std::string& dir) {
  const std::filesystem::path truth = std::filesystem::path(dir) / "truth";
  GroundTruth g;
  std::ifstream jf(truth / "truth.json");
  if (!jf)
    return absl::NotFoundError(absl::StrCat((truth / "truth.json").string(), ": no such file"));
  nlohmann::json j = nlohmann::json::parse(jf, nullptr, false);
  if (j.is_discarded()) return absl::InvalidArgumentError("truth.json is not JSON");
  SyntheticParams& p = g.params_;
  p.users = j.value("users", p.users);
  p.items = j.value("items", p.items);
  p.interactions = j.value("interactions", p.interactions);
  p.rank = j.value("rank", p.rank);
  p.seed = j.value("seed", p.seed);
  p.zipf_exponent = j.value("zipf_exponent", p.zipf_exponent);
  p.activity_sigma = j.value("activity_sigma", p.activity_sigma);
  p.beta = j.value("beta", p.beta);
  p.days = j.value("days", p.days);
  p.end_time_ms = j.value("end_time_ms", p.end_time_ms);
  if (j.contains("click_model")) {
    p.click_scale = j["click_model"].value("click_scale", p.click_scale);
    p.click_bias = j["click_model"].value("click_bias", p.click_bias);
  }
  auto uf = ReadNpyFloat((truth / "user_factors.npy").string());
  auto vf = ReadNpyFloat((truth / "item_factors.npy").string());
  auto lp = ReadNpyFloat((truth / "item_log_popularity.npy").string());
  if (!uf.ok()) return uf.status();
  if (!vf.ok()) return vf.status();
  if (!lp.ok()) return lp.status();
  if (uf->shape.size() != 2 || vf->shape.size() != 2 || uf->shape[1] != vf->shape[1]) {
    return absl::InvalidArgumentError("ground truth factor shapes do not match");
  }
  g.user_factors_.Resize(uf->shape[0], uf->shape[1]);
  std::copy(uf->data.begin(), uf->data.end(), g.user_factors_.data());
  g.item_factors_.Resize(vf->shape[0], vf->shape[1]);
  std::copy(vf->data.begin(), vf->data.end(), g.item_factors_.data());
  g.item_log_pop_ = std::move(lp->data);
  for (auto [file, ids, index] : {std::tuple{"users.txt", &g.user_ids_, &g.user_index_},
                                  std::tuple{"items.txt", &g.item_ids_, &g.item_index_}}) {
    std::ifstream in(truth / file);
    std::string line;
    while (std::getline(in, line)) {
      (*index)[line] = static_cast<int64_t>(ids->size());
      ids->push_back(line);
    }
  }
  if (static_cast<int64_t>(g.user_ids_.size()) != g.user_factors_.rows() ||
      static_cast<int64_t>(g.item_ids_.size()) != g.item_factors_.rows() ||
      static_cast<int64_t>(g.item_log_pop_.size()) != g.item_factors_.rows()) {
    return absl::InvalidArgumentError("ground truth id lists do not match the factor files");
  }
  return g;
}

absl::StatusOr<double> GroundTruth::Affinity(std::string_view user, std::string_view item) const {
  auto u = user_index_.find(std::string(user));
  auto i = item_index_.find(std::string(item));
  if (u == user_index_.end() || i == item_index_.end()) {
    return absl::NotFoundError("unknown user or item in the ground truth");
  }
  const int32_t r = static_cast<int32_t>(user_factors_.cols());
  return PlantedAffinity(user_factors_.row(u->second), item_factors_.row(i->second), r,
                         1.0 / std::sqrt(static_cast<double>(r)));
}

absl::StatusOr<double> GroundTruth::ClickProbability(std::string_view user,
                                                     std::string_view item) const {
  auto s = Affinity(user, item);
  if (!s.ok()) return s.status();
  return Sigmoid(params_.click_scale * *s + params_.click_bias);
}

absl::StatusOr<std::vector<std::string>> GroundTruth::TrueTopK(
    std::string_view user, int k, const std::vector<std::string>& exclude) const {
  auto u = user_index_.find(std::string(user));
  if (u == user_index_.end()) return absl::NotFoundError("unknown user in the ground truth");
  const int64_t n = item_factors_.rows();
  const int32_t r = static_cast<int32_t>(item_factors_.cols());
  const double inv = 1.0 / std::sqrt(static_cast<double>(r));
  std::vector<float> key(n);
  for (int64_t i = 0; i < n; ++i) {
    const double s = PlantedAffinity(user_factors_.row(u->second), item_factors_.row(i), r, inv);
    key[i] = static_cast<float>(item_log_pop_[i] + params_.beta * s);
  }
  std::unordered_set<int64_t> skip;
  for (const auto& e : exclude) {
    auto it = item_index_.find(e);
    if (it != item_index_.end()) skip.insert(it->second);
  }
  auto top = math::TopK(key.data(), n, k, [&](int32_t id) { return skip.count(id) > 0; });
  std::vector<std::string> out;
  for (const auto& t : top) out.push_back(item_ids_[t.id]);
  return out;
}

}  // namespace recstack::data
