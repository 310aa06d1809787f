# input: ../walkthrough/figures.json
# scripts/walkthrough.sh: what the cold-start table says, in one sentence
# computed from it.
include "lib";
.cold_start as $c
| ("ndcg@\($c.k)") as $n
| ($c.rows | map(select(.events > 0))) as $r
| ($r | map(.folded_in[$n] / .trained[$n]) | min) as $worst
| ($r | map(select(.folded_in[$n] < $c.popularity[$n])) | map(.events)) as $below
| "Folded in, a user's list reaches at least \($worst | fixed(2)) of the NDCG@\($c.k) the same "
  + "events give inside a full training run: fold-in costs next to nothing. "
  + (if ($below | length) == 0 then
       "Every history length beats popularity (\($c.popularity[$n] | fixed(4)))."
     elif ($below | length) == ($r | length) then
       "Yet popularity (NDCG@\($c.k) \($c.popularity[$n] | fixed(4))) beats every history length measured, up to \($r[-1].events) events: these users' later events are mostly popular items, and a few events pin a taste that is narrower than what they go on to watch. This is why retrieval never serves mf alone: trending candidates are merged in, and a ranker with a popularity feature orders them."
     else
       "Popularity (NDCG@\($c.k) \($c.popularity[$n] | fixed(4))) is ahead with \($below | map(tostring) | join(", ")) events; personalised lists win from \(($r | map(select(.folded_in[$n] >= $c.popularity[$n])) | first | .events)) events on."
     end)
