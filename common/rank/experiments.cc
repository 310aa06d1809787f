#include "common/rank/experiments.h"

#include <cmath>

#include <nlohmann/json.hpp>

#include "absl/strings/str_cat.h"

namespace recstack::ranking {

double HashToUnit(std::string_view salt, std::string_view user) {
  uint64_t h = 0xcbf29ce484222325ULL;
  auto mix = [&](std::string_view s) {
    for (unsigned char c : s) {
      h ^= c;
      h *= 0x100000001b3ULL;
    }
  };
  mix(salt);
  mix(":");
  mix(user);
  // Finalise (splitmix64) so nearby users spread evenly.
  h ^= h >> 30;
  h *= 0xbf58476d1ce4e5b9ULL;
  h ^= h >> 27;
  h *= 0x94d049bb133111ebULL;
  h ^= h >> 31;
  return static_cast<double>(h >> 11) * 0x1.0p-53;
}

const Variant& Assign(const Experiment& e, std::string_view user) {
  const double x = HashToUnit(e.salt, user);
  double acc = 0;
  for (const Variant& v : e.variants) {
    acc += v.traffic;
    if (x < acc) return v;
  }
  return e.variants.back();
}

std::vector<Experiment> DefaultExperiments(const std::string& ranker) {
  return {{"default", "default", {{"control", ranker, 1.0, {}}}}};
}

RankerCheck RegistryCheck(const RankerRegistry& registry) {
  return [&registry](const std::string& ranker, const RankerParams& params) -> absl::Status {
    auto created = registry.Create(SplitMmr(ranker).first, params);
    if (created.ok()) return absl::OkStatus();
    if (absl::IsNotFound(created.status())) {
      return absl::FailedPreconditionError(absl::StrCat(
          "ranker ", ranker, " is not published yet (", created.status().message(), ")"));
    }
    return created.status();
  };
}

absl::StatusOr<std::vector<Experiment>> ParseExperiments(const std::string& text,
                                                         const RankerCheck& check) {
  nlohmann::json j = nlohmann::json::parse(text, nullptr, false);
  if (j.is_discarded() || !j.is_object() || !j.contains("experiments") ||
      !j["experiments"].is_array()) {
    return absl::InvalidArgumentError("experiments: expected {\"experiments\": [...]}");
  }
  std::vector<Experiment> out;
  for (const auto& je : j["experiments"]) {
    Experiment e;
    e.name = je.value("name", "");
    e.salt = je.value("salt", e.name);
    if (e.name.empty())
      return absl::InvalidArgumentError("experiments: every experiment needs a name");
    if (!je.contains("variants") || !je["variants"].is_array() || je["variants"].empty()) {
      return absl::InvalidArgumentError(absl::StrCat("experiment ", e.name, ": no variants"));
    }
    double total = 0;
    for (const auto& jv : je["variants"]) {
      Variant v;
      v.name = jv.value("name", "");
      v.ranker = jv.value("ranker", "");
      v.traffic = jv.value("traffic", 0.0);
      if (jv.contains("params") && jv["params"].is_object()) {
        for (auto it = jv["params"].begin(); it != jv["params"].end(); ++it) {
          v.params[it.key()] =
              it.value().is_string() ? it.value().get<std::string>() : it.value().dump();
        }
      }
      if (v.name.empty())
        return absl::InvalidArgumentError(
            absl::StrCat("experiment ", e.name, ": a variant has no name"));
      if (!(v.traffic >= 0 && v.traffic <= 1)) {
        return absl::InvalidArgumentError(
            absl::StrCat("experiment ", e.name, "/", v.name, ": traffic must be 0-1"));
      }
      for (const Variant& other : e.variants) {
        if (other.name == v.name) {
          return absl::InvalidArgumentError(
              absl::StrCat("experiment ", e.name, ": two variants are named ", v.name));
        }
      }
      if (v.ranker.empty()) {
        return absl::InvalidArgumentError(
            absl::StrCat("experiment ", e.name, "/", v.name, ": no ranker"));
      }
      if (check) {
        if (absl::Status st = check(v.ranker, v.params); !st.ok()) {
          return absl::InvalidArgumentError(
              absl::StrCat("experiment ", e.name, "/", v.name, ": ", st.message()));
        }
      }
      total += v.traffic;
      e.variants.push_back(std::move(v));
    }
    if (std::abs(total - 1.0) > 1e-6) {
      return absl::InvalidArgumentError(
          absl::StrCat("experiment ", e.name, ": traffic shares sum to ", total, ", not 1"));
    }
    out.push_back(std::move(e));
  }
  if (out.empty()) return absl::InvalidArgumentError("experiments: the list is empty");
  return out;
}

}  // namespace recstack::ranking
