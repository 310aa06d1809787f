#include "services/gateway/http_server.h"

#include <google/protobuf/util/json_util.h>
#include <httplib.h>

#include <algorithm>
#include <charconv>
#include <cstring>
#include <exception>

#include <nlohmann/json.hpp>

#include "absl/strings/str_cat.h"
#include "common/log/log.h"
#include "common/metrics/metrics.h"
#include "common/stats/readout_json.h"
#include "services/gateway/page.h"

namespace recstack::gateway {
namespace {

using Clock = std::chrono::system_clock;

// The routes with an id in the path. httplib matches them against the
// decoded path (a client's %2F is a '/' there, its %25 a '%', its %0A a
// newline), so an id is every byte between the fixed parts, and it is not
// decoded again; the services judge it (a bad id is a 400 naming the rule,
// not a 404).
constexpr const char* kRecommendPath = R"(/v1/users/([\s\S]+)/recommendations)";
constexpr const char* kSimilarPath = R"(/v1/items/([\s\S]+)/similar)";
constexpr const char* kReportPath = R"(/v1/experiments/([\s\S]+))";

// JSON text of `j`. Strings a client sent can reach an answer (an error
// message quotes a bad field name, an unknown ranker, an experiment name):
// bytes that are not UTF-8 become U+FFFD instead of an exception.
std::string Dump(const nlohmann::json& j) {
  return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

std::string ToJson(const google::protobuf::Message& m) {
  std::string out;
  google::protobuf::util::JsonPrintOptions o;
  o.preserve_proto_field_names = true;
  (void)google::protobuf::util::MessageToJsonString(m, &out, o);
  return out;
}

absl::StatusOr<int> IntParam(const httplib::Request& req, const char* name, int fallback) {
  if (!req.has_param(name)) return fallback;
  const std::string v = req.get_param_value(name);
  int out = 0;
  auto [p, ec] = std::from_chars(v.data(), v.data() + v.size(), out);
  if (ec != std::errc() || p != v.data() + v.size()) {
    return absl::InvalidArgumentError(absl::StrCat(name, "='", v, "' is not an integer"));
  }
  return out;
}

// The model store's names of an algorithm and of the slot that serves it
// (common/model/model_store.h), as `recstack models` prints them.
const char* AlgorithmName(v1::Algorithm a) {
  switch (a) {
    case v1::ALS_IMPLICIT:
      return "als-implicit";
    case v1::ALS_EXPLICIT:
      return "als-explicit";
    case v1::EASE:
      return "ease";
    case v1::RANKER_GBDT:
      return "ranker-gbdt";
    case v1::RANKER_LOGISTIC:
      return "ranker-logistic";
    default:
      return "unknown";
  }
}

const char* SlotName(v1::Algorithm a) {
  switch (a) {
    case v1::EASE:
      return "ease";
    case v1::RANKER_GBDT:
      return "gbdt";
    case v1::RANKER_LOGISTIC:
      return "logistic";
    default:
      return "factors";
  }
}

nlohmann::json ModelsJson(const v1::ListModelsResponse& resp) {
  nlohmann::json models = nlohmann::json::array();
  for (const v1::ModelInfo& m : resp.models()) {
    nlohmann::json metrics = nlohmann::json::object();
    for (const auto& [k, v] : m.metrics()) metrics[k] = v;
    nlohmann::json params = nlohmann::json::object();
    for (const auto& [k, v] : m.params()) params[k] = v;
    models.push_back({{"version", m.version()},
                      {"algorithm", AlgorithmName(m.algorithm())},
                      {"slot", SlotName(m.algorithm())},
                      {"serving", m.current()},
                      {"created_at_ms", m.created_at_ms()},
                      {"n_users", m.n_users()},
                      {"n_items", m.n_items()},
                      {"factors", m.factors()},
                      {"metrics", std::move(metrics)},
                      {"params", std::move(params)}});
  }
  return {{"current_version", resp.current_version()}, {"models", std::move(models)}};
}

// A connection's bytes in memory: reads `in`, collects what is written.
class MemoryStream final : public httplib::Stream {
 public:
  explicit MemoryStream(std::string_view in) : in_(in) {}
  bool is_readable() const override { return true; }
  bool is_writable() const override { return true; }
  ssize_t read(char* ptr, size_t size) override {
    const size_t n = std::min(size, in_.size() - pos_);
    std::memcpy(ptr, in_.data() + pos_, n);
    pos_ += n;
    return static_cast<ssize_t>(n);
  }
  ssize_t write(const char* ptr, size_t size) override {
    out_.append(ptr, size);
    return static_cast<ssize_t>(size);
  }
  void get_remote_ip_and_port(std::string& ip, int& port) const override {
    ip = "127.0.0.1";
    port = 0;
  }
  void get_local_ip_and_port(std::string& ip, int& port) const override {
    ip = "127.0.0.1";
    port = 0;
  }
  socket_t socket() const override { return INVALID_SOCKET; }
  size_t remaining() const { return in_.size() - pos_; }
  std::string output() && { return std::move(out_); }

 private:
  std::string_view in_;
  size_t pos_ = 0;
  std::string out_;
};

}  // namespace

int HttpStatus(absl::StatusCode code) {
  switch (code) {
    case absl::StatusCode::kOk:
      return 200;
    case absl::StatusCode::kInvalidArgument:
    case absl::StatusCode::kOutOfRange:
      return 400;
    case absl::StatusCode::kUnauthenticated:
      return 401;
    case absl::StatusCode::kPermissionDenied:
      return 403;
    case absl::StatusCode::kNotFound:
      return 404;
    case absl::StatusCode::kFailedPrecondition:
      return 409;
    case absl::StatusCode::kResourceExhausted:
      return 429;
    case absl::StatusCode::kDeadlineExceeded:
      return 504;
    case absl::StatusCode::kUnavailable:
      return 503;
    default:
      return 500;
  }
}

std::string ErrorJson(const absl::Status& st) {
  return Dump(nlohmann::json{
      {"error", {{"code", metrics::CodeName(st.code())}, {"message", std::string(st.message())}}}});
}

// httplib's server with its per-connection entry point reachable: Handle
// runs a request through exactly what a socket's bytes go through.
class RoutedServer final : public httplib::Server {
 public:
  using httplib::Server::process_request;
};

HttpServer::HttpServer(Gateway& gateway, std::function<bool()> healthy, ApiKeys* keys)
    : gateway_(gateway), healthy_(std::move(healthy)), keys_(keys),
      handler_(std::make_unique<RoutedServer>()) {
  Route(*handler_);
}

HttpServer::~HttpServer() { Stop(); }

void HttpServer::Route(httplib::Server& s) {
  auto reply = [this](httplib::Response& res, const absl::Status& st, const std::string& body) {
    res.status = HttpStatus(st.code());
    res.set_content(st.ok() ? body : ErrorJson(st), "application/json");
    gateway_.metrics()
        .http[res.status < 400   ? "2xx"
              : res.status < 500 ? "4xx"
                                 : "5xx"]
        ->Increment();
  };
  auto deadline = [this] { return Clock::now() + gateway_.options().total_budget; };
  // Before routing. A JSON API has no byte ranges: httplib cuts any answer
  // with a body (an error's JSON included) to a client's Range header and
  // keeps its status, so the ranges are dropped (the Request is httplib's own
  // non-const object; handlers only see it as const). With keys, a /v1/
  // request without a valid key within its rate is answered here and
  // reaches no route (nor any backend).
  s.set_pre_routing_handler([this, reply](const httplib::Request& req, httplib::Response& res) {
    const_cast<httplib::Request&>(req).ranges.clear();
    if (keys_ == nullptr || req.path.rfind("/v1/", 0) != 0)
      return httplib::Server::HandlerResponse::Unhandled;
    std::string key = req.get_header_value("X-API-Key");
    if (key.empty()) {
      const std::string auth = req.get_header_value("Authorization");
      if (auth.rfind("Bearer ", 0) == 0) key = auth.substr(7);
    }
    ApiKeys::Decision d = keys_->Check(key);
    if (d.status.ok()) return httplib::Server::HandlerResponse::Unhandled;
    if (d.status.code() == absl::StatusCode::kResourceExhausted) {
      res.set_header("Retry-After", std::to_string(d.RetryAfterHeader()));
    } else {
      res.set_header("WWW-Authenticate", "Bearer");
    }
    reply(res, d.status, "");
    return httplib::Server::HandlerResponse::Handled;
  });

  s.Get(kRecommendPath, [=, this](const httplib::Request& req, httplib::Response& res) {
    v1::RecommendRequest r;
    r.set_user_id(req.matches[1]);
    auto k = IntParam(req, "k", 10);
    if (!k.ok()) return reply(res, k.status(), "");
    r.set_k(*k);
    if (*k == 0) return reply(res, absl::InvalidArgumentError("k must be 1-1000, got 0"), "");
    const std::string debug = req.get_param_value("debug");
    r.set_debug(debug == "true" || debug == "1");
    r.set_ranker(req.get_param_value("ranker"));
    auto out = gateway_.Recommend(r, deadline() + std::chrono::milliseconds(50));
    reply(res, out.status(), out.ok() ? ToJson(*out) : "");
  });
  s.Post("/v1/events", [=, this](const httplib::Request& req, httplib::Response& res) {
    v1::IngestEventsRequest batch;
    google::protobuf::util::JsonParseOptions o;
    auto parsed = google::protobuf::util::JsonStringToMessage(req.body, &batch, o);
    if (!parsed.ok() || batch.events_size() == 0) {
      // One Event on its own is fine too.
      v1::Event e;
      auto single = google::protobuf::util::JsonStringToMessage(req.body, &e, o);
      if (!single.ok() || (e.user_id().empty() && e.item_id().empty())) {
        return reply(res,
                     absl::InvalidArgumentError(absl::StrCat(
                         "body is not an IngestEventsRequest or an Event: ",
                         std::string(parsed.message().data(), parsed.message().size()))),
                     "");
      }
      batch.Clear();
      *batch.add_events() = e;
    }
    auto out = gateway_.IngestEvents(batch, Clock::now() + std::chrono::seconds(10));
    reply(res, out.status(), out.ok() ? ToJson(*out) : "");
  });
  s.Get(kSimilarPath, [=, this](const httplib::Request& req, httplib::Response& res) {
    v1::SimilarItemsRequest r;
    r.set_item_id(req.matches[1]);
    auto k = IntParam(req, "k", 10);
    if (!k.ok()) return reply(res, k.status(), "");
    r.set_k(*k);
    auto out = gateway_.SimilarItems(r, deadline());
    reply(res, out.status(), out.ok() ? ToJson(*out) : "");
  });
  // The experiments view: a few seconds at most (the core bounds each call).
  auto slow_deadline = [] { return Clock::now() + std::chrono::seconds(10); };
  s.Get("/v1/experiments", [=, this](const httplib::Request&, httplib::Response& res) {
    auto out = gateway_.Experiments(slow_deadline());
    if (!out.ok()) return reply(res, out.status(), "");
    nlohmann::json list = nlohmann::json::array();
    for (const v1::Experiment& e : *out) {
      nlohmann::json variants = nlohmann::json::array();
      for (const v1::ExperimentVariant& v : e.variants())
        variants.push_back({{"name", v.name()}, {"ranker", v.ranker()}, {"traffic", v.traffic()}});
      list.push_back({{"name", e.name()}, {"variants", std::move(variants)}});
    }
    reply(res, absl::OkStatus(), Dump(nlohmann::json{{"experiments", std::move(list)}}));
  });
  s.Get(kReportPath, [=, this](const httplib::Request& req, httplib::Response& res) {
    auto out = gateway_.ExperimentReport(req.matches[1], slow_deadline());
    reply(res, out.status(), out.ok() ? Dump(stats::ReadoutReportJson(*out)) : "");
  });
  s.Get("/v1/model/users", [=, this](const httplib::Request& req, httplib::Response& res) {
    auto n = IntParam(req, "n", 1);
    if (!n.ok()) return reply(res, n.status(), "");
    auto out = gateway_.SampleUsers(*n, slow_deadline());
    if (!out.ok()) return reply(res, out.status(), "");
    reply(res, absl::OkStatus(),
          Dump(nlohmann::json{{"model_version", out->model_version()},
                              {"user_ids", std::vector<std::string>(out->user_ids().begin(),
                                                                    out->user_ids().end())}}));
  });
  s.Get("/v1/models", [=, this](const httplib::Request&, httplib::Response& res) {
    auto out = gateway_.Models(slow_deadline());
    reply(res, out.status(), out.ok() ? Dump(ModelsJson(*out)) : "");
  });
  s.Get("/healthz", [this](const httplib::Request&, httplib::Response& res) {
    const bool ok = healthy_();
    res.status = ok ? 200 : 503;
    res.set_content(nlohmann::json{{"status", ok ? "SERVING" : "NOT_SERVING"}}.dump(),
                    "application/json");
  });
  s.Get("/", [](const httplib::Request&, httplib::Response& res) {
    res.set_content(kPageHtml, "text/html; charset=utf-8");
  });
  s.Get("/experiments", [](const httplib::Request&, httplib::Response& res) {
    res.set_content(kExperimentsPageHtml, "text/html; charset=utf-8");
  });
  s.Get("/models", [](const httplib::Request&, httplib::Response& res) {
    res.set_content(kModelsPageHtml, "text/html; charset=utf-8");
  });
  // Known paths with the wrong method: 405 with the allowed one.
  auto wrong = [reply](const char* allow) {
    return [reply, allow](const httplib::Request&, httplib::Response& res) {
      res.set_header("Allow", allow);
      reply(res, absl::InvalidArgumentError(absl::StrCat("method not allowed (use ", allow, ")")),
            "");
      res.status = 405;
    };
  };
  for (const char* p : {kRecommendPath, kSimilarPath, "/v1/experiments", kReportPath,
                        "/v1/model/users", "/v1/models", "/healthz"}) {
    s.Post(p, wrong("GET"));
    s.Put(p, wrong("GET"));
    s.Delete(p, wrong("GET"));
  }
  s.Get("/v1/events", wrong("POST"));
  s.Put("/v1/events", wrong("POST"));
  s.Delete("/v1/events", wrong("POST"));
  s.set_error_handler([](const httplib::Request&, httplib::Response& res) {
    if (res.status == 404 && res.body.empty()) {
      res.set_content(ErrorJson(absl::NotFoundError("no such path")), "application/json");
    }
  });
  // An exception out of a handler is a bug: answered 500 as httplib would,
  // but logged and counted with the other 5xx instead of passing unseen.
  s.set_exception_handler([this](const httplib::Request& req, httplib::Response& res,
                                 std::exception_ptr ep) {
    std::string what = "not a std::exception";
    try {
      std::rethrow_exception(ep);
    } catch (const std::exception& e) {
      what = e.what();
    } catch (...) {
    }
    log::Error("http handler threw", {{"method", req.method}, {"path", req.path}, {"what", what}});
    res.status = 500;
    res.set_content(ErrorJson(absl::InternalError("internal error")), "application/json");
    gateway_.metrics().http["5xx"]->Increment();
  });
  s.set_payload_max_length(16 << 20);
}

absl::Status HttpServer::Start(const std::string& listen, const HttpsFiles& https) {
  if (https.cert.empty()) {
    server_ = std::make_unique<httplib::Server>();
  } else {
    // Debian's cpp-httplib is built with CPPHTTPLIB_OPENSSL_SUPPORT (its
    // pkg-config flags define it). No client certificates: the HTTP API is
    // for browsers and scripts.
    auto ssl = std::make_unique<httplib::SSLServer>(https.cert.c_str(), https.key.c_str());
    if (!ssl->is_valid()) {
      return absl::InvalidArgumentError(absl::StrCat("--tls-cert/--tls-key: '", https.cert, "', '",
                                                     https.key, "' do not make an HTTPS server"));
    }
    server_ = std::move(ssl);
  }
  httplib::Server& s = *server_;
  Route(s);
  const size_t colon = listen.rfind(':');
  const std::string host = listen.substr(0, colon);
  int port = 0;
  std::from_chars(listen.data() + colon + 1, listen.data() + listen.size(), port);
  if (port == 0) {
    port_ = s.bind_to_any_port(host);
  } else {
    port_ = s.bind_to_port(host, port) ? port : -1;
  }
  if (port_ <= 0)
    return absl::UnavailableError(absl::StrCat("--http-listen: cannot listen on ", listen));
  thread_ = std::thread([this] { server_->listen_after_bind(); });
  // Serving before returning: a Stop() that came before the listen loop
  // started would not end it (httplib's stop() only ends a running loop).
  for (int i = 0; i < 5000 && !server_->is_running(); ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  return absl::OkStatus();
}

std::string HttpServer::Handle(std::string_view raw) {
  MemoryStream stream(raw);
  bool closed = false;
  // As httplib's keep-alive loop does on a connection: requests one after
  // another until the peer closes (here: the bytes end) or asks to.
  for (int i = 0; i < kMaxRequestsPerConnection && !closed && stream.remaining() > 0; ++i) {
    if (!handler_->process_request(stream, i + 1 == kMaxRequestsPerConnection, closed, nullptr))
      break;
  }
  return std::move(stream).output();
}

void HttpServer::Stop() {
  if (server_) server_->stop();
  if (thread_.joinable()) thread_.join();
}

}  // namespace recstack::gateway
