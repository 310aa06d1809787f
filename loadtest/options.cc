#include "loadtest/options.h"

#include <cmath>
#include <sstream>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"

namespace recstack::loadtest {
namespace {

absl::string_view A(std::string_view v) { return {v.data(), v.size()}; }

bool Serves(Target t, Op op) {
  switch (t) {
    case Target::kGateway:
    case Target::kFloor:
      return true;
    case Target::kRetrieval:
      return op != Op::kIngest;
    case Target::kRanking:
      return op == Op::kRecommend;
    case Target::kIngestion:
      return op == Op::kIngest;
  }
  return false;
}

}  // namespace

absl::StatusOr<Target> ParseTarget(std::string_view name) {
  for (Target t : {Target::kGateway, Target::kRetrieval, Target::kRanking, Target::kIngestion,
                   Target::kFloor}) {
    if (TargetName(t) == name) return t;
  }
  return absl::InvalidArgumentError(absl::StrCat(
      "--target: unknown '", A(name), "' (gateway, retrieval, ranking, ingestion, floor)"));
}

std::string_view TargetName(Target t) {
  switch (t) {
    case Target::kGateway:
      return "gateway";
    case Target::kRetrieval:
      return "retrieval";
    case Target::kRanking:
      return "ranking";
    case Target::kIngestion:
      return "ingestion";
    case Target::kFloor:
      return "floor";
  }
  return "?";
}

absl::Status ValidatePositionBias(double eta) {
  if (eta >= 0 && eta <= 10) return absl::OkStatus();  // false for NaN too
  return absl::InvalidArgumentError(
      absl::StrCat("--position-bias must be in [0, 10] (the exponent ETA of the examination "
                   "probability (1/position)^ETA), got ",
                   eta));
}

absl::Status RunOptions::Validate() const {
  auto bad = [](auto... parts) { return absl::InvalidArgumentError(absl::StrCat(parts...)); };
  if (!(rate >= 0.1 && rate <= 1e6)) return bad("--rate must be in [0.1, 1000000], got ", rate);
  if (duration.count() <= 0) return bad("--duration must be positive");
  if (warmup.count() < 0) return bad("--warmup must not be negative");
  if (connections < 1 || connections > 64)
    return bad("--connections must be in [1, 64], got ", connections);
  if (threads < 1 || threads > 64) return bad("--threads must be in [1, 64], got ", threads);
  if (k < 1 || k > 1000) return bad("--k must be in [1, 1000], got ", k);
  if (timeout.count() <= 0) return bad("--timeout must be positive");
  if (!(zipf >= 0 && zipf <= 5)) return bad("--zipf must be in [0, 5], got ", zipf);
  if (max_inflight < 1) return bad("--max-inflight must be at least 1");
  if (ingest_batch < 1 || ingest_batch > 10000) return bad("--ingest-batch must be in [1, 10000]");
  if (event_id_prefix.size() > 64) return bad("the event id prefix is longer than 64 characters");
  if (rank_candidates < 1 || rank_candidates > 10000)
    return bad("--rank-candidates must be in [1, 10000]");
  if (echo_response_bytes < 0 || echo_response_bytes > (4 << 20))
    return bad("--floor-response-bytes must be in [0, 4 MiB]");
  for (int i = 0; i < kNumOps; ++i) {
    if (mix.share[i] > 0 && !Serves(target, static_cast<Op>(i))) {
      return bad("--target ", A(TargetName(target)), " does not serve '",
                 A(OpName(static_cast<Op>(i))), "'; change --mix");
    }
  }
  if (auto st = ValidatePositionBias(position_bias); !st.ok()) return st;
  if (truth != nullptr && target != Target::kGateway) {
    return bad("--simulate-clicks needs --target gateway (clicks go back through it)");
  }
  return absl::OkStatus();
}

absl::StatusOr<std::vector<double>> ParseSweep(std::string_view text) {
  const absl::string_view t(text.data(), text.size());  // Debian's Abseil has its own string_view
  std::vector<absl::string_view> parts = absl::StrSplit(t, ':');
  double from = 0, to = 0, step = 0;
  if (parts.size() != 3 || !absl::SimpleAtod(parts[0], &from) || !absl::SimpleAtod(parts[1], &to) ||
      !absl::SimpleAtod(parts[2], &step)) {
    return absl::InvalidArgumentError(absl::StrCat("--sweep: '", t, "' is not FROM:TO:STEP"));
  }
  // Finite too: from = to = inf passed the step count below (NaN > 200 is
  // false) and then the loop never reached TO, growing the plan until memory ran out.
  if (!(from > 0) || !(step > 0) || !(to >= from) || !std::isfinite(to) || !std::isfinite(step)) {
    return absl::InvalidArgumentError("--sweep: need 0 < FROM <= TO and STEP > 0, all finite");
  }
  if ((to - from) / step + 1 > 200)
    return absl::InvalidArgumentError("--sweep: more than 200 steps");
  std::vector<double> rates;
  for (int i = 0;; ++i) {
    const double r = from + i * step;
    if (r > to + step * 1e-9) break;
    rates.push_back(r);
  }
  return rates;
}

absl::StatusOr<std::map<std::string, std::string>> ParseMetricsTargets(const std::string& spec) {
  std::map<std::string, std::string> out;
  std::istringstream in(spec);
  std::string part;
  while (std::getline(in, part, ',')) {
    const size_t eq = part.find('=');
    if (eq == std::string::npos || eq == 0 || part.find(':', eq) == std::string::npos) {
      return absl::InvalidArgumentError(
          absl::StrCat("--metrics: '", part, "' is not NAME=HOST:PORT"));
    }
    out[part.substr(0, eq)] = part.substr(eq + 1);
  }
  return out;
}

}  // namespace recstack::loadtest
