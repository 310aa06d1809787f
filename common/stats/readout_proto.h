#pragma once

// The experiment readout on the wire (recstack.v1.ExperimentReportResponse)
// and back: the training service computes a Readout and sends it; the CLI
// and the gateway's /experiments page turn what they receive into the JSON
// of readout_json.h. Every field round-trips, NaN and infinities included.

#include "common/stats/experiment.h"
#include "recstack/v1/training.pb.h"

namespace recstack::stats {

void ReadoutToProto(const Readout& readout, v1::ExperimentReportResponse* out);
Readout ReadoutFromProto(const v1::ExperimentReportResponse& in);

}  // namespace recstack::stats
