#include "tools/recstack/train_options.h"

#include <cmath>

#include "absl/strings/str_cat.h"
#include "common/status/status.h"

namespace recstack::cli {

mf::AlsParams DefaultParams(mf::Algorithm algorithm) {
  mf::AlsParams p;
  if (algorithm == mf::Algorithm::kExplicitAls) {
    // Gibbs sampling (BPMF): measured on MovieLens 100K u1-u5, see
    // docs/training.md. `regularization` only shapes the ALS warm start
    // (and the --solver als fit).
    p.explicit_solver = mf::ExplicitSolver::kGibbs;
    p.factors = 64;
    p.iterations = 60;
    p.burn_in = -1;  // iterations / 4
    p.warm_start = 0;
    p.noise_precision = 0.0f;  // sampled
    p.regularization = 0.1f;
  } else if (algorithm == mf::Algorithm::kSgdExplicit) {
    // Mini-batch SGD (mf::SgdParams has the optimizer's defaults): 20 epochs
    // reach LIBMF's test RMSE on u1 with adam; see docs/training.md.
    p.explicit_solver = mf::ExplicitSolver::kAls;  // unused; skips Gibbs checks
    p.factors = 64;
    p.iterations = 20;
    p.regularization = 0.1f;  // LIBMF's default l2
    p.bias_regularization = 0.01f;
  } else {
    // `recstack tune` on MovieLens 100K (stratified 75/25, validation carved
    // from the train part) picks these; see docs/training.md.
    p.factors = 64;
    p.iterations = 15;
    p.regularization = 20.0f;
    p.alpha = 0.3f;
  }
  return p;
}

void TrainOptions::AddFlags(CLI::App& cmd) {
  cmd.add_option("--format", format, "auto, movielens, ml-dat, ml-csv or csv")
      ->capture_default_str();
  cmd.add_option("--algo", algo, "als-implicit, als-explicit, ease or sgd-explicit")
      ->capture_default_str();
  cmd.add_option("--split", split, "held-out split: none, stratified:F (F = train share), last:N")
      ->capture_default_str();
  cmd.add_option("--seed", seed, "seed of the split and the initial factors")
      ->capture_default_str();
  cmd.add_option("--k", k, "ranking metrics at k")->capture_default_str();
  cmd.add_option("--factors", factors, "latent factors (default 64)");
  cmd.add_option(
      "--iterations", iterations,
      "ALS iterations / Gibbs sweeps / SGD epochs (default: 15 implicit, 60 explicit, 20 sgd)");
  cmd.add_option("--regularization", regularization,
                 "lambda (default: 20 implicit, 0.1 explicit, 300 ease, 0.1 sgd-explicit)");
  cmd.add_option("--bias-regularization", bias_regularization,
                 "explicit: lambda of the biases (default: as --regularization; sgd 0.01)");
  cmd.add_option("--reg-exponent", reg_exponent,
                 "explicit: a row's lambda is scaled by n^this for its n ratings (default 1)");
  cmd.add_option("--alpha", alpha, "implicit confidence 1 + alpha * r (default 0.3)");
  cmd.add_option("--confidence", confidence, "one-plus-alpha (1 + alpha r) or value (c = r)")
      ->capture_default_str();
  cmd.add_option("--cg-steps", cg_steps, "conjugate-gradient steps per row")->capture_default_str();
  cmd.add_option(
      "--solver", solver,
      "implicit: cg (default), ials++ (subspace block coordinate descent) or cholesky (exact); "
      "explicit: gibbs (default, Bayesian PMF) or als (deterministic)");
  cmd.add_option("--block-size", block_size,
                 "ials++: dimensions per subspace block, 1 to --factors (default 8)");
  cmd.add_option("--burn-in", burn_in, "gibbs: sweeps not averaged (default: iterations / 4)");
  cmd.add_option("--noise-precision", noise_precision,
                 "gibbs: 1 / variance of the rating noise; 0 = sampled (default)");
  cmd.add_option("--warm-start", warm_start,
                 "gibbs: deterministic ALS sweeps before sampling (default 0)");
  cmd.add_option("--threads", threads, "training threads")->capture_default_str();
  cmd.add_option("--ease-max-items", ease_max_items,
                 "ease: refuse catalogues larger than this (n^2 * 4 bytes, O(n^3) time)")
      ->capture_default_str();
  cmd.add_option("--ease-top-n", ease_top_n,
                 "ease: published weights per item on average (chosen by importance)")
      ->capture_default_str();
  cmd.add_option("--ease-values", ease_values, "ease: X as binary (0/1) or value (raw)")
      ->capture_default_str();
  cmd.add_option("--ease-gram", ease_gram, "ease: Gram by auto, sparse or syrk")
      ->capture_default_str();
  AddSgdFlags(cmd);
  cmd.add_option("--early-stopping", early_stopping,
                 "validation metric to stop on, e.g. ndcg@10 or rmse");
  cmd.add_option("--patience", patience, "iterations without improvement before stopping")
      ->capture_default_str();
}

void TrainOptions::AddSgdFlags(CLI::App& cmd) {
  cmd.add_option("--optimizer", optimizer,
                 "sgd-explicit: sgd, momentum, adagrad or adam (default adam)");
  cmd.add_option("--learning-rate", learning_rate,
                 "sgd-explicit: step size (default per optimizer: sgd 0.1, momentum 0.01, "
                 "adagrad 0.05, adam 0.005)");
  cmd.add_option("--lr-decay", lr_decay,
                 "sgd-explicit: learning rate x this after each epoch, in (0, 1] (default 0.9)");
  cmd.add_option("--batch-size", batch_size,
                 "sgd-explicit: ratings per mini-batch (gradient summed over it; default 128)");
  cmd.add_option("--momentum", momentum, "sgd-explicit --optimizer momentum: beta (default 0.9)");
  cmd.add_option("--init-scale", init_scale,
                 "sgd-explicit: initial factors ~ N(0, s^2) (default 0.003)");
}

absl::Status TrainOptions::SgdToConfig(mf::TrainConfig* c) const {
  const bool sgd = c->algorithm == mf::Algorithm::kSgdExplicit;
  for (auto [given, flag] : {std::pair{!optimizer.empty(), "--optimizer"},
                             std::pair{!std::isnan(learning_rate), "--learning-rate"},
                             std::pair{batch_size != kUnset, "--batch-size"},
                             std::pair{!std::isnan(momentum), "--momentum"},
                             std::pair{!std::isnan(init_scale), "--init-scale"},
                             std::pair{!std::isnan(lr_decay), "--lr-decay"}}) {
    if (given && !sgd) {
      return absl::InvalidArgumentError(
          absl::StrCat(flag, " needs --algo sgd-explicit (got --algo ", algo, ")"));
    }
  }
  if (!sgd) return absl::OkStatus();
  if (!solver.empty()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "--solver '", solver, "' does not apply to sgd-explicit (choose --optimizer)"));
  }
  mf::SgdParams& s = c->sgd;
  if (!optimizer.empty()) {
    auto o = mf::ParseOptimizerName(optimizer);
    if (!o.ok()) {
      return absl::InvalidArgumentError(absl::StrCat("--optimizer: ", o.status().message()));
    }
    s.optimizer = *o;
  }
  if (!std::isnan(learning_rate)) {
    if (!(learning_rate > 0) || !std::isfinite(learning_rate)) {
      return absl::InvalidArgumentError(
          absl::StrCat("--learning-rate must be > 0, got ", learning_rate));
    }
    s.learning_rate = static_cast<float>(learning_rate);
  }
  s.learning_rate = s.LearningRate();  // the optimizer's default resolved
  if (batch_size != kUnset) {
    if (batch_size < 1) {
      return absl::InvalidArgumentError(
          absl::StrCat("--batch-size must be >= 1, got ", batch_size));
    }
    s.batch_size = batch_size;
  }
  if (!std::isnan(momentum)) {
    if (s.optimizer != mf::Optimizer::kMomentum) {
      return absl::InvalidArgumentError("--momentum needs --optimizer momentum");
    }
    if (!(momentum >= 0 && momentum < 1)) {
      return absl::InvalidArgumentError(
          absl::StrCat("--momentum must be in [0, 1), got ", momentum));
    }
    s.momentum = static_cast<float>(momentum);
  }
  if (!std::isnan(lr_decay)) {
    if (!(lr_decay > 0 && lr_decay <= 1)) {
      return absl::InvalidArgumentError(
          absl::StrCat("--lr-decay must be in (0, 1], got ", lr_decay));
    }
    s.decay = static_cast<float>(lr_decay);
  }
  if (!std::isnan(init_scale)) {
    if (!(init_scale >= 0) || !std::isfinite(init_scale)) {
      return absl::InvalidArgumentError(
          absl::StrCat("--init-scale must be >= 0, got ", init_scale));
    }
    s.init_scale = static_cast<float>(init_scale);
  }
  return s.Validate();
}

