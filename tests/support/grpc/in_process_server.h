#pragma once

// A real gRPC server on 127.0.0.1:0 for tests (no metrics endpoint unless
// asked), stopped on destruction.

#include <grpcpp/grpcpp.h>

#include <memory>
#include <string>
#include <vector>

#include "common/grpc/server.h"

namespace recstack::testing {

class InProcessServer {
 public:
  // The services must outlive the server.
  explicit InProcessServer(std::vector<grpc::Service*> services, bool with_metrics = false);
  ~InProcessServer();

  std::string address() const { return runner_->address(); }
  std::shared_ptr<grpc::Channel> channel() const { return channel_; }
  grpcutil::ServerRunner& runner() { return *runner_; }
  prometheus::Registry& registry() { return *registry_; }
  void Stop() { runner_->Shutdown(); }

 private:
  std::shared_ptr<prometheus::Registry> registry_;
  std::unique_ptr<grpcutil::ServerRunner> runner_;
  std::shared_ptr<grpc::Channel> channel_;
};

}  // namespace recstack::testing
