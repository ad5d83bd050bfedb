// The SCM service host (see service_host.hpp). The SCM calls service_main on a thread of its
// own; the body runs there, the control handler runs on the dispatcher's thread (the main
// thread, inside StartServiceCtrlDispatcherW) and only sets the flag and reports STOP_PENDING.
#include <windows.h>

#include <chrono>
#include <thread>

#include "platform/service.hpp"
#include "platform/service_host.hpp"
#include "platform/stop_request.hpp"
#include "platform/windows/service_status.hpp"
#include "platform/windows/win.hpp"

namespace rollout::platform {

namespace {

// What service_main needs; set once before the dispatcher starts.
std::wstring g_name;
std::atomic<bool>* g_stop = nullptr;
const std::function<int()>* g_body = nullptr;
std::atomic<int> g_exit_code{0};
std::atomic<bool> g_stopping{false};
std::atomic<bool> g_as_service{false};

DWORD WINAPI on_control(DWORD control, DWORD, void*, void*) {
  switch (control) {
    case SERVICE_CONTROL_STOP:
    case SERVICE_CONTROL_SHUTDOWN:
    case SERVICE_CONTROL_PRESHUTDOWN:
      system_service_notifier().notify_stopping();
      g_stopping.store(true);
      g_stop->store(true);
      return NO_ERROR;
    case SERVICE_CONTROL_INTERROGATE:
      return NO_ERROR;
    default:
      return ERROR_CALL_NOT_IMPLEMENTED;
  }
}

void WINAPI service_main(DWORD, LPWSTR*) {
  SERVICE_STATUS_HANDLE h = ::RegisterServiceCtrlHandlerExW(g_name.c_str(), &on_control, nullptr);
  if (h == nullptr) return;
  win::set_service_status_handle(h);
  g_as_service.store(true);
  auto& n = system_service_notifier();
  n.notify_watchdog();  // START_PENDING, checkpoint 1: the SCM sees the start begin
  // Checkpoints while stopping (and while starting), so the SCM sees progress, not a hang.
  std::atomic<bool> done{false};
  std::thread progress([&] {
    while (!done.load()) {
      std::this_thread::sleep_for(std::chrono::seconds(1));
      const DWORD s = win::reported_service_state();
      if (s == SERVICE_START_PENDING || s == SERVICE_STOP_PENDING) n.notify_watchdog();
    }
  });
  g_exit_code.store((*g_body)());
  done.store(true);
  progress.join();
  win::report_service_stopped(static_cast<DWORD>(g_exit_code.load()));
}

}  // namespace

int run_service(const std::string& name, std::atomic<bool>& stop,
                const std::function<int()>& body) {
  watch_stop_requests(stop);  // a console run (and a supervisor's stop event)
  g_name = win::wide(name);
  g_stop = &stop;
  g_body = &body;
  SERVICE_TABLE_ENTRYW table[] = {{g_name.data(), &service_main}, {nullptr, nullptr}};
  if (::StartServiceCtrlDispatcherW(table)) return g_exit_code.load();
  // Not started by the SCM: a console run for debugging (or a test); the body runs here.
  return body();
}

bool stderr_is_discarded() {
  return g_as_service.load();
}

}  // namespace rollout::platform
