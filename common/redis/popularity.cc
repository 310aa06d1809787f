#include "common/redis/popularity.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <unordered_map>

#include "absl/strings/str_cat.h"
#include "common/status/status.h"

namespace recstack::redis {
namespace {

double ParseDouble(const std::string& v) {
  double s = 0;
  std::from_chars(v.data(), v.data() + v.size(), s);
  return s;
}

void SortBestFirst(ItemCounts& out) {
  std::sort(out.begin(), out.end(), [](const auto& a, const auto& b) {
    return a.second > b.second || (a.second == b.second && a.first < b.first);
  });
}

TrendClock ParseMeta(const Reply& meta) {
  TrendClock c;
  if (meta.elements.size() == 2 && meta.elements[0].is_string() && meta.elements[1].is_string()) {
    c.epoch_ms = ParseDouble(meta.elements[0].str);
    c.half_life_ms = ParseDouble(meta.elements[1].str);
    c.known = c.half_life_ms > 0;
  }
  return c;
}

}  // namespace

double TrendClock::Factor(int64_t now_ms) const {
  if (!known) return 0;
  return std::exp2((epoch_ms - static_cast<double>(now_ms)) / half_life_ms);
}

namespace {

// The sums, best first.
ItemCounts Merge(const std::unordered_map<std::string, double>& sums) {
  ItemCounts out(sums.begin(), sums.end());
  SortBestFirst(out);
  return out;
}

}  // namespace

absl::StatusOr<ItemCounts> SumPopularity(Pool& pool, const Keyspace& keys, int64_t now_ms,
                                         int window_hours) {
  window_hours = std::clamp(window_hours, 1, 24 * 30);
  const int64_t hour = now_ms / Keyspace::kMsPerHour;
  // One ZUNION per partition (its hours share its slot).
  std::vector<std::vector<std::string>> cmds;
  for (int p = 0; p < keys.partitions(); ++p) {
    std::vector<std::string> argv = {"ZUNION", std::to_string(window_hours)};
    for (int h = 0; h < window_hours; ++h) argv.push_back(keys.Popularity(p, hour - h));
    argv.push_back("WITHSCORES");
    cmds.push_back(std::move(argv));
  }
  RECSTACK_ASSIGN_OR_RETURN(std::vector<Reply> replies, pool.Pipeline(cmds));
  std::unordered_map<std::string, double> sums;
  for (const Reply& r : replies) {
    if (r.is_error()) return absl::UnavailableError(absl::StrCat("redis: ", r.str));
    for (size_t i = 0; i + 1 < r.elements.size(); i += 2) {
      sums[r.elements[i].str] += ParseDouble(r.elements[i + 1].str);
    }
  }
  return Merge(sums);
}

absl::StatusOr<ItemCounts> TopTrending(Pool& pool, const Keyspace& keys, int64_t now_ms, int k) {
  if (k <= 0 || k > 100'000) {
    return absl::InvalidArgumentError(absl::StrCat("trending k must be 1-100000, got ", k));
  }
  const int n = keys.partitions();
  const int each = n == 1 ? k : std::min(2 * k, 100'000);
  std::vector<std::vector<std::string>> cmds;
  for (int p = 0; p < n; ++p) {
    cmds.push_back({"HMGET", keys.TrendMeta(p), "epoch_ms", "half_life_ms"});
    cmds.push_back({"ZREVRANGE", keys.Trend(p), "0", std::to_string(each - 1), "WITHSCORES"});
  }
  RECSTACK_ASSIGN_OR_RETURN(std::vector<Reply> replies, pool.Pipeline(cmds));
  for (const Reply& r : replies) {
    if (r.is_error()) return absl::UnavailableError(absl::StrCat("redis: ", r.str));
  }
  std::unordered_map<std::string, double> sums;
  for (int p = 0; p < n; ++p) {
    const double f = ParseMeta(replies[2 * p]).Factor(now_ms);
    const Reply& z = replies[2 * p + 1];
    for (size_t i = 0; i + 1 < z.elements.size(); i += 2) {
      sums[z.elements[i].str] += ParseDouble(z.elements[i + 1].str) * f;
    }
  }
  // ZREVRANGE breaks ties by member in reverse; ours are by id ascending.
  ItemCounts out = Merge(sums);
  if (out.size() > static_cast<size_t>(k)) out.resize(k);
  return out;
}

std::vector<std::vector<std::string>> TrendingCountsCommands(
    const Keyspace& keys, const std::vector<std::string>& items) {
  std::vector<std::vector<std::string>> cmds;
  for (int p = 0; p < keys.partitions(); ++p) {
    std::vector<std::string> zms = {"ZMSCORE", keys.Trend(p)};
    zms.insert(zms.end(), items.begin(), items.end());
    if (items.empty()) zms = {"ZCARD", keys.Trend(p)};  // ZMSCORE needs a member
    cmds.push_back({"HMGET", keys.TrendMeta(p), "epoch_ms", "half_life_ms"});
    cmds.push_back(std::move(zms));
  }
  return cmds;
}

absl::StatusOr<std::vector<double>> ParseTrendingCounts(std::span<const Reply> replies,
                                                        size_t n_items, int64_t now_ms) {
  std::vector<double> out(n_items, 0.0);
  if (replies.size() % 2 != 0) {
    return absl::InternalError("trending counts: expected a meta and a score reply per partition");
  }
  for (size_t p = 0; p + 1 < replies.size(); p += 2) {
    const Reply& meta = replies[p];
    const Reply& scores = replies[p + 1];
    if (meta.is_error()) return absl::UnavailableError(absl::StrCat("redis: ", meta.str));
    if (scores.is_error()) return absl::UnavailableError(absl::StrCat("redis: ", scores.str));
    const double f = ParseMeta(meta).Factor(now_ms);
    if (f == 0 || n_items == 0) continue;
    if (scores.elements.size() != n_items) {
      return absl::InternalError(absl::StrCat("ZMSCORE returned ", scores.elements.size(),
                                              " scores for ", n_items, " items"));
    }
    for (size_t i = 0; i < n_items; ++i) {
      if (scores.elements[i].is_string()) out[i] += ParseDouble(scores.elements[i].str) * f;
    }
  }
  return out;
}

}  // namespace recstack::redis
