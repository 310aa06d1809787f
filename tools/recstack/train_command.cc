// recstack train: matrix factorization offline (a file in, metrics out), or
// as a job on the training service with --addr.
#include <chrono>
#include <filesystem>
#include <fstream>
#include <iomanip>
#include <iostream>
#include <memory>

#include <nlohmann/json.hpp>

#include "absl/strings/str_cat.h"
#include "common/data/npy.h"
#include "common/math/blas_core.h"
#include "common/mf/trainer.h"
#include "common/status/status.h"
#include "tools/recstack/cli_util.h"
#include "tools/recstack/commands.h"
#include "tools/recstack/train_options.h"

namespace recstack::cli {
namespace {

absl::Status ExportModel(const mf::TrainedModel& m, const mf::Dataset& data,
                         const std::string& dir) {
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) return absl::PermissionDeniedError(absl::StrCat(dir, ": ", ec.message()));
  auto p = [&](const char* name) { return (std::filesystem::path(dir) / name).string(); };
  absl::Status st;
  if (m.algorithm == mf::Algorithm::kEase) {
    // EASE: the dense item-item matrix B (items x items), diagonal zero.
    st = data::WriteNpy(p("ease_weights.npy"), m.ease_weights.data(), m.ease_weights.rows(),
                        m.ease_weights.cols());
  } else {
    st = data::WriteNpy(p("user_factors.npy"), m.user_factors.data(), m.user_factors.rows(),
                        m.user_factors.cols());
  }
  if (st.ok() && m.algorithm != mf::Algorithm::kEase) {
    st = data::WriteNpy(p("item_factors.npy"), m.item_factors.data(), m.item_factors.rows(),
                        m.item_factors.cols());
  }
  if (st.ok() && !m.user_bias.empty()) {
    st = data::WriteNpy(p("user_bias.npy"), m.user_bias.data(),
                        static_cast<int64_t>(m.user_bias.size()), 0);
    if (st.ok()) {
      st = data::WriteNpy(p("item_bias.npy"), m.item_bias.data(),
                          static_cast<int64_t>(m.item_bias.size()), 0);
    }
  }
  if (!st.ok()) return st;
  for (auto [name, ids] :
       {std::pair{"users.txt", &data.users}, std::pair{"items.txt", &data.items}}) {
    std::ofstream out(p(name), std::ios::trunc);
    for (const auto& id : ids->names()) out << id << '\n';
    if (!out) return absl::DataLossError(absl::StrCat(p(name), ": write failed"));
  }
  return absl::OkStatus();
}

absl::Status RunOffline(const TrainOptions& o) {
  const auto start = std::chrono::steady_clock::now();
  RECSTACK_ASSIGN_OR_RETURN(mf::TrainConfig cfg, o.ToConfig());
  RECSTACK_ASSIGN_OR_RETURN(data::Format format, data::ParseFormat(o.format));
  RECSTACK_ASSIGN_OR_RETURN(mf::SplitSpec split, mf::ParseSplit(o.split));
  if (!o.test.empty() && split.kind != mf::SplitSpec::Kind::kNone) {
    return absl::InvalidArgumentError("give either --test FILE or --split, not both");
  }
  mf::LoadOptions lo{.format = format,
                     .keep_timestamps = split.kind == mf::SplitSpec::Kind::kLeaveLast};
  RECSTACK_ASSIGN_OR_RETURN(mf::Dataset data, mf::LoadDataset(o.input, lo));
  const double load_seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::vector<mf::Row> train, test;
  int64_t unknown_users = 0, unknown_items = 0;
  if (!o.test.empty()) {
    RECSTACK_ASSIGN_OR_RETURN(mf::TestSet ts, mf::LoadTestSet(o.test, format, data));
    test = std::move(ts.rows);
    unknown_users = ts.unknown_user_rows;
    unknown_items = ts.unknown_item_rows;
    train = std::move(data.rows);
  } else {
    RECSTACK_RETURN_IF_ERROR(mf::Split(data, split, o.seed, &train, &test));
    std::vector<mf::Row>().swap(data.rows);
  }
  auto progress = [&](const mf::IterationReport& r) {
    if (!o.json && !o.quiet) {
      std::cerr << "iteration " << std::setw(3) << r.iteration << "  " << std::fixed
                << std::setprecision(3) << r.seconds << " s  loss " << std::setprecision(6)
                << r.loss;
      for (const auto& [k, v] : r.metrics) {
        if (k.find('@') != std::string::npos || k == "rmse" || k == "mae" || k == "train_rmse") {
          std::cerr << "  " << k << " " << std::setprecision(4) << v;
        }
      }
      std::cerr << "\n";
    }
    return true;
  };
  RECSTACK_ASSIGN_OR_RETURN(mf::TrainResult res, mf::Train(data.users.size(), data.items.size(),
                                                           std::move(train), test, cfg, progress));
  if (!o.export_dir.empty()) RECSTACK_RETURN_IF_ERROR(ExportModel(res.model, data, o.export_dir));
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  nlohmann::json j = nlohmann::json::object();
  for (const auto& [k, v] : res.metrics) j[k] = v;
  j["seconds"] = seconds;
  j["load_seconds"] = load_seconds;
  j["fit_seconds"] = res.fit_seconds;
  j["eval_seconds"] = res.eval_seconds;
  if (cfg.algorithm == mf::Algorithm::kEase) {
    j["gram_seconds"] = res.gram_seconds;
    j["inverse_seconds"] = res.solve_seconds;
    j["gram_method"] = res.gram_method;
  }
  j["algorithm"] = mf::AlgorithmName(cfg.algorithm);
  j["blas_core"] = math::BlasCoreName();
  j["users"] = res.n_users;
  j["items"] = res.n_items;
  j["train_rows"] = res.n_train;
  j["test_rows"] = res.n_test;
  j["test_rows_unknown_user"] = unknown_users;
  j["test_rows_unknown_item"] = unknown_items;
  j["iterations_run"] = static_cast<int>(res.history.size());
  j["best_iteration"] = res.best_iteration;
  j["params"] = o.ParamsJson(cfg);
  if (!o.export_dir.empty()) j["export"] = o.export_dir;
  nlohmann::json hist = nlohmann::json::array();
  for (const auto& r : res.history) {
    hist.push_back({{"iteration", r.iteration},
                    {"loss", r.loss},
                    {"seconds", r.seconds},
                    {"metrics", r.metrics}});
  }
  j["history"] = hist;
  if (o.json) {
    std::cout << j.dump() << "\n";
  } else {
    std::cout << "algorithm   " << j["algorithm"].get<std::string>() << "\n"
              << "data        " << res.n_users << " users, " << res.n_items << " items, "
              << res.n_train << " train rows, " << res.n_test << " test rows\n";
    if (unknown_users + unknown_items > 0) {
      std::cout << "unknown     " << unknown_users << " test rows with a user and " << unknown_items
                << " with an item training never saw (mean + known bias / counted as misses)\n";
    }
    std::cout << std::fixed << std::setprecision(4);
    for (const auto& [k, v] : res.metrics)
      std::cout << std::left << std::setw(12) << k << v << "\n";
    std::cout << std::setprecision(2) << "seconds     " << seconds << " (fit " << res.fit_seconds
              << ", evaluation " << res.eval_seconds << ")\n";
    if (!o.export_dir.empty()) std::cout << "exported    " << o.export_dir << "\n";
  }
  return absl::OkStatus();
}

}  // namespace

