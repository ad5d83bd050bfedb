// The update controller: one thread, one loop. It keeps the managed agent running (restarting it
// with backoff), checks in with the server (jitter, exponential backoff on errors, Retry-After,
// the server's interval), acts on verified directives (policy.hpp) by driving the journaled
// installer through download, verification, staging and the switch, watches the new version in
// probation (crash_limit crashes or a failed start → revert and a `crash` report with evidence;
// probation time passed and a check-in done on it → commit and `success`), and delivers the
// queued outcome reports until the server acknowledges them. It tells the service manager it is
// ready, what it is doing, and that it is alive.
//
// Nothing in the loop waits for the network for long: the artifact download runs on a
// DownloadWorker (its own transport, deps.downloads) and every check-in on a CheckinWorker (its
// own transport, deps.checkins), so supervision, the watchdog and a stop request are served every
// tick while bytes move or the server holds a check-in open (long-poll, long_poll.hpp); the
// workers touch only the part file and the request, the loop acts on their results. A change of
// what a check-in tells the server (version, state) cancels a held one and checks in at once.
// Probation is timed on the monotonic clock and its elapsed time is kept in the journal, so a
// wall-clock step neither shortens it nor a restart resets it. Any exit of the new version in
// probation that the controller did not ask for counts towards crash_limit.
#pragma once

#include <atomic>
#include <chrono>
#include <memory>
#include <optional>
#include <string>

#include "agent/checkin_worker.hpp"
#include "agent/config.hpp"
#include "agent/download_worker.hpp"
#include "agent/identity.hpp"
#include "agent/installer.hpp"
#include "agent/journal.hpp"
#include "agent/long_poll.hpp"
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
  net::Transport& transport;  // enrollment, reports (the loop's thread)
  net::Transport& downloads;  // artifact downloads (the download worker's thread)
  net::Transport& checkins;   // check-ins (the check-in worker's thread)
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

  // One pass of the loop, and the shutdown after it: run() is `while (!stop) {step(); wait}
  // shutdown()`. Public so tests on a fake clock drive the loop themselves.
  void step();
  void shutdown();

  const Journal& journal() const { return installer_->journal(); }

 private:
  using Steady = std::chrono::steady_clock::time_point;

  Status enroll();
  void supervise();
  void ensure_running();
  void on_managed_exit(const platform::ExitStatus& status, std::vector<std::string> stderr_tail);
  void check_probation();
  void checkin_step();
  void start_checkin();
  void finish_checkin(Expected<net::JsonResult> r);
  std::string told() const;
  void handle_directive(const boost::json::object& envelope);
  void continue_update();
  void download_step();
  void verify_and_stage();
  void switch_step();
  void finish_outcome();
  void flush_reports();
  void notify_status();
  void report_progress(bool force);
  std::chrono::milliseconds probation_elapsed() const;
  void save_probation_elapsed();
  void abandon(const Error& error);
  std::uint64_t next_random();
  std::chrono::milliseconds jitter(std::chrono::milliseconds base);
  std::chrono::milliseconds next_backoff(std::chrono::milliseconds& current,
                                         std::chrono::milliseconds cap);
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
  LongPoll long_poll_;
  // The check-in in flight (checkin_, declared after wake_ below) and what it was sent with.
  bool checkin_held_ = false;  // it asked the server to hold it
  Steady checkin_sent_at_{};
  std::string checkin_version_;  // the version it reported
  std::string checkin_told_;     // told() when it was sent
  // The running version the status line shows, read when told() was status_told_.
  std::string status_version_, status_told_;
  Steady next_report_flush_{};
  std::chrono::milliseconds report_backoff_{0};
  Steady next_update_step_{};
  std::chrono::milliseconds update_backoff_{0};
  std::uint32_t download_attempts_ = 0;
  // Declared before download_ and checkin_ so it outlives the workers, which notify it when
  // they finish.
  platform::Wake wake_;
  std::unique_ptr<DownloadWorker> download_;
  std::unique_ptr<CheckinWorker> checkin_;
  std::uint64_t download_started_at_bytes_ = 0;
  Steady next_progress_report_{};
  // While downloading, as of the last progress report: for the status line and check-ins.
  std::optional<unsigned> progress_percent_;
  std::uint64_t progress_bytes_ = 0;
  // A directive whose update failed is retried (the server re-sends it) only after a backoff that
  // grows per failure; its failure is reported once.
  struct FailedDirective {
    std::uint64_t sequence = 0;
    std::string version, sha256;
    std::uint32_t failures = 0;
    Steady retry_at{};
    std::chrono::milliseconds backoff{0};
  };
  std::optional<FailedDirective> failed_directive_;
  std::string last_reported_id_;
  // Probation clock: probation_base_ was persisted, probation_mark_ is when this process began
  // adding to it (empty: not counting yet).
  std::chrono::milliseconds probation_base_{0};
  std::optional<Steady> probation_mark_;
  Steady next_probation_save_{};
  bool checked_in_on_target_ = false;
  Steady last_watchdog_{};
  std::string last_status_;
  std::uint64_t rng_state_;
};

}  // namespace rollout::agent
