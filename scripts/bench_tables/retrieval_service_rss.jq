# input: retrieval_service_rss.json
# recstack-bench-retrieval --service-rss: the serving model's memory, each
# configuration in a fresh process.
include "lib";
[["items", "index", "model RSS MiB", "model / factors", "process RSS MiB", "peak RSS MiB",
  "build s"]]
+ (.service_rss
   | map([(.items | items_label),
          (if .index == "hnsw"
           then "HNSW (efC \(.hnsw_ef_construction); ef \(.hnsw_ef), recall@10 \(.hnsw_recall_at_10 | fixed(3)))"
           else .index end),
          (.model_rss_mb | fixed(1)), (.model_over_factors | fixed(2)),
          (.process_rss_mb | fixed(1)), (.process_peak_rss_mb | fixed(1)), (.build_s | sig)]))
| table
