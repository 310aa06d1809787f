# input: fuzz.json
# scripts/fuzz.sh: every fuzz target of tests/fuzz for the same time, two at
# a time, on the committed seeds (docs/fuzzing.md).
include "lib";
. as $r
| def thousands:
    floor | if . < 1000 then tostring
            else ((. / 1000 | floor) | thousands) + "," + ("00" + (. % 1000 | tostring))[-3:] end;
  ([["target", "executions", "exec/s", "corpus (seeds -> end)", "finding"]]
   + [$r.targets[] | [.target, (.executions | thousands), (.exec_per_s | thousands),
                      "\(.seeds) -> \(.corpus)",
                      (if .finding == null then "none"
                       else "**\(.finding.kind)**: `\(.finding.artifact)`" end)]]
   | table),
  "",
  "\($r.seconds_per_target) s per target, \($r.parallel) at a time on \($r.machine.cpus) shared cores "
  + "(\($r.machine.compiler)); build-fuzz took \($r.wall_seconds.configure) s to configure and "
  + "\($r.wall_seconds.build) s to build"
  + (if $r.machine.build_jobs == null then "" else " with -j\($r.machine.build_jobs)" end)
  + " in that run (0 when it was up to date), the fuzzing \($r.wall_seconds.fuzz) s of wall time."
