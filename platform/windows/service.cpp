// SCM-based ServiceNotifier. The SCM has no status text and no watchdog: ready becomes
// SERVICE_RUNNING (accepting STOP, SHUTDOWN and PRESHUTDOWN), stopping becomes
// SERVICE_STOP_PENDING, and a keep-alive while a state is pending advances its checkpoint so the
// SCM sees progress instead of a hung service. Failures to report are ignored on purpose: the
// daemon must not stop because its manager cannot be told something.
#include <windows.h>

#include <atomic>
#include <mutex>

#include "platform/service.hpp"
#include "platform/windows/service_status.hpp"

namespace rollout::platform {

namespace {

constexpr DWORD kWaitHintMs = 30'000;

class ScmNotifier final : public ServiceNotifier {
 public:
  void attach(SERVICE_STATUS_HANDLE h) {
    std::lock_guard lock(mu_);
    handle_ = h;
  }

  void notify_ready() override {
    report(SERVICE_RUNNING,
           SERVICE_ACCEPT_STOP | SERVICE_ACCEPT_SHUTDOWN | SERVICE_ACCEPT_PRESHUTDOWN);
  }
  void notify_status(std::string_view) override {}
  void notify_stopping() override { report(SERVICE_STOP_PENDING, 0); }
  void notify_watchdog() override {
    std::lock_guard lock(mu_);
    if (state_ == SERVICE_START_PENDING || state_ == SERVICE_STOP_PENDING) {
      ++checkpoint_;
      send_locked();
    }
  }
  std::optional<std::chrono::microseconds> watchdog_interval() override { return std::nullopt; }

  void stopped(DWORD exit_code) {
    std::lock_guard lock(mu_);
    state_ = SERVICE_STOPPED;
    accepted_ = 0;
    checkpoint_ = 0;
    exit_code_ = exit_code;
    send_locked();
  }

  DWORD state() const {
    std::lock_guard lock(mu_);
    return state_;
  }
  DWORD checkpoint() const {
    std::lock_guard lock(mu_);
    return checkpoint_;
  }

 private:
  void report(DWORD state, DWORD accepted) {
    std::lock_guard lock(mu_);
    if (state_ != state) checkpoint_ = 0;
    state_ = state;
    accepted_ = accepted;
    send_locked();
  }

  void send_locked() {
    if (handle_ == nullptr) return;
    SERVICE_STATUS s{};
    s.dwServiceType = SERVICE_WIN32_OWN_PROCESS;
    s.dwCurrentState = state_;
    s.dwControlsAccepted = accepted_;
    // A non-zero exit is a service-specific error, which the SCM's recovery actions act on.
    s.dwWin32ExitCode = exit_code_ == 0 ? NO_ERROR : ERROR_SERVICE_SPECIFIC_ERROR;
    s.dwServiceSpecificExitCode = exit_code_;
    const bool pending = state_ == SERVICE_START_PENDING || state_ == SERVICE_STOP_PENDING;
    s.dwCheckPoint = pending ? checkpoint_ : 0;
    s.dwWaitHint = pending ? kWaitHintMs : 0;
    (void)::SetServiceStatus(handle_, &s);
  }

  mutable std::mutex mu_;  // guards every member below
  SERVICE_STATUS_HANDLE handle_ = nullptr;
  DWORD state_ = SERVICE_START_PENDING;
  DWORD accepted_ = 0;
  DWORD checkpoint_ = 0;
  DWORD exit_code_ = 0;
};

ScmNotifier& notifier() {
  static ScmNotifier n;
  return n;
}

}  // namespace

ServiceNotifier& system_service_notifier() {
  return notifier();
}

namespace win {

void set_service_status_handle(SERVICE_STATUS_HANDLE handle) {
  notifier().attach(handle);
}
DWORD reported_service_state() {
  return notifier().state();
}
void report_service_stopped(DWORD exit_code) {
  notifier().stopped(exit_code);
}
DWORD reported_checkpoint() {
  return notifier().checkpoint();
}

}  // namespace win
}  // namespace rollout::platform
