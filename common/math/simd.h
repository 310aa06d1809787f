#pragma once

// SIMD dispatch by ISA features, in one place (STYLE rule 17). GCC's
// target_clones("arch=haswell") resolves by CPU *model*, so on AMD CPUs it
// falls back to the SSE2 clone; here the level is chosen from
// __builtin_cpu_supports feature bits once per process, and every kernel
// (common/math/kernels.cc, training's ALS and Gibbs rows, retrieval's
// scoring) picks its compiled variant from it.
//
// RECSTACK_SIMD=default|avx2|avx512 lowers the level (never raises it): on an
// AVX-512 machine RECSTACK_SIMD=avx2 runs the path AMD EPYC (Zen 2/3) takes.

#include <cstdint>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"

// Function attributes for the variants; the default variant has none (the
// build is generic x86-64). The AVX-512 set is what Skylake-SP and later
// (and AMD Zen 4) have.
#define RECSTACK_TARGET_AVX2 __attribute__((target("avx2,fma")))
#define RECSTACK_TARGET_AVX512 \
  __attribute__((target("avx512f,avx512bw,avx512dq,avx512vl,avx2,fma")))

namespace recstack::math {

enum class SimdLevel : int { kDefault = 0, kAvx2 = 1, kAvx512 = 2 };

// "default", "avx2", "avx512".
std::string_view SimdLevelName(SimdLevel level);
// The inverse; INVALID_ARGUMENT naming the accepted values otherwise.
absl::StatusOr<SimdLevel> ParseSimdLevel(std::string_view name);

// What the CPU (and the OS, which __builtin_cpu_supports checks through
// XGETBV) supports: kAvx512 needs avx512f/bw/dq/vl plus avx2 and fma, kAvx2
// needs avx2 and fma.
SimdLevel DetectSimdLevel();
// The level kernels use given the detected one and the override's value
// (nullptr or empty = none): min(detected, override). An unknown value is
// an error naming RECSTACK_SIMD.
absl::StatusOr<SimdLevel> ResolveSimdLevel(SimdLevel detected, const char* override_value);
// DetectSimdLevel() lowered by the RECSTACK_SIMD environment variable, read
// once; an invalid value is reported on stderr and ignored.
SimdLevel ActiveSimdLevel();

// For benchmark reports: the CPU's brand string (cpuid) and the features
// that matter to the kernels, space-separated ("sse4_2 avx fma avx2 ...").
std::string CpuModelName();
std::string CpuSimdFlags();

// One kernel's three compiled variants, chosen by ActiveSimdLevel(). Build it
// once (a function-local static) and call through Get().
template <typename Fn>
struct SimdVariants {
  Fn* default_fn;
  Fn* avx2_fn;
  Fn* avx512_fn;
  Fn* For(SimdLevel level) const {
    switch (level) {
      case SimdLevel::kAvx512:
        return avx512_fn;
      case SimdLevel::kAvx2:
        return avx2_fn;
      default:
        return default_fn;
    }
  }
};

}  // namespace recstack::math
