#include "common/rank/features.h"

#include <charconv>
#include <cmath>

#include "absl/strings/str_cat.h"

namespace recstack::ranking {
namespace {

constexpr std::string_view kNames[kNumFeatures] = {
    "retrieval_score", "source_mf",     "source_item2item", "source_trending", "retrieval_position",
    "popularity",      "item_age_days", "user_activity",    "category_overlap"};

}  // namespace

std::string_view FeatureName(int f) {
  if (f == kNumFeatures) return "position";
  if (f == -1) return "bias";
  return f >= 0 && f < kNumFeatures ? kNames[f] : "?";
}

int FeatureIndex(std::string_view name) {
  for (int f = 0; f < kNumFeatures; ++f) {
    if (kNames[f] == name) return f;
  }
  return -1;
}

std::vector<std::string> LearnedFeatureNames(bool with_position) {
  std::vector<std::string> names(std::begin(kNames), std::end(kNames));
  if (with_position) names.emplace_back("position");
  return names;
}

std::string EncodeFeatures(std::span<const float> values) {
  std::string out;
  char buf[32];
  for (size_t i = 0; i < values.size(); ++i) {
    if (i > 0) out.push_back(',');
    auto [p, ec] = std::to_chars(buf, buf + sizeof(buf), values[i]);
    out.append(buf, p);
  }
  return out;
}

absl::StatusOr<std::vector<float>> DecodeFeatures(std::string_view text, size_t expected) {
  std::vector<float> out;
  out.reserve(expected);
  size_t pos = 0;
  while (pos <= text.size()) {
    size_t end = text.find(',', pos);
    if (end == std::string_view::npos) end = text.size();
    float v = 0;
    auto [p, ec] = std::from_chars(text.data() + pos, text.data() + end, v);
    if (ec != std::errc() || p != text.data() + end || !std::isfinite(v)) {
      return absl::InvalidArgumentError(
          absl::StrCat("features: value ", out.size() + 1, " is not a finite number"));
    }
    out.push_back(v);
    pos = end + 1;
  }
  if (out.size() != expected) {
    return absl::InvalidArgumentError(
        absl::StrCat("features: ", out.size(), " values, expected ", expected));
  }
  return out;
}

}  // namespace recstack::ranking
