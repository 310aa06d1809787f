# input: retrieval.json
# What the exact indexes add to the factor matrix: bytes they own over the
# factors' bytes, and the resident memory measured around their construction.
include "lib";
[["items", "factors MiB", "factors + exact index, bytes / factors",
  "factors + exact index, RSS / factors", "factors + int8 copy, bytes / factors",
  "int8 copy RSS MiB"]]
+ ([.exact | to_entries[] | {n: (.key | rtrimstr("k") | tonumber * 1000), v: .value}]
   | sort_by(.n)
   | map(.v as $v
         | [(.n | items_label), ($v.factor_mb | sig),
            ($v.exact_index_bytes_over_factors | fixed(5)), ($v.exact_index_over_factors | fixed(5)),
            ($v.exact_int8_index_bytes_over_factors | fixed(3)), ($v.exact_int8_rss_mb | sig)]))
| table
