#pragma once

// Flags shared by `recstack train`, `recstack tune` and the remote mode.

#include <CLI/CLI.hpp>
#include <limits>
#include <nlohmann/json.hpp>
#include <string>

#include "absl/status/statusor.h"
#include "common/mf/trainer.h"
#include "tools/recstack/cli_util.h"

namespace recstack::cli {

struct TrainOptions {
  std::string input, test, format = "auto", algo = "als-implicit", split = "none";
  std::string export_dir, addr, confidence = "one-plus-alpha", early_stopping;
  // Empty = the algorithm's: cg (implicit; or ials++, cholesky), gibbs (explicit; or als).
  std::string solver;
  uint64_t seed = 42;
  int k = 10;
  // Negative = the algorithm's default (see ToConfig).
  int factors = -1, iterations = -1, cg_steps = 3, threads = 2, patience = 2, burn_in = -1,
      warm_start = -1, block_size = -1;
  double regularization = -1, alpha = -1, bias_regularization = -1, reg_exponent = -1,
         noise_precision = -1;
  bool json = false, wait = false, quiet = false;
  // Offline `recstack train`: training-set metrics at each evaluation.
  bool train_metrics = false;
  // sgd-explicit: empty / NaN / kUnset = the default (see ToConfig).
  static constexpr int kUnset = std::numeric_limits<int>::min();
  std::string optimizer;
  double learning_rate = std::numeric_limits<double>::quiet_NaN(),
         momentum = std::numeric_limits<double>::quiet_NaN(),
         init_scale = std::numeric_limits<double>::quiet_NaN(),
         lr_decay = std::numeric_limits<double>::quiet_NaN();
  int batch_size = kUnset;
  // With --wait: give up after this long ("0": follow the job however long).
  std::string timeout = "0";
  // EASE (--algo ease): --regularization is its lambda.
  int64_t ease_max_items = 30'000;
  int ease_top_n = 200;
  std::string ease_values = "binary", ease_gram = "auto";

  void AddFlags(CLI::App& cmd);
  // The sgd-explicit flags (--optimizer, --learning-rate, ...): part of
  // AddFlags, and `recstack tune` adds them alone.
  void AddSgdFlags(CLI::App& cmd);
  absl::StatusOr<mf::TrainConfig> ToConfig() const;
  // The sgd-explicit flags into c->sgd (c->algorithm already set); refuses
  // them with any other algorithm.
  absl::Status SgdToConfig(mf::TrainConfig* c) const;
  // The solver ToConfig picked: cg, ials++, cholesky, gibbs, als or sgd.
  static std::string SolverName(const mf::TrainConfig& cfg);
  nlohmann::json ParamsJson(const mf::TrainConfig& cfg) const;
};

// Defaults tuned on MovieLens 100K (see docs/training.md).
mf::AlsParams DefaultParams(mf::Algorithm algorithm);

// `recstack train --addr`: runs the training as a job on the service.
absl::Status RunRemoteTraining(const TrainOptions& options, const Dialer& dialer);

}  // namespace recstack::cli
