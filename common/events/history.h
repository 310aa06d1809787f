#pragma once

// A user's interaction history as Redis holds it (rs:hist:{user}, newest
// first): what retrieval reads for every Recommend and hands on to ranking
// (RetrieveResponse.history, RankRequest.history; proto UserHistory).

#include <cstdint>
#include <string>
#include <vector>

namespace recstack::events {

struct UserHistory {
  int64_t length = 0;              // entries in the whole history (0 when not counted)
  std::vector<std::string> items;  // the newest, newest first
};

// The most history items one request may ask for or hand on.
inline constexpr int kMaxHistoryItems = 1000;

}  // namespace recstack::events