void RegisterTrainCommand(CLI::App& app, const Dialer& dialer) {
  auto opts = std::make_shared<TrainOptions>();
  CLI::App* cmd = app.add_subcommand(
      "train",
      "Train a matrix-factorization model: offline from a file, or as a job on the training "
      "service (--addr)");
  opts->AddFlags(*cmd);
  cmd->add_option("--input", opts->input, "interactions file (offline mode)");
  cmd->add_option("--test", opts->test, "held-out test file in the same format");
  cmd->add_option(
      "--export", opts->export_dir,
      "write factors (ease: ease_weights.npy, B) as .npy plus users.txt/items.txt here");
  cmd->add_option("--addr", opts->addr, "training service HOST:PORT: run as a job there");
  cmd->add_flag("--wait", opts->wait,
                "with --addr: follow the job to its end and print its result");
  cmd->add_option("--timeout", opts->timeout,
                  "with --wait: stop waiting after this long, e.g. 30m (0: no limit)")
      ->capture_default_str();
  cmd->add_flag("--json", opts->json, "print one JSON object");
  cmd->add_flag("--train-metrics", opts->train_metrics,
                "offline: also score the training rows each iteration (train_rmse; ranking "
                "metrics with the training items relevant and none excluded, train_ndcg@k...)");
  cmd->add_flag("--quiet", opts->quiet, "no per-iteration progress");
  cmd->callback([opts, &dialer] {
    RunCommand("train", [&]() -> absl::Status {
      if (!opts->addr.empty()) {
        // The service's API (proto Algorithm) has no SGD value, and its jobs
        // report no training-set metrics.
        if (opts->algo == "sgd-explicit") {
          return absl::InvalidArgumentError(
              "--algo sgd-explicit runs offline only (--input), not with --addr: the training "
              "service's API has no SGD algorithm");
        }
        if (opts->train_metrics) {
          return absl::InvalidArgumentError(
              "--train-metrics is offline only (--input), not --addr");
        }
        return RunRemoteTraining(*opts, dialer);
      }
      if (opts->input.empty())
        return absl::InvalidArgumentError("--input FILE is required (or --addr)");
      return RunOffline(*opts);
    });
  });
}

}  // namespace recstack::cli
