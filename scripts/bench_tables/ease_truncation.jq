# input: ease_ml100k.json
# recstack-bench-ease --dataset ml100k: each way of keeping part of B, mean
# over seeds 42-44: recall@10 of the served top-10 against the full x_u B
# top-10 (every user with training items), the served model's own NDCG@10
# on the test rows, and what it stores and reads. Published first.
include "lib";
def describe:
  if test("^importance_[0-9]+$") then
    "importance, \(ltrimstr("importance_")) per row on average" +
    (if . == "importance_200" then " (**published**)" else "" end)
  elif . == "importance_200_heldout_users" then
    "importance, 200 on average, q from the even users; recall of the odd users"
  elif . == "importance_per_row_200" then "importance, exactly 200 per row"
  elif . == "popularity_per_row_200" then "\\|B_ji\\| x training count of i, 200 per row"
  elif . == "magnitude_200_mean_dropped_subtracted" then
    "200 largest in magnitude, the row's mean dropped weight subtracted"
  elif . == "magnitude_200_refit" then "200 largest in magnitude, refit on that pattern"
  elif . == "importance_200_refit" then "importance (published pattern), refit on it"
  elif test("^magnitude_[0-9]+$") then "\(ltrimstr("magnitude_")) largest in magnitude per row"
  elif test("^largest_[0-9]+$") then "\(ltrimstr("largest_")) largest weights per row"
  else . end;
def order:
  if . == "importance_200" then 0
  elif test("^importance_[0-9]+$") then 1
  elif test("heldout|per_row|refit|subtracted") then 2
  elif test("^magnitude_") then 3
  else 4 end;
def n: (capture("_(?<n>[0-9]+)") // {n: "0"}) | .n | tonumber;
.["mean_ndcg@10"] as $full
| [["kept", "weights per row (mean / most)", "weights read per history item",
    "recall@10 vs full x_u B", "NDCG@10 served"],
   ["all of B (the full x_u B)", "all", "all", "1.000", ($full | fixed(4))]]
  + (.truncation | to_entries
     | sort_by((.key | order), (.key | n), .key)
     | map([(.key | describe),
            "\(.value.mean_per_row | fixed(0)) / \(.value.most_per_row | fixed(0))",
            (.value.weights_per_history_item | fixed(0)),
            (.value["recall@10"] | fixed(3)),
            (.value["served_ndcg@10"] | fixed(4))]))
| table
