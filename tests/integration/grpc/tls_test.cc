// TLS between real gRPC servers and clients on loopback, with certificates
// from deploy/tls/make-certs.sh: mutual TLS accepts a client certificate
// from the CA and refuses plaintext, no certificate, and certificates of
// another CA; a server without a CA takes TLS clients without certificates;
// clients verify the server.
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <memory>
#include <string>
#include <thread>

#include "absl/strings/str_cat.h"
#include "common/grpc/channel.h"
#include "common/grpc/server.h"
#include "common/grpc/tls.h"
#include "recstack/v1/ranking.grpc.pb.h"
#include "tests/support/tls/test_certs.h"

namespace recstack::grpcutil {
namespace {

using namespace std::chrono_literals;

class Ranking final : public recstack::v1::RankingService::Service {
 public:
  std::atomic<int> calls{0};
  grpc::Status ListRankers(grpc::ServerContext*, const recstack::v1::ListRankersRequest*,
                           recstack::v1::ListRankersResponse* resp) override {
    calls++;
    resp->set_default_ranker("ok");
    return grpc::Status::OK;
  }
};

grpc::Status Call(grpc::Channel& ch) {
  std::shared_ptr<grpc::Channel> ref(&ch, [](grpc::Channel*) {});
  auto stub = recstack::v1::RankingService::NewStub(ref);
  grpc::ClientContext ctx;
  SetDeadline(ctx, 3s);
  recstack::v1::ListRankersResponse resp;
  grpc::Status st = stub->ListRankers(&ctx, {}, &resp);
  if (st.ok() && resp.default_ranker() != "ok") return grpc::Status(grpc::UNKNOWN, "bad answer");
  return st;
}

std::shared_ptr<grpc::ChannelCredentials> Credentials(const config::TlsConfig& tls) {
  EXPECT_TRUE(config::ValidateTls(tls, config::TlsRole::kClient).ok());
  auto c = MakeChannelCredentials(tls);
  EXPECT_TRUE(c.ok()) << c.status();
  return c.ok() ? *c : nullptr;
}

class Tls : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    ours_ = new testing::TestCertificates();
    other_ = new testing::TestCertificates();
    ASSERT_TRUE(ours_->Make({"server", "client"}).ok());
    // Another CA, with a client certificate of the same name.
    ASSERT_TRUE(other_->Make({"client"}).ok());
  }
  static void TearDownTestSuite() {
    delete ours_;
    delete other_;
  }

  // A server on 127.0.0.1:0 with `tls`, serving `service` (default: service_).
  std::unique_ptr<ServerRunner> Serve(const config::TlsConfig& tls, Ranking* service = nullptr) {
    ServerOptions o;
    o.tls = tls;
    auto runner = std::make_unique<ServerRunner>(o, std::make_shared<prometheus::Registry>());
    runner->AddService(service != nullptr ? service : &service_);
    absl::Status st = runner->Start();
    EXPECT_TRUE(st.ok()) << st;
    return runner;
  }

  static testing::TestCertificates* ours_;
  static testing::TestCertificates* other_;
  Ranking service_;
};

testing::TestCertificates* Tls::ours_ = nullptr;
testing::TestCertificates* Tls::other_ = nullptr;

TEST_F(Tls, MutualTlsAcceptsAClientCertificateFromTheCa) {
  auto server = Serve(ours_->Tls("server"));
  auto ch = MakeChannel(server->address(), Credentials(ours_->Tls("client")));
  grpc::Status st = Call(*ch);
  EXPECT_TRUE(st.ok()) << st.error_message();
  EXPECT_TRUE(CheckHealth(*ch, 2s).ok());
  // The names the certificates carry: localhost too.
  auto by_name =
      MakeChannel(absl::StrCat("localhost:", server->port()), Credentials(ours_->Tls("client")));
  st = Call(*by_name);
  EXPECT_TRUE(st.ok()) << st.error_message();
}

TEST_F(Tls, PlaintextClientFails) {
  auto server = Serve(ours_->Tls("server"));
  auto ch = MakeChannel(server->address());
  grpc::Status st = Call(*ch);
  EXPECT_EQ(st.error_code(), grpc::StatusCode::UNAVAILABLE) << st.error_message();
  EXPECT_FALSE(CheckHealth(*ch, 1s).ok());
}

TEST_F(Tls, MutualTlsRefusesAClientWithoutCertificate) {
  auto server = Serve(ours_->Tls("server"));
  auto ch = MakeChannel(server->address(), Credentials({.ca = ours_->ca()}));
  grpc::Status st = Call(*ch);
  EXPECT_EQ(st.error_code(), grpc::StatusCode::UNAVAILABLE) << st.error_message();
}

