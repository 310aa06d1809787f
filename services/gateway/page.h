#pragma once

namespace recstack::gateway {

// The single self-contained page served at "/": one recommendation's
// journey (candidates per source, features, scores, contributions, timings).
extern const char kPageHtml[];

}  // namespace recstack::gateway
