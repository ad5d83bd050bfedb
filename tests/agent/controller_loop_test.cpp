// The controller's timing rules on a FakeClock with a fake launcher, notifier and transport:
// deterministic, fast (virtual hours in milliseconds), exact bounds instead of wall-clock lower
// bounds. The loop is the real Controller::run; the clock's auto-advancing wait moves time, and
// scheduled events (clock.at) stop it, step the wall clock or end the run.
#include <gtest/gtest.h>

#include <thread>

#include "tests/agent/controller_loop_fixture.hpp"

namespace rollout::agent::test {
namespace {

using namespace std::chrono_literals;
using std::chrono::milliseconds;

// The restart backoff doubles from ~2 s and is capped at 60 s *before* the wait is taken (it
// used to double past the cap and settle near 120 s), jitter included.
TEST_F(ControllerLoop, RestartBackoffIsCappedAtSixtySeconds) {
  launcher_.set_default(platform::FakeChild::exits_after(100ms, 1));
  run_for(30min);
  const auto t = launch_times();
  ASSERT_GE(t.size(), 20u);
  milliseconds longest{0};
  for (std::size_t i = 1; i < t.size(); ++i) {
    const auto gap = std::chrono::duration_cast<milliseconds>(t[i] - t[i - 1]) - 100ms;
    EXPECT_LE(gap, 60s + 250ms) << "restart " << i;  // the cap, plus at most one loop tick
    longest = std::max(longest, gap);
  }
  EXPECT_GE(longest, 48s);  // it does reach the cap (60 s - 20 % jitter)
  EXPECT_LE(std::chrono::duration_cast<milliseconds>(t[1] - t[0]), 2s + 400ms + 100ms + 250ms);
}

// Retry-After is obeyed exactly (not a lower bound on a slow machine), and the server's interval
// is used with its ±20 % jitter.
TEST_F(ControllerLoop, RetryAfterAndTheServersIntervalWithJitter) {
  server_.push_checkin({503, R"({"error":"busy"})", 40s});
  server_.set_default({200, R"({"poll_interval_s":30})", {}});
  run_for(10min);
  const auto t = server_.checkins();
  ASSERT_GE(t.size(), 10u);
  const auto first_gap = std::chrono::duration_cast<milliseconds>(t[1] - t[0]);
  EXPECT_GE(first_gap, 40s);
  EXPECT_LE(first_gap, 40s + 250ms);
  for (std::size_t i = 2; i < t.size(); ++i) {
    const auto gap = std::chrono::duration_cast<milliseconds>(t[i] - t[i - 1]);
    EXPECT_GE(gap, 24s) << i;          // 30 s - 20 %
    EXPECT_LE(gap, 36s + 250ms) << i;  // 30 s + 20 %, plus a tick
  }
}

// Failed check-ins back off exponentially from ~2 s up to max_backoff, never above it.
TEST_F(ControllerLoop, CheckinBackoffDoublesUpToItsCeiling) {
  cfg_.max_backoff = 2min;
  server_.set_default({500, R"({"error":"oops"})", {}});
  run_for(30min);
  const auto t = server_.checkins();
  ASSERT_GE(t.size(), 12u);
  for (std::size_t i = 1; i < t.size(); ++i) {
    const auto gap = std::chrono::duration_cast<milliseconds>(t[i] - t[i - 1]);
    EXPECT_LE(gap, 2min + 250ms) << i;
    if (i >= 2 && i <= 5) {
      const auto before = std::chrono::duration_cast<milliseconds>(t[i - 1] - t[i - 2]);
      EXPECT_GT(gap, before) << "the backoff grows while under the ceiling, check-in " << i;
    }
  }
  EXPECT_GE(std::chrono::duration_cast<milliseconds>(t.back() - t[t.size() - 2]), 96s);
}

// A keep-alive at least every half of WatchdogSec, from READY to STOPPING.
TEST_F(ControllerLoop, WatchdogKeepAlivesComeEveryHalfInterval) {
  notifier_.set_watchdog_interval(std::chrono::microseconds(4'000'000));
  launcher_.set_default(platform::FakeChild::exits_after(7s, 1));  // restarts along the way
  run_for(10min);
  const auto gap = notifier_.longest_watchdog_gap(clock_.steady_now());
  ASSERT_TRUE(gap.has_value());
  EXPECT_LE(*gap, 2s + 250ms);
  EXPECT_GE(notifier_.count(platform::FakeServiceNotifier::Kind::watchdog), 250u);
  EXPECT_EQ(notifier_.count(platform::FakeServiceNotifier::Kind::ready), 1u);
  EXPECT_EQ(notifier_.calls().back().kind, platform::FakeServiceNotifier::Kind::stopping);
}

// Probation runs on the monotonic clock: a wall-clock step of a day forward does not commit the
// new version early; it commits once 10 min of monotonic time have passed, to the tick.
TEST_F(ControllerLoop, AWallClockStepDoesNotShortenProbation) {
  in_probation();
  server_.set_default({200, R"({"poll_interval_s":5})", {}});
  clock_.after(1min, [&] { clock_.set_wall(clock_.now() + std::chrono::hours(24)); });
  const Steady start = clock_.steady_now();
  const std::optional<Steady> committed_at = run_until_committed(12min);
  ASSERT_TRUE(committed_at.has_value()) << "never committed";
  EXPECT_GE(*committed_at - start, 10min);
  EXPECT_LE(*committed_at - start, 10min + 1s + 250ms);
  ASSERT_EQ(server_.reports().size(), 1u);
  EXPECT_EQ(server_.reports()[0].outcome, "success");
}

// Probation time survives a restart: 4 min elapsed in a first run, then an hour with the agent
// stopped (which is not time the new version stayed up), and the next runs need only the
// remaining 6 min (neither starting over nor skipping it).
TEST_F(ControllerLoop, ProbationResumesAcrossARestart) {
  in_probation();
  server_.set_default({200, R"({"poll_interval_s":5})", {}});
  run_for(4min);
  EXPECT_EQ(journal().state, UpdateState::probation);
  EXPECT_GE(journal().probation_elapsed_ms, 4u * 60'000u - 250u);
  EXPECT_LE(journal().probation_elapsed_ms, 4u * 60'000u);
  clock_.advance(1h);
  run_for(5min + 30s);
  EXPECT_EQ(journal().state, UpdateState::probation) << "the restart skipped probation time";
  run_for(1min);
  EXPECT_EQ(journal().state, UpdateState::committed) << "the restart started probation over";
}

// A new version that exits with code 0 on every start did not stay up: each exit counts, and at
// crash_limit it is reverted with a crash report that says how it ended.
TEST_F(ControllerLoop, ExitsWithCodeZeroInProbationCountAgainstIt) {
  in_probation();
  server_.set_default({200, R"({"poll_interval_s":5})", {}});
  launcher_.set_default(platform::FakeChild::exits_after(30s, 0));
  run_for(15min);
  const auto j = journal();
  EXPECT_EQ(j.state, UpdateState::reverted);
  EXPECT_TRUE(j.is_bad("2.0.0"));
  const auto reports = server_.reports();
  ASSERT_EQ(reports.size(), 1u);
  const auto& r = reports[0];
  EXPECT_EQ(r.outcome, "crash");
  EXPECT_EQ(r.error_code.value_or(""), "crash_limit");
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_NE(r.message.value_or("").find("exit code 0"), std::string::npos)
      << r.message.value_or("");
  EXPECT_EQ(root_.current(), "versions/1.0.0");
}

// The server keeps re-sending a directive whose artifact fails verification: the agent does not
// download it again on every check-in (every 10 s here) but backs off per directive (1, 2, 4, 8,
// 16 min), and reports the failure once.
TEST_F(ControllerLoop, AFailingDirectiveIsRetriedWithBackoffAndReportedOnce) {
  const std::string real = "the real artifact\n";
  server_.set_artifact(std::string(real.size(), 'x'));  // the signed size, other bytes
  server_.set_default({200, answer_with_directive(real, 7), {}});
  // Every virtual second: while the journal says downloading, let the worker's transfer end
  // before virtual time moves on (the loop thread runs this event, so it waits for real bytes).
  // After the transport returns, the worker still syncs and closes the part file before it posts
  // its result: give it a moment once per transfer. Should it be slower still, virtual time only
  // runs ahead, which can lower the number of retries, never raise it.
  int baseline = 0, settled = 0;
  const Steady start = clock_.steady_now();
  for (auto at = 1s; at < 30min; at += 1s) {
    clock_.at(start + at, [&] {
      if (journal().state == UpdateState::downloading) {
        server_.await_completed(baseline + 1);
        if (settled <= baseline) {
          std::this_thread::sleep_for(200ms);
          settled = baseline + 1;
        }
      } else {
        baseline = server_.completed();
      }
    });
  }
  run_for(30min);
  EXPECT_GE(server_.downloads(), 2) << "never retried";
  EXPECT_LE(server_.downloads(), 6) << "re-downloaded on check-ins instead of backing off";
  EXPECT_GE(server_.checkins().size(), 150u);
  const auto reports = server_.reports();
  ASSERT_EQ(reports.size(), 1u);
  EXPECT_EQ(reports[0].outcome, "failure");
  EXPECT_EQ(reports[0].error_code.value_or(""), "hash_mismatch");
  EXPECT_EQ(root_.current(), "versions/1.0.0");
}

}  // namespace
}  // namespace rollout::agent::test
