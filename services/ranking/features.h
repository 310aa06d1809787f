#pragma once

// Features of (user, candidate) pairs, assembled in one place (DESIGN §6)
// from the request and Redis, with one pipelined round trip per request:
//   retrieval_score     the candidate's score from retrieval, divided by the
//                       best score of its source in this request (0-1)
//   source_mf, source_item2item, source_trending   one-hot retrieval source
//   retrieval_position  0-based position in retrieval's answer
//   popularity          log(1 + weighted count over the trending window)
//   item_age_days       days since the item's created_at (0 when unknown)
//   user_activity       log(1 + length of the user's history)
//   category_overlap    share of the item's categories among the user's
//                       recent items' categories (0-1)

#include <array>
#include <cstdint>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "absl/status/statusor.h"
#include "common/clock/clock.h"
#include "common/redis/client.h"

namespace recstack::ranking {

enum Feature : int {
  kRetrievalScore, kSourceMf, kSourceItem2Item, kSourceTrending, kRetrievalPosition,
  kPopularity, kItemAgeDays, kUserActivity, kCategoryOverlap, kNumFeatures,
};
std::string_view FeatureName(int f);
// -1 for an unknown name.
int FeatureIndex(std::string_view name);

struct CandidateIn {
  std::string item_id;
  double retrieval_score = 0;
  std::string source;
  int position = 0;
};

struct FeatureRow {
  std::string item_id;
  std::array<double, kNumFeatures> f{};
};

class FeatureAssembler {
 public:
  FeatureAssembler(redis::Pool& pool, redis::Keyspace keys, const Clock& clock, int trending_window_hours = 24,
                   int recent_items = 20);
  absl::StatusOr<std::vector<FeatureRow>> Assemble(std::string_view user, const std::vector<CandidateIn>& cands);

 private:
  absl::StatusOr<std::shared_ptr<const std::unordered_map<std::string, double>>> Popularity();

  redis::Pool& pool_;
  redis::Keyspace keys_;
  const Clock& clock_;
  int window_hours_, recent_items_;
  std::mutex mu_;
  std::shared_ptr<const std::unordered_map<std::string, double>> popularity_;
  int64_t popularity_at_ms_ = -1;
};

}  // namespace recstack::ranking
