# input: replicas.json
# tests/e2e/stack/replicas_test.sh: two replicas of retrieval and ranking
# under load (round_robin), then one of them killed.
include "lib";
. as $r
| def pct: map(. * 100 | fixed(1) + "%") | join(" / ");
  [["", ""],
   ["load", "\($r.rate) Recommend/s for \($r.balance.seconds) s on \($r.machine.cpus) shared cores, the whole stack with two replicas each of retrieval and ranking"],
   ["Retrieve calls per retrieval replica", "\($r.balance.retrieve_per_replica | join(" / ")) (\($r.balance.retrieval_share | pct))"],
   ["then retrieval-2 killed (SIGKILL)", "about \($r.kill.killed_about_s) s into \($r.kill.seconds) s of \($r.kill.requests) Recommends"],
   ["Recommends lost with it", "\($r.kill.errors) errors, \($r.kill.retrieval_fallbacks) answered degraded from the fallback (the test allows \($r.kill.bound): twice the load generator's \($r.loadtest_max_inflight) in flight)"],
   ["after the kill", "\($r.kill.recommends_after_kill) Recommends, \($r.kill.retrieves_on_survivor_after_kill) Retrieves on the survivor"],
   ["p50 / p99 / max during the kill run", "\($r.kill.p50_us / 1000 | sig) / \($r.kill.p99_us / 1000 | sig) / \($r.kill.max_us / 1000 | sig) ms"]]
| table
