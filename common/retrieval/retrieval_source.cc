#include "common/retrieval/retrieval_source.h"

#include <string_view>

#include "absl/strings/str_cat.h"
#include "common/status/status.h"

namespace recstack::retrieval {

absl::StatusOr<events::UserHistory> RedisRetrievalSource::History(const std::string& user, int n,
                                                                  bool count) {
  const std::string key = keys_.History(user);
  std::vector<std::vector<std::string>> cmds = {{"ZREVRANGE", key, "0", std::to_string(n - 1)}};
  if (count) cmds.push_back({"ZCARD", key});
  RECSTACK_ASSIGN_OR_RETURN(auto replies, pool_.Pipeline(cmds));
  for (const auto& r : replies) {
    if (r.is_error()) return absl::UnavailableError(absl::StrCat("redis: ", r.str));
  }
  events::UserHistory out;
  out.items.reserve(replies[0].elements.size());
  for (auto& e : replies[0].elements) out.items.push_back(std::move(e.str));
  if (count) out.length = replies[1].integer;
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
