#include "common/redis/popularity.h"

#include <algorithm>
#include <charconv>

namespace recstack::redis {

absl::StatusOr<std::vector<std::pair<std::string, double>>> SumPopularity(Pool& pool,
                                                                          const Keyspace& keys,
                                                                          int64_t now_ms,
                                                                          int window_hours) {
  window_hours = std::clamp(window_hours, 1, 24 * 30);
  const int64_t hour = now_ms / Keyspace::kMsPerHour;
  std::vector<std::string> argv = {"ZUNION", std::to_string(window_hours)};
  for (int h = 0; h < window_hours; ++h) argv.push_back(keys.Popularity(hour - h));
  argv.push_back("WITHSCORES");
  std::vector<std::string_view> views(argv.begin(), argv.end());
  auto r = pool.Command(views);
  if (!r.ok()) return r.status();
  std::vector<std::pair<std::string, double>> out;
  out.reserve(r->elements.size() / 2);
  for (size_t i = 0; i + 1 < r->elements.size(); i += 2) {
    double s = 0;
    const std::string& v = r->elements[i + 1].str;
    std::from_chars(v.data(), v.data() + v.size(), s);
    out.emplace_back(r->elements[i].str, s);
  }
  std::sort(out.begin(), out.end(), [](const auto& a, const auto& b) {
    return a.second > b.second || (a.second == b.second && a.first < b.first);
  });
  return out;
}

}  // namespace recstack::redis