absl::StatusOr<mf::TrainConfig> TrainOptions::ToConfig() const {
  mf::TrainConfig c;
  auto algorithm = mf::ParseAlgorithmName(algo);
  if (!algorithm.ok()) return algorithm.status();
  c.algorithm = *algorithm;
  c.als = DefaultParams(c.algorithm);
  if (c.algorithm == mf::Algorithm::kEase) {
    if (regularization != -1) c.ease.lambda = static_cast<float>(regularization);
    // tune searches als.regularization; for ease it is lambda.
    c.als.regularization = c.ease.lambda;
    c.ease.max_items = ease_max_items;
    c.ease.top_n = ease_top_n;
    if (ease_values == "binary" || ease_values == "value") {
      c.ease.binarize = ease_values == "binary";
    } else {
      return absl::InvalidArgumentError(
          absl::StrCat("--ease-values '", ease_values, "': binary or value"));
    }
    if (ease_gram == "auto") {
      c.ease.gram = mf::GramMethod::kAuto;
    } else if (ease_gram == "sparse") {
      c.ease.gram = mf::GramMethod::kSparse;
    } else if (ease_gram == "syrk") {
      c.ease.gram = mf::GramMethod::kSyrk;
    } else {
      return absl::InvalidArgumentError(
          absl::StrCat("--ease-gram '", ease_gram, "': auto, sparse or syrk"));
    }
    if (absl::Status st = c.ease.Validate(); !st.ok()) return st;
  }
  if (factors >= 0) c.als.factors = factors;
  if (iterations >= 0) c.als.iterations = iterations;
  if (regularization >= 0) c.als.regularization = static_cast<float>(regularization);
  if (alpha >= 0) c.als.alpha = static_cast<float>(alpha);
  if (reg_exponent >= 0) c.als.reg_exponent = static_cast<float>(reg_exponent);
  if (bias_regularization >= 0) c.als.bias_regularization = static_cast<float>(bias_regularization);
  // -1 is "the default"; any other negative is a mistake to report.
  if ((factors < 0 && factors != -1) || factors == 0) {
    return absl::InvalidArgumentError(absl::StrCat("--factors must be > 0, got ", factors));
  }
  if ((regularization < 0 && regularization != -1)) {
    return absl::InvalidArgumentError(
        absl::StrCat("--regularization must be >= 0, got ", regularization));
  }
  if ((alpha < 0 && alpha != -1)) {
    return absl::InvalidArgumentError(absl::StrCat("--alpha must be >= 0, got ", alpha));
  }
  if ((iterations < 0 && iterations != -1) || iterations == 0) {
    return absl::InvalidArgumentError(absl::StrCat("--iterations must be > 0, got ", iterations));
  }
  c.als.cg_steps = cg_steps;
  c.als.threads = threads;
  c.als.seed = seed;
  if (confidence == "value") {
    c.als.confidence = mf::Confidence::kValue;
  } else if (confidence != "one-plus-alpha") {
    return absl::InvalidArgumentError(
        absl::StrCat("--confidence '", confidence, "': one-plus-alpha or value"));
  }
  if (c.algorithm == mf::Algorithm::kSgdExplicit) {
    // --solver is refused by SgdToConfig.
  } else if (c.algorithm == mf::Algorithm::kExplicitAls) {
    if (solver == "als") {
      c.als.explicit_solver = mf::ExplicitSolver::kAls;
      // Deterministic ALS has converged by 15 (RMSE 0.926 on u1).
      if (iterations < 0) c.als.iterations = 15;
    } else if (solver == "gibbs") {
      c.als.explicit_solver = mf::ExplicitSolver::kGibbs;
    } else if (!solver.empty()) {
      return absl::InvalidArgumentError(
          absl::StrCat("--solver '", solver, "': gibbs or als for als-explicit"));
    }
  } else if (solver == "cholesky") {
    c.als.solver = mf::Solver::kCholesky;
  } else if (solver == "ials++") {
    c.als.solver = mf::Solver::kSubspace;
  } else if (!solver.empty() && solver != "cg") {
    return absl::InvalidArgumentError(
        absl::StrCat("--solver '", solver, "': cg, ials++ or cholesky for als-implicit"));
  }
  if (block_size != -1) {
    if (c.als.solver != mf::Solver::kSubspace || c.algorithm != mf::Algorithm::kImplicitAls) {
      return absl::InvalidArgumentError("--block-size needs --algo als-implicit --solver ials++");
    }
    c.als.block_size = block_size;  // range checked by Validate (1 to factors)
  }
  if (burn_in < -1)
    return absl::InvalidArgumentError(absl::StrCat("--burn-in must be >= 0, got ", burn_in));
  if (burn_in >= 0) c.als.burn_in = burn_in;
  if (warm_start < -1) {
    return absl::InvalidArgumentError(absl::StrCat("--warm-start must be >= 0, got ", warm_start));
  }
  if (warm_start >= 0) c.als.warm_start = warm_start;
  if (noise_precision != -1 && !(noise_precision >= 0)) {
    return absl::InvalidArgumentError(
        absl::StrCat("--noise-precision must be > 0 (or 0: sampled), got ", noise_precision));
  }
  if (noise_precision >= 0) c.als.noise_precision = static_cast<float>(noise_precision);
  // A burn-in that the (default or given) sweep count cannot pass.
  if (c.algorithm == mf::Algorithm::kExplicitAls &&
      c.als.explicit_solver == mf::ExplicitSolver::kGibbs && c.als.burn_in >= c.als.iterations) {
    return absl::InvalidArgumentError(
        absl::StrCat("--burn-in (", c.als.burn_in, ") must be below --iterations (",
                     c.als.iterations, "): no sample would be averaged"));
  }
  if (absl::Status st = SgdToConfig(&c); !st.ok()) return st;
  c.train_metrics = train_metrics;
  c.k = k;
  c.early_stopping_metric = early_stopping;
  c.patience = patience;
  if (absl::Status st = c.Validate(); !st.ok()) return st;
  return c;
}

