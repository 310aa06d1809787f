#include "common/mf/dataset.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <numeric>

#include "absl/strings/str_cat.h"
#include "common/math/rng.h"

namespace recstack::mf {

int32_t IdMap::Intern(std::string_view id) {
  auto it = index_.find(id);
  if (it != index_.end()) return it->second;
  const int32_t next = static_cast<int32_t>(names_.size());
  names_.emplace_back(id);
  index_.emplace(names_.back(), next);
  return next;
}

std::optional<int32_t> IdMap::Find(std::string_view id) const {
  auto it = index_.find(id);
  if (it == index_.end()) return std::nullopt;
  return it->second;
}

absl::StatusOr<Dataset> LoadDataset(const std::string& path, const LoadOptions& options) {
  Dataset d;
  absl::Status st =
      data::ForEachInteraction(path, options.format, [&](const data::InteractionView& v) {
        d.rows.push_back({d.users.Intern(v.user), d.items.Intern(v.item), v.value});
        if (options.keep_timestamps) d.timestamps.push_back(v.timestamp_ms);
        return absl::OkStatus();
      });
  if (!st.ok()) return st;
  if (d.rows.empty()) return absl::InvalidArgumentError(absl::StrCat(path, ": no interactions"));
  return d;
}

absl::StatusOr<TestSet> LoadTestSet(const std::string& path, data::Format format,
                                    const Dataset& train) {
  TestSet t;
  IdMap unknown_users;
  absl::Status st = data::ForEachInteraction(path, format, [&](const data::InteractionView& v) {
    auto u = train.users.Find(v.user);
    auto i = train.items.Find(v.item);
    if (!u) t.unknown_user_rows++;
    if (!i) t.unknown_item_rows++;
    // Unknown users get distinct negative ids so evaluation can count them.
    const int32_t user = u ? *u : -1 - unknown_users.Intern(v.user);
    t.rows.push_back({user, i.value_or(-1), v.value});
    return absl::OkStatus();
  });
  if (!st.ok()) return st;
  if (t.rows.empty()) return absl::InvalidArgumentError(absl::StrCat(path, ": no test rows"));
  return t;
}

absl::StatusOr<SplitSpec> ParseSplit(std::string_view text) {
  SplitSpec s;
  auto bad = [&] {
    return absl::InvalidArgumentError(
        absl::StrCat("--split '", std::string(text),
                     "': expected none, stratified:F (0 < F < 1, the train share) or last:N"));
  };
  if (text == "none" || text.empty()) return s;
  size_t colon = text.find(':');
  if (colon == std::string_view::npos) return bad();
  std::string_view kind = text.substr(0, colon), arg = text.substr(colon + 1);
  if (kind == "stratified") {
    double f = 0;
    auto [p, ec] = std::from_chars(arg.data(), arg.data() + arg.size(), f);
    if (ec != std::errc() || p != arg.data() + arg.size() || !(f > 0 && f < 1)) return bad();
    s.kind = SplitSpec::Kind::kStratified;
    s.train_fraction = f;
    return s;
  }
  if (kind == "last") {
    int n = 0;
    auto [p, ec] = std::from_chars(arg.data(), arg.data() + arg.size(), n);
    if (ec != std::errc() || p != arg.data() + arg.size() || n < 1) return bad();
    s.kind = SplitSpec::Kind::kLeaveLast;
    s.last_n = n;
    return s;
  }
  return bad();
}

absl::Status Split(const Dataset& data, const SplitSpec& spec, uint64_t seed,
                   std::vector<Row>* train, std::vector<Row>* test) {
  train->clear();
  test->clear();
  if (spec.kind == SplitSpec::Kind::kNone) {
    *train = data.rows;
    return absl::OkStatus();
  }
  if (spec.kind == SplitSpec::Kind::kLeaveLast && data.timestamps.size() != data.rows.size()) {
    return absl::InvalidArgumentError("--split last:N needs timestamps in the input");
  }
  // Row indices grouped by user (counting sort keeps file order).
  const int32_t nu = data.users.size();
  std::vector<int64_t> start(nu + 1, 0);
  for (const Row& r : data.rows) start[r.user + 1]++;
  std::partial_sum(start.begin(), start.end(), start.begin());
  std::vector<int64_t> order(data.rows.size());
  {
    std::vector<int64_t> next(start.begin(), start.end() - 1);
    for (int64_t i = 0; i < static_cast<int64_t>(data.rows.size()); ++i)
      order[next[data.rows[i].user]++] = i;
  }
  math::Rng rng(seed);
  train->reserve(data.rows.size());
  for (int32_t u = 0; u < nu; ++u) {
    auto b = order.begin() + start[u], e = order.begin() + start[u + 1];
    const int64_t n = e - b;
    int64_t n_test = 0;
    if (n >= spec.min_user_rows) {
      if (spec.kind == SplitSpec::Kind::kStratified) {
        for (int64_t j = n - 1; j > 0; --j) std::swap(b[j], b[rng.Below(j + 1)]);
        n_test = std::clamp<int64_t>(std::llround(n * (1.0 - spec.train_fraction)), 1, n - 1);
      } else {
        std::stable_sort(
            b, e, [&](int64_t x, int64_t y) { return data.timestamps[x] < data.timestamps[y]; });
        n_test = std::min<int64_t>(spec.last_n, n - 1);
      }
    }
    for (auto it = b; it != e - n_test; ++it) train->push_back(data.rows[*it]);
    for (auto it = e - n_test; it != e; ++it) test->push_back(data.rows[*it]);
  }
  return absl::OkStatus();
}

InteractionMatrix BuildMatrix(int32_t n_users, int32_t n_items, std::vector<Row> rows,
                              bool sum_duplicates) {
  std::vector<math::Triplet> t;
  t.reserve(rows.size());
  for (const Row& r : rows) {
    t.push_back({static_cast<uint32_t>(r.user), static_cast<uint32_t>(r.item), r.value});
  }
  std::vector<Row>().swap(rows);
  InteractionMatrix m;
  m.by_user = math::CsrMatrix::FromTriplets(n_users, n_items, std::move(t), sum_duplicates);
  m.by_item = m.by_user.Transpose();
  return m;
}

std::map<std::string, double> DefaultEventWeights() {
  return {{"VIEW", 1}, {"CLICK", 1},  {"PLAY", 2},    {"PURCHASE", 4},
          {"LIKE", 2}, {"RATING", 1}, {"DISLIKE", 0}, {"IMPRESSION", 0}};
}

}  // namespace recstack::mf
