#pragma once

// HTTP/JSON mirror of the gateway API (DESIGN §7), with the protobuf JSON
// mapping for bodies:
//   GET  /v1/users/{id}/recommendations?k=10&debug=true&ranker=NAME
//   POST /v1/events            body: an IngestEventsRequest or one Event
//   GET  /v1/items/{id}/similar?k=10
//   GET  /v1/experiments       {"experiments": [{"name", "variants": [{"name",
//                              "ranker", "traffic"}]}]}: what ranking runs
//   GET  /v1/experiments/{name}  the readout, exactly `recstack experiment
//                              report --json` (stats::ReadoutReportJson); 404
//                              for an experiment the training service does not
//                              know; both experiments routes 503 when the
//                              gateway has no training backend
//   GET  /v1/models            {"current_version", "models": [{"version",
//                              "algorithm", "slot" (factors, ease, gbdt,
//                              logistic), "serving" (its slot serves it),
//                              "created_at_ms", "n_users", "n_items",
//                              "factors", "metrics": {}, "params": {}}]}: the
//                              training service's ListModels, newest first;
//                              503 without a training backend
//   GET  /v1/model/users?n=1   {"model_version", "user_ids": [...]}: up to n
//                              (1-100) users the served factor model knows
//                              (retrieval's SampleUsers); 409 before a model
//   GET  /healthz              {"status": "SERVING"} (200) or 503
//   GET  /[?user=ID]           the page that shows one recommendation's journey
//                              (a user of the served model unless ?user=)
//   GET  /models               the page of the model versions
//   GET  /experiments[?name=N] the page of the experiments' readouts
// Errors: {"error": {"code": "INVALID_ARGUMENT", "message": "..."}} with
// 400 (bad input), 401 (no or unknown API key), 404 (unknown id or path),
// 405 (wrong method), 409 (no model yet), 429 (the key is over its rate,
// with Retry-After), 503 (a dependency is down), 504 (deadline).
// API keys: with keys configured every /v1/ path needs a known key in the
// header X-API-Key (or Authorization: Bearer KEY) before anything else is
// done; /healthz and the pages' HTML are open (the pages' data comes from
// /v1/ paths: the page asks for a key when they answer 401).

#include <atomic>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <thread>

#include "absl/status/status.h"
#include "services/gateway/api_keys.h"
#include "services/gateway/gateway.h"

namespace httplib {
class Server;
}

namespace recstack::gateway {

class RoutedServer;

// HTTP status for an absl status code.
int HttpStatus(absl::StatusCode code);
std::string ErrorJson(const absl::Status& status);

// PEM certificate and key of an HTTPS server; empty: plain HTTP.
struct HttpsFiles {
  std::string cert, key;
};

class HttpServer {
 public:
  // `healthy` says whether the gateway's own gRPC server is serving; with
  // `keys`, /v1/ paths need a key.
  HttpServer(Gateway& gateway, std::function<bool()> healthy, ApiKeys* keys = nullptr);
  ~HttpServer();
  // Binds HOST:PORT (port 0 picks one) and serves on a thread, over TLS
  // with `https` when it names a certificate.
  absl::Status Start(const std::string& listen, const HttpsFiles& https = {});
  // The bytes a client sent on one connection (one or more HTTP/1.1
  // requests), answered without a socket: httplib parses them and routes
  // them to the same handlers as served traffic. Returns the bytes written
  // back. For tests and the fuzzer (tests/fuzz/http_fuzz.cc); safe
  // while serving.
  std::string Handle(std::string_view raw);
  int port() const { return port_; }
  void Stop();

 private:
  // At most this many requests per Handle, as on a keep-alive connection.
  static constexpr int kMaxRequestsPerConnection = 5;
  void Route(httplib::Server& s);  // registers every path on s

  Gateway& gateway_;
  std::function<bool()> healthy_;
  ApiKeys* keys_;
  std::unique_ptr<RoutedServer> handler_;    // answers Handle's bytes
  std::unique_ptr<httplib::Server> server_;  // serves sockets (Start), HTTP or HTTPS
  std::thread thread_;
  int port_ = 0;
};

}  // namespace recstack::gateway
