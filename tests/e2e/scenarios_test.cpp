// The user guide's four scenarios end to end with real processes: rollout-server, real
// rollout-agent processes updating real rollout-demo-agent builds, decisions taken with
// rolloutctl. Each asserts every agent's final running version, the server's counts and the
// audit rows.
#include <signal.h>

#include "tests/agent/fleet_fixture.hpp"

namespace rollout::agent::test {
namespace {

class Scenario : public StableFleet {
 protected:
  std::vector<AgentSandbox*> fleet(const std::string& prefix, int n, const std::string& channel,
                                   const std::string& extra = "") {
    std::vector<AgentSandbox*> out;
    for (int i = 0; i < n; ++i) {
      auto& a = sandbox(prefix + std::to_string(i), "1.0.0", channel, extra);
      out.push_back(&a);
    }
    return out;
  }

  void start_all(const std::vector<AgentSandbox*>& agents) {
    for (auto* a : agents) start(*a);
  }

  bool all_running(const std::vector<AgentSandbox*>& agents, const std::string& version) {
    return eventually([&] {
      for (auto* a : agents) {
        if (a->running_version() != version || a->current_link() != "versions/" + version) {
          return false;
        }
      }
      return true;
    });
  }

  // The audit rows for promote/rollback: "action version force reason".
  std::vector<std::string> audit() {
    std::vector<std::string> out;
    const bj::value v = api("/api/updates/events");
    for (const auto& e : v.at("events").as_array()) {
      const std::string action(e.at("action").as_string());
      if (action != "promote" && action != "rollback") continue;
      EXPECT_EQ(e.at("user").as_string(), "admin");
      out.push_back(action + " " + std::string(e.at("version").as_string()) + " " +
                    (e.at("force").as_bool() ? "forced" : "gated") + " " +
                    std::string(e.at("reason").as_string()));
    }
    return out;
  }

  std::string health(const std::string& version) {
    return std::string(row(version).at("health").at("status").as_string());
  }
};

TEST_F(Scenario, NormalPromotion) {
  auto beta = fleet("beta-", 5, "beta");
  auto stable = fleet("stable-", 3, "stable");
  start_all(beta);
  start_all(stable);
  publish("1.1.0");
  ASSERT_TRUE(eventually([&] { return count("1.1.0", "success") == 5; }));
  EXPECT_EQ(health("1.1.0"), "healthy");
  EXPECT_TRUE(row("1.1.0").at("can_promote").as_bool());
  ASSERT_TRUE(all_running(beta, "1.1.0"));
  EXPECT_TRUE(all_running(stable, "1.0.0")) << "stable agents wait for the promotion";
  auto r = ctl({"promote", "1.1.0", "--os", "linux", "--arch", "x86_64"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_TRUE(all_running(stable, "1.1.0"));
  EXPECT_TRUE(eventually([&] { return count("1.1.0", "success") == 8; }));
  EXPECT_THAT(audit(), ::testing::Contains("promote 1.1.0 gated "));
}

TEST_F(Scenario, WarningBlocksPromotionAndStableAgentsStayPut) {
  // 10 beta agents, one of which cannot store the download: 9/10 = 90 % success, 10 % failure.
  auto beta = fleet("beta-", 9, "beta");
  auto& full = sandbox("beta-diskfull", "1.0.0", "beta");
  auto stable = fleet("stable-", 3, "stable");
  start_all(beta);
  start_all(stable);
  full.process = std::make_unique<rollout::testing::Child>(
      std::vector<std::string>{"/usr/bin/prlimit", "--fsize=262144", kAgentBin, "--config",
                               full.config().string()},
      full.log().string());
  publish("1.1.0");
  ASSERT_TRUE(
      eventually([&] { return count("1.1.0", "success") == 9 && count("1.1.0", "failure") == 1; }));
  EXPECT_EQ(health("1.1.0"), "warning");
  auto r = ctl({"promote", "1.1.0", "--os", "linux", "--arch", "x86_64"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("HTTP 409"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("not_healthy:warning"), std::string::npos) << r.err;
  EXPECT_EQ(row("1.1.0").at("channel").as_string(), "beta");
  EXPECT_TRUE(all_running(stable, "1.0.0"));
  for (auto* a : stable) EXPECT_TRUE(history(*a).empty()) << a->name;
  EXPECT_TRUE(audit().empty() || audit().size() == 1) << "only the initial promotion";

  // Scenario 4: force the Warning release with a reason; it is recorded and stable follows.
  auto f = ctl({"promote", "1.1.0", "--os", "linux", "--arch", "x86_64", "--force", "--reason",
                "customer needs the fix; failure was one full disk"});
  ASSERT_EQ(f.exit_code, 0) << f.err;
  EXPECT_TRUE(all_running(stable, "1.1.0"));
  EXPECT_THAT(audit(),
              ::testing::Contains(
                  "promote 1.1.0 forced customer needs the fix; failure was one full disk"));
}

TEST_F(Scenario, EmergencyRollbackOfAPromotedReleaseThatCrashes) {
  publish("1.1.0");
  promote("1.1.0");
  // 1.2.0 crashes 4 s after it starts. Agents with a 10 s probation catch it and revert on their
  // own; agents with a 2 s probation commit it and then crash-loop on it.
  auto careful = fleet("careful-", 3, "stable", "probation: 10s\n");
  auto hasty = fleet("hasty-", 3, "stable");
  start_all(careful);
  start_all(hasty);
  ASSERT_TRUE(all_running(careful, "1.1.0"));
  ASSERT_TRUE(all_running(hasty, "1.1.0"));
  publish("1.2.0", "crash-after:4");
  promote("1.2.0");
  ASSERT_TRUE(
      eventually([&] { return count("1.2.0", "crash") == 3 && count("1.2.0", "success") == 3; }));
  const std::string status = health("1.2.0");
  EXPECT_TRUE(status == "critical" || status == "blocked") << status;
  for (auto* a : careful) {
    bool crashed = false;
    for (const auto& x : history(*a)) {
      crashed = crashed ||
                (x.at("version").as_string() == "1.2.0" && x.at("outcome").as_string() == "crash");
    }
    EXPECT_TRUE(crashed) << a->name << " did not report its crash of 1.2.0";
  }
  // The hasty ones are on 1.2.0 as far as the server knows.
  ASSERT_TRUE(eventually([&] { return row("1.2.0").at("stable_agents").as_int64() == 3; }));
  auto r = ctl({"rollback", "1.2.0", "--os", "linux", "--arch", "x86_64", "--reason",
                "crash loop after start"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("Version 1.2.0 rolled back. 3 agents downgraded (to 1.1.0)"),
            std::string::npos)
      << r.out;
  EXPECT_TRUE(all_running(hasty, "1.1.0"));
  EXPECT_TRUE(all_running(careful, "1.1.0"));
  EXPECT_EQ(health("1.2.0"), "blocked");
  EXPECT_THAT(audit(), ::testing::Contains("rollback 1.2.0 gated crash loop after start"));
}

}  // namespace
}  // namespace rollout::agent::test
