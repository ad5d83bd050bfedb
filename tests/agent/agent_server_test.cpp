// rollout-agent against the real rollout-server: an upgrade, a rollback-directed downgrade and a
// crash-and-revert, each visible in the server's health counts; the identity kept across
// restarts.
#include <signal.h>

#include "tests/agent/fleet_fixture.hpp"

namespace rollout::agent::test {
namespace {

using std::chrono::seconds;

class AgentServer : public StableFleet {};

TEST_F(AgentServer, UpgradesOnBetaAndReportsSuccess) {
  publish("1.1.0");
  auto& a = sandbox("beta-1", "1.0.0", "beta");
  start(a);
  ASSERT_TRUE(eventually([&] { return count("1.1.0", "success") == 1; }));
  ASSERT_TRUE(eventually([&] { return a.running_version() == "1.1.0"; }));
  EXPECT_EQ(a.current_link(), "versions/1.1.0");
  auto j = a.journal();
  ASSERT_TRUE(j.has_value());
  EXPECT_EQ(j->state, UpdateState::committed);
  EXPECT_TRUE(eventually([&] { return a.queued_reports() == 0; }));
  auto h = history(a);
  ASSERT_EQ(h.size(), 1u);
  EXPECT_EQ(h[0].at("outcome").as_string(), "success");
  EXPECT_EQ(h[0].at("from_version").as_string(), "1.0.0");
  EXPECT_TRUE(eventually([&] {
    return api("/api/agents/" + a.agent_id()).at("current_version").as_string() == "1.1.0";
  }));
}

TEST_F(AgentServer, RollbackDirectsADowngradeToThePreviousStable) {
  publish("1.1.0");
  promote("1.1.0");
  auto& a = sandbox("stable-1", "1.0.0", "stable");
  start(a);
  ASSERT_TRUE(eventually([&] { return count("1.1.0", "success") == 1; }));
  auto rb = ctl({"rollback", "1.1.0", "--os", "linux", "--arch", rollout::testing::target_arch(),
                 "--reason", "bad build"});
  ASSERT_EQ(rb.exit_code, 0) << rb.err;
  EXPECT_NE(rb.out.find("1 agent downgraded"), std::string::npos) << rb.out;
  ASSERT_TRUE(eventually([&] {
    auto j = a.journal();
    return j && j->state == UpdateState::committed && j->target_version == "1.0.0";
  }));
  EXPECT_TRUE(eventually([&] { return a.running_version() == "1.0.0"; }));
  EXPECT_EQ(a.current_link(), "versions/1.0.0");
  EXPECT_TRUE(eventually([&] { return count("1.0.0", "success") == 1; }));
  EXPECT_EQ(row("1.1.0").at("health").at("status").as_string(), "blocked");
}

TEST_F(AgentServer, CrashInProbationRevertsAndReportsEvidence) {
  publish("1.2.0", "crash-at-start");
  auto& a = sandbox("beta-crash", "1.0.0", "beta");
  start(a);
  ASSERT_TRUE(eventually([&] { return count("1.2.0", "crash") == 1; }));
  EXPECT_TRUE(eventually([&] { return a.running_version() == "1.0.0"; }));
  EXPECT_EQ(a.current_link(), "versions/1.0.0");
  auto j = a.journal();
  ASSERT_TRUE(j.has_value());
  EXPECT_EQ(j->state, UpdateState::reverted);
  EXPECT_TRUE(j->is_bad("1.2.0"));
  auto h = history(a);
  ASSERT_EQ(h.size(), 1u);
  EXPECT_EQ(h[0].at("outcome").as_string(), "crash");
  EXPECT_EQ(h[0].at("error_code").as_string(), "crash_limit");
  EXPECT_EQ(h[0].at("signal").to_number<int>(), SIGABRT);
  EXPECT_NE(std::string(h[0].at("stderr_tail").as_string()).find("panic: simulated crash"),
            std::string::npos);
  // The directive is re-sent while 1.2.0 is the beta target; the bad version is not retried.
  EXPECT_TRUE(eventually([&] { return a.log_text().find("bad_version") != std::string::npos; }));
  EXPECT_EQ(history(a).size(), 1u);
}

TEST_F(AgentServer, IdentitySurvivesARestart) {
  auto& a = sandbox("restart-1", "1.0.0", "stable");
  start(a);
  ASSERT_TRUE(eventually([&] { return !a.agent_id().empty(); }));
  const std::string id = a.agent_id();
  EXPECT_EQ(fs::status(a.state() / "identity.json").permissions() & fs::perms::all,
            fs::perms::owner_read | fs::perms::owner_write);
  a.process->signal(SIGTERM);
  EXPECT_EQ(wait_exit(a), 0);
  start(a);
  // A fresh check-in from the same identity; the server still has exactly one agent.
  ASSERT_TRUE(eventually([&] { return a.running_version() == "1.0.0"; }));
  EXPECT_EQ(a.agent_id(), id);
  EXPECT_TRUE(eventually([&] { return api("/api/agents").at("agents").as_array().size() == 1; }));
}

}  // namespace
}  // namespace rollout::agent::test
