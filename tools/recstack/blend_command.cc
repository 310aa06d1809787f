// recstack blend: trains ease and als-implicit on the same split, then
// scores their blend w * z(ease) + (1 - w) * z(als) (each user's scores
// standardised per model) for each weight w, so a reader sees where the
// blend beats both models alone (w = 1 is ease alone, w = 0 als alone).
#include <iomanip>
#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>
#include <sstream>

#include "absl/strings/str_cat.h"
#include "common/mf/trainer.h"
#include "common/status/status.h"
#include "tools/recstack/cli_util.h"
#include "tools/recstack/commands.h"
#include "tools/recstack/train_options.h"

namespace recstack::cli {
namespace {

struct BlendOptions {
  std::string input, test, format = "auto", split = "stratified:0.75";
  uint64_t seed = 42;
  int k = 10, threads = 2;
  double ease_regularization = -1, als_regularization = -1, als_alpha = -1;
  int als_factors = -1, als_iterations = -1;
  std::vector<double> weights = {0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1};
  bool json = false;
};

absl::StatusOr<mf::TrainConfig> Config(const BlendOptions& o, const std::string& algo) {
  TrainOptions t;
  t.algo = algo;
  t.seed = o.seed;
  t.k = o.k;
  t.threads = o.threads;
  t.split = o.split;
  if (algo == "ease") {
    t.regularization = o.ease_regularization;
  } else {
    t.regularization = o.als_regularization;
    t.alpha = o.als_alpha;
    t.factors = o.als_factors;
    t.iterations = o.als_iterations;
  }
  RECSTACK_ASSIGN_OR_RETURN(mf::TrainConfig c, t.ToConfig());
  c.evaluate_each_iteration = false;
  c.compute_loss = false;
  return c;
}

absl::Status RunBlend(const BlendOptions& o) {
  for (double w : o.weights) {
    if (!(w >= 0 && w <= 1)) {
      return absl::InvalidArgumentError(absl::StrCat("--weights: each must be in [0, 1], got ", w));
    }
  }
  if (o.weights.empty()) return absl::InvalidArgumentError("--weights: give at least one");
  RECSTACK_ASSIGN_OR_RETURN(mf::TrainConfig ease_cfg, Config(o, "ease"));
  RECSTACK_ASSIGN_OR_RETURN(mf::TrainConfig als_cfg, Config(o, "als-implicit"));
  RECSTACK_ASSIGN_OR_RETURN(data::Format format, data::ParseFormat(o.format));
  RECSTACK_ASSIGN_OR_RETURN(mf::SplitSpec split, mf::ParseSplit(o.split));
  RECSTACK_ASSIGN_OR_RETURN(mf::Dataset data, mf::LoadDataset(o.input, {.format = format}));
  std::vector<mf::Row> train, test;
  if (!o.test.empty()) {
    RECSTACK_ASSIGN_OR_RETURN(mf::TestSet ts, mf::LoadTestSet(o.test, format, data));
    test = std::move(ts.rows);
    train = data.rows;
  } else {
    if (split.kind == mf::SplitSpec::Kind::kNone) {
      return absl::InvalidArgumentError("blend needs held-out rows: --split or --test");
    }
    RECSTACK_RETURN_IF_ERROR(mf::Split(data, split, o.seed, &train, &test));
  }
  const int32_t nu = data.users.size(), ni = data.items.size();
  RECSTACK_ASSIGN_OR_RETURN(mf::TrainResult ease, mf::Train(nu, ni, train, test, ease_cfg));
  RECSTACK_ASSIGN_OR_RETURN(mf::TrainResult als, mf::Train(nu, ni, train, test, als_cfg));
  // The training matrix both models exclude from their rankings.
  mf::InteractionMatrix m = mf::BuildMatrix(nu, ni, train, /*sum_duplicates=*/true);
  const std::string ndcg = absl::StrCat("ndcg@", o.k), recall = absl::StrCat("recall@", o.k);
  nlohmann::json rows = nlohmann::json::array();
  double best_w = 0, best = -1;
  for (double w : o.weights) {
    mf::BlockScorer blend =
        mf::BlendScorer(mf::ModelScorer(ease.model, m.by_user, o.threads),
                        mf::ModelScorer(als.model, m.by_user, o.threads), w, ni);
    auto metrics = mf::ToMap(mf::EvaluateRankingWith(blend, ni, m.by_user, test, o.k), o.k);
    rows.push_back({{"ease_weight", w}, {"metrics", metrics}});
    if (metrics[ndcg] > best) {
      best = metrics[ndcg];
      best_w = w;
    }
    if (!o.json) {
      std::cerr << "ease weight " << std::fixed << std::setprecision(2) << w << "  " << ndcg << " "
                << std::setprecision(4) << metrics[ndcg] << "  " << recall << " " << metrics[recall]
                << "\n";
    }
  }
  const double e = ease.metrics.at(ndcg), a = als.metrics.at(ndcg);
  nlohmann::json out = {
      {"input", o.input},
      {"split", o.split},
      {"seed", o.seed},
      {"ease", {{"regularization", ease_cfg.ease.lambda}, {"metrics", ease.metrics}}},
      {"als_implicit",
       {{"factors", als_cfg.als.factors},
        {"regularization", als_cfg.als.regularization},
        {"alpha", als_cfg.als.alpha},
        {"iterations", als_cfg.als.iterations},
        {"metrics", als.metrics}}},
      {"blend", rows},
      {"best_ease_weight", best_w},
      {absl::StrCat("best_", ndcg), best},
      {"blend_beats_both", best > std::max(e, a)}};
  if (o.json) {
    std::cout << out.dump() << "\n";
  } else {
    std::cout << std::fixed << std::setprecision(4) << "ease alone          " << ndcg << " " << e
              << "\nals-implicit alone  " << ndcg << " " << a << "\nbest blend (w "
              << std::setprecision(2) << best_w << ")  " << ndcg << " " << std::setprecision(4)
              << best
              << (best > std::max(e, a) ? "  beats both\n" : "  does not beat the better model\n");
  }
  return absl::OkStatus();
}

}  // namespace

void RegisterBlendCommand(CLI::App& app) {
  auto o = std::make_shared<BlendOptions>();
  CLI::App* cmd = app.add_subcommand(
      "blend", "Offline: train ease and als-implicit on one split and score their blend by weight");
  cmd->add_option("--input", o->input, "interactions file")->required();
  cmd->add_option("--test", o->test, "held-out test file (else --split)");
  cmd->add_option("--format", o->format, "auto, movielens, ml-dat, ml-csv or csv")
      ->capture_default_str();
  cmd->add_option("--split", o->split, "held-out split when there is no --test")
      ->capture_default_str();
  cmd->add_option("--seed", o->seed, "seed of the split and of ALS")->capture_default_str();
  cmd->add_option("--k", o->k, "ranking metrics at k")->capture_default_str();
  cmd->add_option("--threads", o->threads, "training threads")->capture_default_str();
  cmd->add_option("--weights", o->weights,
                  "ease weights w to score (0 = als alone, 1 = ease alone)")
      ->delimiter(',');
  cmd->add_option("--ease-regularization", o->ease_regularization, "ease lambda (default 300)");
  cmd->add_option("--als-regularization", o->als_regularization,
                  "als-implicit lambda (default 20)");
  cmd->add_option("--als-alpha", o->als_alpha, "als-implicit alpha (default 0.3)");
  cmd->add_option("--als-factors", o->als_factors, "als-implicit factors (default 64)");
  cmd->add_option("--als-iterations", o->als_iterations, "als-implicit iterations (default 15)");
  cmd->add_flag("--json", o->json, "print one JSON object");
  cmd->callback([o] { RunCommand("blend", [&] { return RunBlend(*o); }); });
}

}  // namespace recstack::cli
