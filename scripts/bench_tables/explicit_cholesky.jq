# input: explicit_cholesky.json
# recstack-bench-cholesky: nanoseconds per (factors + 1)-sized matrix, one at
# a time vs LAPACK dpotrf vs CholeskyLowerBatch (tests/bench/train/run_explicit.sh).
include "lib";
[["kernel", "blas_core", "size", "one at a time (ns)", "LAPACK dpotrf (ns)", "batched (ns)",
  "one at a time / batched"]]
+ [.cholesky[] as $run | $run.results[]
   | [$run.kernel, $run.blas_core, (.size | tostring), (.row_ns | fixed(0)),
      (.lapack_ns | fixed(0)), (.batch_ns | fixed(0)), (.row_ns / .batch_ns | fixed(2))]]
| table
