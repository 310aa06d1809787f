// recstack tune: hyperparameter search on a validation split carved from
// the training data only; the test data is used once, for the best
// parameters.
#include <chrono>
#include <cmath>
#include <iomanip>
#include <iostream>
#include <memory>

#include <nlohmann/json.hpp>

#include "absl/strings/str_cat.h"
#include "common/math/rng.h"
#include "common/mf/trainer.h"
#include "common/status/status.h"
#include "tools/recstack/cli_util.h"
#include "tools/recstack/commands.h"
#include "tools/recstack/train_options.h"

namespace recstack::cli {
namespace {

struct TuneOptions {
  TrainOptions base;
  std::string search = "grid";
  int trials = 20;
  double validation = 0.8;  // train share of the validation carve-out
  std::vector<int> factors;
  std::vector<double> regularization, alpha;
  std::vector<int> iterations;
  // Explicit with the Gibbs solver: its knobs (regularization and alpha do
  // not apply to it).
  std::vector<double> noise_precision;
  std::vector<int> burn_in;
};

struct Trial {
  mf::AlsParams params;
  std::map<std::string, double> metrics;
};

// The metric the search maximises (rmse is negated).
double Score(mf::Algorithm a, int k, const std::map<std::string, double>& m) {
  if (mf::IsExplicit(a)) return -m.at("rmse");
  return m.at(absl::StrCat("ndcg@", k));
}

absl::Status RunTune(const TuneOptions& o) {
  RECSTACK_ASSIGN_OR_RETURN(mf::TrainConfig base, o.base.ToConfig());
  RECSTACK_ASSIGN_OR_RETURN(data::Format format, data::ParseFormat(o.base.format));
  RECSTACK_ASSIGN_OR_RETURN(mf::SplitSpec split, mf::ParseSplit(o.base.split));
  if (!(o.validation > 0 && o.validation < 1)) {
    return absl::InvalidArgumentError("--validation must be in (0, 1)");
  }
  RECSTACK_ASSIGN_OR_RETURN(mf::Dataset data, mf::LoadDataset(o.base.input, {.format = format}));
  std::vector<mf::Row> train, test;
  if (!o.base.test.empty()) {
    RECSTACK_ASSIGN_OR_RETURN(mf::TestSet ts, mf::LoadTestSet(o.base.test, format, data));
    test = std::move(ts.rows);
    train = data.rows;
  } else {
    RECSTACK_RETURN_IF_ERROR(mf::Split(data, split, o.base.seed, &train, &test));
  }
  // Validation carved out of the training rows only.
  mf::Dataset train_only;
  train_only.users = data.users;
  train_only.items = data.items;
  train_only.rows = train;
  std::vector<mf::Row> fit, validation;
  mf::SplitSpec vspec{.kind = mf::SplitSpec::Kind::kStratified, .train_fraction = o.validation};
  RECSTACK_RETURN_IF_ERROR(mf::Split(train_only, vspec, o.base.seed + 1, &fit, &validation));

  // Candidate parameter sets.
  std::vector<mf::AlsParams> candidates;
  auto f_list = o.factors.empty() ? std::vector<int>{base.als.factors} : o.factors;
  auto r_list =
      o.regularization.empty() ? std::vector<double>{base.als.regularization} : o.regularization;
  auto a_list = o.alpha.empty() ? std::vector<double>{base.als.alpha} : o.alpha;
  auto i_list = o.iterations.empty() ? std::vector<int>{base.als.iterations} : o.iterations;
  auto n_list =
      o.noise_precision.empty() ? std::vector<double>{base.als.noise_precision} : o.noise_precision;
  auto b_list = o.burn_in.empty() ? std::vector<int>{base.als.burn_in} : o.burn_in;
  const bool gibbs = base.algorithm == mf::Algorithm::kExplicitAls &&
                     base.als.explicit_solver == mf::ExplicitSolver::kGibbs;
  if (mf::IsExplicit(base.algorithm)) a_list = {base.als.alpha};
  if (gibbs) {
    if (!o.regularization.empty() && base.als.warm_start == 0) {
      return absl::InvalidArgumentError(
          "--regularization does not apply to --solver gibbs without a warm start: search "
          "--noise-precision, --burn-in, --factors or --iterations");
    }
  } else if (!o.noise_precision.empty() || !o.burn_in.empty()) {
    return absl::InvalidArgumentError(
        "--noise-precision and --burn-in need --algo als-explicit --solver gibbs");
  }
  for (double n : n_list) {
    if (!(n >= 0))
      return absl::InvalidArgumentError(absl::StrCat("--noise-precision must be >= 0, got ", n));
  }
  if (o.search == "grid") {
    for (int f : f_list)
      for (double r : r_list)
        for (double a : a_list)
          for (int it : i_list)
            for (double np : n_list)
              for (int b : b_list) {
                mf::AlsParams p = base.als;
                p.factors = f;
                p.regularization = static_cast<float>(r);
                p.alpha = static_cast<float>(a);
                p.iterations = it;
                p.noise_precision = static_cast<float>(np);
                p.burn_in = b;
                candidates.push_back(p);
              }
  } else if (o.search == "random") {
    // Log-uniform between the smallest and largest value given per knob.
    math::Rng rng(o.base.seed);
    auto log_uniform = [&](double lo, double hi) {
      return lo <= 0 ? lo + (hi - lo) * rng.Uniform()
                     : std::exp(std::log(lo) + (std::log(hi) - std::log(lo)) * rng.Uniform());
    };
    auto [fmin, fmax] = std::minmax_element(f_list.begin(), f_list.end());
    auto [rmin, rmax] = std::minmax_element(r_list.begin(), r_list.end());
    auto [amin, amax] = std::minmax_element(a_list.begin(), a_list.end());
    auto [imin, imax] = std::minmax_element(i_list.begin(), i_list.end());
    auto [nmin, nmax] = std::minmax_element(n_list.begin(), n_list.end());
    auto [bmin, bmax] = std::minmax_element(b_list.begin(), b_list.end());
    for (int t = 0; t < o.trials; ++t) {
      mf::AlsParams p = base.als;
      p.factors = static_cast<int>(std::lround(log_uniform(*fmin, *fmax)));
      p.regularization = static_cast<float>(log_uniform(*rmin, *rmax));
      p.alpha = static_cast<float>(log_uniform(*amin, *amax));
      p.iterations = static_cast<int>(std::lround(*imin + (*imax - *imin) * rng.Uniform()));
      // 0 (sampled noise) is kept as a value of its own, not a range end.
      p.noise_precision = static_cast<float>(*nmin == 0 ? n_list[rng.Below(n_list.size())]
                                                        : log_uniform(*nmin, *nmax));
      p.burn_in =
          *bmin < 0 ? -1 : static_cast<int>(std::lround(*bmin + (*bmax - *bmin) * rng.Uniform()));
      candidates.push_back(p);
    }
  } else {
    return absl::InvalidArgumentError(absl::StrCat("--search '", o.search, "': grid or random"));
  }
  if (candidates.size() > 500)
    return absl::InvalidArgumentError("more than 500 trials: narrow the grid");
  for (const mf::AlsParams& p : candidates) {
    if (gibbs && p.burn_in >= p.iterations) {
      return absl::InvalidArgumentError(absl::StrCat("--burn-in ", p.burn_in,
                                                     " is not below --iterations ", p.iterations,
                                                     ": no sample would be averaged"));
    }
  }

  nlohmann::json trials = nlohmann::json::array();
  int best = -1;
  double best_score = -1e300;
  for (size_t t = 0; t < candidates.size(); ++t) {
    mf::TrainConfig cfg = base;
    cfg.als = candidates[t];
    cfg.ease.lambda = cfg.als.regularization;  // ease: --regularization is lambda
    cfg.evaluate_each_iteration = false;
    cfg.compute_loss = false;
    cfg.early_stopping_metric.clear();
    RECSTACK_ASSIGN_OR_RETURN(
        mf::TrainResult res, mf::Train(data.users.size(), data.items.size(), fit, validation, cfg));
    const double score = Score(cfg.algorithm, cfg.k, res.metrics);
    nlohmann::json j = {{"trial", t + 1},
                        {"factors", cfg.als.factors},
                        {"regularization", cfg.als.regularization},
                        {"alpha", cfg.als.alpha},
                        {"iterations", cfg.als.iterations},
                        {"validation", res.metrics}};
    if (gibbs) {
      j["noise_precision"] = cfg.als.noise_precision;
      j["burn_in"] = cfg.als.BurnIn();
    }
    trials.push_back(j);
    if (!o.base.json) {
      std::cerr << "trial " << std::setw(3) << t + 1 << "  factors " << std::setw(4)
                << cfg.als.factors << "  reg " << std::setw(9) << cfg.als.regularization
                << "  alpha " << std::setw(7) << cfg.als.alpha << "  iterations " << std::setw(3)
                << cfg.als.iterations << "  "
                << (gibbs ? absl::StrCat("noise ", cfg.als.noise_precision, "  burn-in ",
                                         cfg.als.BurnIn(), "  ")
                          : std::string())
                << (mf::IsExplicit(cfg.algorithm) ? "rmse " : absl::StrCat("ndcg@", cfg.k, " "))
                << std::fixed << std::setprecision(4) << std::abs(score) << std::defaultfloat
                << "\n";
    }
    if (score > best_score) {
      best_score = score;
      best = static_cast<int>(t);
    }
  }
  // The best parameters, refit on all training rows, scored once on test.
  mf::TrainConfig cfg = base;
  cfg.als = candidates[best];
  cfg.ease.lambda = cfg.als.regularization;
  cfg.evaluate_each_iteration = false;
  cfg.compute_loss = false;
  cfg.early_stopping_metric.clear();
  RECSTACK_ASSIGN_OR_RETURN(mf::TrainResult final_res,
                            mf::Train(data.users.size(), data.items.size(), train, test, cfg));
  nlohmann::json out = {{"trials", trials},
                        {"best", trials[best]},
                        {"test", final_res.metrics},
                        {"validation_rows", validation.size()},
                        {"test_rows", test.size()}};
  if (o.base.json) {
    std::cout << out.dump() << "\n";
  } else {
    std::cout << "best: factors " << cfg.als.factors << ", regularization "
              << cfg.als.regularization << ", alpha " << cfg.als.alpha << ", iterations "
              << cfg.als.iterations
              << (gibbs ? absl::StrCat(", noise precision ", cfg.als.noise_precision, ", burn-in ",
                                       cfg.als.BurnIn())
                        : std::string())
              << "\n"
              << "test:";
    for (const auto& [k, v] : final_res.metrics) std::cout << " " << k << " " << v;
    std::cout << "\n";
  }
  return absl::OkStatus();
}

}  // namespace

void RegisterTuneCommand(CLI::App& app) {
  auto o = std::make_shared<TuneOptions>();
  CLI::App* cmd = app.add_subcommand(
      "tune", "Search hyperparameters on a validation split carved from the training data");
  cmd->add_option("--input", o->base.input, "interactions file")->required();
  cmd->add_option("--test", o->base.test, "held-out test file (else --split)");
  cmd->add_option("--format", o->base.format, "auto, movielens, ml-dat, ml-csv or csv")
      ->capture_default_str();
  cmd->add_option("--algo", o->base.algo,
                  "als-implicit, als-explicit, ease (searches --regularization = lambda) or "
                  "sgd-explicit")
      ->capture_default_str();
  cmd->add_option("--split", o->base.split, "test split when there is no --test")
      ->capture_default_str();
  cmd->add_option("--seed", o->base.seed, "seed")->capture_default_str();
  cmd->add_option("--k", o->base.k, "ranking metrics at k")->capture_default_str();
  cmd->add_option("--threads", o->base.threads, "training threads")->capture_default_str();
  cmd->add_option("--confidence", o->base.confidence, "one-plus-alpha or value")
      ->capture_default_str();
  cmd->add_option("--solver", o->base.solver,
                  "implicit: cg (default) or cholesky; explicit: gibbs (default) or als");
  cmd->add_option("--warm-start", o->base.warm_start,
                  "gibbs: deterministic ALS sweeps before sampling");
  cmd->add_option("--search", o->search, "grid or random")->capture_default_str();
  cmd->add_option("--trials", o->trials, "random search: number of trials")->capture_default_str();
  cmd->add_option("--validation", o->validation, "train share of the validation carve-out")
      ->capture_default_str();
  cmd->add_option("--factors", o->factors, "values to try (random: the range)");
  cmd->add_option("--regularization", o->regularization, "values to try (random: the range)");
  cmd->add_option("--alpha", o->alpha, "values to try (random: the range)");
  cmd->add_option("--iterations", o->iterations, "values to try (random: the range)");
  cmd->add_option("--noise-precision", o->noise_precision,
                  "gibbs: values to try, 0 = sampled (random: the range)");
  cmd->add_option("--burn-in", o->burn_in, "gibbs: values to try (random: the range)");
  o->base.AddSgdFlags(*cmd);  // fixed for every trial
  cmd->add_flag("--json", o->base.json, "print one JSON object");
  cmd->callback([o] { RunCommand("tune", [&] { return RunTune(*o); }); });
}

}  // namespace recstack::cli
