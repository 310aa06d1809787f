# input: ease_ml100k.json
# recstack-bench-ease --dataset ml100k: recall@10 of the served (truncated)
# EASE top-10 against the full x_u B, mean over the seeds. Keys are
# "largest_N" / "magnitude_N" (plain "N" in files written before the
# magnitude truncation: the largest N).
include "lib";
def kept:
  if test("^[0-9]+$") then {n: tonumber, how: "largest weights"}
  else capture("^(?<how>[a-z]+)_(?<n>[0-9]+)$")
       | {n: (.n | tonumber),
          how: (if .how == "magnitude" then "largest in magnitude" else "largest weights" end)}
  end;
[["kept per row", "recall@10 vs full x_u B"]]
+ (.["mean_truncated_recall@10"] | to_entries
   | map((.key | kept) + {recall: .value})
   | sort_by(.how, .n)
   | map(["\(.n) \(.how)", (.recall | fixed(3))]))
| table
