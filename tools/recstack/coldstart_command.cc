// recstack coldstart: how good a new user's recommendations are as a
// function of how many events they have, offline. A seeded sample of users
// with enough events is taken out of training; each one's events in time
// order give a history (the first N) and a test set (everything after the
// first max N, the same for every N). For each N the user's list is
//   folded_in  what serving does for a user training has not seen: factors
//              from the N items against the trained item factors (one exact
//              ALS user step, common/mf/fold_in.h); N = 0 is popularity,
//              what the trending source falls back to;
//   trained    the same users' N events included in a full training run,
//              the best fold-in could hope for;
// both scored by NDCG@K and recall@K on the test events, with the first
// max N events excluded from every list (they are neither history nor test
// for the smaller N).
#include <algorithm>
#include <chrono>
#include <iomanip>
#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>
#include <numeric>

#include "absl/strings/str_cat.h"
#include "common/math/blas.h"
#include "common/math/rng.h"
#include "common/mf/fold_in.h"
#include "common/mf/trainer.h"
#include "common/status/status.h"
#include "tools/recstack/cli_util.h"
#include "tools/recstack/commands.h"
#include "tools/recstack/train_options.h"

namespace recstack::cli {
namespace {

struct ColdStartOptions {
  std::string input, format = "auto";
  std::vector<int> events = {0, 1, 2, 5, 10, 20};
  int users = 200, min_events = 40, k = 10, threads = 2;
  int factors = -1, iterations = -1;
  double regularization = -1, alpha = -1;
  uint64_t seed = 42;
  bool json = false;
};

struct ColdUser {
  int32_t user = 0;
  std::vector<int32_t> history;  // the first max N items, in time order
};

// Scores of the cold users' lists from their factors (one row per cold
// user, indexed as the evaluation's users) against the item factors.
mf::BlockScorer FactorScorer(const math::Matrix* users, const math::Matrix* items, int threads) {
  return [users, items, threads](const int32_t* which, int64_t count, float* scores) {
    const int64_t n = items->rows(), d = items->cols();
    math::Matrix block(count, d);
    for (int64_t j = 0; j < count; ++j)
      std::copy(users->row(which[j]), users->row(which[j]) + d, block.row(j));
    math::SetBlasThreads(threads);
    math::Gemm(false, true, count, n, d, 1.0f, block.data(), d, items->data(), d, 0.0f, scores, n);
  };
}

absl::Status RunColdStart(const ColdStartOptions& o) {
  const auto start = std::chrono::steady_clock::now();
  std::vector<int> events = o.events;
  std::sort(events.begin(), events.end());
  events.erase(std::unique(events.begin(), events.end()), events.end());
  if (events.empty() || events.front() < 0) {
    return absl::InvalidArgumentError("--events: give event counts >= 0, e.g. 0,1,2,5,10,20");
  }
  const int max_n = events.back();
  if (o.min_events <= max_n) {
    return absl::InvalidArgumentError(
        absl::StrCat("--min-events (", o.min_events, ") must exceed the largest --events (", max_n,
                     "): a user needs test events after the history"));
  }
  if (o.users < 1) return absl::InvalidArgumentError("--users must be >= 1");
  TrainOptions t;
  t.algo = "als-implicit";
  t.seed = o.seed;
  t.k = o.k;
  t.threads = o.threads;
  t.factors = o.factors;
  t.iterations = o.iterations;
  t.regularization = o.regularization;
  t.alpha = o.alpha;
  RECSTACK_ASSIGN_OR_RETURN(mf::TrainConfig cfg, t.ToConfig());
  cfg.evaluate_each_iteration = false;
  cfg.compute_loss = false;
  RECSTACK_ASSIGN_OR_RETURN(data::Format format, data::ParseFormat(o.format));
  RECSTACK_ASSIGN_OR_RETURN(mf::Dataset data,
                            mf::LoadDataset(o.input, {.format = format, .keep_timestamps = true}));
  const int32_t nu = data.users.size(), ni = data.items.size();
  if (data.timestamps.size() != data.rows.size()) {
    return absl::InvalidArgumentError(
        absl::StrCat(o.input, ": coldstart needs timestamps (the events' order)"));
  }

  // Each user's rows in time order (ties by item, so the order is fixed).
  std::vector<std::vector<size_t>> by_user(nu);
  for (size_t r = 0; r < data.rows.size(); ++r) by_user[data.rows[r].user].push_back(r);
  std::vector<int32_t> eligible;
  for (int32_t u = 0; u < nu; ++u) {
    if (static_cast<int>(by_user[u].size()) >= o.min_events) eligible.push_back(u);
  }
  if (eligible.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat("no user has --min-events ", o.min_events, " events"));
  }
  math::Rng rng(o.seed);
  for (size_t i = eligible.size(); i > 1; --i) std::swap(eligible[i - 1], eligible[rng.Below(i)]);
  eligible.resize(std::min<size_t>(eligible.size(), o.users));
  std::sort(eligible.begin(), eligible.end());
  const int32_t n_cold = static_cast<int32_t>(eligible.size());

