// The controller's timing rules on a FakeClock with a fake launcher, notifier and transport:
// deterministic, fast (virtual hours in milliseconds), exact bounds instead of wall-clock lower
// bounds. The loop is the real Controller::run; the clock's auto-advancing wait moves time, and
// scheduled events (clock.at) stop it, step the wall clock or end the run.
#include <gtest/gtest.h>

#include <atomic>
#include <boost/json.hpp>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <thread>

#include "agent/controller.hpp"
#include "common/crypto.hpp"
#include "common/protocol.hpp"
#include "common/release.hpp"
#include "common/signed_document.hpp"
#include "platform/fake_process.hpp"
#include "platform/fake_service.hpp"
#include "tests/agent/install_fixture.hpp"

namespace rollout::agent::test {
namespace {

using namespace std::chrono_literals;
using std::chrono::milliseconds;
using Steady = std::chrono::steady_clock::time_point;
namespace fs = std::filesystem;

// Answers enrollment, check-ins (scripted per call: status, body, Retry-After) and reports, and
// records when each check-in arrived on the fake clock. Thread-safe.
class FakeServer final : public net::Transport {
 public:
  explicit FakeServer(const platform::Clock& clock) : clock_(clock) {}
  struct Answer {
    long status = 200;
    std::string body = R"({"poll_interval_s":60})";
    std::optional<std::chrono::seconds> retry_after;
  };
  void push_checkin(Answer a) {
    std::lock_guard lock(mu_);
    script_.push_back(std::move(a));
  }
  void set_default(Answer a) {
    std::lock_guard lock(mu_);
    default_ = std::move(a);
  }
  std::vector<Steady> checkins() const {
    std::lock_guard lock(mu_);
    return checkins_;
  }
  std::vector<protocol::Report> reports() const {
    std::lock_guard lock(mu_);
    return reports_;
  }

  Expected<net::JsonResult> send(const net::Request& r) override {
    std::lock_guard lock(mu_);
    net::JsonResult out;
    out.status = 200;
    if (r.url.ends_with("/enroll")) {
      out.body = protocol::EnrollResponse{"3f0c1d9a-6b7e-4a61-9c1e-0d2b7f5a8e41", "tok"}.to_json();
    } else if (r.url.ends_with("/checkin")) {
      checkins_.push_back(clock_.steady_now());
      Answer a = default_;
      if (!script_.empty()) {
        a = script_.front();
        script_.pop_front();
      }
      out.status = a.status;
      out.body = a.body;
      out.retry_after = a.retry_after;
    } else if (r.url.ends_with("/reports")) {
      auto batch = protocol::ReportBatch::parse(r.body);
      protocol::ReportAck ack;
      if (batch) {
        for (const auto& rep : batch->reports) {
          ack.acknowledged.push_back(rep.id);
          reports_.push_back(rep);
        }
      }
      out.body = ack.to_json();
    }
    return out;
  }
  // Serves `artifact_` (whatever bytes a test sets), counting the requests.
  Expected<net::DownloadResult> download(const std::string&, const std::string&,
                                         std::uint64_t offset, std::uint64_t,
                                         const net::DownloadSink& sink, const net::RestartHook&,
                                         const net::CancelCheck&) override {
    std::string rest;
    {
      std::lock_guard lock(mu_);
      ++downloads_;
      rest = artifact_.substr(std::min<std::size_t>(artifact_.size(), offset));
    }
    auto st = sink(rest.data(), rest.size());
    {
      std::lock_guard lock(mu_);
      ++completed_;
    }
    done_.notify_all();
    if (!st) return st.error();
    return net::DownloadResult{offset > 0 ? 206 : 200, rest.size(), false};
  }
  // Downloads run on the controller's worker thread in real time while the loop's virtual time
  // jumps: a test event calls this to hold the loop until the `n`th transfer has ended.
  void await_completed(int n) {
    std::unique_lock lock(mu_);
    done_.wait_for(lock, std::chrono::seconds(10), [&] { return completed_ >= n; });
  }
  int completed() const {
    std::lock_guard lock(mu_);
    return completed_;
  }
  void set_artifact(std::string bytes) {
    std::lock_guard lock(mu_);
    artifact_ = std::move(bytes);
  }
  int downloads() const {
    std::lock_guard lock(mu_);
    return downloads_;
  }

