# input: ../walkthrough/figures.json
# scripts/walkthrough.sh: one user's gbdt recommendation, the three largest
# contributions (log-odds) of each of its first five items.
include "lib";
.explainability as $e
| [["#", "item", "score", "source", "largest contributions (feature = value: contribution)"]]
+ [$e.recommendation[:5] | to_entries[] | .key as $i | .value
   | [($i + 1 | tostring), .item_id, (.score | fixed(3)), .source,
      (.contributions | sort_by(-(.contribution | fabs)) | .[:3]
       | map("\(.feature) = \(.value | sig): \(.contribution | fixed(3))") | join("; "))]]
| table