  std::vector<uint8_t> is_cold(nu, 0);
  std::vector<ColdUser> cold(n_cold);
  std::vector<math::Triplet> excluded;
  std::vector<mf::Row> test;
  for (int32_t c = 0; c < n_cold; ++c) {
    const int32_t u = eligible[c];
    is_cold[u] = 1;
    std::vector<size_t>& rows = by_user[u];
    std::sort(rows.begin(), rows.end(), [&](size_t a, size_t b) {
      return std::pair(data.timestamps[a], data.rows[a].item) <
             std::pair(data.timestamps[b], data.rows[b].item);
    });
    cold[c].user = u;
    for (size_t j = 0; j < rows.size(); ++j) {
      const int32_t item = data.rows[rows[j]].item;
      if (static_cast<int>(j) < max_n) {
        cold[c].history.push_back(item);
        excluded.push_back({static_cast<uint32_t>(c), static_cast<uint32_t>(item), 1.0f});
      } else {
        test.push_back({c, item, 1.0f});
      }
    }
  }
  const math::CsrMatrix exclude =
      math::CsrMatrix::FromTriplets(n_cold, ni, std::move(excluded), /*sum_duplicates=*/false);
  std::vector<mf::Row> warm;
  std::vector<float> popularity(ni, 0.0f);
  for (const mf::Row& r : data.rows) {
    if (is_cold[r.user]) continue;
    warm.push_back(r);
    popularity[r.item] += 1;
  }

  const auto metrics = [&](const mf::BlockScorer& score) {
    return mf::ToMap(mf::EvaluateRankingWith(score, ni, exclude, test, o.k), o.k);
  };
  const auto popular = metrics([&](const int32_t*, int64_t count, float* scores) {
    for (int64_t j = 0; j < count; ++j)
      std::copy(popularity.begin(), popularity.end(), scores + j * ni);
  });

