#pragma once

// The default ports of the stack (DESIGN §1), in one table: the services'
// flags, the CLI, the load generator and deploy/local/stack.sh (which adds
// RECSTACK_PORT_OFFSET) all start from it.

#include <string>
#include <string_view>

namespace recstack::config {

struct ServicePorts {
  std::string_view service;
  int grpc;
  int metrics;
};

inline constexpr ServicePorts kDefaultPorts[] = {
    {"gateway", 50050, 9100},   {"ingestion", 50051, 9101}, {"training", 50052, 9102},
    {"retrieval", 50053, 9103}, {"ranking", 50054, 9104},
};
inline constexpr int kGatewayHttpPort = 8080;

// The service's row, or {service, 0, 0} for an unknown name.
constexpr ServicePorts DefaultPortsFor(std::string_view service) {
  for (const ServicePorts& p : kDefaultPorts) {
    if (p.service == service) return p;
  }
  return {service, 0, 0};
}

// "127.0.0.1:<default gRPC port>" of a service.
inline std::string DefaultAddress(std::string_view service) {
  return "127.0.0.1:" + std::to_string(DefaultPortsFor(service).grpc);
}

}  // namespace recstack::config
