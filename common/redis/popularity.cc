#include "common/redis/popularity.h"

#include <algorithm>
#include <charconv>
#include <cmath>

#include "absl/strings/str_cat.h"

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

absl::StatusOr<ItemCounts> SumPopularity(Pool& pool, const Keyspace& keys, int64_t now_ms,
                                         int window_hours) {
  window_hours = std::clamp(window_hours, 1, 24 * 30);
  const int64_t hour = now_ms / Keyspace::kMsPerHour;
  std::vector<std::string> argv = {"ZUNION", std::to_string(window_hours)};
  for (int h = 0; h < window_hours; ++h) argv.push_back(keys.Popularity(hour - h));
  argv.push_back("WITHSCORES");
  std::vector<std::string_view> views(argv.begin(), argv.end());
  auto r = pool.Command(views);
  if (!r.ok()) return r.status();
  ItemCounts out;
  out.reserve(r->elements.size() / 2);
  for (size_t i = 0; i + 1 < r->elements.size(); i += 2) {
    out.emplace_back(r->elements[i].str, ParseDouble(r->elements[i + 1].str));
  }
  SortBestFirst(out);
  return out;
}

absl::StatusOr<ItemCounts> TopTrending(Pool& pool, const Keyspace& keys, int64_t now_ms, int k) {
  if (k <= 0 || k > 100'000) {
    return absl::InvalidArgumentError(absl::StrCat("trending k must be 1-100000, got ", k));
  }
  auto replies =
      pool.Pipeline({{"HMGET", keys.TrendMeta(), "epoch_ms", "half_life_ms"},
                     {"ZREVRANGE", keys.Trend(), "0", std::to_string(k - 1), "WITHSCORES"}});
  if (!replies.ok()) return replies.status();
  for (const Reply& r : *replies) {
    if (r.is_error()) return absl::UnavailableError(absl::StrCat("redis: ", r.str));
  }
  const TrendClock clock = ParseMeta((*replies)[0]);
  const double f = clock.Factor(now_ms);
  const Reply& z = (*replies)[1];
  ItemCounts out;
  out.reserve(z.elements.size() / 2);
  for (size_t i = 0; i + 1 < z.elements.size(); i += 2) {
    out.emplace_back(z.elements[i].str, ParseDouble(z.elements[i + 1].str) * f);
  }
  // ZREVRANGE breaks ties by member in reverse; ours are by id ascending.
  SortBestFirst(out);
  return out;
}

std::vector<std::vector<std::string>> TrendingCountsCommands(
    const Keyspace& keys, const std::vector<std::string>& items) {
  std::vector<std::string> zms = {"ZMSCORE", keys.Trend()};
  zms.insert(zms.end(), items.begin(), items.end());
  if (items.empty()) zms = {"ZCARD", keys.Trend()};  // ZMSCORE needs a member
  return {{"HMGET", keys.TrendMeta(), "epoch_ms", "half_life_ms"}, std::move(zms)};
}

absl::StatusOr<std::vector<double>> ParseTrendingCounts(const Reply& meta, const Reply& scores,
                                                        size_t n_items, int64_t now_ms) {
  if (meta.is_error()) return absl::UnavailableError(absl::StrCat("redis: ", meta.str));
  if (scores.is_error()) return absl::UnavailableError(absl::StrCat("redis: ", scores.str));
  std::vector<double> out(n_items, 0.0);
  const double f = ParseMeta(meta).Factor(now_ms);
  if (f == 0 || n_items == 0) return out;
  if (scores.elements.size() != n_items) {
    return absl::InternalError(absl::StrCat("ZMSCORE returned ", scores.elements.size(),
                                            " scores for ", n_items, " items"));
  }
  for (size_t i = 0; i < n_items; ++i) {
    if (scores.elements[i].is_string()) out[i] = ParseDouble(scores.elements[i].str) * f;
  }
  return out;
}

}  // namespace recstack::redis
