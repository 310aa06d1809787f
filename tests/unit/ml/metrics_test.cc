#include "common/ml/metrics.h"

#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "common/math/rng.h"
#include "common/ml/envelope.h"

namespace recstack::ml {
namespace {

TEST(Metrics, LogLossOfAConstantPredictionIsTheBinaryEntropyFormula) {
  // 3 positives, 1 negative, p = 0.75: -(3/4 log .75 + 1/4 log .25).
  const std::vector<float> y = {1, 1, 1, 0};
  const std::vector<double> p(4, 0.75);
  EXPECT_NEAR(LogLoss(y, p), -(0.75 * std::log(0.75) + 0.25 * std::log(0.25)), 1e-12);
  // Weights count rows: weight 3 on one positive = three positives.
  const std::vector<float> y2 = {1, 0};
  const std::vector<float> w2 = {3, 1};
  const std::vector<double> p2(2, 0.75);
  EXPECT_NEAR(LogLoss(y2, p2, w2), LogLoss(y, p), 1e-12);
}

TEST(Metrics, AucMatchesThePairwiseCountWithTies) {
  math::Rng rng(3);
  std::vector<float> y(300);
  std::vector<double> s(300);
  for (size_t i = 0; i < y.size(); ++i) {
    y[i] = rng.Uniform() < 0.3 ? 1.0f : 0.0f;
    s[i] = std::floor(rng.Uniform() * 20) + y[i] * 3;  // many ties
  }
  double wins = 0, pairs = 0;
  for (size_t i = 0; i < y.size(); ++i) {
    for (size_t j = 0; j < y.size(); ++j) {
      if (y[i] == 1 && y[j] == 0) {
        pairs += 1;
        wins += s[i] > s[j] ? 1.0 : (s[i] == s[j] ? 0.5 : 0.0);
      }
    }
  }
  EXPECT_NEAR(Auc(y, s), wins / pairs, 1e-12);
  EXPECT_DOUBLE_EQ(Auc(std::vector<float>{0, 1}, std::vector<double>{0.1, 0.9}), 1.0);
  EXPECT_DOUBLE_EQ(Auc(std::vector<float>{1, 1}, std::vector<double>{0.1, 0.9}), 0.5);
}

TEST(Metrics, NdcgByHand) {
  // Group 7: clicked item ranked 2nd of 3 -> (1/log2 3) / 1. Group 8 has no
  // click and is skipped. Group 9: clicked item first -> 1.
  const std::vector<float> y = {0, 1, 0, 0, 0, 1, 0};
  const std::vector<double> s = {0.9, 0.5, 0.1, 0.3, 0.2, 0.8, 0.7};
  const std::vector<uint64_t> g = {7, 7, 7, 8, 8, 9, 9};
  EXPECT_NEAR(NdcgAtK(y, s, g, 10), (1 / std::log2(3.0) + 1) / 2, 1e-12);
  // At k = 1 group 7 scores 0.
  EXPECT_NEAR(NdcgAtK(y, s, g, 1), 0.5, 1e-12);
}

TEST(Envelope, Crc32CheckValue) {
  EXPECT_EQ(Crc32("123456789"), 0xCBF43926u);
  EXPECT_EQ(Crc32(""), 0u);
}

TEST(Envelope, RoundTripAndEveryTruncationRefused) {
  const std::string sealed = Seal("TEST", 3, "payload bytes");
  auto payload = Unseal(sealed, "TEST", 3, "test model");
  ASSERT_TRUE(payload.ok()) << payload.status();
  EXPECT_EQ(*payload, "payload bytes");
  for (size_t len = 0; len < sealed.size(); ++len) {
    auto s = Unseal(std::string_view(sealed).substr(0, len), "TEST", 3, "test model");
    EXPECT_EQ(s.status().code(), absl::StatusCode::kInvalidArgument) << len;
  }
  auto wrong_version = Unseal(sealed, "TEST", 4, "test model");
  EXPECT_NE(wrong_version.status().message().find("format version 3"), std::string::npos)
      << wrong_version.status();
  auto wrong_magic = Unseal(sealed, "ABCD", 3, "test model");
  EXPECT_NE(wrong_magic.status().message().find("magic"), std::string::npos);
  for (size_t i = 0; i < sealed.size(); ++i) {
    std::string bad = sealed;
    bad[i] ^= 0x10;
    EXPECT_FALSE(Unseal(bad, "TEST", 3, "test model").ok()) << "byte " << i;
  }
  std::string extended = sealed + "x";
  EXPECT_FALSE(Unseal(extended, "TEST", 3, "test model").ok());
}

TEST(Envelope, ReaderRefusesReadsPastTheEnd) {
  ByteWriter w;
  w.U32(1000);  // a string length with no bytes behind it
  ByteReader r(w.out(), "test");
  auto s = r.Str();
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.status().message().find("ends early"), std::string::npos) << s.status();
}

}  // namespace
}  // namespace recstack::ml
