#pragma once

// MovieLens 100K's ratings as the stack's RATING events, for the e2e tests
// that load it into a real ingestion store: ids derived as `recstack
// ingest` derives them, times shifted so the latest rating is `now_ms`
// (so trending and recency see them as recent).

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "common/events/event.h"

namespace recstack::testing {

// `path` is ml-100k/u.data.
absl::StatusOr<std::vector<events::Event>> MovieLensEvents(const std::string& path, int64_t now_ms);

}  // namespace recstack::testing
