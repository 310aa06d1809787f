// recstack ingest / history / trending: the ingestion service from the shell.
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <iomanip>
#include <iostream>
#include <memory>
#include <thread>

#include <nlohmann/json.hpp>

#include "absl/strings/str_cat.h"
#include "common/config/ports.h"
#include "common/data/loaders.h"
#include "common/events/event.h"
#include "common/grpc/channel.h"
#include "common/grpc/status.h"
#include "common/status/status.h"
#include "recstack/v1/ingestion.grpc.pb.h"
#include "tools/recstack/cli_util.h"
#include "tools/recstack/commands.h"

namespace recstack::cli {
namespace {

double Now() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

int64_t WallMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

struct IngestOptions {
  std::string addr = config::DefaultAddress("ingestion"), file, format = "auto", type, items_file,
              time_shift = "auto";
  int batch = 1000;
  bool json = false;
};

absl::Status UpsertItemsFile(v1::IngestionService::Stub& stub, const std::string& path,
                             int64_t* upserted) {
  RECSTACK_ASSIGN_OR_RETURN(auto items, data::LoadItems(path));
  for (size_t b = 0; b < items.size(); b += 1000) {
    v1::UpsertItemsRequest req;
    for (size_t i = b; i < std::min(items.size(), b + 1000); ++i) {
      v1::Item* it = req.add_items();
      it->set_item_id(items[i].item);
      it->set_title(items[i].title);
      for (const auto& c : items[i].categories) it->add_categories(c);
      it->set_created_at_ms(items[i].created_at_ms);
    }
    grpc::ClientContext ctx;
    grpcutil::SetDeadline(ctx, std::chrono::seconds(30));
    v1::UpsertItemsResponse resp;
    RECSTACK_RETURN_IF_ERROR(FromGrpc(stub.UpsertItems(&ctx, req, &resp)));
    *upserted += resp.upserted();
  }
  return absl::OkStatus();
}

absl::Status RunIngest(const IngestOptions& o, const Dialer& dialer) {
  RECSTACK_ASSIGN_OR_RETURN(data::Format format, data::ParseFormat(o.format));
  if (o.batch < 1 || o.batch > 10000) return absl::InvalidArgumentError("--batch must be 1-10000");
  events::EventType type = events::EventType::kPlay;
  const bool movielens =
      format == data::Format::kMovieLens || format == data::Format::kMovieLensDat ||
      format == data::Format::kMovieLensCsv ||
      (format == data::Format::kAuto && o.file.find(".csv") == std::string::npos);
  if (!o.type.empty()) {
    if (!events::ParseEventType(o.type, &type)) {
      return absl::InvalidArgumentError(absl::StrCat("--type '", o.type, "' is not an event type"));
    }
  } else if (movielens) {
    type = events::EventType::kRating;
  }
  // First pass: count rows and find the time span, so old data sets
  // (MovieLens is 1997-98; events before 2000 are invalid) can be moved to
  // end now, keeping their relative times.
  int64_t rows = 0, min_ts = INT64_MAX, max_ts = 0;
  RECSTACK_RETURN_IF_ERROR(
      data::ForEachInteraction(o.file, format, [&](const data::InteractionView& v) {
        rows++;
        if (v.timestamp_ms > 0) {
          min_ts = std::min(min_ts, v.timestamp_ms);
          max_ts = std::max(max_ts, v.timestamp_ms);
        }
        return absl::OkStatus();
      }));
  int64_t shift = 0;
  if (o.time_shift == "auto") {
    if (max_ts > 0 && min_ts < events::kYear2000Ms) shift = WallMs() - max_ts;
  } else if (o.time_shift != "none") {
    return absl::InvalidArgumentError("--time-shift: auto or none");
  }

  RECSTACK_ASSIGN_OR_RETURN(auto channel, dialer.Dial(o.addr));
  auto stub = v1::IngestionService::NewStub(channel);
  int64_t items_upserted = 0;
  if (!o.items_file.empty())
    RECSTACK_RETURN_IF_ERROR(UpsertItemsFile(*stub, o.items_file, &items_upserted));

  const bool tty = isatty(STDERR_FILENO) && !o.json;
  const double start = Now();
  // One pass over the file as one stream. A pass that fails UNAVAILABLE (a
  // Redis failover, a restart) is sent again from the start, up to 3 times:
  // the event ids make that idempotent (what was stored comes back as
  // duplicates).
  v1::StreamEventsResponse summary;
  auto pass = [&]() -> absl::Status {
    grpc::ClientContext ctx;
    summary.Clear();
    auto writer = stub->StreamEvents(&ctx, &summary);
    int64_t sent = 0;
    v1::IngestEventsRequest req;
    auto flush = [&]() -> absl::Status {
      if (req.events_size() == 0) return absl::OkStatus();
      if (!writer->Write(req))
        return absl::UnavailableError("the ingestion service closed the stream");
      sent += req.events_size();
      req.clear_events();
      if (tty) {
        std::cerr << "\r  " << sent << "/" << rows << " events (" << std::fixed
                  << std::setprecision(0) << 100.0 * sent / rows << "%), "
                  << sent / std::max(1e-9, Now() - start) << " events/s   " << std::flush;
      }
      return absl::OkStatus();
    };
    absl::Status read =
        data::ForEachInteraction(o.file, format, [&](const data::InteractionView& v) {
          v1::Event* e = req.add_events();
          e->set_user_id(std::string(v.user));
          e->set_item_id(std::string(v.item));
          e->set_type(static_cast<v1::EventType>(type));
          e->set_value(v.value);
          // The id is of the row as written in the file, so loading it again
          // is idempotent whatever the time shift.
          e->set_event_id(events::DeriveEventId(e->user_id(), e->item_id(), type, v.timestamp_ms));
          if (v.timestamp_ms > 0) e->set_timestamp_ms(v.timestamp_ms + shift);
          if (req.events_size() >= o.batch) return flush();
          return absl::OkStatus();
        });
    if (read.ok()) read = flush();
    writer->WritesDone();
    grpc::Status st = writer->Finish();
    if (tty) std::cerr << "\n";
    // The server's status says why a write failed; ours only that it did.
    RECSTACK_RETURN_IF_ERROR(FromGrpc(st));
    return read;
  };
  absl::Status st = pass();
  for (int retry = 1; retry <= 3 && st.code() == absl::StatusCode::kUnavailable; ++retry) {
    std::cerr << "recstack ingest: " << st.message() << "; sending the file again (" << retry
              << "/3)\n";
    std::this_thread::sleep_for(std::chrono::seconds(retry));
    st = pass();
  }
  RECSTACK_RETURN_IF_ERROR(st);
  const double seconds = Now() - start;
  const double eps =
      (summary.accepted() + summary.duplicates() + summary.rejected()) / std::max(1e-9, seconds);
  if (o.json) {
    nlohmann::json j = {{"accepted", summary.accepted()},
                        {"duplicates", summary.duplicates()},
                        {"rejected", summary.rejected()},
                        {"events_per_second", eps},
                        {"seconds", seconds},
                        {"items_upserted", items_upserted},
                        {"time_shift_ms", shift}};
    nlohmann::json reasons = nlohmann::json::array();
    for (const auto& r : summary.first_rejections())
      reasons.push_back({{"index", r.index()}, {"reason", r.reason()}});
    j["first_rejections"] = reasons;
    std::cout << j.dump() << "\n";
  } else {
    std::cout << "accepted    " << summary.accepted() << "\nduplicates  " << summary.duplicates()
              << "\nrejected    " << summary.rejected() << "\n"
              << std::fixed << std::setprecision(0) << "rate        " << eps << " events/s ("
              << std::setprecision(2) << seconds << " s)\n";
    if (items_upserted > 0) std::cout << "items       " << items_upserted << " upserted\n";
    if (shift != 0)
      std::cout << "time shift  +" << shift / 86'400'000
                << " days (old data set moved to end now)\n";
    for (const auto& r : summary.first_rejections()) {
      std::cout << "  rejected #" << r.index() << ": " << r.reason() << "\n";
    }
  }
  return absl::OkStatus();
}

}  // namespace

void RegisterIngestCommands(CLI::App& app, const Dialer& dialer) {
  auto o = std::make_shared<IngestOptions>();
  CLI::App* ingest =
      app.add_subcommand("ingest", "Load an interactions file through the ingestion service");
  ingest->add_option("FILE", o->file, "interactions file")->required();
  ingest->add_option("--addr", o->addr, "ingestion service HOST:PORT")->capture_default_str();
  ingest->add_option("--format", o->format, "auto, movielens, ml-dat, ml-csv or csv")
      ->capture_default_str();
  ingest->add_option("--type", o->type,
                     "event type of every row (default: RATING for MovieLens, PLAY for csv)");
  ingest->add_option("--batch", o->batch, "events per batch (1-10000)")->capture_default_str();
  ingest->add_option("--items", o->items_file,
                     "item metadata to upsert first (u.item or items.csv)");
  ingest
      ->add_option("--time-shift", o->time_shift,
                   "auto: move data older than 2000 to end now (keeping relative times); none")
      ->capture_default_str();
  ingest->add_flag("--json", o->json, "print one JSON object");
  ingest->callback([o, &dialer] { RunCommand("ingest", [&] { return RunIngest(*o, dialer); }); });

  struct HistOpts {
    std::string addr = config::DefaultAddress("ingestion"), user;
    int limit = 20;
    bool json = false;
  };
  auto h = std::make_shared<HistOpts>();
  CLI::App* hist = app.add_subcommand("history", "A user's most recent interactions");
  hist->add_option("--user", h->user, "user id")->required();
  hist->add_option("--limit", h->limit, "entries")->capture_default_str();
  hist->add_option("--addr", h->addr, "ingestion service HOST:PORT")->capture_default_str();
  hist->add_flag("--json", h->json, "print JSON");
  hist->callback([h, &dialer] {
    RunCommand("history", [&]() -> absl::Status {
      RECSTACK_ASSIGN_OR_RETURN(auto channel, dialer.Dial(h->addr));
      auto stub = v1::IngestionService::NewStub(channel);
      grpc::ClientContext ctx;
      grpcutil::SetDeadline(ctx, std::chrono::seconds(10));
      v1::GetUserHistoryRequest req;
      req.set_user_id(h->user);
      req.set_limit(h->limit);
      v1::GetUserHistoryResponse resp;
      RECSTACK_RETURN_IF_ERROR(FromGrpc(stub->GetUserHistory(&ctx, req, &resp)));
      nlohmann::json j = nlohmann::json::array();
      for (const auto& e : resp.entries())
        j.push_back({{"item_id", e.item_id()}, {"timestamp_ms", e.timestamp_ms()}});
      if (h->json) {
        std::cout << j.dump() << "\n";
      } else {
        std::cout << "item                      last interaction (ms)\n";
        for (const auto& e : resp.entries())
          std::cout << std::left << std::setw(26) << e.item_id() << e.timestamp_ms() << "\n";
      }
      return absl::OkStatus();
    });
  });

  struct TrendOpts {
    std::string addr = config::DefaultAddress("ingestion");
    int k = 10, window_hours = 0;
    bool json = false;
  };
  auto t = std::make_shared<TrendOpts>();
  CLI::App* trend =
      app.add_subcommand("trending", "The most popular items right now (decayed counts)");
  trend->add_option("--k", t->k, "items")->capture_default_str();
  trend
      ->add_option("--window-hours", t->window_hours,
                   "0: the decayed counts the stack serves; 1-720: an exact sum of that many hours")
      ->capture_default_str();
  trend->add_option("--addr", t->addr, "ingestion service HOST:PORT")->capture_default_str();
  trend->add_flag("--json", t->json, "print JSON");
  trend->callback([t, &dialer] {
    RunCommand("trending", [&]() -> absl::Status {
      RECSTACK_ASSIGN_OR_RETURN(auto channel, dialer.Dial(t->addr));
      auto stub = v1::IngestionService::NewStub(channel);
      grpc::ClientContext ctx;
      grpcutil::SetDeadline(ctx, std::chrono::seconds(10));
      v1::GetTrendingRequest req;
      req.set_k(t->k);
      req.set_window_hours(t->window_hours);
      v1::GetTrendingResponse resp;
      RECSTACK_RETURN_IF_ERROR(FromGrpc(stub->GetTrending(&ctx, req, &resp)));
      if (t->json) {
        nlohmann::json j = nlohmann::json::array();
        for (const auto& s : resp.items())
          j.push_back({{"item_id", s.item_id()}, {"score", s.score()}});
        std::cout << j.dump() << "\n";
      } else {
        std::cout << "rank  item                      weighted count\n";
        int rank = 0;
        for (const auto& s : resp.items()) {
          std::cout << std::left << std::setw(6) << ++rank << std::setw(26) << s.item_id()
                    << s.score() << "\n";
        }
      }
      return absl::OkStatus();
    });
  });
}

}  // namespace recstack::cli
