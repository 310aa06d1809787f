#include "common/log/log.h"

#include <gtest/gtest.h>

namespace recstack::log {
namespace {

TEST(Log, OneJsonObjectPerLine) {
  std::string line = Format(Level::kWarn, "ingestion", "redis down\nretrying",
                            {{"attempt", 3}, {"error", "conn refused"}}, 1700000000000);
  EXPECT_EQ(line.find('\n'), std::string::npos);
  auto j = nlohmann::json::parse(line);
  EXPECT_EQ(j["level"], "warn");
  EXPECT_EQ(j["service"], "ingestion");
  EXPECT_EQ(j["msg"], "redis down\nretrying");
  EXPECT_EQ(j["attempt"], 3);
  EXPECT_EQ(j["ts"], 1700000000000);
}

TEST(Log, LevelFilter) {
  Init("test", "warn");
  EXPECT_FALSE(Enabled(Level::kInfo));
  EXPECT_TRUE(Enabled(Level::kError));
  Init("test", "debug");
  EXPECT_TRUE(Enabled(Level::kDebug));
}

}  // namespace
}  // namespace recstack::log
