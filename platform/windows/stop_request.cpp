// Console control events and the supervisor's named stop event set the flag (see
// stop_request.hpp). The event is waited on by a detached thread for the life of the process.
#include <windows.h>

#include <cstdlib>

#include "platform/stop_request.hpp"
#include "platform/windows/win.hpp"

namespace rollout::platform {

namespace {

std::atomic<bool>* g_flag = nullptr;

BOOL WINAPI on_console_event(DWORD type) {
  switch (type) {
    case CTRL_C_EVENT:
    case CTRL_BREAK_EVENT:
    case CTRL_CLOSE_EVENT:
    case CTRL_LOGOFF_EVENT:
    case CTRL_SHUTDOWN_EVENT:
      if (g_flag != nullptr) g_flag->store(true);
      return TRUE;  // handled: the main loop stops in its own time
    default:
      return FALSE;
  }
}

DWORD WINAPI wait_for_stop_event(void* event) {
  if (::WaitForSingleObject(static_cast<HANDLE>(event), INFINITE) == WAIT_OBJECT_0 &&
      g_flag != nullptr) {
    g_flag->store(true);
  }
  return 0;
}

}  // namespace

void watch_stop_requests(std::atomic<bool>& flag) {
  g_flag = &flag;
  ::SetConsoleCtrlHandler(&on_console_event, TRUE);
  const wchar_t* name = ::_wgetenv(L"ROLLOUT_STOP_EVENT");
  if (name == nullptr || *name == L'\0') return;
  HANDLE event = ::OpenEventW(SYNCHRONIZE, FALSE, name);
  if (event == nullptr) return;  // the supervisor is gone already; console events still work
  HANDLE thread = ::CreateThread(nullptr, 64 * 1024, &wait_for_stop_event, event, 0, nullptr);
  if (thread != nullptr) ::CloseHandle(thread);
}

void ignore_stop_requests() {
  g_flag = nullptr;  // console events are still "handled", and change nothing
  ::SetConsoleCtrlHandler(&on_console_event, TRUE);
}

}  // namespace rollout::platform
