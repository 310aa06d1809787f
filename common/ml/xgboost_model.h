#pragma once

// The XGBoost model inside a gbdt record (gbdt.h), checked before XGBoost
// reads it. Debian's XGBoost 1.7 trusts its input: its UBJSON reader copies
// as many bytes as a string's length says (past the end of the buffer when
// the length lies; found by tests/fuzz/ranker_fuzz.cc), allocates what a
// count says, and prediction follows a tree's child indices as stored. So
// GbdtModel::Parse hands XGBoost only bytes that pass this check:
//   - UBJSON as XGBoost writes it (objects with 'L'-length keys, arrays
//     plain, '#'-counted or '$'-typed of d/U/l/L, the scalars Z T F i U I l
//     L d C S), every length and count within the bytes, nesting at most
//     kMaxDepth, no duplicate key, nothing after the value;
//   - one gbtree learner whose objective is `objective`, with `features`
//     features, one output group and scalar leaves;
//   - every tree a tree: the node arrays num_nodes long, each node but the
//     root the child of exactly one node before it (so no cycle, nothing
//     out of range), split features below `features`, finite floats, no
//     categorical splits.
// INVALID_ARGUMENT naming the first problem otherwise.

#include <cstddef>
#include <string_view>

#include "absl/status/status.h"

namespace recstack::ml {

inline constexpr int kMaxXgboostDepth = 32;

absl::Status CheckXgboostModel(std::string_view ubjson, size_t features,
                               std::string_view objective);

}  // namespace recstack::ml
