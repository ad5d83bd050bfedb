// kill -9 at every named crash point of a real update against the real server: one agent per
// point, all at once. Each one dies at its point (ROLLOUT_CRASH_AT), is restarted, and must end
// consistent: the install root names the old or the new version (never neither), the journal
// parses, the update finishes (or is cleanly abandoned), and the server holds exactly one report.
// Both kinds of version pointer: Linux's symlinks and Windows' pointer files.
#include <signal.h>

#include "tests/agent/fleet_fixture.hpp"

namespace rollout::agent::test {
namespace {

class ServerCrashPoints : public StableFleet,
                          public ::testing::WithParamInterface<platform::PointerKind> {
 protected:
  ServerCrashPoints() { pointer_kind_ = GetParam(); }

  // Kills what the killed controller left running (systemd would, with KillMode=control-group).
  static void kill_orphan(const AgentSandbox& a) {
    std::error_code ec;
    if (!fs::exists(a.state() / "running.json", ec)) return;
    bj::error_code jec;
    auto v = bj::parse(rollout::testing::read_file(a.state() / "running.json"), jec);
    if (jec) return;
    ::kill(-static_cast<pid_t>(v.at("pid").to_number<std::int64_t>()), SIGKILL);
  }

  // Starts one agent per point, waits for each to die there, checks the state it left, restarts
  // it without the crash point; returns the sandboxes.
  std::vector<AgentSandbox*> crash_each(const std::vector<std::string>& points,
                                        const std::string& prefix) {
    std::vector<AgentSandbox*> out;
    for (const auto& p : points) {
      std::string name = prefix + p;
      std::replace(name.begin(), name.end(), '#', '-');
      auto& a = sandbox(name, "1.0.0", "beta");
      start(a, {"ROLLOUT_CRASH_AT=" + p});
      out.push_back(&a);
    }
    for (std::size_t i = 0; i < out.size(); ++i) {
      auto& a = *out[i];
      const int rc = wait_exit(a);
      EXPECT_EQ(rc, 128 + SIGKILL) << points[i] << ": the agent did not die at its crash point";
      kill_orphan(a);
      const std::string cur = a.current_link();
      EXPECT_TRUE(cur == "versions/1.0.0" || cur == "versions/1.1.0" || cur == "versions/1.2.0")
          << points[i] << ": current -> " << cur;
      EXPECT_TRUE(fs::exists(a.root() / cur / kDemoExe)) << points[i];
      if (fs::exists(a.state() / "journal.json")) {
        EXPECT_TRUE(a.journal().has_value()) << points[i] << ": the journal does not parse";
      }
      start(a);
    }
    return out;
  }
};

TEST_P(ServerCrashPoints, EveryPointOfAnUpgradeEndsCommittedWithOneReport) {
  publish("1.1.0");
  std::vector<std::string> points = {
      "mid_download", "after_download",      "after_verify",       "mid_stage",
      "after_stage",  "before_switch",       "after_switch",       "before_commit",
      "after_commit", "after_report_queued", "before_report_send", "after_report_send"};
  for (int n = 1; n <= 7; ++n) {
    points.push_back("journal_before_write#" + std::to_string(n));
    points.push_back("journal_after_write#" + std::to_string(n));
  }
  auto agents = crash_each(points, "up-");
  for (std::size_t i = 0; i < agents.size(); ++i) {
    auto& a = *agents[i];
    EXPECT_TRUE(eventually([&] {
      auto j = a.journal();
      return j && j->state == UpdateState::committed && j->target_version == "1.1.0" &&
             j->outcome_reported && a.queued_reports() == 0;
    })) << points[i];
    EXPECT_TRUE(eventually([&] { return a.running_version() == "1.1.0"; })) << points[i];
    EXPECT_EQ(a.current_link(), "versions/1.1.0") << points[i];
    auto h = history(a);
    ASSERT_EQ(h.size(), 1u) << points[i] << ": " << bj::serialize(h);
    EXPECT_EQ(h[0].at("outcome").as_string(), "success") << points[i];
  }
  EXPECT_EQ(count("1.1.0", "success"), static_cast<std::int64_t>(points.size()));
}

TEST_P(ServerCrashPoints, EveryPointOfARevertEndsRevertedWithOneCrashReport) {
  publish("1.2.0", "crash-at-start");
  std::vector<std::string> points = {"before_revert", "after_revert", "after_report_queued",
                                     "before_report_send", "after_report_send"};
  auto agents = crash_each(points, "rv-");
  for (std::size_t i = 0; i < agents.size(); ++i) {
    auto& a = *agents[i];
    EXPECT_TRUE(eventually([&] {
      auto j = a.journal();
      return j && j->state == UpdateState::reverted && j->outcome_reported &&
             a.queued_reports() == 0;
    })) << points[i];
    EXPECT_TRUE(eventually([&] { return a.running_version() == "1.0.0"; })) << points[i];
    EXPECT_EQ(a.current_link(), "versions/1.0.0") << points[i];
    auto h = history(a);
    ASSERT_EQ(h.size(), 1u) << points[i] << ": " << bj::serialize(h);
    EXPECT_EQ(h[0].at("outcome").as_string(), "crash") << points[i];
  }
  EXPECT_EQ(count("1.2.0", "crash"), static_cast<std::int64_t>(points.size()));
}

INSTANTIATE_TEST_SUITE_P(RealServer, ServerCrashPoints,
                         ::testing::Values(platform::PointerKind::symlink,
                                           platform::PointerKind::pointer_file),
                         [](const auto& param_info) {
                           return param_info.param == platform::PointerKind::symlink
                                      ? "Symlinks"
                                      : "PointerFiles";
                         });

}  // namespace
}  // namespace rollout::agent::test
