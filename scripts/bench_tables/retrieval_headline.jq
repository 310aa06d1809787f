# input: retrieval.json
# The headline of recstack-bench-retrieval: 100k x 64, one query thread.
include "lib";
(.exact["100k"]) as $e
| (.hnsw["100k"]) as $h
| [["", "value"],
   ["exact_us", (.exact_us | fixed(0))],
   ["faiss_flat_us", (.faiss_flat_us | fixed(0))],
   ["exact_over_faiss", (.exact_over_faiss | fixed(2))],
   ["bandwidth_floor_us (one plain read of the same \($e.factor_mb | sig) MiB matrix)",
    (.bandwidth_floor_us | fixed(0))],
   ["exact_over_floor", (.exact_over_floor | fixed(2))],
   ["exact_int8_us (same top-10 on all \(.queries) queries: \(.exact_int8_same_top10_all_queries))",
    (.exact_int8_us | fixed(0))],
   ["hnsw_us / hnsw_recall_at_10 (ef 128)",
    "\(.hnsw_us | fixed(0)) / \(.hnsw_recall_at_10 | fixed(4))"],
   ["faiss_hnsw_us / faiss_hnsw_recall_at_10 (ef 128)",
    "\(.faiss_hnsw_us | fixed(0)) / \(.faiss_hnsw_recall_at_10 | fixed(4))"],
   ["ef 64: ours / FAISS",
    "\($h.ef64.hnsw_us | fixed(0)) us, \($h.ef64.hnsw_recall_at_10 | fixed(3)) / \($h.ef64.faiss_hnsw_us | fixed(0)) us, \($h.ef64.faiss_hnsw_recall_at_10 | fixed(3))"],
   ["HNSW build, 2 threads: ours / FAISS",
    "\($h.build_s | sig) s / \($h.faiss_build_s | sig) s"]]
| table
