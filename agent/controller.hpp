// The update controller: one thread, one loop. It keeps the managed agent running (restarting it
// with backoff), checks in with the server (jitter, exponential backoff on errors, Retry-After,
// the server's interval), acts on verified directives (policy.hpp) by driving the journaled
// installer through download, verification, staging and the switch, watches the new version in
// probation (crash_limit crashes or a failed start → revert and a `crash` report with evidence;
// probation time passed and a check-in done on it → commit and `success`), and delivers the
// queued outcome reports until the server acknowledges them. It tells the service manager it is
// ready, what it is doing, and that it is alive.
#pragma once

#include <atomic>
#include <chrono>
#include <memory>
#include <optional>
#include <string>

#include "agent/config.hpp"
#include "agent/identity.hpp"
#include "agent/installer.hpp"
#include "agent/journal.hpp"
#include "agent/report_queue.hpp"
#include "common/http/client.hpp"
#include "common/signed_document.hpp"
#include "platform/clock.hpp"
#include "platform/fs.hpp"
#include "platform/process.hpp"
#include "platform/service.hpp"

namespace rollout::agent {

struct ControllerDeps {
  platform::FileSystem& fs;
  const platform::Clock& clock;
  net::Transport& transport;
  platform::ProcessLauncher& launcher;
  platform::ServiceNotifier& notifier;
};

class Controller {
 public:
  Controller(AgentConfig config, ControllerDeps deps);
  ~Controller();

  // Loads keys, prepares the state directory, recovers the install root and the journal, and
  // loads the identity (enrolling once if there is none). Errors are fatal for the process.
  Status start();
  // Runs until `stop` becomes true (a signal handler sets it), then stops the managed agent
  // (SIGTERM, SIGKILL after a grace period).
  void run(const std::atomic<bool>& stop);

  const Journal& journal() const { return installer_->journal(); }

 private:
  using Steady = std::chrono::steady_clock::time_point;

  Status enroll();
  void supervise();
  void ensure_running();
  void on_managed_exit(const platform::ExitStatus& status, std::vector<std::string> stderr_tail);
  void check_probation();
  void checkin();
  void handle_directive(const boost::json::object& envelope);
  void continue_update();
  void download_step();
  void verify_and_stage();
  void switch_step();
  void finish_outcome();
  void flush_reports();
  void notify_status();
  void abandon(const Error& error);
  std::chrono::milliseconds jitter(std::chrono::milliseconds base);
  std::chrono::milliseconds next_backoff(std::chrono::milliseconds& current);
  std::string current_version();
  std::string artifact_url() const;
  std::string state_text() const;

  AgentConfig cfg_;
  ControllerDeps deps_;
  KeyRing release_keys_, directive_keys_;
  std::unique_ptr<JournalStore> store_;
  std::unique_ptr<Installer> installer_;
  std::unique_ptr<ReportQueue> reports_;
  Identity identity_;

  std::unique_ptr<platform::Process> managed_;
  std::string managed_version_;
  Steady managed_restart_at_{};
  std::chrono::milliseconds managed_backoff_{0};
  std::optional<platform::ExitStatus> last_crash_;
  std::vector<std::string> last_crash_stderr_;

  Steady next_checkin_{};
  std::chrono::milliseconds poll_interval_;
  std::chrono::milliseconds checkin_backoff_{0};
  Steady next_report_flush_{};
  std::chrono::milliseconds report_backoff_{0};
  Steady next_update_step_{};
  std::chrono::milliseconds update_backoff_{0};
  std::uint32_t download_attempts_ = 0;
  bool checked_in_on_target_ = false;
  Steady last_watchdog_{};
  std::string last_status_;
  std::uint64_t rng_state_;
};

}  // namespace rollout::agent
