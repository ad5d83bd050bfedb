// rollout-fleetsim's flags (every one validated, the error naming it, garbage refused) and its
// summary (quantiles, and propagation measured from the mark or from the first receipt).
#include <gtest/gtest.h>

#include <boost/json.hpp>

#include "tests/testing/testing.hpp"
#include "tools/fleetsim/options.hpp"
#include "tools/fleetsim/summary.hpp"

namespace rollout::fleetsim {
namespace {

class FleetsimOptions : public ::testing::Test {
 protected:
  void SetUp() override { rollout::testing::write_file(dir_ / "key", "secret\n"); }

  // The required flags, then `extra`.
  Expected<Options> parse(std::vector<std::string> extra, bool with_agents = true) {
    std::vector<std::string> args{"--server",
                                  "https://127.0.0.1:8443",
                                  "--ca-file",
                                  "ca.pem",
                                  "--enrollment-key-file",
                                  (dir_ / "key").string(),
                                  "--directive-keys",
                                  "d.pub",
                                  "--release-keys",
                                  "r1.pub,r2.pub"};
    if (with_agents) args.insert(args.end(), {"--agents", "100"});
    args.insert(args.end(), extra.begin(), extra.end());
    return parse_options(args);
  }

  rollout::testing::TempDir dir_;
};

TEST_F(FleetsimOptions, DefaultsAreTheAgentsAndASmallSharedPool) {
  auto o = parse({});
  ASSERT_TRUE(o) << o.error().message;
  EXPECT_EQ(o->host, "127.0.0.1");
  EXPECT_EQ(o->port, "8443");
  EXPECT_TRUE(o->tls);
  EXPECT_EQ(o->enrollment_key, "secret");  // the trailing newline is not part of it
  EXPECT_EQ(o->release_keys, (std::vector<std::string>{"r1.pub", "r2.pub"}));
  EXPECT_EQ(o->agents, 100u);
  EXPECT_EQ(o->connections, 64u);
  EXPECT_EQ(o->threads, 1u);
  EXPECT_EQ(o->duration, std::chrono::seconds(60));
  EXPECT_FALSE(o->interval);  // the server's poll_interval
  EXPECT_EQ(o->outcomes.success, 100u);
  EXPECT_EQ(o->outcomes.failure + o->outcomes.crash, 0u);
}

TEST_F(FleetsimOptions, EveryValueIsTaken) {
  auto o = parse({"--connections", "per-agent",  "--threads",      "2",
                  "--interval",    "500ms",      "--duration",     "2m",
                  "--apply-delay", "0s",         "--outcomes",     "success=95,failure=3,crash=2",
                  "--os",          "windows",    "--arch",         "aarch64",
                  "--version",     "2.0.0-rc.1", "--clients",      "3",
                  "--sites",       "2",          "--beta-percent", "25",
                  "--name-prefix", "lab",        "--mark-file",    "m",
                  "--ready-file",  "r"});
  ASSERT_TRUE(o) << o.error().message;
  EXPECT_EQ(o->connections, 100u);
  EXPECT_EQ(o->threads, 2u);
  EXPECT_EQ(*o->interval, std::chrono::milliseconds(500));
  EXPECT_EQ(o->duration, std::chrono::minutes(2));
  EXPECT_EQ(o->apply_delay, std::chrono::milliseconds(0));
  EXPECT_EQ(o->outcomes.success, 95u);
  EXPECT_EQ(o->outcomes.failure, 3u);
  EXPECT_EQ(o->outcomes.crash, 2u);
  EXPECT_EQ(o->os, "windows");
  EXPECT_EQ(o->arch, "aarch64");
  EXPECT_EQ(o->version, "2.0.0-rc.1");
  EXPECT_EQ(o->clients, 3u);
  EXPECT_EQ(o->beta_percent, 25u);
  EXPECT_EQ(o->mark_file, "m");
}

TEST_F(FleetsimOptions, ThreadsAndConnectionsNeverExceedTheAgents) {
  auto o = parse({"--connections", "1000", "--threads", "16"}, false);
  ASSERT_FALSE(o);  // --agents is required
  o = parse_options({"--server", "http://localhost", "--agents", "3", "--connections", "1000",
                     "--threads", "16", "--enrollment-key-file", (dir_ / "key").string(),
                     "--directive-keys", "d", "--release-keys", "r"});
  ASSERT_TRUE(o) << o.error().message;
  EXPECT_FALSE(o->tls);  // plain http needs no --ca-file
  EXPECT_EQ(o->port, "80");
  EXPECT_EQ(o->connections, 3u);
  EXPECT_EQ(o->threads, 3u);
}

TEST_F(FleetsimOptions, EachBadValueIsRefusedNamingItsFlag) {
  const std::string huge(10000, '9');
  const std::vector<std::pair<std::vector<std::string>, std::string>> cases{
      {{"--agents", "0"}, "--agents"},
      {{"--agents", "-5"}, "--agents"},
      {{"--agents", huge}, "--agents"},
      {{"--agents", "200", "--max-agents", "100"}, "--agents"},
      {{"--max-agents", "2000000"}, "--max-agents"},
      {{"--connections", "lots"}, "--connections"},
      {{"--threads", "17"}, "--threads"},
      {{"--interval", "10ms"}, "--interval"},
      {{"--interval", "soon"}, "--interval"},
      {{"--duration", "25h"}, "--duration"},
      {{"--apply-delay", "2h"}, "--apply-delay"},
      {{"--request-timeout", "0s"}, "--request-timeout"},
      {{"--outcomes", "success"}, "--outcomes"},
      {{"--outcomes", "success=0"}, "--outcomes"},
      {{"--outcomes", "success=1,meltdown=1"}, "--outcomes"},
      {{"--os", "plan9"}, "--os"},
      {{"--arch", "mips"}, "--arch"},
      {{"--version", "one"}, "--version"},
      {{"--beta-percent", "101"}, "--beta-percent"},
      {{"--name-prefix", "Bad Name"}, "--name-prefix"},
      {{"--server", "ftp://x"}, "--server"},
      {{"--server", "https://x:99999"}, "--server"},
      {{"--server", "https://x/path"}, "--server"},
      {{"--bogus", "1"}, "--bogus"},
      {{"stray"}, "stray"},
      {{"--threads"}, "--threads"},  // no value
  };
  for (const auto& [extra, flag] : cases) {
    auto o = parse(extra);
    ASSERT_FALSE(o) << flag;
    EXPECT_EQ(o.error().code, "usage") << flag;
    EXPECT_EQ(o.error().message.rfind(flag + ":", 0), 0u) << o.error().message;
    EXPECT_LT(o.error().message.size(), 300u) << flag;  // garbage is not echoed in full
  }
}

TEST_F(FleetsimOptions, RequiredFlagsAndTheEnrollmentKeyFile) {
  auto o = parse_options({"--agents", "1"});
  ASSERT_FALSE(o);
  EXPECT_EQ(o.error().message.rfind("--server:", 0), 0u);
  rollout::testing::write_file(dir_ / "big", std::string(5000, 'k'));
  rollout::testing::write_file(dir_ / "empty", "\n");
  for (const auto& file : {"big", "empty", "missing"}) {
    o = parse_options({"--server", "https://h:1", "--ca-file", "c", "--agents", "1",
                       "--enrollment-key-file", (dir_ / file).string(), "--directive-keys", "d",
                       "--release-keys", "r"});
    ASSERT_FALSE(o) << file;
    EXPECT_EQ(o.error().message.rfind("--enrollment-key-file:", 0), 0u) << o.error().message;
  }
  o = parse_options({"--server", "https://h:1", "--agents", "1", "--enrollment-key-file",
                     (dir_ / "key").string(), "--directive-keys", "d", "--release-keys", "r"});
  ASSERT_FALSE(o);
  EXPECT_EQ(o.error().message.rfind("--ca-file:", 0), 0u);
}

TEST(FleetsimSummary, QuantilesAreNearestRank) {
  const std::vector<double> v{1, 2, 3, 4, 5, 6, 7, 8, 9, 10};
  EXPECT_EQ(quantile(v, 0), 1);
  EXPECT_EQ(quantile(v, 0.5), 5);
  EXPECT_EQ(quantile(v, 0.95), 10);
  EXPECT_EQ(quantile(v, 1), 10);
  EXPECT_EQ(quantile({}, 0.5), 0);
}

TEST(FleetsimSummary, PropagationIsMeasuredFromTheMarkWhenItCameFirst) {
  Options o;
  o.agents = 4;
  Stats s;
  s.first_receipts[{"downgrade", "1.0.0"}] = {1002.0, 1000.5, 1001.0, 1004.0};
  s.first_receipts[{"install", "1.1.0"}] = {990.0, 991.0};  // before the mark
  s.checkins_sent = 5;
  s.checkins_answered = 3;
  s.checkins_failed = 1;
  s.checkin_failures["too_large"] = 1;
  auto out = summarize(o, std::move(s), 4, true, 1000.0, 1.0);
  const auto& rec = out.at("received").as_array();
  ASSERT_EQ(rec.size(), 2u);
  const auto& down = rec[0].as_object();
  EXPECT_EQ(down.at("action").as_string(), "downgrade");
  EXPECT_EQ(down.at("from").as_string(), "mark");
  EXPECT_EQ(down.at("agents").to_number<std::int64_t>(), 4);
  EXPECT_DOUBLE_EQ(down.at("first_ms").as_double(), 500);
  EXPECT_DOUBLE_EQ(down.at("p50_ms").as_double(), 1000);
  EXPECT_DOUBLE_EQ(down.at("last_ms").as_double(), 4000);
  const auto& inst = rec[1].as_object();
  EXPECT_EQ(inst.at("from").as_string(), "first_receipt");
  EXPECT_DOUBLE_EQ(inst.at("first_ms").as_double(), 0);
  EXPECT_DOUBLE_EQ(inst.at("last_ms").as_double(), 1000);
  const auto& c = out.at("checkins").as_object();
  EXPECT_EQ(c.at("in_flight_at_stop").to_number<std::int64_t>(), 1);
  EXPECT_EQ(c.at("failures").as_object().at("too_large").to_number<std::int64_t>(), 1);
}

}  // namespace
}  // namespace rollout::fleetsim
