#include "common/grpc/tls.h"

#include <grpcpp/security/credentials.h>
#include <grpcpp/security/server_credentials.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>
#include <string>
#include <tuple>

#include "absl/strings/str_cat.h"

namespace recstack::grpcutil {
namespace {

// "" for an unset flag.
absl::StatusOr<std::string> ReadPem(const char* flag, const std::string& path) {
  if (path.empty()) return std::string();
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    return absl::InvalidArgumentError(
        absl::StrCat("--", flag, ": '", path, "' cannot be read: ", std::strerror(errno)));
  }
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

struct Pems {
  std::string cert, key, ca;
};

absl::StatusOr<Pems> ReadAll(const config::TlsConfig& tls) {
  Pems p;
  for (auto [flag, path, out] :
       {std::tuple{"tls-cert", &tls.cert, &p.cert}, std::tuple{"tls-key", &tls.key, &p.key},
        std::tuple{"tls-ca", &tls.ca, &p.ca}}) {
    auto pem = ReadPem(flag, *path);
    if (!pem.ok()) return pem.status();
    *out = std::move(*pem);
  }
  return p;
}

}  // namespace

absl::StatusOr<std::shared_ptr<grpc::ServerCredentials>> MakeServerCredentials(
    const config::TlsConfig& tls) {
  if (!tls.enabled()) return grpc::InsecureServerCredentials();
  if (tls.cert.empty() || tls.key.empty()) {
    return absl::InvalidArgumentError("--tls-cert and --tls-key: a TLS server needs both");
  }
  auto pems = ReadAll(tls);
  if (!pems.ok()) return pems.status();
  // With a CA the handshake fails for a client without a certificate it
  // signed; without one no certificate is asked for.
  grpc::SslServerCredentialsOptions options(
      pems->ca.empty() ? GRPC_SSL_DONT_REQUEST_CLIENT_CERTIFICATE
                       : GRPC_SSL_REQUEST_AND_REQUIRE_CLIENT_CERTIFICATE_AND_VERIFY);
  options.pem_root_certs = pems->ca;
  options.pem_key_cert_pairs.push_back({pems->key, pems->cert});
  return grpc::SslServerCredentials(options);
}

absl::StatusOr<std::shared_ptr<grpc::ChannelCredentials>> MakeChannelCredentials(
    const config::TlsConfig& tls) {
  if (!tls.enabled()) return grpc::InsecureChannelCredentials();
  auto pems = ReadAll(tls);
  if (!pems.ok()) return pems.status();
  grpc::SslCredentialsOptions options;
  options.pem_root_certs = pems->ca;  // "": the system's roots
  options.pem_private_key = pems->key;
  options.pem_cert_chain = pems->cert;
  return grpc::SslCredentials(options);
}

}  // namespace recstack::grpcutil
