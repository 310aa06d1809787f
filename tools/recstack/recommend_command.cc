// recstack recommend / similar: ask the stack for recommendations.
#include <iomanip>
#include <iostream>
#include <memory>

#include <nlohmann/json.hpp>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "common/config/ports.h"
#include "common/grpc/channel.h"
#include "common/grpc/status.h"
#include "common/status/status.h"
#include "recstack/v1/gateway.grpc.pb.h"
#include "recstack/v1/retrieval.grpc.pb.h"
#include "tools/recstack/cli_util.h"
#include "tools/recstack/commands.h"

namespace recstack::cli {
namespace {

nlohmann::json ItemJson(const v1::ScoredItem& s) {
  nlohmann::json j = {{"item_id", s.item_id()}, {"score", s.score()}, {"source", s.source()}};
  if (!s.item().title().empty()) j["title"] = s.item().title();
  if (!s.explanation().reason().empty()) j["reason"] = s.explanation().reason();
  nlohmann::json contrib = nlohmann::json::object();
  for (const auto& c : s.explanation().contributions()) contrib[c.feature()] = c.contribution();
  if (!contrib.empty()) j["contributions"] = contrib;
  return j;
}

// rank, item, title, score, source, and the reason or top contributions.
void PrintTable(const google::protobuf::RepeatedPtrField<v1::ScoredItem>& items) {
  std::cout << std::left << std::setw(5) << "rank" << std::setw(14) << "item" << std::setw(36)
            << "title" << std::setw(10) << "score" << std::setw(11) << "source"
            << "why\n";
  int rank = 0;
  for (const auto& s : items) {
    std::string title = s.item().title().substr(0, 34);
    std::string why = s.explanation().reason();
    // The two largest contributions, when the ranker gave them.
    std::vector<std::pair<double, std::string>> c;
    for (const auto& f : s.explanation().contributions())
      c.push_back({std::abs(f.contribution()), f.feature()});
    std::sort(c.rbegin(), c.rend());
    std::string contrib;
    for (size_t i = 0; i < std::min<size_t>(2, c.size()); ++i) {
      for (const auto& f : s.explanation().contributions()) {
        if (f.feature() == c[i].second) {
          absl::StrAppend(&contrib, contrib.empty() ? "" : ", ", f.feature(), " ",
                          f.contribution() >= 0 ? "+" : "",
                          absl::StrFormat("%.3f", f.contribution()));
        }
      }
    }
    if (!contrib.empty()) why = why.empty() ? contrib : absl::StrCat(why, "; ", contrib);
    std::cout << std::left << std::setw(5) << ++rank << std::setw(14) << s.item_id().substr(0, 13)
              << std::setw(36) << title << std::setw(10) << std::fixed << std::setprecision(4)
              << s.score() << std::setw(11) << s.source() << why << "\n";
  }
}

}  // namespace

void RegisterRecommendCommands(CLI::App& app, const Dialer& dialer) {
  struct Opts {
    std::string user, addr, stage = "gateway", item, similar_source, api_key;
    int k = 10;
    bool debug = false, json = false;
  };
  auto o = std::make_shared<Opts>();
  CLI::App* rec =
      app.add_subcommand("recommend", "Recommendations for a user (the gateway, or one stage)");
  rec->add_option("--user", o->user, "user id")->required();
  rec->add_option("--k", o->k, "how many")->capture_default_str();
  rec->add_option("--stage", o->stage, "gateway (the full call) or retrieval (candidates only)")
      ->capture_default_str();
  rec->add_option("--addr", o->addr, "HOST:PORT (default: the stage's local port)");
  rec->add_flag("--debug", o->debug, "gateway: show each stage");
  rec->add_option("--api-key", o->api_key,
                  "gateway: the API key to send (x-api-key) when the gateway has --api-keys")
      ->envname("RECSTACK_API_KEY");
  rec->add_flag("--json", o->json, "print JSON");
  rec->callback([o, &dialer] {
    RunCommand("recommend", [&]() -> absl::Status {
      if (o->stage == "retrieval") {
        RECSTACK_ASSIGN_OR_RETURN(
            auto channel,
            dialer.Dial(o->addr.empty() ? config::DefaultAddress("retrieval") : o->addr));
        auto stub = v1::RetrievalService::NewStub(channel);
        grpc::ClientContext ctx;
        grpcutil::SetDeadline(ctx, std::chrono::seconds(10));
        v1::RetrieveRequest req;
        req.set_user_id(o->user);
        req.set_k(o->k);
        v1::RetrieveResponse resp;
        RECSTACK_RETURN_IF_ERROR(FromGrpc(stub->Retrieve(&ctx, req, &resp)));
        if (o->json) {
          nlohmann::json j = {{"model_version", resp.model_version()},
                              {"user_vector", resp.user_vector()},
                              {"items", nlohmann::json::array()}};
          for (const auto& s : resp.candidates()) j["items"].push_back(ItemJson(s));
          std::cout << j.dump() << "\n";
        } else {
          std::cout << "model " << resp.model_version() << ", user vector: " << resp.user_vector()
                    << "\n";
          PrintTable(resp.candidates());
        }
        return absl::OkStatus();
      }
      if (o->stage != "gateway") return absl::InvalidArgumentError("--stage: gateway or retrieval");
      RECSTACK_ASSIGN_OR_RETURN(
          auto channel, dialer.Dial(o->addr.empty() ? config::DefaultAddress("gateway") : o->addr));
      auto stub = v1::GatewayService::NewStub(channel);
      grpc::ClientContext ctx;
      grpcutil::SetDeadline(ctx, std::chrono::seconds(10));
      if (!o->api_key.empty()) ctx.AddMetadata("x-api-key", o->api_key);
      v1::RecommendRequest req;
      req.set_user_id(o->user);
      req.set_k(o->k);
      req.set_debug(o->debug);
      v1::RecommendResponse resp;
      RECSTACK_RETURN_IF_ERROR(FromGrpc(stub->Recommend(&ctx, req, &resp)));
      if (o->json) {
        nlohmann::json j = {
            {"request_id", resp.request_id()}, {"model_version", resp.model_version()},
            {"ranker", resp.ranker()},         {"variant", resp.variant()},
            {"degraded", resp.degraded()},     {"degraded_reason", resp.degraded_reason()},
            {"total_us", resp.total_us()},     {"items", nlohmann::json::array()}};
        for (const auto& s : resp.items()) j["items"].push_back(ItemJson(s));
        std::cout << j.dump() << "\n";
        return absl::OkStatus();
      }
      std::cout << "user " << resp.user_id() << "  model " << resp.model_version() << "  ranker "
                << resp.ranker()
                << (resp.variant().empty()
                        ? ""
                        : absl::StrCat(" (", resp.experiment(), "/", resp.variant(), ")"))
                << "  " << resp.total_us() / 1000.0 << " ms"
                << (resp.degraded() ? absl::StrCat("  DEGRADED: ", resp.degraded_reason()) : "")
                << "\n";
      PrintTable(resp.items());
      for (const auto& st : resp.stages()) {
        std::cout << "  stage " << st.stage() << ": " << st.duration_us() / 1000.0 << " ms, "
                  << st.status() << ", " << st.items_size() << " items\n";
      }
      return absl::OkStatus();
    });
  });

  auto so = std::make_shared<Opts>();
  CLI::App* sim = app.add_subcommand("similar", "Items similar to an item (item-to-item)");
  sim->add_option("--item", so->item, "item id")->required();
  sim->add_option("--k", so->k, "how many")->capture_default_str();
  sim->add_option("--addr", so->addr, "retrieval HOST:PORT (default 127.0.0.1:50053)");
  sim->add_option("--source", so->similar_source,
                  "item2item (cosine of the factor model, default) or ease (EASE weights)");
  sim->add_flag("--json", so->json, "print JSON");
  sim->callback([so, &dialer] {
    RunCommand("similar", [&]() -> absl::Status {
      RECSTACK_ASSIGN_OR_RETURN(
          auto channel,
          dialer.Dial(so->addr.empty() ? config::DefaultAddress("retrieval") : so->addr));
      auto stub = v1::RetrievalService::NewStub(channel);
      grpc::ClientContext ctx;
      grpcutil::SetDeadline(ctx, std::chrono::seconds(10));
      v1::SimilarItemsRequest req;
      req.set_item_id(so->item);
      req.set_k(so->k);
      req.set_source(so->similar_source);
      v1::SimilarItemsResponse resp;
      RECSTACK_RETURN_IF_ERROR(FromGrpc(stub->SimilarItems(&ctx, req, &resp)));
      if (so->json) {
        nlohmann::json j = nlohmann::json::array();
        for (const auto& s : resp.items()) j.push_back(ItemJson(s));
        std::cout << j.dump() << "\n";
      } else {
        std::cout << "model " << resp.model_version() << "\n";
        PrintTable(resp.items());
      }
      return absl::OkStatus();
    });
  });
}

}  // namespace recstack::cli
