// Faults around a real update against the real server: a disk that fills up mid-download, the
// server gone for the whole probation, and agent clocks skewed by two days.
#include <signal.h>

#include <algorithm>

#include "tests/agent/fleet_fixture.hpp"
#include "tests/agent/hostile_fixture.hpp"

namespace rollout::agent::test {
namespace {

class Faults : public StableFleet {
 protected:
  void SetUp() override {
    StableFleet::SetUp();
    if (HasFatalFailure()) return;
    publish("1.1.0");
  }
};

TEST_F(Faults, DiskFullDuringDownloadFailsCleanlyWithStageDiskFull) {
  auto& a = sandbox("disk-full", "1.0.0", "beta");
  // RLIMIT_FSIZE of half the artifact (at least 32 KiB): the journal, reports and log fit, the
  // artifact does not (a Debug x86_64 demo agent is ~1 MiB, the Release aarch64 one ~80 KiB).
  const auto limit = std::max<std::uintmax_t>(fs::file_size(artifact("1.1.0", "healthy")) / 2,
                                              std::uintmax_t{32} * 1024);
  std::vector<std::string> argv{"/usr/bin/prlimit", "--fsize=" + std::to_string(limit), kAgentBin,
                                "--config", a.config().string()};
  a.process = std::make_unique<rollout::testing::Child>(argv, a.log().string());
  ASSERT_TRUE(eventually([&] { return count("1.1.0", "failure") == 1; }));
  auto h = history(a);
  ASSERT_EQ(h.size(), 1u);
  EXPECT_EQ(h[0].at("stage").as_string(), "disk_full");
  EXPECT_EQ(h[0].at("error_code").as_string(), "disk_full");
  EXPECT_EQ(a.current_link(), "versions/1.0.0");
  EXPECT_EQ(a.running_version(), "1.0.0");
  EXPECT_FALSE(fs::exists(a.root() / "versions" / "1.1.0"));
  EXPECT_TRUE(fs::is_empty(a.root() / "staging")) << "temp files left behind";
  auto j = a.journal();
  ASSERT_TRUE(j.has_value());
  EXPECT_EQ(j->state, UpdateState::failed);
}

TEST_F(Faults, ServerDownForTheWholeProbationDeliversTheReportLater) {
  auto& a = sandbox("server-down", "1.0.0", "beta");
  start(a);
  // The server goes down as soon as the artifact is in (verifying or later), before the first
  // check-in on the new version can happen: waiting for probation itself raced with that
  // check-in, after which a commit is correct. Polled every 5 ms, well inside the time the agent
  // needs to verify, stage, stop the old version and start the new one.
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(90);
  bool downloaded = false;
  while (!downloaded && std::chrono::steady_clock::now() < deadline) {
    auto j = a.journal();
    downloaded = j && j->state != UpdateState::idle && j->state != UpdateState::downloading;
    if (!downloaded) std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  ASSERT_TRUE(downloaded);
  server_->kill9();
  ASSERT_TRUE(eventually([&] {
    auto j = a.journal();
    return j && j->state == UpdateState::probation;
  }));
  // The new version keeps running; without a check-in on it, probation cannot pass.
  const auto failed_checkins = [&] {
    const std::string log = a.log_text();
    std::size_t n = 0;
    for (auto p = log.find("check-in failed"); p != std::string::npos;
         p = log.find("check-in failed", p + 1)) {
      ++n;
    }
    return n;
  };
  ASSERT_TRUE(eventually([&] { return failed_checkins() >= 3; }));
  EXPECT_EQ(a.journal()->state, UpdateState::probation);
  EXPECT_EQ(a.running_version(), "1.1.0");
  std::string err;
  ASSERT_TRUE(server_->start(&err)) << err;
  ASSERT_TRUE(eventually([&] { return count("1.1.0", "success") == 1; }));
  EXPECT_TRUE(eventually([&] { return a.queued_reports() == 0; }));
  EXPECT_EQ(a.journal()->state, UpdateState::committed);
  EXPECT_EQ(history(a).size(), 1u);
}

// Skew seen from the agent: a server whose clock is two days off signs directives whose
// issued_at/expires_at are two days off the agent's clock.
class ClockSkew : public Hostile {
 protected:
  void run_with_skew(std::chrono::hours skew, const std::string& tolerance) {
    const std::string bytes = "not reached unless accepted";
    DirectiveSpec s{manifest("1.1.0", bytes)};
    s.issued_offset =
        std::chrono::duration_cast<std::chrono::seconds>(skew - std::chrono::minutes(1));
    s.expires_offset =
        std::chrono::duration_cast<std::chrono::seconds>(skew + std::chrono::hours(1));
    serve_artifact(bytes);
    serve_directive(directive(s));
    start_agent("clock_tolerance: " + tolerance + "\n");
  }
};

TEST_F(ClockSkew, TwoDaysAheadBeyondToleranceIsRefused) {
  run_with_skew(std::chrono::hours(48), "5m");
  EXPECT_TRUE(logged("not_yet_valid"));
  wait_checkins(2);
  expect_nothing_persisted();
}

TEST_F(ClockSkew, TwoDaysBehindBeyondToleranceIsRefused) {
  run_with_skew(std::chrono::hours(-48), "5m");
  EXPECT_TRUE(logged("expired"));
  wait_checkins(2);
  expect_nothing_persisted();
}

TEST_F(ClockSkew, TwoDaysEitherWayWithinAThreeDayToleranceIsAccepted) {
  run_with_skew(std::chrono::hours(-48), "3d");
  EXPECT_TRUE(logged("update accepted"));
}

}  // namespace
}  // namespace rollout::agent::test
