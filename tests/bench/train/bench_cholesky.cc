// recstack-bench-cholesky: the explicit solvers' per-row Cholesky (ALS and
// the Gibbs sampler factor one (factors + 1) x (factors + 1) SPD matrix per
// row, in double) three ways, on the same seeded matrices X^T X + I (X with
// 100 rows, like a MovieLens row's ratings):
//  - row: CholeskyLower, one matrix at a time (what the solvers run),
//  - lapack: OpenBLAS's dpotrf per matrix (single-threaded),
//  - batch: CholeskyLowerBatch, kCholeskyBatch matrices at once with SIMD
//    across them, including packing them in and unpacking the factors out.
// Reports nanoseconds per matrix (median of --reps) and the largest
// difference of each factor from the row path's. Prints one JSON object.
#include <cblas.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstring>
#include <iostream>
#include <nlohmann/json.hpp>
#include <vector>

#include "common/math/blas.h"
#include "common/math/blas_core.h"
#include "common/math/rng.h"
#include "common/math/simd.h"
#include "common/mf/sampling.h"

extern "C" {
void dpotrf_(const char* uplo, const blasint* n, double* a, const blasint* lda, blasint* info,
             size_t uplo_len);
}

namespace {

using recstack::mf::kCholeskyBatch;

double Now() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

double Median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

// count SPD k x k matrices X^T X + I, row-major, X 100 x k ~ N(0, 0.1^2).
std::vector<double> SpdMatrices(int count, int k, uint64_t seed) {
  recstack::math::Rng rng(seed);
  std::vector<double> out(static_cast<size_t>(count) * k * k), x(100 * k);
  for (int c = 0; c < count; ++c) {
    for (double& v : x) v = rng.Normal() * 0.1;
    double* a = out.data() + static_cast<size_t>(c) * k * k;
    for (int i = 0; i < k; ++i) {
      for (int j = 0; j <= i; ++j) {
        double s = i == j ? 1.0 : 0.0;
        for (int r = 0; r < 100; ++r) s += x[r * k + i] * x[r * k + j];
        a[i * k + j] = a[j * k + i] = s;
      }
    }
  }
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  recstack::math::EnsureBlasCoreMatchesCpu(argv);  // may re-execute: first
  CLI::App app{"The explicit solvers' row Cholesky: per row, LAPACK dpotrf, batched"};
  std::vector<int> sizes = {17, 33, 65, 129};
  int count = 256, reps = 7;
  app.add_option("--sizes", sizes, "matrix sizes (factors + 1)")->capture_default_str();
  app.add_option("--count", count, "matrices per repetition (a multiple of the batch)")
      ->capture_default_str();
  app.add_option("--reps", reps, "repetitions (median reported)")->capture_default_str();
  CLI11_PARSE(app, argc, argv);
  if (count <= 0 || count % kCholeskyBatch != 0) {
    std::cerr << "recstack-bench-cholesky: --count must be a positive multiple of "
              << kCholeskyBatch << ", got " << count << "\n";
    return 2;
  }
  for (int k : sizes) {
    if (k < 1 || k > 1025) {
      std::cerr << "recstack-bench-cholesky: --sizes must be 1-1025, got " << k << "\n";
      return 2;
    }
  }
  recstack::math::SetBlasThreads(1);
  nlohmann::json results = nlohmann::json::array();
  for (int k : sizes) {
    const size_t kk = static_cast<size_t>(k) * k;
    const std::vector<double> mats = SpdMatrices(count, k, 42 + k);
    std::vector<double> row_out(mats.size()), lapack_out(mats.size()), batch_out(mats.size());
    std::vector<double> work(kk), packed(static_cast<size_t>(k) * (k + 1) / 2 * kCholeskyBatch);
    std::vector<double> t_row, t_lapack, t_batch;
    bool all_ok = true;
    for (int r = 0; r < reps; ++r) {
      double t = Now();
      for (int c = 0; c < count; ++c) {
        std::memcpy(work.data(), mats.data() + c * kk, kk * sizeof(double));
        all_ok &= recstack::mf::CholeskyLower(work.data(), k);
        std::memcpy(row_out.data() + c * kk, work.data(), kk * sizeof(double));
      }
      t_row.push_back(Now() - t);
      t = Now();
      for (int c = 0; c < count; ++c) {
        std::memcpy(work.data(), mats.data() + c * kk, kk * sizeof(double));
        // Row-major lower = column-major upper.
        const char uplo = 'U';
        const blasint n = k;
        blasint info = 0;
        dpotrf_(&uplo, &n, work.data(), &n, &info, 1);
        all_ok &= info == 0;
        std::memcpy(lapack_out.data() + c * kk, work.data(), kk * sizeof(double));
      }
      t_lapack.push_back(Now() - t);
      t = Now();
      for (int c0 = 0; c0 < count; c0 += kCholeskyBatch) {
        for (int m = 0; m < kCholeskyBatch; ++m) {
          const double* a = mats.data() + (c0 + m) * kk;
          size_t e = 0;
          for (int i = 0; i < k; ++i)
            for (int j = 0; j <= i; ++j, ++e) packed[e * kCholeskyBatch + m] = a[i * k + j];
        }
        bool ok[kCholeskyBatch];
        recstack::mf::CholeskyLowerBatch(packed.data(), k, ok);
        for (int m = 0; m < kCholeskyBatch; ++m) {
          all_ok &= ok[m];
          double* out = batch_out.data() + (c0 + m) * kk;
          size_t e = 0;
          for (int i = 0; i < k; ++i)
            for (int j = 0; j <= i; ++j, ++e) out[i * k + j] = packed[e * kCholeskyBatch + m];
        }
      }
      t_batch.push_back(Now() - t);
    }
    double diff_lapack = 0, diff_batch = 0;
    for (int c = 0; c < count; ++c) {
      for (int i = 0; i < k; ++i) {
        for (int j = 0; j <= i; ++j) {
          const size_t e = c * kk + i * k + j;
          diff_lapack = std::max(diff_lapack, std::abs(lapack_out[e] - row_out[e]));
          diff_batch = std::max(diff_batch, std::abs(batch_out[e] - row_out[e]));
        }
      }
    }
    const double ns = 1e9 / count;
    results.push_back({{"size", k},
                       {"row_ns", Median(t_row) * ns},
                       {"lapack_ns", Median(t_lapack) * ns},
                       {"batch_ns", Median(t_batch) * ns},
                       {"lapack_max_abs_diff", diff_lapack},
                       {"batch_max_abs_diff", diff_batch},
                       {"all_positive_definite", all_ok}});
  }
  nlohmann::json j = {
      {"kernel", std::string(recstack::math::SimdLevelName(recstack::math::ActiveSimdLevel()))},
      {"blas_core", recstack::math::BlasCoreName()},
      {"cpu_model", recstack::math::CpuModelName()},
      {"batch", kCholeskyBatch},
      {"matrices", count},
      {"reps", reps},
      {"results", results}};
  std::cout << j.dump() << "\n";
  return 0;
}
