#include "common/ml/dataset.h"

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <unordered_map>
#include <unordered_set>

#include "absl/strings/str_cat.h"
#include "common/ml/av.h"

namespace recstack::ml {

void Dataset::AddRow(std::span<const float> x, float label, uint64_t group, float weight) {
  // A broken invariant of the caller's code, not bad input: crash (STYLE rule 3).
  if (x.size() != dims() || groups.size() != labels.size() || weights.size() != labels.size()) {
    std::fprintf(stderr,
                 "Dataset::AddRow: row of %zu values for %zu features, or groups/weights "
                 "not kept in step with labels\n",
                 x.size(), dims());
    std::abort();
  }
  features.insert(features.end(), x.begin(), x.end());
  groups.push_back(group);
  weights.push_back(weight);
  labels.push_back(label);
}

absl::Status ValidateDataset(const Dataset& data, std::string_view what) {
  const size_t d = data.dims(), n = data.rows();
  if (d == 0)
    return absl::InvalidArgumentError(absl::StrCat(Av(what), ": no feature names (d = 0)"));
  if (n == 0) return absl::InvalidArgumentError(absl::StrCat(Av(what), ": no rows"));
  std::unordered_set<std::string_view> seen;
  for (const auto& name : data.feature_names) {
    if (name.empty())
      return absl::InvalidArgumentError(absl::StrCat(Av(what), ": empty feature name"));
    if (!seen.insert(name).second) {
      return absl::InvalidArgumentError(
          absl::StrCat(Av(what), ": duplicate feature name '", Av(name), "'"));
    }
  }
  if (data.features.size() != n * d) {
    return absl::InvalidArgumentError(absl::StrCat(Av(what), ": ", data.features.size(),
                                                   " feature values for ", n, " rows x ", d,
                                                   " features"));
  }
  if (!data.groups.empty() && data.groups.size() != n) {
    return absl::InvalidArgumentError(
        absl::StrCat(Av(what), ": ", data.groups.size(), " group ids for ", n, " rows"));
  }
  if (!data.weights.empty() && data.weights.size() != n) {
    return absl::InvalidArgumentError(
        absl::StrCat(Av(what), ": ", data.weights.size(), " weights for ", n, " rows"));
  }
  for (size_t i = 0; i < n; ++i) {
    if (data.labels[i] != 0.0f && data.labels[i] != 1.0f) {
      return absl::InvalidArgumentError(
          absl::StrCat(Av(what), ": row ", i, " has label ", data.labels[i], " (must be 0 or 1)"));
    }
    if (!data.weights.empty() && !(std::isfinite(data.weights[i]) && data.weights[i] >= 0)) {
      return absl::InvalidArgumentError(absl::StrCat(Av(what), ": row ", i, " has weight ",
                                                     data.weights[i], " (must be finite, >= 0)"));
    }
    for (size_t j = 0; j < d; ++j) {
      if (std::isinf(data.features[i * d + j])) {
        return absl::InvalidArgumentError(absl::StrCat(Av(what), ": row ", i, ", feature '",
                                                       data.feature_names[j],
                                                       "' is infinite (use NaN for missing)"));
      }
    }
  }
  return absl::OkStatus();
}

absl::Status ValidateGrouped(const Dataset& data, std::string_view what) {
  if (data.groups.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat(Av(what), ": the rank objective needs group ids (request ids) per row"));
  }
  std::unordered_map<uint64_t, size_t> first_row;
  for (size_t i = 0; i < data.groups.size(); ++i) {
    if (i > 0 && data.groups[i] == data.groups[i - 1]) continue;
    auto [it, inserted] = first_row.emplace(data.groups[i], i);
    if (!inserted) {
      return absl::InvalidArgumentError(absl::StrCat(Av(what), ": rows of group ", data.groups[i],
                                                     " are not contiguous (rows ", it->second,
                                                     " and ", i, "); sort rows by request id"));
    }
  }
  return absl::OkStatus();
}

}  // namespace recstack::ml
