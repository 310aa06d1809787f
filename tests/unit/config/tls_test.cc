// The TLS flags and their start-up validation: every mistake fails with a
// message that names the flag (and the file).
#include "common/config/tls.h"

#include <gtest/gtest.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <string>

#include "common/config/config.h"
#include "tests/support/tls/test_certs.h"
#include "tests/unit/config/parse_args.h"

namespace recstack::config {
namespace {

// The error's message contains every one of `parts`.
void ExpectError(const absl::Status& st, std::initializer_list<std::string> parts) {
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.code(), absl::StatusCode::kInvalidArgument) << st;
  for (const std::string& p : parts) EXPECT_NE(st.message().find(p), std::string::npos) << st;
}

void Write(const std::string& path, const std::string& text) {
  std::ofstream(path, std::ios::binary) << text;
}

std::string Read(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

// A self-signed certificate valid from 2 days ago to `days_left` from now
// (negative: expired), and its key.
void WriteSelfSigned(const std::string& cert_path, const std::string& key_path, long days_left) {
  EVP_PKEY* key = EVP_EC_gen("P-256");
  ASSERT_NE(key, nullptr);
  X509* x = X509_new();
  ASN1_INTEGER_set(X509_get_serialNumber(x), 1);
  X509_gmtime_adj(X509_getm_notBefore(x), -2 * 86400L);
  X509_gmtime_adj(X509_getm_notAfter(x), days_left * 86400L);
  X509_set_pubkey(x, key);
  X509_NAME* name = X509_get_subject_name(x);
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
                             reinterpret_cast<const unsigned char*>("old"), -1, -1, 0);
  X509_set_issuer_name(x, name);
  ASSERT_GT(X509_sign(x, key, EVP_sha256()), 0);
  FILE* f = std::fopen(cert_path.c_str(), "w");
  PEM_write_X509(f, x);
  std::fclose(f);
  f = std::fopen(key_path.c_str(), "w");
  PEM_write_PrivateKey(f, key, nullptr, nullptr, 0, nullptr, nullptr);
  std::fclose(f);
  X509_free(x);
  EVP_PKEY_free(key);
}

class TlsConfigTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    certs_ = new testing::TestCertificates();
    ASSERT_TRUE(certs_->Make({"server", "client"}).ok());
  }
  static void TearDownTestSuite() { delete certs_; }
  static testing::TestCertificates* certs_;
};
testing::TestCertificates* TlsConfigTest::certs_ = nullptr;

TEST_F(TlsConfigTest, PlaintextIsValid) {
  EXPECT_FALSE(TlsConfig{}.enabled());
  EXPECT_TRUE(ValidateTls({}, TlsRole::kService).ok());
  EXPECT_TRUE(ValidateTls({}, TlsRole::kClient).ok());
}

TEST_F(TlsConfigTest, GoodFilesAreValid) {
  EXPECT_TRUE(ValidateTls(certs_->Tls("server"), TlsRole::kService).ok());
  EXPECT_TRUE(ValidateTls(certs_->Tls("client"), TlsRole::kClient).ok());
  // A server without a CA: TLS, no client certificates.
  EXPECT_TRUE(
      ValidateTls({.cert = certs_->cert("server"), .key = certs_->key("server")}, TlsRole::kService)
          .ok());
  // A client with only the CA: TLS without a client certificate.
  TlsConfig ca_only{.ca = certs_->ca()};
  EXPECT_TRUE(ca_only.enabled());
  EXPECT_TRUE(ValidateTls(ca_only, TlsRole::kClient).ok());
}

TEST_F(TlsConfigTest, KeyAndCertificateGoTogether) {
  ExpectError(ValidateTls({.key = certs_->key("client")}, TlsRole::kClient),
              {"--tls-key", "without --tls-cert"});
  ExpectError(ValidateTls({.cert = certs_->cert("client")}, TlsRole::kClient),
              {"--tls-cert", "without --tls-key"});
  ExpectError(ValidateTls({.cert = certs_->cert("server"), .ca = certs_->ca()}, TlsRole::kService),
              {"--tls-cert", "without --tls-key"});
}

TEST_F(TlsConfigTest, AServiceNeedsACertificateToServeTls) {
  ExpectError(ValidateTls({.ca = certs_->ca()}, TlsRole::kService),
              {"--tls-ca", "--tls-cert and --tls-key"});
}

TEST_F(TlsConfigTest, MissingFilesNameTheFlagAndThePath) {
  const std::string missing = certs_->dir() + "/nope.pem";
  TlsConfig tls = certs_->Tls("server");
  tls.cert = missing;
  ExpectError(ValidateTls(tls, TlsRole::kService), {"--tls-cert", missing, "cannot be read"});
  tls = certs_->Tls("server");
  tls.key = missing;
  ExpectError(ValidateTls(tls, TlsRole::kService), {"--tls-key", missing, "cannot be read"});
  tls = certs_->Tls("server");
  tls.ca = missing;
  ExpectError(ValidateTls(tls, TlsRole::kService), {"--tls-ca", missing, "cannot be read"});
  // A directory is not a file either.
  tls = certs_->Tls("client");
  tls.ca = certs_->dir();
  ExpectError(ValidateTls(tls, TlsRole::kClient), {"--tls-ca", "is a directory"});
}

