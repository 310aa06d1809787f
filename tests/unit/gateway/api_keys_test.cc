// ApiKeys (services/gateway/api_keys.h) without sockets: the file's rules,
// the token bucket against its closed form on a hand-moved clock, SHA-256
// against the FIPS 180-2 test vector, and rotation by rewriting the file.
#include "services/gateway/api_keys.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>

namespace recstack::gateway {
namespace {

constexpr char kWebKey[] = "web-key-0123456789abcdef";
constexpr char kBatchKey[] = "batch-key-0123456789abcdef";

std::string Hex(const std::string& raw) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out;
  for (unsigned char c : raw) {
    out.push_back(kDigits[c >> 4]);
    out.push_back(kDigits[c & 15]);
  }
  return out;
}

TEST(Sha256, MatchesTheStandardsTestVector) {
  EXPECT_EQ(Hex(Sha256("abc")), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

TEST(ParseApiKeys, ReadsKeysHashesRatesAndDefaultBursts) {
  auto specs = ParseApiKeys(std::string(R"({"keys": [
      {"name": "web", "key": ")") +
                            kWebKey + R"(", "rate_per_second": 100, "burst": 200},
      {"name": "batch", "sha256": ")" +
                            Hex(Sha256(kBatchKey)) + R"(", "rate_per_second": 0.5}]})");
  ASSERT_TRUE(specs.ok()) << specs.status();
  ASSERT_EQ(specs->size(), 2u);
  EXPECT_EQ((*specs)[0].name, "web");
  EXPECT_EQ((*specs)[0].sha256, Sha256(kWebKey));
  EXPECT_EQ((*specs)[0].rate_per_second, 100);
  EXPECT_EQ((*specs)[0].burst, 200);
  EXPECT_EQ((*specs)[1].sha256, Sha256(kBatchKey));
  EXPECT_EQ((*specs)[1].burst, 1);  // max(1, rate)
}

TEST(ParseApiKeys, EveryBrokenRuleIsNamedWithItsEntry) {
  const std::string good = std::string(R"("key": ")") + kWebKey + R"(", "rate_per_second": 10)";
  struct Case {
    std::string json, message;
  } cases[] = {
      {"{", "not valid JSON"},
      {R"({"key": []})", R"(expected {"keys": [...]})"},
      {R"({"keys": []})", "1-1000 allowed"},
      {R"({"keys": [1]})", "keys[0]: not an object"},
      {R"({"keys": [{"name": "a b", )" + good + "}]}", "keys[0]: \"name\" must be"},
      {R"({"keys": [{"name": "w", )" + good + R"(, "extra": 1}]})", "unknown field \"extra\""},
      {R"({"keys": [{"name": "w", "rate_per_second": 1}]})", "exactly one of"},
      {R"({"keys": [{"name": "w", "key": "short", "rate_per_second": 1}]})", "16-256 printable"},
      {R"({"keys": [{"name": "w", "sha256": "abc", "rate_per_second": 1}]})", "64 hex digits"},
      {R"({"keys": [{"name": "w", "key": ")" + std::string(kWebKey) + R"("}]})",
       "\"rate_per_second\" must be"},
      {R"({"keys": [{"name": "w", )" + good + R"(, "burst": 0.5}]})", "\"burst\" must be"},
      {R"({"keys": [{"name": "w", )" + good + R"(}, {"name": "w", "key": ")" + kBatchKey +
           R"(", "rate_per_second": 1}]})",
       "keys[1] (\"w\"): the name is used twice"},
      {R"({"keys": [{"name": "w", )" + good + R"(}, {"name": "v", "sha256": ")" +
           Hex(Sha256(kWebKey)) + R"(", "rate_per_second": 1}]})",
       "keys[1] (\"v\"): the same key as an earlier entry"},
  };
  for (const Case& c : cases) {
    auto r = ParseApiKeys(c.json);
    ASSERT_FALSE(r.ok()) << c.json;
    EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_NE(r.status().message().find(c.message), std::string::npos)
        << c.json << " -> " << r.status().message();
  }
}

class KeysFile : public ::testing::Test {
 protected:
  void SetUp() override {
    path_ = std::filesystem::temp_directory_path() /
            ("recstack-api-keys-" + std::to_string(::getpid()) + "-" +
             ::testing::UnitTest::GetInstance()->current_test_info()->name() + ".json");
  }
  void TearDown() override { std::filesystem::remove(path_); }
  void Write(const std::string& text) {
    // A new file renamed over the old one, as an editor or a Secret update
    // does: the inode changes even within the same second.
    const std::string tmp = path_.string() + ".tmp";
    std::ofstream(tmp) << text;
    std::filesystem::rename(tmp, path_);
  }
  static std::string One(const std::string& name, const std::string& key, double rate,
                         double burst) {
    return R"({"keys": [{"name": ")" + name + R"(", "key": ")" + key + R"(", "rate_per_second": )" +
           std::to_string(rate) + R"(, "burst": )" + std::to_string(burst) + "}]}";
  }

  std::filesystem::path path_;
  ManualClock clock_{1'000'000};
};

