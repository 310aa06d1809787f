#pragma once

// The training data of the learned rankers (issue 13): one row per logged
// impression, the exact feature vector the ranker saw, the click label, the
// request id the impression was served in and an optional sample weight
// (e.g. an inverse propensity). Both learners (logistic.h, gbdt.h) take it.

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"

namespace recstack::ml {

struct Dataset {
  // d names, one per column; they travel inside the trained model so the
  // serving side can check it assembles the same columns in the same order.
  std::vector<std::string> feature_names;
  std::vector<float> features;  // rows() * d, row-major; NaN = missing
  std::vector<float> labels;    // rows(), each 0 or 1
  // rows(), the request id; empty = no groups. The rank objective needs the
  // rows of one request to be contiguous.
  std::vector<uint64_t> groups;
  std::vector<float> weights;  // rows(), >= 0; empty = every row weighs 1

  size_t dims() const { return feature_names.size(); }
  size_t rows() const { return labels.size(); }
  std::span<const float> Row(size_t i) const { return {features.data() + i * dims(), dims()}; }
  float Weight(size_t i) const { return weights.empty() ? 1.0f : weights[i]; }

  // Appends one row with its group and weight (so a set built only with
  // AddRow always has groups and weights). Aborts if x.size() != dims().
  void AddRow(std::span<const float> x, float label, uint64_t group = 0, float weight = 1.0f);
};

// Checks sizes (features = rows * d, groups/weights empty or rows long),
// labels in {0, 1}, weights finite and >= 0, features finite or NaN, at least
// one row and one column, unique non-empty names. `what` names the set in
// the message ("train set: row 17, feature 'popularity' is inf").
absl::Status ValidateDataset(const Dataset& data, std::string_view what);

// Checks that every group's rows are contiguous (what rank objectives need).
absl::Status ValidateGrouped(const Dataset& data, std::string_view what);

// One scored row explained: contributions[j] belongs to feature_names[j],
// and bias + sum(contributions) == margin (up to float rounding).
struct Explanation {
  std::vector<double> contributions;  // d
  double bias = 0;
  double margin = 0;  // the model's raw output (log-odds for binary models)
  double score = 0;   // what Predict returns for the row
};

}  // namespace recstack::ml
