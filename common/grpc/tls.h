#pragma once

// gRPC credentials from the TLS flags (config::TlsConfig), built in one
// place for every server and client of the stack:
//   server, no files          plaintext
//   server, cert + key        TLS; clients need no certificate
//   server, cert + key + CA   mutual TLS: every client must show a
//                             certificate the CA signed, or the handshake fails
//   client, no files          plaintext
//   client, any file          TLS, the server verified against the CA (or the
//                             system's roots) and its name; with cert + key
//                             the client shows that certificate
// Certificates are read once, at start-up: a rotated file takes effect when
// the process restarts.

#include <grpcpp/security/credentials.h>
#include <grpcpp/security/server_credentials.h>

#include <memory>

#include "absl/status/statusor.h"
#include "common/config/tls.h"

namespace recstack::grpcutil {

// Call config::ValidateTls first; these only read the files (and fail,
// naming the flag, when one cannot be read).
absl::StatusOr<std::shared_ptr<grpc::ServerCredentials>> MakeServerCredentials(
    const config::TlsConfig& tls);
absl::StatusOr<std::shared_ptr<grpc::ChannelCredentials>> MakeChannelCredentials(
    const config::TlsConfig& tls);

}  // namespace recstack::grpcutil
