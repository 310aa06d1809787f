# One drill's load run, second by second, around its faults (scripts/drill.sh).
#
# Input: recstack-loadtest --timeline --json. Arguments:
#   $faults  [{what, start_ms, end_ms, ...}] in Unix ms, in time order; a
#            fault lasts from start_ms (the kill, stop or pause) to end_ms
#            (the restart issued, SIGCONT, the pause's end, the promote)
#   $slo_ms  the SLO (50)
#
# Second i of the timeline holds the requests *scheduled* in
# [window start + i s, + i + 1 s). A second is healthy when it has no error,
# at most 1% of its answers degraded, and its p99 within the bound
# max(2 x p99 before, the SLO): "p99 before" is the median of the per-second
# p99 of the seconds before the first fault. A fault's segment runs to the
# next fault's start (or the end of the run). It recovered at the first
# second R, from the one its end falls in, that is healthy and begins 5
# seconds (fewer if the segment ends first) with no error at all and at
# most one unhealthy second: on this shared machine a second now and then
# is slow, or has a degraded answer, with no fault at all (the seconds
# before the first fault show how often: unhealthy_seconds_before), while
# an error is never noise. recovery_s = max(0, start of R - end). What
# follows R is reported, not hidden: its unhealthy seconds and errors up to
# the segment's end.
# Output: {p99_before_ms, worst_p99_before_ms, bound_ms,
# unhealthy_seconds_before, seconds_before, faults: [...], timeline: [...]}.
def median: sort | if length == 0 then null
  elif length % 2 == 1 then .[(length - 1) / 2]
  else (.[length / 2 - 1] + .[length / 2]) / 2 end;
def ms: if . == null then null else (. / 100 | round) / 10 end;  # us -> ms, 0.1
def r1: if . == null then null else (. * 10 | round) / 10 end;
.window_start_unix_ms as $w
| .timeline as $tl
| ($tl | length) as $n
| ($faults | map(. + {s0: ((.start_ms - $w) / 1000), s1: ((.end_ms - $w) / 1000)})) as $fs
| [$tl[0:($fs[0].s0 | floor)][] | .p99_us] as $pre
| ($pre | median) as $before
| ([2 * ($before // 0), $slo_ms * 1000] | max) as $bound
| def healthy: .errors == 0 and .degraded <= 0.01 * .ok and .p99_us <= $bound;
# Second $i begins a recovery within a segment ending at second $last.
  def recovered($i; $last): $tl[$i:[$i + 5, $last + 1] | min] as $win
    | ($win[0] | healthy) and ([$win[].errors] | add) == 0
      and ([$win[] | select(healthy | not)] | length) <= 1;
{
  p99_before_ms: ($before | ms),
  worst_p99_before_ms: ($pre | max | ms),
  seconds_before: ($pre | length),
  unhealthy_seconds_before: ([$tl[0:($fs[0].s0 | floor)][] | select(healthy | not)] | length),
  bound_ms: ($bound | ms),
  faults: [
    range(0; $fs | length) as $k
    | $fs[$k] as $f
    | (if $k + 1 < ($fs | length) then ($fs[$k + 1].s0 | floor) - 1 else $n - 1 end) as $last
    | [range([$f.s0 | floor, 0] | max; [[$f.s1 | ceil, ($f.s0 | floor) + 1] | max, $n] | min)]
      as $during
    | [range($f.s1 | ceil; $last + 1)] as $after
    | ([range($f.s1 | floor; $last + 1) as $i | select(recovered($i; $last)) | $i] | first) as $rec
    | (if $rec == null then [] else [range($rec; $last + 1)] end) as $since
    | ($f | del(.s0, .s1)) + {
        start_s: ($f.s0 | r1),
        end_s: ($f.s1 | r1),
        segment_end_s: ($last + 1),
        errors_during: ([$during[] | $tl[.].errors] | add // 0),
        degraded_during: ([$during[] | $tl[.].degraded] | add // 0),
        answered_during: ([$during[] | $tl[.].ok] | add // 0),
        p99_during_ms: ([$during[] | $tl[.].p99_us] | max | ms),
        p99_after_ms: ([$after[] | $tl[.].p99_us] | median | ms),
        worst_p99_after_ms: ([$after[] | $tl[.].p99_us] | max | ms),
        errors_after: ([$after[] | $tl[.].errors] | add // 0),
        degraded_after: ([$after[] | $tl[.].degraded] | add // 0),
        recovery_s: (if $rec == null then null else ([$rec - $f.s1, 0] | max | r1) end),
        unhealthy_seconds_after_recovery: ([$since[] | $tl[.] | select(healthy | not)] | length),
        errors_after_recovery: ([$since[] | $tl[.].errors] | add // 0)
      }
  ],
  timeline: [$tl[] | {s: .second, ok, errors, degraded, p99_ms: (.p99_us | ms),
                      healthy: healthy}]
}
