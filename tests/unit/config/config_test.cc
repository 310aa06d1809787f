#include "common/config/config.h"

#include <gtest/gtest.h>

#include <cstdlib>

#include "common/grpc/status.h"
#include "common/status/status.h"
#include "tests/unit/config/parse_args.h"

namespace recstack::config {
namespace {

TEST(ServiceConfig, DefaultsPerService) {
  ServiceConfig c;
  c.service = "retrieval";
  CLI::App app;
  AddServiceFlags(app, &c);
  ASSERT_EQ(Parse(app, {}), 0);
  EXPECT_EQ(c.listen, "127.0.0.1:50053");
  EXPECT_EQ(c.metrics_listen, "127.0.0.1:9103");
  EXPECT_TRUE(Validate(c).ok());
}

TEST(ServiceConfig, FlagBeatsEnvBeatsDefault) {
  setenv("RECSTACK_REDIS_URL", "redis://10.0.0.9:7000", 1);
  setenv("RECSTACK_LISTEN", "0.0.0.0:6000", 1);
  ServiceConfig c;
  c.service = "ingestion";
  CLI::App app;
  AddServiceFlags(app, &c);
  ASSERT_EQ(Parse(app, {"--listen", "127.0.0.1:7001"}), 0);
  EXPECT_EQ(c.listen, "127.0.0.1:7001");            // flag
  EXPECT_EQ(c.redis_url, "redis://10.0.0.9:7000");  // env
  EXPECT_EQ(c.key_prefix, "rs:");                   // default
  unsetenv("RECSTACK_REDIS_URL");
  unsetenv("RECSTACK_LISTEN");
}

TEST(ServiceConfig, AddressFlagReadsEnv) {
  setenv("RECSTACK_RANKING_ADDR", "127.0.0.1:9999", 1);
  std::string addr = "127.0.0.1:50054";
  CLI::App app;
  AddAddressFlag(app, "ranking-addr", &addr, "ranking service");
  ASSERT_EQ(Parse(app, {}), 0);
  EXPECT_EQ(addr, "127.0.0.1:9999");
  unsetenv("RECSTACK_RANKING_ADDR");
  EXPECT_EQ(EnvName("ranking-addr"), "RECSTACK_RANKING_ADDR");
}

TEST(ServiceConfig, ValidationNamesTheFlag) {
  ServiceConfig c;
  c.service = "gateway";
  CLI::App app;
  AddServiceFlags(app, &c);
  ASSERT_EQ(Parse(app, {}), 0);
  c.listen = "nonsense";
  auto st = Validate(c);
  EXPECT_EQ(st.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(std::string(st.message()), "--listen: 'nonsense' is not HOST:PORT");
  c.listen = "127.0.0.1:1";
  c.redis_url = "http://x";
  EXPECT_NE(std::string(Validate(c).message()).find("--redis-url"), std::string::npos);
  c.redis_url = "redis://127.0.0.1:6379";
  c.metrics_listen = "127.0.0.1:70000";
  EXPECT_NE(std::string(Validate(c).message()).find("--metrics-listen"), std::string::npos);
  c.metrics_listen = "off";
  c.log_level = "loud";
  EXPECT_NE(std::string(Validate(c).message()).find("--log-level"), std::string::npos);
  c.log_level = "warn";
  EXPECT_TRUE(Validate(c).ok());
}

TEST(ServiceConfig, MaxConnectionAgeIsBounded) {
  ServiceConfig c;
  c.service = "retrieval";
  CLI::App app;
  AddServiceFlags(app, &c);
  ASSERT_EQ(Parse(app, {"--max-connection-age-seconds", "60"}), 0);
  EXPECT_EQ(c.max_connection_age_seconds, 60);
  EXPECT_TRUE(Validate(c).ok());
  c.max_connection_age_seconds = -1;
  EXPECT_EQ(std::string(Validate(c).message()), "--max-connection-age-seconds: must be 0-86400");
}

TEST(ValidateTarget, AcceptsTheFormsAChannelDials) {
  for (const char* target :
       {"127.0.0.1:50053", "retrieval:50053", "[::1]:50053", "dns:///retrieval:50053",
        "dns:///retrieval.recstack.svc.cluster.local:50053", "dns://10.0.0.10:53/retrieval:50053",
        "dns:retrieval:50053", "ipv4:127.0.0.1:50053", "ipv4:127.0.0.1:50053,127.0.0.1:50063",
        "ipv4:10.0.0.1:1,10.0.0.2:2,10.0.0.3:65535", "ipv6:[::1]:50053,[fe80::1]:50063",
        "unix:/tmp/retrieval.sock"}) {
    EXPECT_TRUE(ValidateTarget("retrieval-addr", target).ok())
        << target << ": " << ValidateTarget("retrieval-addr", target).message();
  }
}

TEST(ValidateTarget, RejectsWithTheFlagAndWhy) {
  auto why = [](std::string_view target) {
    absl::Status st = ValidateTarget("retrieval-addr", target);
    EXPECT_EQ(st.code(), absl::StatusCode::kInvalidArgument) << target;
    return std::string(st.message());
  };
  EXPECT_EQ(why("retrieval"),
            "--retrieval-addr: 'retrieval' is not HOST:PORT; a target is HOST:PORT, "
            "dns:///HOST:PORT, ipv4:IP:PORT[,IP:PORT...], ipv6:[IP]:PORT[,[IP]:PORT...] or "
            "unix:PATH");
  EXPECT_NE(why("127.0.0.1:0").find("no valid port (1-65535)"), std::string::npos);
  EXPECT_NE(why("127.0.0.1:70000").find("no valid port"), std::string::npos);
  EXPECT_NE(why("dns:///retrieval").find("names 'retrieval', which is not HOST:PORT"),
            std::string::npos);
  EXPECT_NE(why("dns://retrieval:50053").find("is not dns:///HOST:PORT"), std::string::npos);
  // ipv4: lists literal addresses, each with its port.
  EXPECT_NE(why("ipv4:").find("lists no address"), std::string::npos);
  EXPECT_NE(why("ipv4:127.0.0.1").find("lists '127.0.0.1' is not HOST:PORT"), std::string::npos);
  EXPECT_NE(why("ipv4:127.0.0.1:50053,127.0.0.1").find("lists '127.0.0.1' is not HOST:PORT"),
            std::string::npos);
  EXPECT_NE(why("ipv4:127.0.0.1:50053,").find("lists '' is not HOST:PORT"), std::string::npos);
  EXPECT_NE(why("ipv4:retrieval:50053").find("'retrieval' is not an IPv4 address"),
            std::string::npos);
  EXPECT_NE(why("ipv4:127.0.0.256:1").find("is not an IPv4 address"), std::string::npos);
  EXPECT_NE(why("ipv6:127.0.0.1:50053").find("is not [IPv6]:PORT"), std::string::npos);
  EXPECT_NE(why("ipv6:::1:50053").find("IPv6 hosts go in brackets"), std::string::npos);
  EXPECT_NE(why("unix:").find("has no socket path"), std::string::npos);
  EXPECT_NE(why("xds:///retrieval:50053").find("has an unknown scheme"), std::string::npos);
  EXPECT_NE(why("http://retrieval:50053").find("has an unknown scheme"), std::string::npos);
}

TEST(ServiceConfig, NumericFlagRejectsText) {
  ServiceConfig c;
  c.service = "gateway";
  CLI::App app;
  AddServiceFlags(app, &c);
  EXPECT_NE(Parse(app, {"--drain-seconds", "soon"}), 0);
}

TEST(ParseDuration, Units) {
  EXPECT_EQ(*ParseDuration("250ms"), std::chrono::milliseconds(250));
  EXPECT_EQ(*ParseDuration("10s"), std::chrono::milliseconds(10'000));
  EXPECT_EQ(*ParseDuration("1.5s"), std::chrono::milliseconds(1'500));
  EXPECT_EQ(*ParseDuration("2m"), std::chrono::milliseconds(120'000));
  EXPECT_EQ(*ParseDuration("1h"), std::chrono::milliseconds(3'600'000));
  EXPECT_EQ(*ParseDuration("7d"), std::chrono::milliseconds(604'800'000));
  EXPECT_EQ(*ParseDuration("3"), std::chrono::milliseconds(3'000));
  for (const char* bad : {"", "s", "10x", "-1s", "1.2.3s", "ms10"}) {
    EXPECT_FALSE(ParseDuration(bad).ok()) << bad;
  }
}

TEST(Status, ConversionKeepsCodeAndMessage) {
  absl::Status s = absl::NotFoundError("no such user");
  grpc::Status g = ToGrpc(s);
  EXPECT_EQ(g.error_code(), grpc::StatusCode::NOT_FOUND);
  EXPECT_EQ(g.error_message(), "no such user");
  EXPECT_EQ(FromGrpc(g), s);
  EXPECT_TRUE(ToGrpc(absl::OkStatus()).ok());
  EXPECT_EQ(Annotate(s, "loading").message(), "loading: no such user");
  EXPECT_TRUE(IsRetryable(absl::UnavailableError("x")));
  EXPECT_FALSE(IsRetryable(absl::InvalidArgumentError("x")));
}

}  // namespace
}  // namespace recstack::config
