#include "common/stats/readout_json.h"

#include <cmath>

namespace recstack::stats {
namespace {

nlohmann::json Number(double x) { return std::isfinite(x) ? nlohmann::json(x) : nlohmann::json(); }

nlohmann::json Pair(const Interval& i) {
  return nlohmann::json::array({Number(i.lo), Number(i.hi)});
}

}  // namespace

nlohmann::json ReadoutToJson(const Readout& r) {
  nlohmann::json variants = nlohmann::json::array();
  for (const VariantSummary& v : r.variants) {
    variants.push_back({{"name", v.name},
                        {"ranker", v.ranker},
                        {"users", v.users},
                        {"impressions", v.impressions},
                        {"clicks", v.clicks},
                        {"ctr", Number(v.ctr)},
                        {"ctr_ci", Pair(v.ctr_ci)}});
  }
  nlohmann::json comparisons = nlohmann::json::array();
  for (const Comparison& c : r.comparisons) {
    comparisons.push_back({{"variant", c.variant},
                           {"control", c.control},
                           {"abs_lift", Number(c.abs_lift)},
                           {"abs_lift_ci", Pair(c.abs_lift_ci)},
                           {"rel_lift", Number(c.rel_lift)},
                           {"rel_lift_ci", Pair(c.rel_lift_ci)},
                           {"p_value", Number(c.p_value)}});
  }
  return {{"experiment", r.experiment},
          {"variants", std::move(variants)},
          {"comparisons", std::move(comparisons)},
          {"srm_p_value", Number(r.srm_p_value)},
          {"mde_rel", Number(r.mde_rel)}};
}

nlohmann::json ReadoutReportJson(const Readout& r) {
  nlohmann::json j = ReadoutToJson(r);
  j["control"] = r.control;
  j["srm_chi2"] = Number(r.srm_chi2);
  for (size_t i = 0; i < r.comparisons.size(); ++i)
    j["comparisons"][i]["mde_rel"] = Number(r.comparisons[i].mde_rel);
  for (size_t i = 0; i < r.variants.size(); ++i)
    j["variants"][i]["user_variance"] = Number(r.variants[i].user_variance);
  return j;
}

}  // namespace recstack::stats
