#include "common/rank/experiments.h"

#include <charconv>
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

namespace {

using nlohmann::json;

// A string member: `fallback` when absent, InvalidArgument when not a string.
absl::StatusOr<std::string> StringMember(const json& obj, const char* key,
                                         const std::string& fallback, const std::string& where) {
  auto it = obj.find(key);
  if (it == obj.end()) return fallback;
  if (!it->is_string()) {
    return absl::InvalidArgumentError(absl::StrCat(where, ": \"", key, "\" must be a string"));
  }
  return it->get<std::string>();
}

// The params the ranking engine reads itself (common/ranking/engine.cc),
// checked here so a bad one fails at start-up instead of on every request:
// "mmr_lambda" a number in [0, 1], "candidates" a count >= 1.
absl::Status CheckEngineParams(const RankerParams& params, const std::string& where) {
  if (auto it = params.find("mmr_lambda"); it != params.end()) {
    const std::string& s = it->second;
    double v = 0;
    auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
    if (ec != std::errc() || p != s.data() + s.size() || !(v >= 0 && v <= 1)) {
      return absl::InvalidArgumentError(
          absl::StrCat(where, ": param mmr_lambda='", s, "' must be a number in [0, 1]"));
    }
  }
  if (auto it = params.find("candidates"); it != params.end()) {
    const std::string& s = it->second;
    int v = 0;
    auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
    if (ec != std::errc() || p != s.data() + s.size() || v < 1) {
      return absl::InvalidArgumentError(
          absl::StrCat(where, ": param candidates='", s, "' must be a count >= 1"));
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<Variant> ParseVariant(const json& jv, const std::string& experiment) {
  if (!jv.is_object()) {
    return absl::InvalidArgumentError(
        absl::StrCat("experiment ", experiment, ": a variant must be an object"));
  }
  const std::string where = absl::StrCat("experiment ", experiment);
  Variant v;
  auto name = StringMember(jv, "name", "", where);
  if (!name.ok()) return name.status();
  v.name = *std::move(name);
  if (v.name.empty())
    return absl::InvalidArgumentError(absl::StrCat(where, ": a variant has no name"));
  const std::string at = absl::StrCat(where, "/", v.name);
  auto ranker = StringMember(jv, "ranker", "", at);
  if (!ranker.ok()) return ranker.status();
  v.ranker = *std::move(ranker);
  if (auto it = jv.find("traffic"); it != jv.end()) {
    if (!it->is_number())
      return absl::InvalidArgumentError(absl::StrCat(at, ": traffic must be 0-1"));
    v.traffic = it->get<double>();
  }
  if (auto it = jv.find("params"); it != jv.end() && it->is_object()) {
    for (auto p = it->begin(); p != it->end(); ++p) {
      // Params are text; a number or a boolean is taken as written.
      if (p->is_string()) {
        v.params[p.key()] = p->get<std::string>();
      } else if (p->is_number() || p->is_boolean()) {
        v.params[p.key()] = p->dump();
      } else {
        return absl::InvalidArgumentError(
            absl::StrCat(at, ": param ", p.key(), " must be a string or a number"));
      }
    }
  }
  if (!(v.traffic >= 0 && v.traffic <= 1)) {
    return absl::InvalidArgumentError(absl::StrCat(at, ": traffic must be 0-1"));
  }
  if (v.ranker.empty()) return absl::InvalidArgumentError(absl::StrCat(at, ": no ranker"));
  if (absl::Status st = CheckEngineParams(v.params, at); !st.ok()) return st;
  return v;
}

}  // namespace

absl::StatusOr<std::vector<Experiment>> ParseExperiments(const std::string& text,
                                                         const RankerCheck& check) {
  json j = json::parse(text, nullptr, false);
  if (j.is_discarded() || !j.is_object() || !j.contains("experiments") ||
      !j["experiments"].is_array()) {
    return absl::InvalidArgumentError("experiments: expected {\"experiments\": [...]}");
  }
  std::vector<Experiment> out;
  for (const auto& je : j["experiments"]) {
    if (!je.is_object()) {
      return absl::InvalidArgumentError("experiments: every experiment must be an object");
    }
    Experiment e;
    auto name = StringMember(je, "name", "", "experiments");
    if (!name.ok()) return name.status();
    e.name = *std::move(name);
    if (e.name.empty())
      return absl::InvalidArgumentError("experiments: every experiment needs a name");
    auto salt = StringMember(je, "salt", e.name, absl::StrCat("experiment ", e.name));
    if (!salt.ok()) return salt.status();
    e.salt = *std::move(salt);
    if (!je.contains("variants") || !je["variants"].is_array() || je["variants"].empty()) {
      return absl::InvalidArgumentError(absl::StrCat("experiment ", e.name, ": no variants"));
    }
    double total = 0;
    for (const auto& jv : je["variants"]) {
      auto v = ParseVariant(jv, e.name);
      if (!v.ok()) return v.status();
      for (const Variant& other : e.variants) {
        if (other.name == v->name) {
          return absl::InvalidArgumentError(
              absl::StrCat("experiment ", e.name, ": two variants are named ", v->name));
        }
      }
      if (check) {
        if (absl::Status st = check(v->ranker, v->params); !st.ok()) {
          return absl::InvalidArgumentError(
              absl::StrCat("experiment ", e.name, "/", v->name, ": ", st.message()));
        }
      }
      total += v->traffic;
      e.variants.push_back(*std::move(v));
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
