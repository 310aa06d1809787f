# input: retrieval.json
# What one exact query reads, and how fast, against the bandwidth floor (one
# plain streaming sum of the same matrix, as warm, timed like a query) and
# one thread's read of a 256 MiB array (read_gb_per_s).
include "lib";
.read_gb_per_s as $read
| [["items", "matrix MiB", "floor GB/s", "exact GB/s", "exact/floor", "int8/exact",
    "int8/floor", "256 MiB read GB/s"]]
  + ([.exact | to_entries[] | {n: (.key | rtrimstr("k") | tonumber * 1000), v: .value}]
     | sort_by(.n)
     | map(.v as $v
           | [(.n | items_label), ($v.factor_mb | sig),
              ($v.factor_mb * 1048576 / ($v.bandwidth_floor_us * 1e-6) / 1e9 | sig),
              ($v.gb_per_s | sig), ($v.exact_over_floor | fixed(2)),
              ($v.exact_int8_over_exact | fixed(2)),
              ($v.exact_int8_us / $v.bandwidth_floor_us | fixed(2)), ($read | sig)]))
| table
