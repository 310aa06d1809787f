#include "common/stats/readout_proto.h"

namespace recstack::stats {

void ReadoutToProto(const Readout& r, v1::ExperimentReportResponse* out) {
  out->set_experiment(r.experiment);
  out->set_control(r.control);
  for (const VariantSummary& v : r.variants) {
    v1::VariantReport* p = out->add_variants();
    p->set_name(v.name);
    p->set_ranker(v.ranker);
    p->set_users(v.users);
    p->set_impressions(v.impressions);
    p->set_clicks(v.clicks);
    p->set_ctr(v.ctr);
    p->set_ctr_ci_low(v.ctr_ci.lo);
    p->set_ctr_ci_high(v.ctr_ci.hi);
    p->set_expected_share(v.expected_share);
    p->set_user_variance(v.user_variance);
  }
  for (const Comparison& c : r.comparisons) {
    v1::ComparisonReport* p = out->add_comparisons();
    p->set_variant(c.variant);
    p->set_control(c.control);
    p->set_abs_lift(c.abs_lift);
    p->set_abs_lift_ci_low(c.abs_lift_ci.lo);
    p->set_abs_lift_ci_high(c.abs_lift_ci.hi);
    p->set_rel_lift(c.rel_lift);
    p->set_rel_lift_ci_low(c.rel_lift_ci.lo);
    p->set_rel_lift_ci_high(c.rel_lift_ci.hi);
    p->set_p_value(c.p_value);
    p->set_mde_rel(c.mde_rel);
  }
  out->set_srm_chi2(r.srm_chi2);
  out->set_srm_p_value(r.srm_p_value);
  out->set_mde_rel(r.mde_rel);
}

Readout ReadoutFromProto(const v1::ExperimentReportResponse& in) {
  Readout r;
  r.experiment = in.experiment();
  r.control = in.control();
  for (const v1::VariantReport& p : in.variants()) {
    VariantSummary v;
    v.name = p.name();
    v.ranker = p.ranker();
    v.users = p.users();
    v.impressions = p.impressions();
    v.clicks = p.clicks();
    v.ctr = p.ctr();
    v.ctr_ci = {p.ctr_ci_low(), p.ctr_ci_high()};
    v.expected_share = p.expected_share();
    v.user_variance = p.user_variance();
    r.variants.push_back(std::move(v));
  }
  for (const v1::ComparisonReport& p : in.comparisons()) {
    Comparison c;
    c.variant = p.variant();
    c.control = p.control();
    c.abs_lift = p.abs_lift();
    c.abs_lift_ci = {p.abs_lift_ci_low(), p.abs_lift_ci_high()};
    c.rel_lift = p.rel_lift();
    c.rel_lift_ci = {p.rel_lift_ci_low(), p.rel_lift_ci_high()};
    c.p_value = p.p_value();
    c.mde_rel = p.mde_rel();
    r.comparisons.push_back(std::move(c));
  }
  r.srm_chi2 = in.srm_chi2();
  r.srm_p_value = in.srm_p_value();
  r.mde_rel = in.mde_rel();
  return r;
}

}  // namespace recstack::stats
