#pragma once

// TLS settings of a gRPC server or client: three PEM files, given as flags
// (--tls-cert, --tls-key, --tls-ca) with RECSTACK_TLS_* fallbacks, and their
// validation at start-up (files readable, PEM that parses, the key matching
// the certificate, nothing expired), whose messages name the flag. The
// credentials are built from them in common/grpc/tls.h.

#include <CLI/CLI.hpp>
#include <string>

#include "absl/status/status.h"

namespace recstack::config {

// Members default to {} so designated initializers may leave any out.
struct TlsConfig {
  std::string cert = {};  // PEM certificate (chain): served by a server, shown by a client
  std::string key = {};   // PEM private key of `cert`
  // PEM CA certificate(s). A server given one requires every client to show
  // a certificate it signed (mutual TLS); a client verifies servers against
  // it (without it: the system's roots).
  std::string ca = {};

  // TLS at all: a server serves TLS when given a certificate; a client dials
  // TLS when given any of the three files.
  bool enabled() const { return !cert.empty() || !key.empty() || !ca.empty(); }
};

// Who reads the files. A service serves TLS with its certificate and dials
// its peers with the same files (its certificate as the client one); a
// client (the CLI, the load generator) only dials.
enum class TlsRole { kService, kClient };

// Adds --tls-cert, --tls-key and --tls-ca (RECSTACK_TLS_CERT, ...), their
// help worded for `role`.
void AddTlsFlags(CLI::App& app, TlsConfig* tls, TlsRole role);

// Plaintext (no file given) is valid. Otherwise: a key needs a certificate
// and the other way round, a service needs both to serve TLS, and every file
// given must be readable PEM of its kind (the key matching the certificate,
// certificates not expired). "--tls-key: '/x/key.pem' does not match the
// certificate of --tls-cert '/x/cert.pem'".
absl::Status ValidateTls(const TlsConfig& tls, TlsRole role);

}  // namespace recstack::config
