#pragma once

namespace recstack::gateway {

// The single self-contained page served at "/": one recommendation's
// journey (candidates per source, features, scores, contributions, timings).
extern const char kPageHtml[];

// The page served at "/experiments": every experiment ranking runs (or the
// one in ?name=) with its readout from GET /v1/experiments/{name}: per
// variant CTR and its 95% CI, per comparison the lifts with CIs, p-value and
// MDE, and the sample-ratio-mismatch check. Self-contained, like kPageHtml.
extern const char kExperimentsPageHtml[];

// The page served at "/models": the kept model versions (GET /v1/models)
// per slot with their training metrics, the one each slot serves marked.
extern const char kModelsPageHtml[];

}  // namespace recstack::gateway
