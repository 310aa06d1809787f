# input: retrieval.json
# Our HNSW (hnswlib with 2M links at level 0) against FAISS's
# IndexHNSWFlat on the same 100k x 64 vectors, M 32, both built on 2 threads.
include "lib";
(.hnsw["100k"]) as $h
| [["100k x 64, M 32, efC \(.ef_construction)", "mean level-0 links", "recall@10 ef 64",
    "recall@10 ef 128"],
   ["ours (hnswlib, 2M at level 0)", ($h.level0_mean_degree | fixed(1)),
    ($h.ef64.hnsw_recall_at_10 | fixed(3)), ($h.ef128.hnsw_recall_at_10 | fixed(3))],
   ["FAISS IndexHNSWFlat", ($h.faiss_level0_mean_degree | fixed(1)),
    ($h.ef64.faiss_hnsw_recall_at_10 | fixed(3)), ($h.ef128.faiss_hnsw_recall_at_10 | fixed(3))]]
| table
