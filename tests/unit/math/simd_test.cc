#include "common/math/simd.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>
#include <vector>

#include "common/math/kernels.h"
#include "common/math/rng.h"

namespace recstack::math {
namespace {

std::vector<SimdLevel> LevelsUpTo(SimdLevel top) {
  std::vector<SimdLevel> out;
  for (int l = 0; l <= static_cast<int>(top); ++l) out.push_back(static_cast<SimdLevel>(l));
  return out;
}

TEST(Simd, DetectedLevelMatchesTheCpuFeatures) {
  // Features, not models: an AMD CPU with avx2 and fma must get kAvx2.
  __builtin_cpu_init();
  const bool avx2 = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
  const bool avx512 = avx2 && __builtin_cpu_supports("avx512f") &&
                      __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512dq") &&
                      __builtin_cpu_supports("avx512vl");
  const SimdLevel want = avx512 ? SimdLevel::kAvx512
                         : avx2 ? SimdLevel::kAvx2
                                : SimdLevel::kDefault;
  EXPECT_EQ(DetectSimdLevel(), want)
      << "detected " << SimdLevelName(DetectSimdLevel()) << ", CPU flags: " << CpuSimdFlags();
}

TEST(Simd, ActiveLevelIsTheDetectedOneLoweredByTheEnvironment) {
  // Registered twice in ctest: without RECSTACK_SIMD and with RECSTACK_SIMD=default.
  const char* env = std::getenv("RECSTACK_SIMD");
  absl::StatusOr<SimdLevel> want = ResolveSimdLevel(DetectSimdLevel(), env);
  ASSERT_TRUE(want.ok()) << want.status();
  EXPECT_EQ(ActiveSimdLevel(), *want);
  if (env != nullptr && std::string(env) == "default") {
    EXPECT_EQ(ActiveSimdLevel(), SimdLevel::kDefault);
  }
  if (env == nullptr) {
    EXPECT_EQ(ActiveSimdLevel(), DetectSimdLevel());
  }
}

TEST(Simd, OverrideOnlyLowers) {
  EXPECT_EQ(*ResolveSimdLevel(SimdLevel::kAvx512, "avx2"), SimdLevel::kAvx2);
  EXPECT_EQ(*ResolveSimdLevel(SimdLevel::kAvx512, "default"), SimdLevel::kDefault);
  EXPECT_EQ(*ResolveSimdLevel(SimdLevel::kAvx2, "avx512"), SimdLevel::kAvx2);
  EXPECT_EQ(*ResolveSimdLevel(SimdLevel::kDefault, "avx2"), SimdLevel::kDefault);
  EXPECT_EQ(*ResolveSimdLevel(SimdLevel::kAvx2, nullptr), SimdLevel::kAvx2);
  EXPECT_EQ(*ResolveSimdLevel(SimdLevel::kAvx2, ""), SimdLevel::kAvx2);
  absl::StatusOr<SimdLevel> bad = ResolveSimdLevel(SimdLevel::kAvx2, "sse9");
  ASSERT_EQ(bad.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(bad.status().message().find("RECSTACK_SIMD"), std::string::npos) << bad.status();
  EXPECT_NE(bad.status().message().find("sse9"), std::string::npos) << bad.status();
  for (SimdLevel l : {SimdLevel::kDefault, SimdLevel::kAvx2, SimdLevel::kAvx512}) {
    EXPECT_EQ(*ParseSimdLevel(SimdLevelName(l)), l);
  }
}

TEST(Simd, CpuDescriptionIsNotEmpty) {
  EXPECT_FALSE(CpuModelName().empty());
  if (DetectSimdLevel() >= SimdLevel::kAvx2) {
    EXPECT_NE(CpuSimdFlags().find("avx2"), std::string::npos) << CpuSimdFlags();
  }
}

TEST(Simd, EveryVariantAgreesWithTheDoubleLoop) {
  Rng rng(3);
  for (int64_t n : {1, 3, 8, 15, 16, 17, 31, 64, 100, 257}) {
    std::vector<float> a(n), b(n);
    for (auto& v : a) v = static_cast<float>(rng.Normal());
    for (auto& v : b) v = static_cast<float>(rng.Normal());
    double want = 0, scale = 0;
    for (int64_t i = 0; i < n; ++i) {
      want += static_cast<double>(a[i]) * b[i];
      scale += std::fabs(static_cast<double>(a[i]) * b[i]);
    }
    const int rows = 7;
    std::vector<float> m(rows * n);
    for (auto& v : m) v = static_cast<float>(rng.Normal());
    for (SimdLevel level : LevelsUpTo(DetectSimdLevel())) {
      SCOPED_TRACE(std::string(SimdLevelName(level)) + " n=" + std::to_string(n));
      EXPECT_NEAR(DotAt(level, a.data(), b.data(), n), want, 1e-5 * scale + 1e-6);
      std::vector<float> y = b;
      AxpyAt(level, 0.5f, a.data(), y.data(), n);
      for (int64_t i = 0; i < n; ++i) EXPECT_NEAR(y[i], b[i] + 0.5 * a[i], 1e-6);
      std::vector<float> out(rows), ref(rows);
      RowDotsAt(level, m.data(), rows, n, a.data(), out.data());
      RowDotsAt(SimdLevel::kDefault, m.data(), rows, n, a.data(), ref.data());
      for (int r = 0; r < rows; ++r) {
        double s = 0, sa = 0;
        for (int64_t i = 0; i < n; ++i) {
          s += static_cast<double>(m[r * n + i]) * a[i];
          sa += std::fabs(static_cast<double>(m[r * n + i]) * a[i]);
        }
        EXPECT_NEAR(out[r], s, 1e-5 * sa + 1e-6);
        EXPECT_NEAR(out[r], ref[r], 2e-5 * sa + 1e-6);
      }
    }
  }
}

}  // namespace
}  // namespace recstack::math
