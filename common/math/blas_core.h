#pragma once

// Which kernels OpenBLAS picked for this CPU ("SkylakeX", "Haswell", ...).
// Debian's OpenBLAS 0.3.21 is built with DYNAMIC_ARCH and identifies cores
// it knows by CPU model: on CPUs newer than it (a Xeon it does not know) it
// falls back to "Prescott", SSE3 kernels about 6x slower than SkylakeX's.
// OPENBLAS_CORETYPE in the environment overrides the choice
// (tests/bench/train/run_paths.sh sets it from the CPU's flags).

#include <string>

namespace recstack::math {

std::string BlasCoreName();

}  // namespace recstack::math
