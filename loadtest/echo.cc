#include "loadtest/echo.h"

#include <prometheus/registry.h>

namespace recstack::loadtest {

grpc::Status EchoService::Echo(grpc::ServerContext*, const v1::EchoRequest* req,
                               v1::EchoResponse* resp) {
  if (req->response_bytes() < 0 || req->response_bytes() > (4 << 20)) {
    return {grpc::StatusCode::INVALID_ARGUMENT, "response_bytes must be in [0, 4 MiB]"};
  }
  std::string payload = req->payload();
  payload.resize(payload.size() + static_cast<size_t>(req->response_bytes()), 'x');
  resp->set_payload(std::move(payload));
  return grpc::Status::OK;
}

absl::StatusOr<std::unique_ptr<EchoServer>> EchoServer::Start() {
  std::unique_ptr<EchoServer> s(new EchoServer);
  grpcutil::ServerOptions opts;
  opts.listen = "127.0.0.1:0";
  opts.drain_timeout = std::chrono::milliseconds(1000);
  s->runner_ =
      std::make_unique<grpcutil::ServerRunner>(opts, std::make_shared<prometheus::Registry>());
  s->runner_->AddService(&s->service_);
  if (auto st = s->runner_->Start(); !st.ok()) return st;
  return s;
}

EchoServer::~EchoServer() {
  if (runner_) runner_->Shutdown();
}

}  // namespace recstack::loadtest