 private:
  const platform::Clock& clock_;
  mutable std::mutex mu_;
  std::deque<Answer> script_;
  Answer default_;
  std::vector<Steady> checkins_;
  std::vector<protocol::Report> reports_;
  std::string artifact_;
  int downloads_ = 0;
  int completed_ = 0;
  std::condition_variable done_;
};

class ControllerLoop : public ::testing::Test {
 protected:
  ControllerLoop() : root_({"1.0.0", "2.0.0"}, "1.0.0") {
    rollout::testing::write_file(root_.dir / "key.pub", key_.public_key().pem());
    cfg_.server_url = "https://server.test";
    cfg_.state_dir = (root_.dir / "state").string();
    cfg_.install_root = root_.layout.root;
    cfg_.executable = kExe;
    cfg_.release_keys = {(root_.dir / "key.pub").string()};
    cfg_.directive_keys = cfg_.release_keys;
    cfg_.machine_id = "m";
    cfg_.os = "linux";
    cfg_.arch = "x86_64";
    cfg_.poll_interval = 60s;
    cfg_.probation = 10min;
    cfg_.crash_limit = 2;
    cfg_.max_backoff = 15min;
  }

  // An update to 2.0.0 already switched and in probation (as a restart finds it).
  void in_probation(std::uint64_t elapsed_ms = 0) {
    ASSERT_TRUE(root_.pointer_io()->write(root_.layout.current_link(), "versions/2.0.0"));
    ASSERT_TRUE(root_.pointer_io()->write(root_.layout.previous_link(), "versions/1.0.0"));
    Journal j;
    j.state = UpdateState::probation;
    j.target_version = "2.0.0";
    j.target_sha256 = sha_for("2.0.0");
    j.target_size = 10;
    j.target_security_version = 1;
    j.from_version = "1.0.0";
    j.directive_sequence = 1;
    j.probation_started_at = "2026-01-01T00:00:00Z";
    j.probation_elapsed_ms = elapsed_ms;
    JournalStore store(platform::real_file_system(), root_.journal_path);
    ASSERT_TRUE(store.save(j));
  }

  // Runs a fresh controller (as a new process would) until `stop_after` of virtual time.
  void run_for(std::chrono::nanoseconds stop_after) {
    Controller c(cfg_,
                 {platform::real_file_system(), clock_, server_, server_, launcher_, notifier_});
    auto st = c.start();
    ASSERT_TRUE(st) << st.error().message;
    std::atomic<bool> stop{false};
    clock_.after(stop_after, [&] { stop = true; });
    c.run(stop);
  }

  Journal journal() {
    auto j = JournalStore(platform::real_file_system(), root_.journal_path).load();
    EXPECT_TRUE(j);
    return j->journal;
  }
  std::vector<Steady> launch_times() {
    std::vector<Steady> out;
    for (const auto& l : launcher_.launches()) out.push_back(l.at);
    return out;
  }

  // A check-in answer carrying an install directive for `bytes` as 3.0.0, signed by the one key
  // this agent pins for both releases and directives.
  std::string answer_with_directive(const std::string& bytes, std::uint64_t sequence) {
    ReleaseManifest m;
    m.version = SemVer::parse("3.0.0").value();
    m.os = "linux";
    m.arch = "x86_64";
    m.size = bytes.size();
    m.sha256 = crypto::sha256_hex(bytes);
    m.security_version = 1;
    m.created_at = std::chrono::time_point_cast<std::chrono::seconds>(clock_.now());
    Directive d;
    d.agent_id = "3f0c1d9a-6b7e-4a61-9c1e-0d2b7f5a8e41";
    d.channel = "stable";
    d.action = DirectiveAction::install;
    d.release = sign_envelope(std::string(kReleasePayloadType), m.to_payload(), {key_}).value();
    d.sequence = sequence;
    d.issued_at = std::chrono::time_point_cast<std::chrono::seconds>(clock_.now());
    d.expires_at = d.issued_at + std::chrono::hours(24);
    d.reason = "test";
    auto env = sign_envelope(std::string(kDirectivePayloadType), d.to_payload(), {key_}).value();
    protocol::CheckinResponse resp;
    resp.poll_interval_s = 10;
    resp.directive = boost::json::parse(serialize_envelope(env)).as_object();
    return resp.to_json();
  }

  crypto::PrivateKey key_ = crypto::PrivateKey::generate().value();
  InstallRoot root_;
  AgentConfig cfg_;
  platform::FakeClock clock_;
  FakeServer server_{clock_};
  platform::FakeProcessLauncher launcher_{clock_};
  platform::FakeServiceNotifier notifier_{clock_};
};

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
  std::optional<Steady> committed_at;
  const Steady start = clock_.steady_now();
  for (auto at = 1s; at < 12min; at += 1s) {
    clock_.at(start + at, [&] {
      if (!committed_at && journal().state == UpdateState::committed) {
        committed_at = clock_.steady_now();
      }
    });
  }
  run_for(12min);
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
