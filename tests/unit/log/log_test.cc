#include "common/log/log.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

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
  Init("test", "info");
  EXPECT_FALSE(Enabled(Level::kDebug));
  EXPECT_TRUE(Enabled(Level::kInfo));
}

// What a service prints: one parseable line per call on stderr, filtered
// lines absent.
TEST(Log, WritesJsonLinesToStderr) {
  Init("ranking", "info");
  ::testing::internal::CaptureStderr();
  Debug("hidden", {{"n", 1}});
  Info("started", {{"port", 50054}});
  Error("redis down", {{"attempt", 2}});
  std::string out = ::testing::internal::GetCapturedStderr();
  std::vector<nlohmann::json> lines;
  size_t start = 0;
  while (start < out.size()) {
    size_t end = out.find('\n', start);
    ASSERT_NE(end, std::string::npos) << "unterminated line: " << out.substr(start);
    lines.push_back(nlohmann::json::parse(out.substr(start, end - start)));
    start = end + 1;
  }
  ASSERT_EQ(lines.size(), 2u) << out;
  EXPECT_EQ(lines[0]["msg"], "started");
  EXPECT_EQ(lines[0]["level"], "info");
  EXPECT_EQ(lines[0]["service"], "ranking");
  EXPECT_EQ(lines[0]["port"], 50054);
  EXPECT_GT(lines[0]["ts"].get<int64_t>(), 1'600'000'000'000);  // milliseconds
  EXPECT_EQ(lines[1]["level"], "error");
  EXPECT_EQ(lines[1]["attempt"], 2);
}

TEST(Log, FieldsCannotBreakTheLine) {
  // Invalid UTF-8 is replaced rather than throwing; non-object fields are ignored.
  std::string line = Format(Level::kInfo, "s", std::string("bad \xff byte"), nlohmann::json(42), 1);
  auto j = nlohmann::json::parse(line);
  EXPECT_EQ(j.size(), 4u);
  EXPECT_EQ(j["ts"], 1);
}

TEST(Log, FieldsDoNotOverrideFixedKeys) {
  auto j = nlohmann::json::parse(
      Format(Level::kInfo, "ingestion", "accepted", {{"msg", "other"}, {"level", 7}}, 5));
  EXPECT_EQ(j["msg"], "accepted");
  EXPECT_EQ(j["level"], "info");
  EXPECT_EQ(j["field_msg"], "other");
  EXPECT_EQ(j["field_level"], 7);
}

}  // namespace
}  // namespace recstack::log
