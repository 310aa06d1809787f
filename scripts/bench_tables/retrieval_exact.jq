# input: retrieval.json
# Exact top-10 at every catalogue size: ours, the int8 filter (and how many
# rows it re-scored per query), the bandwidth floor and FAISS's IndexFlatIP,
# one query thread.
include "lib";
.queries as $q
| [["items", "exact_us", "floor_us", "exact/floor", "int8_us", "int8 same top-10",
    "int8 rescored rows", "faiss_flat_us", "exact/FAISS"]]
  + ([.exact | to_entries[] | {n: (.key | rtrimstr("k") | tonumber * 1000), v: .value}]
     | sort_by(.n)
     | map(.v as $v
           | [(.n | items_label), ($v.exact_us | fixed(0)), ($v.bandwidth_floor_us | fixed(0)),
              ($v.exact_over_floor | fixed(2)), ($v.exact_int8_us | fixed(0)),
              "\($v.exact_int8_same_top10_fraction * $q | round)/\($q)",
              ($v.exact_int8_rescored_mean | sig),
              ($v.faiss_flat_us | fixed(0)), ($v.exact_over_faiss | fixed(2))]))
| table
