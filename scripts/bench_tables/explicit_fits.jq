# input: explicit_cholesky.json
# recstack train --algo als-explicit before (one Cholesky per row) and after
# (CholeskyLowerBatch): median fit wall seconds and process CPU seconds.
include "lib";
(.fits_before | map({key: .name, value: .}) | from_entries) as $before
| [["run", "iterations", "fit s before", "fit s after", "CPU s before", "CPU s after",
    "CPU before / after", "rmse before", "rmse after", "load average (1 min) before / after"]]
  + [.fits[] as $a | $before[$a.name] as $b
     | [$a.name, ($a.iterations_run | tostring), ($b.fit_seconds | sig), ($a.fit_seconds | sig),
        ($b.cpu_seconds | sig), ($a.cpu_seconds | sig), ($b.cpu_seconds / $a.cpu_seconds | fixed(2)),
        ($b.rmse | fixed(4)), ($a.rmse | fixed(4)),
        "\($b.load_average | fixed(1)) / \($a.load_average | fixed(1))"]]
  | table
