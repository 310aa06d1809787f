#pragma once

// The experiment readout as JSON, the shape `recstack experiment report
// --json` and the gateway's /experiments page share (issue 13):
//   {"experiment", "variants": [{"name", "ranker", "users", "impressions",
//    "clicks", "ctr", "ctr_ci": [lo, hi]}], "comparisons": [{"variant",
//    "control", "abs_lift", "abs_lift_ci", "rel_lift", "rel_lift_ci",
//    "p_value"}], "srm_p_value", "mde_rel"}
// JSON has no NaN or infinity: an undefined value (rel_lift with a control
// without clicks) and an unbounded interval end (Fieller) are null.

#include <nlohmann/json.hpp>

#include "common/stats/experiment.h"

namespace recstack::stats {

nlohmann::json ReadoutToJson(const Readout& readout);

// The full report, what `recstack experiment report --json` prints and the
// gateway's GET /v1/experiments/{name} answers (one shape, made here only):
// ReadoutToJson plus "control" (the control variant), "srm_chi2" (the
// sample-ratio-mismatch statistic) and, in each comparison, "mde_rel" (that
// comparison's minimum detectable relative lift) and, in each variant,
// "user_variance" (the per-user variance of its linearized CTR, for sample
// sizes: `recstack experiment sample-size`).
nlohmann::json ReadoutReportJson(const Readout& readout);

}  // namespace recstack::stats
