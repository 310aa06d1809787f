# input: ease_ml100k.json
# recstack-bench-ease --dataset ml100k: the two Gram paths of EASE on seed
# 42's training matrix, best of 3 each.
include "lib";
[["Gram path", "seconds"]]
+ (.gram_seconds | to_entries | map([.key, (.value | sig)]))
| table
