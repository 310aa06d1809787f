#include "tests/support/grpc/in_process_server.h"

#include <gtest/gtest.h>

#include "common/grpc/channel.h"

namespace recstack::testing {

InProcessServer::InProcessServer(std::vector<grpc::Service*> services, bool with_metrics)
    : registry_(std::make_shared<prometheus::Registry>()) {
  grpcutil::ServerOptions options;
  options.listen = "127.0.0.1:0";
  options.metrics_listen = with_metrics ? "127.0.0.1:0" : "";
  options.drain_timeout = std::chrono::milliseconds(2000);
  runner_ = std::make_unique<grpcutil::ServerRunner>(options, registry_);
  for (grpc::Service* s : services) runner_->AddService(s);
  absl::Status st = runner_->Start();
  if (!st.ok()) ADD_FAILURE() << "gRPC server did not start: " << st.message();
  channel_ = grpcutil::MakeChannel(address());
}

InProcessServer::~InProcessServer() { runner_->Shutdown(); }

}  // namespace recstack::testing
