#include "loadtest/workload.h"

#include <algorithm>
#include <cmath>
#include <fstream>
#include <unordered_map>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"

namespace recstack::loadtest {
namespace {

// Debian's Abseil has its own string_view.
absl::string_view A(std::string_view v) { return {v.data(), v.size()}; }

std::vector<std::string> ByCountDescending(const std::unordered_map<std::string, int64_t>& counts) {
  std::vector<std::pair<std::string, int64_t>> v(counts.begin(), counts.end());
  // Ties by id, so the order (and a seeded run) is reproducible.
  std::sort(v.begin(), v.end(), [](const auto& a, const auto& b) {
    return a.second != b.second ? a.second > b.second : a.first < b.first;
  });
  std::vector<std::string> out;
  out.reserve(v.size());
  for (auto& [id, n] : v) out.push_back(std::move(id));
  return out;
}

}  // namespace

absl::StatusOr<Catalog> Catalog::FromDataset(const std::string& path) {
  std::string file = path;
  {
    std::ifstream probe(path + "/interactions.csv");
    if (probe) file = path + "/interactions.csv";
  }
  std::ifstream in(file);
  if (!in) return absl::NotFoundError(absl::StrCat("cannot read ", file));
  std::unordered_map<std::string, int64_t> users, items;
  std::string line;
  int64_t line_no = 0;
  while (std::getline(in, line)) {
    ++line_no;
    absl::string_view l = absl::StripTrailingAsciiWhitespace(line);
    if (l.empty()) continue;
    // CSV, or MovieLens' tab-separated u.data.
    const char sep = l.find('\t') != absl::string_view::npos ? '\t' : ',';
    std::vector<absl::string_view> f = absl::StrSplit(l, absl::MaxSplits(sep, 2));
    if (f.size() < 2 || f[0].empty() || f[1].empty()) {
      return absl::InvalidArgumentError(
          absl::StrCat(file, ":", line_no, ": expected user,item[,...]"));
    }
    if (line_no == 1 && f[0] == "user") continue;  // header
    ++users[std::string(f[0])];
    ++items[std::string(f[1])];
  }
  if (users.empty()) return absl::InvalidArgumentError(absl::StrCat(file, " has no interactions"));
  return Catalog{ByCountDescending(users), ByCountDescending(items)};
}

Catalog Catalog::Synthetic(int64_t users, int64_t items) {
  Catalog c;
  c.users.reserve(users);
  c.items.reserve(items);
  for (int64_t i = 0; i < users; ++i) c.users.push_back(absl::StrCat("u", i));
  for (int64_t i = 0; i < items; ++i) c.items.push_back(absl::StrCat("i", i));
  return c;
}

ZipfSampler::ZipfSampler(int64_t n, double s) {
  cdf_.resize(std::max<int64_t>(n, 1));
  double total = 0;
  for (size_t i = 0; i < cdf_.size(); ++i) {
    total += std::pow(static_cast<double>(i + 1), -s);
    cdf_[i] = total;
  }
  for (double& c : cdf_) c /= total;
}

int64_t ZipfSampler::Sample(math::Rng& rng) const {
  const double u = rng.Uniform();
  auto it = std::upper_bound(cdf_.begin(), cdf_.end(), u);
  if (it == cdf_.end()) --it;
  return it - cdf_.begin();
}

std::string_view OpName(Op op) {
  switch (op) {
    case Op::kRecommend:
      return "recommend";
    case Op::kIngest:
      return "ingest";
    case Op::kSimilar:
      return "similar";
  }
  return "?";
}

absl::StatusOr<Mix> Mix::Parse(std::string_view text) {
  Mix m;
  m.share = {0, 0, 0};
  double total = 0;
  for (absl::string_view part : absl::StrSplit(A(text), ',', absl::SkipWhitespace())) {
    std::vector<absl::string_view> kv = absl::StrSplit(part, absl::MaxSplits('=', 1));
    double w = 0;
    if (kv.size() != 2 || !absl::SimpleAtod(kv[1], &w) || !(w >= 0) || std::isinf(w)) {
      return absl::InvalidArgumentError(absl::StrCat(
          "--mix: '", part, "' is not op=weight (e.g. recommend=90,ingest=5,similar=5)"));
    }
    int op = -1;
    for (int i = 0; i < kNumOps; ++i) {
      if (A(OpName(static_cast<Op>(i))) == absl::StripAsciiWhitespace(kv[0])) op = i;
    }
    if (op < 0) {
      return absl::InvalidArgumentError(
          absl::StrCat("--mix: unknown operation '", kv[0], "' (recommend, ingest, similar)"));
    }
    m.share[op] += w;
    total += w;
  }
  if (!(total > 0)) return absl::InvalidArgumentError("--mix: the weights add up to 0");
  for (double& s : m.share) s /= total;
  return m;
}

Op Mix::Sample(math::Rng& rng) const {
  double u = rng.Uniform();
  for (int i = 0; i < kNumOps; ++i) {
    if (u < share[i]) return static_cast<Op>(i);
    u -= share[i];
  }
  for (int i = kNumOps - 1; i >= 0; --i) {
    if (share[i] > 0) return static_cast<Op>(i);
  }
  return Op::kRecommend;
}

std::string Mix::ToString() const {
  std::string out;
  for (int i = 0; i < kNumOps; ++i) {
    if (share[i] <= 0) continue;
    absl::StrAppend(&out, out.empty() ? "" : ",", A(OpName(static_cast<Op>(i))), "=",
                    std::round(share[i] * 1000) / 10);
  }
  return out;
}

Arrivals::Arrivals(double rate_per_second, bool poisson, uint64_t seed)
    : mean_gap_ns_(1e9 / rate_per_second), poisson_(poisson), rng_(seed) {}

int64_t Arrivals::NextGapNs() {
  double gap = poisson_ ? -std::log(rng_.UniformOpen()) * mean_gap_ns_ : mean_gap_ns_;
  gap += carry_;
  const double whole = std::floor(gap);
  carry_ = gap - whole;
  return static_cast<int64_t>(whole);
}

}  // namespace recstack::loadtest
