// The item formats ingestion writes and the other services read
// (common/redis/item_hash.h): the categories field and the announcement of
// changed items.
#include "common/redis/item_hash.h"
#include "common/redis/subscriber.h"

#include <gtest/gtest.h>

#include <string>
#include <string_view>
#include <vector>

namespace recstack::redis {
namespace {

using Views = std::vector<std::string_view>;

TEST(ItemHash, CategoriesSplitOnTheBar) {
  EXPECT_EQ(SplitCategories("drama|comedy"), (std::vector<std::string>{"drama", "comedy"}));
  EXPECT_EQ(SplitCategories("drama"), (std::vector<std::string>{"drama"}));
  EXPECT_TRUE(SplitCategories("").empty());
}

TEST(ItemHash, AnAnnouncementNamesEveryItemOncePerLine) {
  const std::vector<std::string> ids = {"i1", "movie 2", "ünï"};
  const std::string m = UpdatesMessage(ids);
  EXPECT_EQ(m, "i1\nmovie 2\nünï");
  EXPECT_EQ(ParseUpdates(m), (Views{"i1", "movie 2", "ünï"}));
  EXPECT_EQ(ParseUpdates(UpdatesMessage({"one"})), (Views{"one"}));
  EXPECT_TRUE(ParseUpdates(UpdatesMessage({})).empty());
  // Empty lines (a stray newline from another publisher) name no item.
  EXPECT_EQ(ParseUpdates("\na\n\nb\n"), (Views{"a", "b"}));
}

}  // namespace
}  // namespace recstack::redis