TEST_F(Tls, MutualTlsRefusesAClientCertificateFromAnotherCa) {
  auto server = Serve(ours_->Tls("server"));
  // Trusts the server, shows a certificate the server's CA did not sign.
  config::TlsConfig foreign = other_->Tls("client");
  foreign.ca = ours_->ca();
  auto ch = MakeChannel(server->address(), Credentials(foreign));
  grpc::Status st = Call(*ch);
  EXPECT_EQ(st.error_code(), grpc::StatusCode::UNAVAILABLE) << st.error_message();
  // The same client with our CA's certificate gets in.
  auto ok = MakeChannel(server->address(), Credentials(ours_->Tls("client")));
  st = Call(*ok);
  EXPECT_TRUE(st.ok()) << st.error_message();
}

TEST_F(Tls, ClientRefusesAServerItsCaDidNotSign) {
  auto server = Serve(ours_->Tls("server"));
  // A certificate our server accepts, but the other CA as the trust root.
  config::TlsConfig tls = ours_->Tls("client");
  tls.ca = other_->ca();
  auto ch = MakeChannel(server->address(), Credentials(tls));
  grpc::Status st = Call(*ch);
  EXPECT_EQ(st.error_code(), grpc::StatusCode::UNAVAILABLE) << st.error_message();
}

TEST_F(Tls, ServerWithoutCaAcceptsTlsClientsWithoutCertificate) {
  auto server = Serve({.cert = ours_->cert("server"), .key = ours_->key("server")});
  auto ch = MakeChannel(server->address(), Credentials({.ca = ours_->ca()}));
  grpc::Status st = Call(*ch);
  EXPECT_TRUE(st.ok()) << st.error_message();
  // A client certificate is not asked for, and does no harm.
  auto with_cert = MakeChannel(server->address(), Credentials(ours_->Tls("client")));
  st = Call(*with_cert);
  EXPECT_TRUE(st.ok()) << st.error_message();
  // Still TLS only.
  auto plain = MakeChannel(server->address());
  EXPECT_EQ(Call(*plain).error_code(), grpc::StatusCode::UNAVAILABLE);
}

TEST_F(Tls, PlaintextServerRefusesTlsClients) {
  auto server = Serve({});
  EXPECT_TRUE(Call(*MakeChannel(server->address())).ok());
  auto ch = MakeChannel(server->address(), Credentials(ours_->Tls("client")));
  EXPECT_EQ(Call(*ch).error_code(), grpc::StatusCode::UNAVAILABLE);
}

// ipv4:A,B lists (local replicas): the servers' names are checked against
// the first address, and round_robin reaches every address.
TEST_F(Tls, FixedListOverTlsReachesEveryAddress) {
  Ranking first, second;
  auto a = Serve(ours_->Tls("server"), &first);
  auto b = Serve(ours_->Tls("server"), &second);
  auto ch = MakeChannel(absl::StrCat("ipv4:127.0.0.1:", a->port(), ",127.0.0.1:", b->port()),
                        Credentials(ours_->Tls("client")));
  for (int i = 0; i < 100 && (first.calls == 0 || second.calls == 0); ++i) {
    grpc::Status st = Call(*ch);
    ASSERT_TRUE(st.ok()) << st.error_message();
    std::this_thread::sleep_for(10ms);
  }
  EXPECT_GT(first.calls, 0);
  EXPECT_GT(second.calls, 0);
}

TEST_F(Tls, WaitForServingOverMutualTls) {
  auto server = Serve(ours_->Tls("server"));
  EXPECT_TRUE(WaitForServing(server->address(), 3s, Credentials(ours_->Tls("client"))).ok());
  EXPECT_TRUE(
      WaitForServing(server->address(), 3s, Credentials(ours_->Tls("client")), kLivenessService)
          .ok());
  EXPECT_FALSE(WaitForServing(server->address(), 500ms).ok());
}

TEST_F(Tls, StartFailsNamingTheFlagOfAMissingFile) {
  ServerOptions o;
  o.tls = ours_->Tls("server");
  o.tls.key = ours_->dir() + "/missing-key.pem";
  ServerRunner runner(o, std::make_shared<prometheus::Registry>());
  absl::Status st = runner.Start();
  ASSERT_FALSE(st.ok());
  EXPECT_NE(st.message().find("--tls-key"), std::string::npos) << st;
  EXPECT_NE(st.message().find("missing-key.pem"), std::string::npos) << st;
}

}  // namespace
}  // namespace recstack::grpcutil
