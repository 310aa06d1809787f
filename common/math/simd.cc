#include "common/math/simd.h"

#include <cpuid.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <iostream>

#include "absl/strings/str_cat.h"

namespace recstack::math {

std::string_view SimdLevelName(SimdLevel level) {
  switch (level) {
    case SimdLevel::kAvx512:
      return "avx512";
    case SimdLevel::kAvx2:
      return "avx2";
    default:
      return "default";
  }
}

absl::StatusOr<SimdLevel> ParseSimdLevel(std::string_view name) {
  for (SimdLevel l : {SimdLevel::kDefault, SimdLevel::kAvx2, SimdLevel::kAvx512}) {
    if (name == SimdLevelName(l)) return l;
  }
  return absl::InvalidArgumentError(
      absl::StrCat("SIMD level '", std::string(name), "': expected default, avx2 or avx512"));
}

SimdLevel DetectSimdLevel() {
  __builtin_cpu_init();
  const bool avx2 = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
  const bool avx512 = avx2 && __builtin_cpu_supports("avx512f") &&
                      __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512dq") &&
                      __builtin_cpu_supports("avx512vl");
  return avx512 ? SimdLevel::kAvx512 : avx2 ? SimdLevel::kAvx2 : SimdLevel::kDefault;
}

absl::StatusOr<SimdLevel> ResolveSimdLevel(SimdLevel detected, const char* override_value) {
  if (override_value == nullptr || *override_value == '\0') return detected;
  absl::StatusOr<SimdLevel> wanted = ParseSimdLevel(override_value);
  if (!wanted.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("RECSTACK_SIMD='", override_value, "': expected default, avx2 or avx512"));
  }
  return static_cast<SimdLevel>(std::min(static_cast<int>(detected), static_cast<int>(*wanted)));
}

SimdLevel ActiveSimdLevel() {
  static const SimdLevel level = [] {
    const SimdLevel detected = DetectSimdLevel();
    absl::StatusOr<SimdLevel> l = ResolveSimdLevel(detected, std::getenv("RECSTACK_SIMD"));
    if (!l.ok()) {
      std::cerr << "recstack: " << l.status().message() << "; using " << SimdLevelName(detected)
                << "\n";
      return detected;
    }
    return *l;
  }();
  return level;
}

std::string CpuModelName() {
  unsigned int regs[12] = {};
  // gcc's __get_cpuid_max returns unsigned, clang's int.
  if (static_cast<unsigned int>(__get_cpuid_max(0x80000000u, nullptr)) < 0x80000004u)
    return "unknown";
  for (unsigned int i = 0; i < 3; ++i) {
    __get_cpuid(0x80000002u + i, &regs[4 * i], &regs[4 * i + 1], &regs[4 * i + 2],
                &regs[4 * i + 3]);
  }
  char brand[49] = {};
  std::memcpy(brand, regs, 48);
  std::string s(brand);
  const size_t b = s.find_first_not_of(' ');
  const size_t e = s.find_last_not_of(' ');
  return b == std::string::npos ? "unknown" : s.substr(b, e - b + 1);
}

std::string CpuSimdFlags() {
  __builtin_cpu_init();
  std::string out;
  auto add = [&](const char* name, bool has) {
    if (!has) return;
    if (!out.empty()) out += ' ';
    out += name;
  };
  // __builtin_cpu_supports needs literal names.
  add("sse4_2", __builtin_cpu_supports("sse4.2"));
  add("avx", __builtin_cpu_supports("avx"));
  add("fma", __builtin_cpu_supports("fma"));
  add("avx2", __builtin_cpu_supports("avx2"));
  add("bmi2", __builtin_cpu_supports("bmi2"));
  add("avx512f", __builtin_cpu_supports("avx512f"));
  add("avx512bw", __builtin_cpu_supports("avx512bw"));
  add("avx512dq", __builtin_cpu_supports("avx512dq"));
  add("avx512vl", __builtin_cpu_supports("avx512vl"));
  add("avx512vnni", __builtin_cpu_supports("avx512vnni"));
  return out;
}

}  // namespace recstack::math
