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

// The server's poll_interval is a minute here; the agent's check-in (long-poll, its default) is
// held, and the rollback answers that held check-in early: the server's metrics say both, so the
// test does not rest on how soon the downgrade arrives.
class AgentServerLongPoll : public StableFleet {
  std::string server_extra_config() override {
    return "poll_interval: 60s\nwaves:\n  all_at_once: true\n";
  }
};

TEST_F(AgentServerLongPoll, ARollbackReachesTheHeldAgentAtOnceNotAtItsNextPoll) {
  publish("1.1.0");
  promote("1.1.0");
  auto& a = sandbox("held-1", "1.0.0", "stable");
  start(a);
  ASSERT_TRUE(eventually([&] { return count("1.1.0", "success") == 1; }));
  ASSERT_TRUE(eventually([&] { return metric("rollout_checkins_held") == 1; }))
      << "the committed agent's check-in is held";
  auto rb = ctl({"rollback", "1.1.0", "--os", "linux", "--arch", rollout::testing::target_arch(),
                 "--reason", "bad build"});
  ASSERT_EQ(rb.exit_code, 0) << rb.err;
  EXPECT_TRUE(eventually([&] {
    auto j = a.journal();
    return j && j->target_version == "1.0.0";
  }));
  EXPECT_EQ(metric("rollout_checkins_answered_early_total"), 1u)
      << "the downgrade came with the held check-in, not with a later poll";
  EXPECT_TRUE(eventually([&] { return a.running_version() == "1.0.0"; }));
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

// log_file: the lines go to the file (in the text format), not to stderr; a restart counts what
// the file holds, and a line that would take it past log_file_max_size rotates it, keeping
// log_file_count files.
TEST_F(AgentServer, TheLogGoesToItsFileRotatedBySize) {
  publish("1.1.0");
  const fs::path logs = dir_.path() / "logs-of-beta-log";
  fs::create_directories(logs);
  // What an earlier run left: a current file just under the limit and two rotated ones.
  rollout::testing::write_file(logs / "agent.log", std::string(4000, 'A') + "\n");
  rollout::testing::write_file(logs / "agent.log.1", std::string(4000, 'B') + "\n");
  rollout::testing::write_file(logs / "agent.log.2", std::string(4000, 'C') + "\n");
  auto& a = sandbox("beta-log", "1.0.0", "beta",
                    "log_file: " + (logs / "agent.log").string() +
                        "\nlog_file_max_size: 4KiB\nlog_file_count: 3\n");
  start(a);
  ASSERT_TRUE(eventually([&] { return count("1.1.0", "success") == 1; }));
  ::kill(a.process->pid(), SIGTERM);
  EXPECT_EQ(wait_exit(a), 0);
  EXPECT_FALSE(fs::exists(logs / "agent.log.3")) << "more than log_file_count files kept";
  EXPECT_EQ(rollout::testing::read_file(logs / "agent.log.2").substr(0, 4), "BBBB");
  EXPECT_EQ(rollout::testing::read_file(logs / "agent.log.1").substr(0, 4), "AAAA");
  const std::string log = rollout::testing::read_file(logs / "agent.log");
  EXPECT_LE(log.size(), 4096u);
  // The first line of the fresh file, after "2026-12-02T16:59:19.787Z info ".
  EXPECT_EQ(log.find("controller: started version=1.0.0"), 30u) << log;
  EXPECT_NE(log.find(" info controller: update committed version=1.1.0"), std::string::npos) << log;
  EXPECT_NE(log.find(" info controller: stopping"), std::string::npos) << log;
  EXPECT_EQ(a.log_text().find("controller:"), std::string::npos) << "a line went to stderr";
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
