#pragma once

// The floor: a gRPC service that answers at once, served by the same
// ServerRunner (sync server, health, reflection) as every recstack service,
// so "stack / floor" isolates the work the stack does per request.

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "common/grpc/server.h"
#include "recstack/v1/loadtest.grpc.pb.h"

namespace recstack::loadtest {

class EchoService final : public v1::EchoService::Service {
 public:
  grpc::Status Echo(grpc::ServerContext* ctx, const v1::EchoRequest* req,
                    v1::EchoResponse* resp) override;
};

class EchoServer {
 public:
  // Listens on 127.0.0.1:0.
  static absl::StatusOr<std::unique_ptr<EchoServer>> Start();
  ~EchoServer();
  std::string address() const { return runner_->address(); }

 private:
  EchoServer() = default;
  EchoService service_;
  std::unique_ptr<grpcutil::ServerRunner> runner_;
};

}  // namespace recstack::loadtest
