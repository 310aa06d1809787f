# input: ease_synth5m.json
# recstack-bench-ease --dataset synth5m: the 20,000-item fit and the
# published model's selection, wall and CPU time, peak memory against the
# float32 Gram, and the machine's load while it ran.
include "lib";
[["items", "users", "interactions", "threads", "fit s (wall / CPU)", "Gram s", "inverse s",
  "peak RSS of the fit, GB", "fit's increase / Gram", "publish s (wall / CPU)",
  "peak RSS with publish / Gram", "load average (1 min) start / end"],
 [(.items | tostring), (.users | tostring), (.interactions | tostring), (.threads | tostring),
  "\(.fit_seconds | sig) / \(.fit_cpu_seconds | sig)", (.gram_seconds | sig),
  (.inverse_seconds | sig), (.peak_rss_fit_bytes / 1e9 | fixed(2)),
  (.peak_fit_increase_over_gram | fixed(2)),
  "\(.publish_seconds | sig) / \(.publish_cpu_seconds | sig)", (.peak_rss_over_gram | fixed(2)),
  "\(.load_average_1m_start | fixed(1)) / \(.load_average_1m_end | fixed(1))"]]
| table
