#pragma once

// Which kernels OpenBLAS picked for this CPU ("SkylakeX", "Haswell", ...).
// Debian's OpenBLAS 0.3.21 is built with DYNAMIC_ARCH and identifies cores
// it knows by CPU model: on CPUs newer than it (a Xeon it does not know) it
// falls back to "Prescott", SSE3 kernels about 6x slower than SkylakeX's.
// OPENBLAS_CORETYPE in the environment overrides the choice, but only when
// set before the library loads: EnsureBlasCoreMatchesCpu sets it from the
// CPU's features and re-executes the program, so every binary that runs
// BLAS (the services, the CLI, the benchmarks) gets the right kernels
// however it was started (stack.sh, compose, k8s, by hand).

#include <string>
#include <string_view>

namespace recstack::math {

std::string BlasCoreName();

// The OpenBLAS core this CPU's features call for: "SkylakeX" with
// AVX-512F, "Haswell" with AVX2 and FMA (what OpenBLAS itself picks for
// Zen), "" otherwise (nothing to correct).
std::string BlasCoreForCpu();

// Whether OpenBLAS's `chosen` core uses vectors at least as wide as the
// `wanted` one (BlasCoreForCpu). An empty `wanted` is always satisfied.
bool BlasCoreIsAtLeast(std::string_view chosen, std::string_view wanted);

// First thing in main (before any thread or signal mask): when OpenBLAS
// chose a narrower core than the CPU supports and OPENBLAS_CORETYPE is not
// set, sets it to BlasCoreForCpu() and re-executes /proc/self/exe with the
// same arguments (the library reads the variable only when it loads).
// Returns when there is nothing to do, or when the re-execution fails (the
// program then runs on the narrower kernels).
void EnsureBlasCoreMatchesCpu(char** argv);

}  // namespace recstack::math
