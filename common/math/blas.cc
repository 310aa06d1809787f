#include "common/math/blas.h"
#include "common/math/blas_core.h"

#include <cblas.h>
#include <unistd.h>

#include <array>
#include <cstdlib>

namespace recstack::math {

void SetBlasThreads(int threads) {
  if (threads > 0) openblas_set_num_threads(threads);
}

int BlasThreads() { return openblas_get_num_threads(); }

std::string BlasCoreName() {
  const char* name = openblas_get_corename();
  return name == nullptr ? "" : name;
}

std::string BlasCoreForCpu() {
  __builtin_cpu_init();
  if (__builtin_cpu_supports("avx512f")) return "SkylakeX";
  if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) return "Haswell";
  return "";
}

bool BlasCoreIsAtLeast(std::string_view chosen, std::string_view wanted) {
  // OpenBLAS's x86-64 cores with AVX-512 kernels, and those with AVX2 ones.
  constexpr std::array<std::string_view, 3> kAvx512 = {"SkylakeX", "Cooperlake", "SapphireRapids"};
  constexpr std::array<std::string_view, 3> kAvx2 = {"Haswell", "Zen", "Excavator"};
  const auto in = [&](const auto& set) {
    for (std::string_view c : set)
      if (c == chosen) return true;
    return false;
  };
  if (wanted.empty()) return true;
  if (wanted == "SkylakeX") return in(kAvx512);
  if (wanted == "Haswell") return in(kAvx512) || in(kAvx2);
  return chosen == wanted;
}

void EnsureBlasCoreMatchesCpu(char** argv) {
  if (std::getenv("OPENBLAS_CORETYPE") != nullptr) return;  // the user's (or our earlier) choice
  const std::string wanted = BlasCoreForCpu();
  if (BlasCoreIsAtLeast(BlasCoreName(), wanted)) return;
  if (setenv("OPENBLAS_CORETYPE", wanted.c_str(), 1) != 0) return;
  execv("/proc/self/exe", argv);
  // Only on failure: carry on with OpenBLAS's own choice.
}

void Gemm(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, float alpha, const float* a,
          int64_t lda, const float* b, int64_t ldb, float beta, float* c, int64_t ldc) {
  cblas_sgemm(CblasRowMajor, trans_a ? CblasTrans : CblasNoTrans,
              trans_b ? CblasTrans : CblasNoTrans, static_cast<blasint>(m), static_cast<blasint>(n),
              static_cast<blasint>(k), alpha, a, static_cast<blasint>(lda), b,
              static_cast<blasint>(ldb), beta, c, static_cast<blasint>(ldc));
}

void Gemv(bool trans, int64_t rows, int64_t cols, float alpha, const float* a, int64_t lda,
          const float* x, float beta, float* y) {
  cblas_sgemv(CblasRowMajor, trans ? CblasTrans : CblasNoTrans, static_cast<blasint>(rows),
              static_cast<blasint>(cols), alpha, a, static_cast<blasint>(lda), x, 1, beta, y, 1);
}

void SyrkAtA(int64_t n, int64_t k, float alpha, const float* a, int64_t lda, float beta, float* c) {
  cblas_ssyrk(CblasRowMajor, CblasUpper, CblasTrans, static_cast<blasint>(n),
              static_cast<blasint>(k), alpha, a, static_cast<blasint>(lda), beta, c,
              static_cast<blasint>(n));
  for (int64_t i = 0; i < n; ++i) {
    for (int64_t j = 0; j < i; ++j) c[i * n + j] = c[j * n + i];
  }
}

}  // namespace recstack::math
