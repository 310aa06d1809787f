#include "tools/recstack/train_options.h"

#include "absl/strings/str_cat.h"
#include "common/status/status.h"

namespace recstack::cli {

training::AlsParams DefaultParams(training::Algorithm algorithm) {
  training::AlsParams p;
  if (algorithm == training::Algorithm::kExplicitAls) {
    p.factors = 64;
    p.iterations = 15;
    p.regularization = 0.1f;
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
  cmd.add_option("--format", format, "auto, movielens, ml-dat, ml-csv or csv")->capture_default_str();
  cmd.add_option("--algo", algo, "als-implicit or als-explicit")->capture_default_str();
  cmd.add_option("--split", split, "held-out split: none, stratified:F (F = train share), last:N")
      ->capture_default_str();
  cmd.add_option("--seed", seed, "seed of the split and the initial factors")->capture_default_str();
  cmd.add_option("--k", k, "ranking metrics at k")->capture_default_str();
  cmd.add_option("--factors", factors, "latent factors (default 64)");
  cmd.add_option("--iterations", iterations, "ALS iterations (default 15)");
  cmd.add_option("--regularization", regularization, "lambda (default: 20 implicit, 0.1 explicit)");
  cmd.add_option("--bias-regularization", bias_regularization,
                 "explicit: lambda of the biases (default: as --regularization)");
  cmd.add_option("--reg-exponent", reg_exponent,
                 "explicit: a row's lambda is scaled by n^this for its n ratings (default 1)");
  cmd.add_option("--alpha", alpha, "implicit confidence 1 + alpha * r (default 0.3)");
  cmd.add_option("--confidence", confidence, "one-plus-alpha (1 + alpha r) or value (c = r)")
      ->capture_default_str();
  cmd.add_option("--cg-steps", cg_steps, "conjugate-gradient steps per row")->capture_default_str();
  cmd.add_option("--solver", solver, "cg or cholesky (exact)")->capture_default_str();
  cmd.add_option("--threads", threads, "training threads")->capture_default_str();
  cmd.add_option("--early-stopping", early_stopping, "validation metric to stop on, e.g. ndcg@10 or rmse");
  cmd.add_option("--patience", patience, "iterations without improvement before stopping")
      ->capture_default_str();
}

absl::StatusOr<training::TrainConfig> TrainOptions::ToConfig() const {
  training::TrainConfig c;
  auto algorithm = training::ParseAlgorithmName(algo);
  if (!algorithm.ok()) return algorithm.status();
  c.algorithm = *algorithm;
  c.als = DefaultParams(c.algorithm);
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
    return absl::InvalidArgumentError(absl::StrCat("--regularization must be >= 0, got ", regularization));
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
    c.als.confidence = training::Confidence::kValue;
  } else if (confidence != "one-plus-alpha") {
    return absl::InvalidArgumentError(absl::StrCat("--confidence '", confidence, "': one-plus-alpha or value"));
  }
  if (solver == "cholesky") {
    c.als.solver = training::Solver::kCholesky;
  } else if (solver != "cg") {
    return absl::InvalidArgumentError(absl::StrCat("--solver '", solver, "': cg or cholesky"));
  }
  c.k = k;
  c.early_stopping_metric = early_stopping;
  c.patience = patience;
  if (absl::Status st = c.Validate(); !st.ok()) return st;
  return c;
}

nlohmann::json TrainOptions::ParamsJson(const training::TrainConfig& c) const {
  return {{"factors", c.als.factors},
          {"iterations", c.als.iterations},
          {"regularization", c.als.regularization},
          {"alpha", c.als.alpha},
          {"bias_regularization", c.als.bias_regularization},
          {"reg_exponent", c.als.reg_exponent},
          {"confidence", confidence},
          {"cg_steps", c.als.cg_steps},
          {"solver", solver},
          {"threads", c.als.threads},
          {"seed", c.als.seed},
          {"split", split},
          {"k", c.k}};
}

}  // namespace recstack::cli