TEST_F(TlsConfigTest, FilesMustHoldPemOfTheirKind) {
  const std::string junk = certs_->dir() + "/junk.pem";
  Write(junk, "not a certificate\n");
  const std::string empty = certs_->dir() + "/empty.pem";
  Write(empty, "");
  TlsConfig tls = certs_->Tls("server");
  tls.cert = junk;
  ExpectError(ValidateTls(tls, TlsRole::kService), {"--tls-cert", "holds no PEM certificate"});
  tls = certs_->Tls("server");
  tls.ca = empty;
  ExpectError(ValidateTls(tls, TlsRole::kService), {"--tls-ca", "is empty"});
  // The key and the certificate swapped.
  tls = certs_->Tls("server");
  std::swap(tls.cert, tls.key);
  ExpectError(ValidateTls(tls, TlsRole::kService), {"--tls-cert", "holds no PEM certificate"});
  tls = certs_->Tls("server");
  tls.key = certs_->cert("server");
  ExpectError(ValidateTls(tls, TlsRole::kService), {"--tls-key", "no unencrypted PEM private key"});
}

TEST_F(TlsConfigTest, KeyMustMatchTheCertificate) {
  TlsConfig tls = certs_->Tls("server");
  tls.key = certs_->key("client");
  ExpectError(ValidateTls(tls, TlsRole::kService),
              {"--tls-key", certs_->key("client"), "does not match", certs_->cert("server")});
}

TEST_F(TlsConfigTest, EncryptedKeyIsRefusedWithoutAPrompt) {
  const std::string encrypted = certs_->dir() + "/encrypted-key.pem";
  const std::string cmd = "openssl pkey -in '" + certs_->key("server") + "' -aes256 -passout " +
                          "pass:secret -out '" + encrypted + "'";
  ASSERT_EQ(std::system(cmd.c_str()), 0);
  ASSERT_NE(Read(encrypted).find("ENCRYPTED"), std::string::npos);
  TlsConfig tls = certs_->Tls("server");
  tls.key = encrypted;
  ExpectError(ValidateTls(tls, TlsRole::kService), {"--tls-key", "no unencrypted PEM private key"});
}

TEST_F(TlsConfigTest, ExpiredCertificatesAreRefused) {
  const std::string cert = certs_->dir() + "/old.pem", key = certs_->dir() + "/old-key.pem";
  WriteSelfSigned(cert, key, -1);
  ExpectError(ValidateTls({.cert = cert, .key = key}, TlsRole::kService),
              {"--tls-cert", cert, "expired on"});
  ExpectError(ValidateTls({.ca = cert}, TlsRole::kClient), {"--tls-ca", cert, "expired on"});
  // The same, still valid: accepted (the check is the date, not the issuer).
  WriteSelfSigned(cert, key, 1);
  EXPECT_TRUE(ValidateTls({.cert = cert, .key = key}, TlsRole::kService).ok());
}

TEST_F(TlsConfigTest, FlagsAndEnvironment) {
  setenv("RECSTACK_TLS_CA", certs_->ca().c_str(), 1);
  TlsConfig tls;
  CLI::App app;
  AddTlsFlags(app, &tls, TlsRole::kClient);
  ASSERT_EQ(Parse(app, {"--tls-cert", certs_->cert("client"), "--tls-key", certs_->key("client")}),
            0);
  unsetenv("RECSTACK_TLS_CA");
  EXPECT_EQ(tls.cert, certs_->cert("client"));
  EXPECT_EQ(tls.key, certs_->key("client"));
  EXPECT_EQ(tls.ca, certs_->ca());  // from the environment
  EXPECT_TRUE(ValidateTls(tls, TlsRole::kClient).ok());
}

TEST_F(TlsConfigTest, ServiceConfigValidatesItsTlsFlags) {
  ServiceConfig c;
  c.service = "ranking";
  CLI::App app;
  AddServiceFlags(app, &c);
  ASSERT_EQ(Parse(app, {"--tls-ca", certs_->ca()}), 0);
  ExpectError(Validate(c), {"--tls-ca", "--tls-cert and --tls-key"});
  c.tls = certs_->Tls("server");
  EXPECT_TRUE(Validate(c).ok());
  c.tls.key = certs_->key("client");
  ExpectError(Validate(c), {"--tls-key", "does not match"});
}

}  // namespace
}  // namespace recstack::config
