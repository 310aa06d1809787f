#include "common/retrieval/retrieval_source.h"

#include <string_view>

namespace recstack::retrieval {

absl::StatusOr<std::vector<std::string>> RedisRetrievalSource::History(const std::string& user,
                                                                       int n) {
  auto hist = pool_.Command({"ZREVRANGE", keys_.History(user), "0", std::to_string(n - 1)});
  if (!hist.ok()) return hist.status();
  std::vector<std::string> out;
  out.reserve(hist->elements.size());
  for (auto& e : hist->elements) out.push_back(std::move(e.str));
  return out;
}

absl::StatusOr<std::optional<std::vector<float>>> RedisRetrievalSource::UserVector(
    const std::string& version, const std::string& user) {
  return store_.GetUserVector(version, user);
}

absl::StatusOr<redis::ItemCounts> RedisRetrievalSource::TopTrending(int64_t now_ms, int k) {
  return redis::TopTrending(pool_, keys_, now_ms, k);
}

absl::Status RedisRetrievalSource::ScanUsers(
    const std::string& version,
    const std::function<absl::Status(const std::vector<std::string>&)>& batch) {
  // The version's user keys, by pattern (escaped as DeleteVersion does).
  const std::string prefix = keys_.ModelUser(version, "");
  std::string pattern;
  for (char ch : prefix) {
    if (ch == '*' || ch == '?' || ch == '[' || ch == ']' || ch == '\\') pattern.push_back('\\');
    pattern.push_back(ch);
  }
  pattern.push_back('*');
  return pool_.Scan(pattern, 1000, [&](std::vector<std::string>& keys) {
    std::vector<std::string> users;
    users.reserve(keys.size());
    for (const auto& key : keys) {
      if (key.size() > prefix.size()) users.push_back(key.substr(prefix.size()));
    }
    return batch(users);
  });
}

}  // namespace recstack::retrieval
