#include "common/config/tls.h"

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <memory>
#include <sstream>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "common/config/config.h"

namespace recstack::config {
namespace {

struct BioFree {
  void operator()(BIO* b) const { BIO_free(b); }
};
struct X509Free {
  void operator()(X509* x) const { X509_free(x); }
};
struct KeyFree {
  void operator()(EVP_PKEY* k) const { EVP_PKEY_free(k); }
};
using X509Ptr = std::unique_ptr<X509, X509Free>;

absl::Status Bad(const char* flag, const std::string& path, const std::string& why) {
  return absl::InvalidArgumentError(absl::StrCat("--", flag, ": '", path, "' ", why));
}

absl::StatusOr<std::string> ReadFile(const char* flag, const std::string& path) {
  std::error_code ec;
  if (std::filesystem::is_directory(path, ec)) return Bad(flag, path, "is a directory");
  std::ifstream in(path, std::ios::binary);
  if (!in) return Bad(flag, path, absl::StrCat("cannot be read: ", std::strerror(errno)));
  std::ostringstream s;
  s << in.rdbuf();
  if (in.bad()) return Bad(flag, path, "cannot be read");
  if (s.str().empty()) return Bad(flag, path, "is empty");
  return s.str();
}

std::unique_ptr<BIO, BioFree> MemBio(const std::string& pem) {
  return std::unique_ptr<BIO, BioFree>(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
}

// "Mar  1 12:00:00 2025 GMT".
std::string TimeText(const ASN1_TIME* t) {
  std::unique_ptr<BIO, BioFree> b(BIO_new(BIO_s_mem()));
  ASN1_TIME_print(b.get(), t);
  char* data = nullptr;
  long n = BIO_get_mem_data(b.get(), &data);
  return std::string(data, n > 0 ? static_cast<size_t>(n) : 0);
}

// Every certificate of a PEM file, each within its validity period.
absl::StatusOr<std::vector<X509Ptr>> ReadCertificates(const char* flag, const std::string& path) {
  auto pem = ReadFile(flag, path);
  if (!pem.ok()) return pem.status();
  auto bio = MemBio(*pem);
  std::vector<X509Ptr> certs;
  while (X509* x = PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr)) certs.emplace_back(x);
  ERR_clear_error();  // the end of the file reads as an error
  if (certs.empty()) return Bad(flag, path, "holds no PEM certificate");
  for (const X509Ptr& c : certs) {
    if (X509_cmp_current_time(X509_get0_notAfter(c.get())) < 0) {
      return Bad(flag, path,
                 absl::StrCat("holds a certificate that expired on ",
                              TimeText(X509_get0_notAfter(c.get()))));
    }
    if (X509_cmp_current_time(X509_get0_notBefore(c.get())) > 0) {
      return Bad(flag, path,
                 absl::StrCat("holds a certificate not valid before ",
                              TimeText(X509_get0_notBefore(c.get()))));
    }
  }
  return certs;
}

absl::StatusOr<std::unique_ptr<EVP_PKEY, KeyFree>> ReadKey(const std::string& path) {
  auto pem = ReadFile("tls-key", path);
  if (!pem.ok()) return pem.status();
  auto bio = MemBio(*pem);
  // No passphrase prompt: an encrypted key fails (gRPC could not use it).
  std::unique_ptr<EVP_PKEY, KeyFree> key(PEM_read_bio_PrivateKey(
      bio.get(), nullptr, [](char*, int, int, void*) { return 0; }, nullptr));
  ERR_clear_error();
  if (key == nullptr) return Bad("tls-key", path, "holds no unencrypted PEM private key");
  return key;
}

}  // namespace

void AddTlsFlags(CLI::App& app, TlsConfig* tls, TlsRole role) {
  const bool service = role == TlsRole::kService;
  app.add_option("--tls-cert", tls->cert,
                 service ? "PEM certificate: serve gRPC over TLS (and the gateway's HTTP as "
                           "HTTPS); also the client certificate towards the services it calls"
                         : "PEM client certificate (mutual TLS; with --tls-key)")
      ->envname(EnvName("tls-cert"));
  app.add_option("--tls-key", tls->key, "PEM private key of --tls-cert")
      ->envname(EnvName("tls-key"));
  app.add_option("--tls-ca", tls->ca,
                 service ? "PEM CA certificate(s): require client certificates signed by it "
                           "(mutual TLS) and verify the services this one calls"
                         : "PEM CA certificate(s) the server's certificate must chain to "
                           "(default: the system's roots); any --tls-* flag turns TLS on")
      ->envname(EnvName("tls-ca"));
}

absl::Status ValidateTls(const TlsConfig& tls, TlsRole role) {
  if (!tls.enabled()) return absl::OkStatus();
  if (!tls.key.empty() && tls.cert.empty()) {
    return absl::InvalidArgumentError("--tls-key: given without --tls-cert");
  }
  if (!tls.cert.empty() && tls.key.empty()) {
    return absl::InvalidArgumentError("--tls-cert: given without --tls-key");
  }
  if (role == TlsRole::kService && tls.cert.empty()) {
    return absl::InvalidArgumentError(
        "--tls-ca: a service needs --tls-cert and --tls-key to serve TLS");
  }
  if (!tls.ca.empty()) {
    if (auto ca = ReadCertificates("tls-ca", tls.ca); !ca.ok()) return ca.status();
  }
  if (tls.cert.empty()) return absl::OkStatus();
  auto certs = ReadCertificates("tls-cert", tls.cert);
  if (!certs.ok()) return certs.status();
  auto key = ReadKey(tls.key);
  if (!key.ok()) return key.status();
  // The first certificate of a chain is the one the key belongs to.
  if (X509_check_private_key(certs->front().get(), key->get()) != 1) {
    ERR_clear_error();
    return Bad("tls-key", tls.key,
               absl::StrCat("does not match the certificate of --tls-cert '", tls.cert, "'"));
  }
  return absl::OkStatus();
}

}  // namespace recstack::config
