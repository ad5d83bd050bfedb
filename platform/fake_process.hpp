// A ProcessLauncher for tests whose children are scripts on a FakeClock: "exits with code 3
// after 5 s", "is killed by SIGSEGV after 2 min and wrote these stderr lines", "fails to start",
// "ignores SIGTERM and needs the SIGKILL". Every launch and every stop is recorded with its
// virtual time, so a supervisor's restarts, backoff and stops can be asserted exactly.
//
// A child's end and its stderr lines are events on the clock (FakeClock::at), so an
// auto-advancing wait stops at the instant the child exits; poll() then reports it. wait_for() and
// terminate() pass virtual time through the clock's wait, as the real ones pass real time.
// wait_handles() is empty: nothing to poll, the clock's wait is the event source.
//
// Thread-safe: the records are guarded by a mutex. Each FakeProcess is owned by one thread (as a
// real Process is) and may outlive its launcher; the clock must outlive both.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "platform/clock.hpp"
#include "platform/process.hpp"

namespace rollout::platform {

// How one child behaves from its launch on (times are virtual, from the launch).
struct FakeChild {
  std::optional<std::string> launch_error;           // launch() fails with "launch_failed"
  std::optional<std::chrono::milliseconds> ends_in;  // nullopt: runs until stopped
  ExitStatus ends_with;                              // how it ends by itself
  std::vector<std::pair<std::chrono::milliseconds, std::string>> stderr_lines;  // (when, line)
  // After SIGTERM it ends this much later with `on_sigterm`; nullopt: it ignores SIGTERM and the
  // SIGKILL after the grace period ends it.
  std::optional<std::chrono::milliseconds> sigterm_takes = std::chrono::milliseconds(0);
  ExitStatus on_sigterm = ExitStatus::killed_by(15);

  static FakeChild runs();
  static FakeChild exits_after(std::chrono::milliseconds d, int code);
  static FakeChild killed_after(std::chrono::milliseconds d, int signal);
  static FakeChild fails_to_start(std::string message = "No such file or directory");
  FakeChild& writes_stderr(std::string line,
                           std::chrono::milliseconds at = std::chrono::milliseconds(0));
  FakeChild& ignores_sigterm();
  FakeChild& stops_after(std::chrono::milliseconds d, ExitStatus how = ExitStatus::killed_by(15));
};

class FakeProcessLauncher final : public ProcessLauncher {
 public:
  using Steady = std::chrono::steady_clock::time_point;

  struct Launch {
    LaunchOptions options;
    Steady at;
    std::int64_t pid = 0;  // 0 when it failed to start
  };
  struct Stop {
    std::int64_t pid = 0;
    Steady at;  // when terminate() was called (or the Process destroyed while running)
    std::chrono::milliseconds grace{0};
    ExitStatus how;
    bool forced = false;     // SIGKILL was needed
    bool destroyed = false;  // destroyed while running, not terminate()d
  };

  explicit FakeProcessLauncher(FakeClock& clock);
  ~FakeProcessLauncher() override;

  // The next launches follow these scripts in order; once they are used up, `script_for` (if
  // set) decides, else the default (runs until stopped).
  void push(FakeChild child);
  void set_script(std::function<FakeChild(const LaunchOptions&)> script_for);
  void set_default(FakeChild child);

  Expected<std::unique_ptr<Process>> launch(const LaunchOptions& options) override;

  std::vector<Launch> launches() const;
  std::vector<Stop> stops() const;
  // Children started and not yet ended at the clock's current time.
  std::size_t running() const;

  struct State;  // shared with the children it launched

 private:
  FakeClock& clock_;
  std::shared_ptr<State> state_;
};

}  // namespace rollout::platform