std::string TrainOptions::SolverName(const mf::TrainConfig& c) {
  if (c.algorithm == mf::Algorithm::kEase) return "cholesky";
  if (c.algorithm == mf::Algorithm::kSgdExplicit) return "sgd";
  if (c.algorithm == mf::Algorithm::kExplicitAls) {
    return c.als.explicit_solver == mf::ExplicitSolver::kGibbs ? "gibbs" : "als";
  }
  switch (c.als.solver) {
    case mf::Solver::kCholesky:
      return "cholesky";
    case mf::Solver::kSubspace:
      return "ials++";
    default:
      return "cg";
  }
}

nlohmann::json TrainOptions::ParamsJson(const mf::TrainConfig& c) const {
  if (c.algorithm == mf::Algorithm::kEase) {
    return {{"regularization", c.ease.lambda},
            {"values", c.ease.binarize ? "binary" : "value"},
            {"max_items", c.ease.max_items},
            {"top_n", c.ease.top_n},
            {"gram", ease_gram},
            {"threads", c.als.threads},
            {"seed", c.als.seed},
            {"split", split},
            {"k", c.k}};
  }
  if (c.algorithm == mf::Algorithm::kSgdExplicit) {
    nlohmann::json j = {{"factors", c.als.factors},
                        {"iterations", c.als.iterations},
                        {"regularization", c.als.regularization},
                        {"bias_regularization", c.als.bias_regularization},
                        {"reg_exponent", c.als.reg_exponent},
                        {"solver", "sgd"},
                        {"optimizer", mf::OptimizerName(c.sgd.optimizer)},
                        {"learning_rate", c.sgd.LearningRate()},
                        {"lr_decay", c.sgd.decay},
                        {"batch_size", c.sgd.batch_size},
                        {"init_scale", c.sgd.init_scale},
                        {"threads", 1},
                        {"seed", c.als.seed},
                        {"split", split},
                        {"train_metrics", c.train_metrics}};
    if (c.sgd.optimizer == mf::Optimizer::kMomentum) j["momentum"] = c.sgd.momentum;
    if (c.sgd.optimizer == mf::Optimizer::kAdam) {
      j["beta1"] = c.sgd.beta1;
      j["beta2"] = c.sgd.beta2;
    }
    if (c.sgd.optimizer == mf::Optimizer::kAdam || c.sgd.optimizer == mf::Optimizer::kAdagrad)
      j["epsilon"] = c.sgd.epsilon;
    return j;
  }
  nlohmann::json j = {{"factors", c.als.factors},
                      {"iterations", c.als.iterations},
                      {"regularization", c.als.regularization},
                      {"alpha", c.als.alpha},
                      {"bias_regularization", c.als.bias_regularization},
                      {"reg_exponent", c.als.reg_exponent},
                      {"confidence", confidence},
                      {"cg_steps", c.als.cg_steps},
                      {"solver", SolverName(c)},
                      {"block_size", c.als.block_size},
                      {"threads", c.als.threads},
                      {"seed", c.als.seed},
                      {"split", split},
                      {"k", c.k},
                      {"train_metrics", c.train_metrics}};
  if (SolverName(c) == "gibbs") {
    j["burn_in"] = c.als.BurnIn();
    j["noise_precision"] = c.als.noise_precision;
    j["warm_start"] = c.als.warm_start;
  }
  return j;
}

}  // namespace recstack::cli
