// The link between the Windows service host and the ServiceNotifier: the host registers its
// control handler with the SCM and hands the status handle here; from then on
// system_service_notifier() reports to the SCM. Without a handle (a console run for debugging)
// every notification is a no-op, as sd_notify is without NOTIFY_SOCKET. Thread-safe.
#pragma once

#include <windows.h>

namespace rollout::platform::win {

void set_service_status_handle(SERVICE_STATUS_HANDLE handle);

// The state last reported to the SCM (SERVICE_START_PENDING before notify_ready), and the
// checkpoint counter of the current pending state. For the service host and tests.
DWORD reported_service_state();
// The final SERVICE_STOPPED, with the daemon's exit code (0: a clean stop).
void report_service_stopped(DWORD exit_code);
DWORD reported_checkpoint();

}  // namespace rollout::platform::win