TEST_F(KeysFile, MissingAndUnknownKeysAreUnauthenticated) {
  Write(One("web", kWebKey, 10, 10));
  ApiKeys keys(path_.string(), clock_, nullptr);
  ASSERT_TRUE(keys.Load().ok());
  EXPECT_EQ(keys.Check("").status.code(), absl::StatusCode::kUnauthenticated);
  EXPECT_EQ(keys.Check(kBatchKey).status.code(), absl::StatusCode::kUnauthenticated);
  EXPECT_EQ(keys.Check(std::string(10'000, 'x')).status.code(), absl::StatusCode::kUnauthenticated);
  ApiKeys::Decision ok = keys.Check(kWebKey);
  EXPECT_TRUE(ok.status.ok());
  EXPECT_EQ(ok.key_name, "web");
}

TEST_F(KeysFile, ABucketAllowsItsBurstThenItsRateAndSaysWhenToRetry) {
  Write(One("web", kWebKey, 50, 10));
  ApiKeys keys(path_.string(), clock_, nullptr);
  ASSERT_TRUE(keys.Load().ok());
  for (int i = 0; i < 10; ++i) ASSERT_TRUE(keys.Check(kWebKey).status.ok()) << i;
  ApiKeys::Decision over = keys.Check(kWebKey);
  EXPECT_EQ(over.status.code(), absl::StatusCode::kResourceExhausted);
  EXPECT_NEAR(over.retry_after_s, 1.0 / 50, 1e-9);  // an empty bucket: one token's time
  EXPECT_EQ(over.RetryAfterHeader(), 1);
  EXPECT_NE(over.status.message().find("\"web\" is over its rate (50/s, burst 10)"),
            std::string::npos)
      << over.status.message();
  clock_.AdvanceMs(10);  // half a token
  over = keys.Check(kWebKey);
  EXPECT_EQ(over.status.code(), absl::StatusCode::kResourceExhausted);
  EXPECT_NEAR(over.retry_after_s, 0.5 / 50, 1e-9);
  clock_.AdvanceMs(10);
  EXPECT_TRUE(keys.Check(kWebKey).status.ok());

  // A steady 1000 requests/s for 100 s against 50/s: the closed form is
  // the burst left (0) plus rate x time, whatever the arrival pattern.
  int allowed = 0;
  for (int ms = 0; ms < 100'000; ++ms) {
    clock_.AdvanceMs(1);
    allowed += keys.Check(kWebKey).status.ok();
  }
  EXPECT_NEAR(allowed, 50 * 100, 1);
}

TEST_F(KeysFile, AKeyGivenByItsHashWorks) {
  Write(R"({"keys": [{"name": "batch", "sha256": ")" + Hex(Sha256(kBatchKey)) +
        R"(", "rate_per_second": 1}]})");
  ApiKeys keys(path_.string(), clock_, nullptr);
  ASSERT_TRUE(keys.Load().ok());
  EXPECT_TRUE(keys.Check(kBatchKey).status.ok());
  EXPECT_EQ(keys.Check(Hex(Sha256(kBatchKey))).status.code(), absl::StatusCode::kUnauthenticated);
}

TEST_F(KeysFile, ABadFileFailsTheFirstLoadWithItsPath) {
  Write("{");
  ApiKeys keys(path_.string(), clock_, nullptr);
  absl::Status st = keys.Load();
  EXPECT_EQ(st.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(st.message().find(path_.string()), std::string::npos) << st.message();
  ApiKeys none("/nonexistent/keys.json", clock_, nullptr);
  EXPECT_NE(none.Load().message().find("cannot read"), std::string::npos);
}

TEST_F(KeysFile, RotationTakesTheNewFileAndABadOneKeepsTheKeysInForce) {
  Write(One("web", kWebKey, 1000, 1000));
  ApiKeys keys(path_.string(), clock_, nullptr);
  ASSERT_TRUE(keys.Load().ok());
  EXPECT_TRUE(keys.ReloadIfChanged().ok());  // unchanged: nothing to do
  EXPECT_TRUE(keys.Check(kWebKey).status.ok());

  Write(One("batch", kBatchKey, 1000, 1000));
  ASSERT_TRUE(keys.ReloadIfChanged().ok());
  EXPECT_EQ(keys.Check(kWebKey).status.code(), absl::StatusCode::kUnauthenticated);
  EXPECT_TRUE(keys.Check(kBatchKey).status.ok());

  Write(R"({"keys": [{"name": "web"}]})");
  EXPECT_EQ(keys.ReloadIfChanged().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(keys.Check(kBatchKey).status.ok());
  EXPECT_EQ(keys.size(), 1u);
}

TEST_F(KeysFile, AReloadDoesNotRefillAKeysBucket) {
  Write(One("web", kWebKey, 1, 3));
  ApiKeys keys(path_.string(), clock_, nullptr);
  ASSERT_TRUE(keys.Load().ok());
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(keys.Check(kWebKey).status.ok());
  ASSERT_FALSE(keys.Check(kWebKey).status.ok());
  Write(One("web", kWebKey, 1, 5));  // same key, a larger burst
  ASSERT_TRUE(keys.ReloadIfChanged().ok());
  EXPECT_EQ(keys.Check(kWebKey).status.code(), absl::StatusCode::kResourceExhausted);
}

TEST_F(KeysFile, TheWatcherPicksUpARotatedFile) {
  Write(One("web", kWebKey, 1000, 1000));
  ApiKeys keys(path_.string(), clock_, nullptr);
  ASSERT_TRUE(keys.Load().ok());
  keys.StartWatching(std::chrono::milliseconds(10));
  Write(One("batch", kBatchKey, 1000, 1000));
  bool rotated = false;
  for (int i = 0; i < 500 && !rotated; ++i) {
    rotated = keys.Check(kBatchKey).status.ok();
    if (!rotated) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  EXPECT_TRUE(rotated);
  keys.Stop();
}

}  // namespace
}  // namespace recstack::gateway
