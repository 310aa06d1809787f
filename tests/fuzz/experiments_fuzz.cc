// The experiments JSON (common/rank/experiments.h) that ranking and
// training read at start-up, on any bytes, checked the way ranking checks it
// (every ranker created by the built-in registry) and the way training
// does (no check). An accepted config must keep its promises: shares in
// [0, 1] summing to 1, unique variant names, every user assigned to one of
// the experiment's variants, and its MMR lambda usable by MmrRerank.
#include <charconv>
#include <cmath>
#include <set>
#include <string>

#include "common/rank/experiments.h"
#include "common/rank/rankers.h"
#include "tests/fuzz/fuzz_input.h"

namespace {

namespace rk = recstack::ranking;

// MMR over a few candidates, one of them scored NaN (a learned model may
// score so): a permutation prefix of k distinct candidates.
void CheckMmr(double lambda) {
  const std::vector<double> scores = {0.9, std::nan(""), 0.3, 0.3, -1};
  const float a[2] = {1, 0}, b[2] = {0.6f, 0.8f}, z[2] = {0, 0};
  const std::vector<const float*> vectors = {a, b, nullptr, z, a};
  const std::vector<int> order = rk::MmrRerank(scores, vectors, 2, lambda, 4);
  FUZZ_CHECK(order.size() == 4);
  std::set<int> seen;
  for (int i : order) FUZZ_CHECK(i >= 0 && i < 5 && seen.insert(i).second);
}

void CheckAccepted(const std::vector<rk::Experiment>& exps, const rk::RankerRegistry* registry) {
  FUZZ_CHECK(!exps.empty());
  for (const rk::Experiment& e : exps) {
    FUZZ_CHECK(!e.name.empty() && !e.variants.empty());
    double total = 0;
    std::set<std::string> names;
    for (const rk::Variant& v : e.variants) {
      FUZZ_CHECK(!v.name.empty() && !v.ranker.empty());
      FUZZ_CHECK(names.insert(v.name).second);
      FUZZ_CHECK(v.traffic >= 0 && v.traffic <= 1);
      total += v.traffic;
      if (registry != nullptr) {
        FUZZ_CHECK(registry->Create(rk::SplitMmr(v.ranker).first, v.params).ok());
      }
      double lambda = 0.7;  // what the ranking engine does with the param
      if (auto it = v.params.find("mmr_lambda"); it != v.params.end()) {
        std::from_chars(it->second.data(), it->second.data() + it->second.size(), lambda);
        FUZZ_CHECK(lambda >= 0 && lambda <= 1);
      }
      CheckMmr(lambda);
    }
    FUZZ_CHECK(std::abs(total - 1) <= 1e-6);
    for (const char* user : {"", "u1", "user-42", "\xc3\xa9"}) {
      const rk::Variant& got = rk::Assign(e, user);
      FUZZ_CHECK(&got >= e.variants.data() && &got < e.variants.data() + e.variants.size());
      const double x = rk::HashToUnit(e.salt, user);
      FUZZ_CHECK(x >= 0 && x < 1);
    }
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  static const rk::RankerRegistry registry = rk::RankerRegistry::WithBuiltins();
  auto checked = rk::ParseExperiments(text, rk::RegistryCheck(registry));
  if (checked.ok()) {
    CheckAccepted(*checked, &registry);
  } else {
    FUZZ_CHECK(checked.status().code() == absl::StatusCode::kInvalidArgument);
  }
  auto unchecked = rk::ParseExperiments(text);
  if (unchecked.ok()) {
    CheckAccepted(*unchecked, nullptr);
  } else {
    FUZZ_CHECK(unchecked.status().code() == absl::StatusCode::kInvalidArgument);
    FUZZ_CHECK(!checked.ok());  // the check only ever refuses more
  }
  return 0;
}
