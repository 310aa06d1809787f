#include "common/ranking/node.h"

#include <fstream>
#include <sstream>

#include "common/config/config.h"

namespace recstack::ranking {
void AddFlags(CLI::App& app, NodeOptions* opts) {
  app.add_option("--experiments", opts->experiments_file,
                 "experiments JSON (see common/rank/experiments.h)")
      ->envname(config::EnvName("experiments"));
  app.add_option("--default-ranker", opts->default_ranker,
                 "ranker when no experiments file is given")
      ->envname(config::EnvName("default-ranker"))
      ->capture_default_str();
  app.add_option("--mmr-lambda", opts->mmr_lambda, "relevance weight of the MMR stage (0-1)")
      ->capture_default_str();
}

Node::Node(const redis::Options& redis, int pool_size, const redis::Keyspace& keys)
    : pool_(redis, pool_size), load_pool_(model::ModelLoadOptions(redis), 2),
      load_store_(load_pool_, keys), ranker_models_(load_store_, redis, keys),
      vectors_(model::MakeItemVectorsHolder(load_store_, redis, keys)),
      feature_source_(pool_, keys),
      features_(feature_source_, clock_, FeatureOptions{.popularity_in_background = true}),
      item_updates_(redis, keys, features_),
      popularity_refresh_([this] { return features_.RefreshPopularity(); },
                          std::chrono::seconds(1)) {}

absl::StatusOr<std::unique_ptr<Node>> Node::Create(const redis::Options& redis, int pool_size,
                                                   const redis::Keyspace& keys,
                                                   const NodeOptions& opts,
                                                   prometheus::Registry& registry) {
  if (!(opts.mmr_lambda >= 0 && opts.mmr_lambda <= 1))
    return absl::InvalidArgumentError("--mmr-lambda: must be 0-1");
  std::unique_ptr<Node> node(new Node(redis, pool_size, keys));
  // The learned rankers' models, loaded before the experiments are checked.
  node->ranker_models_.Start();
  auto rankers = RankerRegistry::WithBuiltins();
  RegisterLearned(rankers, node->ranker_models_);
  std::vector<Experiment> experiments;
  if (!opts.experiments_file.empty()) {
    std::ifstream in(opts.experiments_file);
    std::stringstream ss;
    ss << in.rdbuf();
    if (!in)
      return absl::InvalidArgumentError("--experiments: cannot read " + opts.experiments_file);
    auto parsed = ParseExperiments(ss.str(), RegistryCheck(rankers));
    if (!parsed.ok())
      return absl::InvalidArgumentError("--experiments: " + std::string(parsed.status().message()));
    experiments = *std::move(parsed);
  } else {
    if (!rankers.Has(SplitMmr(opts.default_ranker).first)) {
      return absl::InvalidArgumentError(
          "--default-ranker: unknown ranker (known: " + rankers.KnownNames() + ")");
    }
    experiments = DefaultExperiments(opts.default_ranker);
  }
  node->metrics_ = std::make_unique<RankingMetrics>(registry, experiments);
  node->engine_ =
      std::make_unique<RankingEngine>(node->features_, std::move(rankers), std::move(experiments),
                                      node->vectors_.get(), opts.mmr_lambda);
  node->handler_ = std::make_unique<RankingHandler>(*node->engine_, *node->metrics_);
  return node;
}

Node::~Node() { Stop(); }

void Node::Start() {
  vectors_->Start();
  item_updates_.Start();
  popularity_refresh_.Start().IgnoreError();  // nothing is queued yet
}

void Node::Stop() {
  if (stopped_) return;
  stopped_ = true;
  popularity_refresh_.Stop();
  item_updates_.Stop();
  vectors_->Stop();
  ranker_models_.Stop();
}

}  // namespace recstack::ranking
