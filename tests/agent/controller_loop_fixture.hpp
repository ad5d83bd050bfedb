// The controller's loop on a FakeClock with a fake launcher, notifier and transport: the fake
// server (check-ins scripted per call, long-poll holds in virtual time) and a fixture that runs a
// fresh Controller (as a new process would) for a span of virtual time. Used by
// controller_loop_test.cpp and long_poll_test.cpp.
#pragma once

#include <gtest/gtest.h>

#include <atomic>
#include <boost/json.hpp>
#include <condition_variable>
#include <deque>
#include <functional>
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

using Steady = std::chrono::steady_clock::time_point;

// Answers enrollment, check-ins (scripted per call: status, body, Retry-After, headers, a hold
// or a transport failure) and reports, and records when each check-in arrived on the fake clock
// and what it asked for. Thread-safe.
class FakeServer final : public net::Transport {
 public:
  explicit FakeServer(platform::FakeClock& clock) : clock_(clock) {}
  struct Answer {
    Answer() = default;
    Answer(long s, std::string b, std::optional<std::chrono::seconds> ra = {})
        : status(s), body(std::move(b)), retry_after(ra) {}
    long status = 200;
    std::string body = R"({"poll_interval_s":60})";
    std::optional<std::chrono::seconds> retry_after;
    std::vector<std::pair<std::string, std::string>> headers;  // lower-case names
    // Held this long (virtual time, which this fake moves itself: see hold()) before answering,
    // unless the request is cancelled first or its own timeout ends it (error "timeout").
    std::chrono::milliseconds hold{0};
    std::optional<Error> error;  // a transport failure instead of an answer, after the hold
  };
  // What a check-in asked for.
  struct Seen {
    Steady at;
    std::optional<std::string> prefer;  // its Prefer header
    std::optional<std::chrono::seconds> timeout;
  };
  void push_checkin(Answer a) {
    std::lock_guard lock(mu_);
    script_.push_back(std::move(a));
  }
  void set_default(Answer a) {
    std::lock_guard lock(mu_);
    default_ = std::move(a);
  }
  // Answers every check-in the script does not (e.g. by its Prefer header).
  void set_responder(std::function<Answer(const net::Request&)> fn) {
    std::lock_guard lock(mu_);
    responder_ = std::move(fn);
  }
  std::vector<Seen> seen() const {
    std::lock_guard lock(mu_);
    return seen_;
  }
  int cancelled() const {
    std::lock_guard lock(mu_);
    return cancelled_;
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
    if (r.url.ends_with("/checkin")) return checkin(r);
    std::lock_guard lock(mu_);
    net::JsonResult out;
    out.status = 200;
    if (r.url.ends_with("/enroll")) {
      out.body = protocol::EnrollResponse{"3f0c1d9a-6b7e-4a61-9c1e-0d2b7f5a8e41", "tok"}.to_json();
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
  Expected<net::JsonResult> checkin(const net::Request& r) {
    Answer a;
    {
      std::lock_guard lock(mu_);
      checkins_.push_back(clock_.steady_now());
      Seen s{clock_.steady_now(), std::nullopt, r.timeout};
      for (const auto& [name, value] : r.headers) {
        if (name == "Prefer") s.prefer = value;
      }
      seen_.push_back(s);
      a = responder_ ? responder_(r) : default_;
      if (!script_.empty()) {
        a = script_.front();
        script_.pop_front();
      }
    }
    const bool timed_out = r.timeout && a.hold > *r.timeout;
    if (!hold(r, timed_out ? std::chrono::milliseconds(*r.timeout) : a.hold)) {
      std::lock_guard lock(mu_);
      ++cancelled_;
      return make_error("cancelled", "the transfer was cancelled");
    }
    if (timed_out) return make_error("timeout", "request timed out (fake)");
    if (a.error) return *a.error;
    net::JsonResult out;
    out.status = a.status;
    out.body = a.body;
    out.retry_after = a.retry_after;
    out.headers = a.headers;
    return out;
  }

  // Holds a request for `d` of virtual time. The loop waits for this answer (Wake::expect), so
  // virtual time stands still unless this thread moves it: one loop tick at a time, each only
  // once the loop has parked again, so it supervises, feeds the watchdog and sees a stop at every
  // tick. The cancel check is polled all along, as curl does; false: cancelled.
  bool hold(const net::Request& r, std::chrono::milliseconds d) {
    const Steady until = clock_.steady_now() + d;
    const auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds(30);
    std::uint64_t ticked_at = 0;
    while (clock_.steady_now() < until) {
      for (;;) {
        if (r.cancelled && r.cancelled()) return false;
        if (clock_.waits() > ticked_at && clock_.await_waiters(1, std::chrono::milliseconds(5))) {
          break;
        }
        if (std::chrono::steady_clock::now() > give_up) {
          ADD_FAILURE() << "the loop never waited while a check-in was held";
          return false;
        }
        std::this_thread::sleep_for(std::chrono::microseconds(50));
      }
      ticked_at = clock_.waits();
      clock_.advance(
          std::min<Steady::duration>(std::chrono::milliseconds(200), until - clock_.steady_now()));
    }
    return !(r.cancelled && r.cancelled());
  }

  platform::FakeClock& clock_;
  mutable std::mutex mu_;
  std::deque<Answer> script_;
  Answer default_;
  std::function<Answer(const net::Request&)> responder_;
  std::vector<Seen> seen_;
  int cancelled_ = 0;
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
    cfg_.poll_interval = std::chrono::seconds(60);
    cfg_.probation = std::chrono::minutes(10);
    cfg_.crash_limit = 2;
    cfg_.max_backoff = std::chrono::minutes(15);
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
    Controller c(cfg_, {platform::real_file_system(), clock_, server_, server_, server_, launcher_,
                        notifier_});
    auto st = c.start();
    ASSERT_TRUE(st) << st.error().message;
    std::atomic<bool> stop{false};
    clock_.after(stop_after, [&] { stop = true; });
    c.run(stop);
  }

  // Runs for `stop_after` and returns when (to the second) the journal first said committed.
  std::optional<Steady> run_until_committed(std::chrono::seconds stop_after) {
    std::optional<Steady> committed_at;
    const Steady start = clock_.steady_now();
    for (auto at = std::chrono::seconds(1); at < stop_after; at += std::chrono::seconds(1)) {
      clock_.at(start + at, [&] {
        if (!committed_at && journal().state == UpdateState::committed) {
          committed_at = clock_.steady_now();
        }
      });
    }
    run_for(stop_after);
    return committed_at;
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

}  // namespace rollout::agent::test
