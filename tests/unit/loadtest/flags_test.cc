// recstack-loadtest's command line without running anything
// (loadtest/flags.h): the exit codes main.cc documents and what is kept.
#include "loadtest/flags.h"

#include <gtest/gtest.h>

#include <sstream>

namespace recstack::loadtest {
namespace {

CommandLine Parse(std::vector<std::string> args, std::string* err_text = nullptr) {
  std::ostringstream out, err;
  CommandLine c = ParseCommandLine(args, out, err);
  if (err_text != nullptr) *err_text = err.str();
  return c;
}

TEST(Flags, AcceptedFlagsAreKept) {
  const CommandLine c =
      Parse({"--rate", "250", "--arrivals", "poisson", "--duration", "5s", "--sweep", "100:300:100",
             "--then", "2000:20s,500:5s", "--metrics", "gateway=127.0.0.1:9100", "--json"});
  ASSERT_EQ(c.exit_code, -1) << c.error;
  EXPECT_EQ(c.flags.run.rate, 250);
  EXPECT_TRUE(c.flags.run.poisson);
  EXPECT_EQ(c.flags.run.duration.count(), 5000);
  EXPECT_EQ(c.flags.sweep_rates, (std::vector<double>{100, 200, 300}));
  EXPECT_EQ(c.flags.half_knee_repeats, 5);  // the default
  ASSERT_EQ(c.flags.run.then.size(), 2u);
  EXPECT_EQ(c.flags.run.then[1].second.count(), 5000);
  EXPECT_EQ(c.flags.metrics_targets.at("gateway"), "127.0.0.1:9100");
  EXPECT_TRUE(c.flags.json);
  EXPECT_TRUE(c.flags.run.Validate().ok());
}

TEST(Flags, ExitCodesAsMainDocumentsThem) {
  std::string err;
  EXPECT_EQ(Parse({"--help"}).exit_code, 0);
  EXPECT_EQ(Parse({"--nope"}, &err).exit_code, 2);
  EXPECT_NE(err.find("--nope"), std::string::npos) << err;
  EXPECT_EQ(Parse({"--rate", "fast"}).exit_code, 2);         // does not parse
  EXPECT_EQ(Parse({"--position-bias", "11"}).exit_code, 2);  // a usage error too
  EXPECT_EQ(Parse({"--addr", "no-port"}).exit_code, 2);
  for (std::vector<std::string> bad : {std::vector<std::string>{"--rate", "-1"},
                                       {"--arrivals", "bursty"},
                                       {"--duration", "1y"},
                                       {"--then", "5:0s"},
                                       {"--mix", "browse=1"},
                                       {"--users", "0"},
                                       {"--sweep", "inf:inf:1"},
                                       {"--sweep", "1:2:1", "--half-knee-repeats", "0"},
                                       {"--sweep", "1:2:1", "--half-knee-repeats", "21"},
                                       {"--redis-url", "http://x"},
                                       {"--target", "retrieval", "--mix", "ingest=1"}}) {
    const CommandLine c = Parse(bad);
    EXPECT_EQ(c.exit_code, 1) << bad[0] << " " << bad[1];
    EXPECT_FALSE(c.error.empty()) << bad[0];
  }
}

}  // namespace
}  // namespace recstack::loadtest
