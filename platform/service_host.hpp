// Running the daemon under the OS's service manager, or in a console for debugging: the same
// binary does both.
//   Linux    systemd starts it as a plain process: stop requests are SIGTERM/SIGINT
//            (stop_request.hpp) and readiness goes through sd_notify (service.hpp).
//   Windows  started by the SCM, it connects with StartServiceCtrlDispatcherW; the control handler
//            accepts STOP, SHUTDOWN and PRESHUTDOWN, each of which sets the stop flag; the service
//            is START_PENDING until the daemon calls notify_ready() (then SERVICE_RUNNING), and
//            STOP_PENDING with a checkpoint advanced every second while it stops, then STOPPED
//            with the body's exit code. Started from a console, the dispatcher cannot connect and
//            the body simply runs, stopped by Ctrl+C / Ctrl+Break.
// Call once from main(); `stop` must outlive the process.
#pragma once

#include <atomic>
#include <functional>
#include <string>

namespace rollout::platform {

// Runs `body` (the daemon; it polls `stop`) as described above and returns its exit code.
int run_service(const std::string& name, std::atomic<bool>& stop, const std::function<int()>& body);

// True inside run_service's body when the service manager started the program and keeps none of
// its stderr (the Windows SCM), so the daemon must log to a file of its own; false under systemd
// (journald keeps stderr) and in a console.
bool stderr_is_discarded();

}  // namespace rollout::platform