  RECSTACK_ASSIGN_OR_RETURN(mf::TrainResult base, mf::Train(nu, ni, warm, {}, cfg));
  const math::Matrix& items = base.model.item_factors;
  const int64_t d = items.cols();
  const std::vector<float> gram = mf::GramPlusRegularization(items, cfg.als.regularization);
  const std::string ndcg = absl::StrCat("ndcg@", o.k);
  nlohmann::json rows = nlohmann::json::array();
  for (int n : events) {
    nlohmann::json row = {{"events", n}};
    if (n == 0) {
      row["source"] = "popularity";
      row["folded_in"] = popular;
      row["trained"] = popular;
    } else {
      math::Matrix folded(n_cold, d);
      for (int32_t c = 0; c < n_cold; ++c) {
        const std::vector<float> x =
            mf::FoldInUser(items, gram.data(), std::span(cold[c].history).first(n),
                           cfg.als.regularization, cfg.als.alpha);
        std::copy(x.begin(), x.end(), folded.row(c));
      }
      // The same users' first n events in a full training run.
      std::vector<mf::Row> with_cold = warm;
      for (const ColdUser& cu : cold) {
        for (int j = 0; j < n; ++j) with_cold.push_back(data.rows[by_user[cu.user][j]]);
      }
      RECSTACK_ASSIGN_OR_RETURN(mf::TrainResult full,
                                mf::Train(nu, ni, std::move(with_cold), {}, cfg));
      math::Matrix trained(n_cold, full.model.user_factors.cols());
      for (int32_t c = 0; c < n_cold; ++c) {
        std::copy(full.model.user_factors.row(cold[c].user),
                  full.model.user_factors.row(cold[c].user) + trained.cols(), trained.row(c));
      }
      row["source"] = "mf";
      row["folded_in"] = metrics(FactorScorer(&folded, &items, o.threads));
      row["trained"] = metrics(FactorScorer(&trained, &full.model.item_factors, o.threads));
    }
    if (!o.json) {
      std::cerr << "events " << std::setw(3) << n << "  folded-in " << ndcg << " " << std::fixed
                << std::setprecision(4) << row["folded_in"][ndcg].get<double>() << "  trained "
                << row["trained"][ndcg].get<double>() << "\n";
    }
    rows.push_back(std::move(row));
  }
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  nlohmann::json out = {{"input", o.input},
                        {"users", n_cold},
                        {"min_events", o.min_events},
                        {"test_rows", test.size()},
                        {"k", o.k},
                        {"seed", o.seed},
                        {"params",
                         {{"factors", cfg.als.factors},
                          {"iterations", cfg.als.iterations},
                          {"regularization", cfg.als.regularization},
                          {"alpha", cfg.als.alpha}}},
                        {"popularity", popular},
                        {"rows", rows},
                        {"seconds", seconds}};
  if (o.json) {
    std::cout << out.dump() << "\n";
  } else {
    std::cout << n_cold << " users out of training, " << test.size() << " test events, " << ndcg
              << " by events in the history:\n";
    for (const auto& r : rows) {
      std::cout << "  " << std::setw(3) << r["events"].get<int>() << "  folded-in " << std::fixed
                << std::setprecision(4) << r["folded_in"][ndcg].get<double>() << "  trained "
                << r["trained"][ndcg].get<double>() << "\n";
    }
  }
  return absl::OkStatus();
}

}  // namespace

void RegisterColdStartCommand(CLI::App& app) {
  auto o = std::make_shared<ColdStartOptions>();
  CLI::App* cmd = app.add_subcommand(
      "coldstart",
      "Offline: NDCG of new users by how many events they have, folded in vs fully trained");
  cmd->add_option("--input", o->input, "interactions file with timestamps")->required();
  cmd->add_option("--format", o->format, "auto, movielens, ml-dat, ml-csv or csv")
      ->capture_default_str();
  cmd->add_option("--events", o->events, "history lengths to score (0 = popularity)")
      ->delimiter(',')
      ->capture_default_str();
  cmd->add_option("--users", o->users, "users taken out of training (a seeded sample)")
      ->capture_default_str();
  cmd->add_option("--min-events", o->min_events,
                  "only users with at least this many events (must exceed the largest --events)")
      ->capture_default_str();
  cmd->add_option("--k", o->k, "ranking metrics at k")->capture_default_str();
  cmd->add_option("--seed", o->seed, "seed of the sample and of ALS")->capture_default_str();
  cmd->add_option("--threads", o->threads, "training threads")->capture_default_str();
  cmd->add_option("--factors", o->factors, "als-implicit factors (default 64)");
  cmd->add_option("--iterations", o->iterations, "als-implicit iterations (default 15)");
  cmd->add_option("--regularization", o->regularization, "als-implicit lambda (default 20)");
  cmd->add_option("--alpha", o->alpha, "als-implicit alpha (default 0.3)");
  cmd->add_flag("--json", o->json, "print one JSON object");
  cmd->callback([o] { RunCommand("coldstart", [&] { return RunColdStart(*o); }); });
}

}  // namespace recstack::cli
