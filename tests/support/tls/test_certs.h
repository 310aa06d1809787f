#pragma once

// A throwaway CA and certificates in a fresh temp dir, made with
// deploy/tls/make-certs.sh (what `stack.sh up --tls` runs); the dir is
// removed on destruction.

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "common/config/tls.h"

namespace recstack::testing {

class TestCertificates {
 public:
  TestCertificates() = default;
  ~TestCertificates();
  TestCertificates(const TestCertificates&) = delete;
  TestCertificates& operator=(const TestCertificates&) = delete;

  // A new CA and one certificate per name (DNS:NAME, localhost, 127.0.0.1,
  // ::1; serverAuth and clientAuth).
  absl::Status Make(const std::vector<std::string>& names);

  const std::string& dir() const { return dir_; }
  std::string ca() const { return dir_ + "/ca.pem"; }
  std::string cert(const std::string& name) const { return dir_ + "/" + name + ".pem"; }
  std::string key(const std::string& name) const { return dir_ + "/" + name + "-key.pem"; }
  // `name`'s certificate and key with this CA: what a service (or a client
  // with a certificate) is given.
  config::TlsConfig Tls(const std::string& name) const {
    return {.cert = cert(name), .key = key(name), .ca = ca()};
  }

 private:
  std::string dir_;
};

}  // namespace recstack::testing
