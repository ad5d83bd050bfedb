// Telling the service manager how the daemon is doing: ready after start-up, a one-line status,
// watchdog keep-alives. On Linux this is sd_notify (libsystemd) and every call is a no-op when
// the process was not started by systemd with Type=notify (NOTIFY_SOCKET unset). Behind an
// interface so the controller's tests can record the notifications instead.
// system_service_notifier() is stateless and thread-safe.
#pragma once

#include <chrono>
#include <optional>
#include <string_view>

namespace rollout::platform {

class ServiceNotifier {
 public:
  virtual ~ServiceNotifier() = default;
  virtual void notify_ready() = 0;
  virtual void notify_status(std::string_view text) = 0;
  virtual void notify_stopping() = 0;
  virtual void notify_watchdog() = 0;
  // How often the manager expects a keep-alive (WatchdogSec), or nullopt when no watchdog is
  // configured for this process. Send one at least every half of it.
  virtual std::optional<std::chrono::microseconds> watchdog_interval() = 0;
};

ServiceNotifier& system_service_notifier();

}  // namespace rollout::platform
