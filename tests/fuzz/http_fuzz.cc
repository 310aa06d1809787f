// The gateway's HTTP API (services/gateway/http_server.h) on any bytes a
// client can send: httplib parses the request line, the path and query,
// the headers and the body, and the gateway's handlers answer, with fake
// backends that answer as the real services do (the same checks, the same
// messages, which echo the client's input). The first byte says what the
// input is:
//   'U' / 'I'  a user / item id: the target percent-encodes it into
//              GET /v1/users/{id}/recommendations (/v1/items/{id}/similar)
//              and checks the backend was asked for exactly that id (or the
//              request refused with 400 when it is not a valid id)
//   other      the raw bytes of one connection (one or more requests)
// No input may be answered 500 (the fakes never fail internally), and
// every response must be well-formed HTTP with a JSON body where one is
// declared.
#include <cctype>
#include <charconv>
#include <cstdio>
#include <memory>
#include <mutex>
#include <string>

#include <nlohmann/json.hpp>

#include "common/events/event.h"
#include "common/events/ids.h"
#include "common/status/status.h"
#include "services/gateway/http_server.h"
#include "tests/fuzz/fuzz_input.h"
#include "tests/support/http/percent_encode.h"

namespace {

namespace gw = recstack::gateway;
namespace v1 = recstack::v1;
using recstack::gateway::Deadline;

// What the fakes were last asked, for the round-trip modes.
struct Seen {
  std::mutex mu;
  std::string user, item;
};

v1::ScoredItem Item(const std::string& id, double score) {
  v1::ScoredItem s;
  s.set_item_id(id);
  s.set_score(score);
  s.set_source("mf");
  return s;
}

struct FakeRetrieval : gw::RetrievalBackend {
  explicit FakeRetrieval(Seen& s) : seen(s) {}
  absl::StatusOr<v1::RetrieveResponse> Retrieve(const v1::RetrieveRequest& req, Deadline) override {
    RECSTACK_RETURN_IF_ERROR(recstack::ids::ValidateId("user_id", req.user_id()));
    {
      std::lock_guard<std::mutex> lock(seen.mu);
      seen.user = req.user_id();
    }
    v1::RetrieveResponse r;
    for (int i = 0; i < 3; ++i) *r.add_candidates() = Item("i" + std::to_string(i), 3 - i);
    r.set_model_version("v1");
    return r;
  }
  absl::StatusOr<v1::SimilarItemsResponse> SimilarItems(const v1::SimilarItemsRequest& req,
                                                        Deadline) override {
    RECSTACK_RETURN_IF_ERROR(recstack::ids::ValidateId("item_id", req.item_id()));
    if (req.k() <= 0 || req.k() > 1000) {
      return absl::InvalidArgumentError("k must be 1-1000, got " + std::to_string(req.k()));
    }
    {
      std::lock_guard<std::mutex> lock(seen.mu);
      seen.item = req.item_id();
    }
    if (req.item_id() != "i1") {
      return absl::NotFoundError("item '" + req.item_id() + "' is not in model v1");
    }
    v1::SimilarItemsResponse r;
    *r.add_items() = Item("i2", 0.5);
    return r;
  }
  absl::StatusOr<v1::SampleUsersResponse> SampleUsers(const v1::SampleUsersRequest& req,
                                                      Deadline) override {
    v1::SampleUsersResponse r;
    r.set_model_version("v1");
    for (int i = 0; i < req.n(); ++i) r.add_user_ids("u" + std::to_string(i));
    return r;
  }
  Seen& seen;
};

struct FakeRanking : gw::RankingBackend {
  absl::StatusOr<v1::RankResponse> Rank(const v1::RankRequest& req, Deadline) override {
    const std::string& r = req.ranker();
    if (!r.empty() && r != "linear" && r != "linear+mmr" && r != "passthrough") {
      // As ranking's registry answers (rankers.cc): the name, echoed.
      return absl::InvalidArgumentError("unknown ranker '" + r + "' (known: linear, passthrough)");
    }
    v1::RankResponse out;
    for (int i = req.candidates_size() - 1; i >= 0 && out.items_size() < req.k(); --i) {
      *out.add_items() = req.candidates(i);
    }
    out.set_ranker(r.empty() ? "linear" : r);
    out.set_experiment("home");
    out.set_variant("A");
    return out;
  }
  absl::StatusOr<v1::ListRankersResponse> ListRankers(const v1::ListRankersRequest&,
                                                      Deadline) override {
    v1::ListRankersResponse r;
    v1::Experiment* e = r.add_experiments();
    e->set_name("home");
    v1::ExperimentVariant* v = e->add_variants();
    v->set_name("A");
    v->set_ranker("linear");
    v->set_traffic(1);
    return r;
  }
};

struct FakeIngestion : gw::IngestionBackend {
  // As ingestion does: every event validated, each refusal with its reason.
  absl::StatusOr<v1::IngestEventsResponse> IngestEvents(const v1::IngestEventsRequest& req,
                                                        Deadline) override {
    if (req.events_size() == 0) return absl::InvalidArgumentError("the batch has no events");
    v1::IngestEventsResponse r;
    for (int i = 0; i < req.events_size(); ++i) {
      const v1::Event& p = req.events(i);
      recstack::events::Event e;
      e.event_id = p.event_id();
      e.user_id = p.user_id();
      e.item_id = p.item_id();
      e.type = static_cast<recstack::events::EventType>(p.type());
      e.value = p.value();
      e.timestamp_ms = p.timestamp_ms();
      e.context.insert(p.context().begin(), p.context().end());
      const absl::Status st = recstack::events::ValidateEvent(e, 1'700'000'000'000, {});
      if (st.ok()) {
        r.set_accepted(r.accepted() + 1);
      } else {
        v1::RejectedEvent* rej = r.add_rejected();
        rej->set_index(i);
        rej->set_event_id(e.event_id);
        rej->set_reason(std::string(st.message()));
      }
    }
    return r;
  }
  absl::StatusOr<v1::GetItemsResponse> GetItems(const v1::GetItemsRequest& req, Deadline) override {
    v1::GetItemsResponse r;
    for (const auto& id : req.item_ids()) {
      v1::Item* it = r.add_items();
      it->set_item_id(id);
      it->set_title("title of " + id);
    }
    return r;
  }
  absl::StatusOr<v1::GetTrendingResponse> GetTrending(const v1::GetTrendingRequest&,
                                                      Deadline) override {
    v1::GetTrendingResponse r;
    *r.add_items() = Item("i0", 1);
    return r;
  }
};

struct FakeTraining : gw::TrainingBackend {
  absl::StatusOr<v1::ExperimentReportResponse> ExperimentReport(
      const v1::ExperimentReportRequest& req, Deadline) override {
    if (req.experiment() != "home") {
      // As the training service answers: the name, echoed.
      return absl::NotFoundError("unknown experiment '" + req.experiment() + "' (known: home)");
    }
    v1::ExperimentReportResponse r;
    r.set_experiment("home");
    r.set_control("A");
    v1::VariantReport* a = r.add_variants();
    a->set_name("A");
    a->set_users(10);
    return r;
  }
  absl::StatusOr<v1::ListModelsResponse> ListModels(const v1::ListModelsRequest&,
                                                    Deadline) override {
    v1::ListModelsResponse r;
    r.set_current_version("v1");
    v1::ModelInfo* m = r.add_models();
    m->set_version("v1");
    m->set_current(true);
    return r;
  }
};

struct Stack {
  Stack() : metrics(registry) {
    gw::GatewayOptions o;
    o.log_impressions = false;  // no background thread: one input, one answer
    gateway = std::make_unique<gw::Gateway>(
        std::make_unique<FakeRetrieval>(seen), std::make_unique<FakeRanking>(),
        std::make_unique<FakeIngestion>(), std::make_unique<FakeTraining>(), o, metrics);
    http = std::make_unique<gw::HttpServer>(*gateway, [] { return true; });
  }
  prometheus::Registry registry;
  gw::GatewayMetrics metrics;
  Seen seen;
  std::unique_ptr<gw::Gateway> gateway;
  std::unique_ptr<gw::HttpServer> http;
};

Stack& TheStack() {
  static Stack* stack = new Stack();  // lives for the process, as a server's does
  return *stack;
}

struct Response {
  int status = 0;
  std::string content_type, body;
};

// The responses written back on one connection, parsed strictly: a status
// line, headers, and exactly Content-Length bytes of body each.
std::vector<Response> ParseResponses(std::string_view out) {
  std::vector<Response> all;
  while (!out.empty()) {
    Response r;
    FUZZ_CHECK(out.starts_with("HTTP/1.1 ") && out.size() >= 12);
    auto [p, ec] = std::from_chars(out.data() + 9, out.data() + 12, r.status);
    FUZZ_CHECK(ec == std::errc() && r.status >= 100 && r.status < 600);
    const size_t end = out.find("\r\n\r\n");
    FUZZ_CHECK(end != std::string_view::npos);
    const std::string_view head = out.substr(0, end);
    out.remove_prefix(end + 4);
    size_t length = 0;
    for (std::string_view line : recstack::fuzz::SplitAll(head, "\r\n")) {
      if (line.starts_with("Content-Length: ")) {
        std::from_chars(line.data() + 16, line.data() + line.size(), length);
      } else if (line.starts_with("Content-Type: ")) {
        r.content_type = std::string(line.substr(14));
      }
    }
    FUZZ_CHECK(out.size() >= length);
    r.body = std::string(out.substr(0, length));
    out.remove_prefix(length);
    all.push_back(std::move(r));
  }
  return all;
}

double FiveHundreds() { return TheStack().metrics.http["5xx"]->Value(); }

// `raw` on one connection. Any HEAD request in it (an answer that declares
// a length and sends no body) leaves only the status check.
std::vector<Response> Serve(std::string_view raw, bool may_have_head) {
  const double before = FiveHundreds();
  const std::string out = TheStack().http->Handle(raw);
  // Every answer counts in the metrics, httplib's own (an exception in a
  // handler) included: none may be a 5xx.
  FUZZ_CHECK(FiveHundreds() == before);
  if (may_have_head && raw.find("HEAD") != std::string_view::npos) return {};
  std::vector<Response> all = ParseResponses(out);
  for (const Response& r : all) {
    if (r.status >= 500) std::fprintf(stderr, "answered %d: %s\n", r.status, r.body.c_str());
    FUZZ_CHECK(r.status < 500);
    if (r.content_type == "application/json") {
      if (!nlohmann::json::accept(r.body)) {
        std::fprintf(stderr, "answered %d with a body that is not JSON: '%s'\n", r.status,
                     r.body.c_str());
      }
      FUZZ_CHECK(nlohmann::json::accept(r.body));
    }
  }
  return all;
}

using ::recstack::testing::PercentEncode;

void RoundTrip(bool user, std::string_view id) {
  id = id.substr(0, 300);  // past 128 bytes an id is refused anyway; the URI stays short
  const std::string path = user ? "/v1/users/" + PercentEncode(id) + "/recommendations?k=2"
                                : "/v1/items/" + PercentEncode(id) + "/similar?k=2";
  Stack& s = TheStack();
  {
    std::lock_guard<std::mutex> lock(s.seen.mu);
    s.seen.user = s.seen.item = "\x01(none)";
  }
  const std::vector<Response> r =
      Serve("GET " + path + " HTTP/1.1\r\nHost: x\r\n\r\n", /*may_have_head=*/false);
  FUZZ_CHECK(r.size() == 1);
  std::lock_guard<std::mutex> lock(s.seen.mu);
  const std::string& seen = user ? s.seen.user : s.seen.item;
  if (recstack::ids::ValidateId("id", id).ok()) {
    if (seen != id) {
      std::fprintf(stderr, "sent id '%.*s', the backend was asked for '%s' (status %d)\n",
                   static_cast<int>(id.size()), id.data(), seen.c_str(), r[0].status);
    }
    FUZZ_CHECK(seen == id);
    FUZZ_CHECK(r[0].status == 200 || (!user && r[0].status == 404));
  } else {
    // A bad id is the caller's mistake, named; no id at all is no such path.
    FUZZ_CHECK(r[0].status == (id.empty() ? 404 : 400));
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  recstack::fuzz::Input in(data, size);
  switch (in.rest().empty() ? 0 : in.rest().front()) {
    case 'U':
      in.Byte();
      RoundTrip(true, in.Take());
      break;
    case 'I':
      in.Byte();
      RoundTrip(false, in.Take());
      break;
    default:
      Serve(in.Take(), /*may_have_head=*/true);
      break;
  }
  return 0;
}
