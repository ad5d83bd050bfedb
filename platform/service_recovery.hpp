// What the OS's service manager does when the daemon's service fails: restart it after a delay.
//   Windows  the service's recovery actions (ChangeServiceConfig2W: SERVICE_CONFIG_FAILURE_ACTIONS
//            and SERVICE_CONFIG_FAILURE_ACTIONS_FLAG, so a stop with a non-zero exit code counts
//            as a failure too, not only a crash). wixl cannot write the MSI's MsiServiceConfig
//            tables, so the installer's setup step sets them (agent/setup_command.hpp).
//   Linux    the systemd unit (installers/systemd, Restart=always) does this; both calls return
//            "unsupported".
// Stateless; each call opens the service manager afresh.
#pragma once

#include <chrono>
#include <string>
#include <vector>

#include "common/error.hpp"

namespace rollout::platform {

struct ServiceRecovery {
  // One restart per failure, the n-th after restart_delays[n] (the last one repeats).
  std::vector<std::chrono::seconds> restart_delays;
  // The failure count goes back to zero after this long without a failure.
  std::chrono::seconds reset_after{0};
  // A stop with a non-zero exit code counts as a failure (not only a crash).
  bool on_error_exit = false;

  bool operator==(const ServiceRecovery&) const = default;
};

// "restart after 10 s, 30 s, 60 s; reset after 86400 s; also on an error exit"
std::string describe(const ServiceRecovery& r);

// Sets the recovery actions of the installed service `name` (needs an administrator) and returns
// what the service manager took: `on_error_exit` false when it does not know that setting (wine's
// services.exe answers ERROR_INVALID_LEVEL; every Windows since Vista knows it).
Expected<ServiceRecovery> set_service_recovery(const std::string& name, const ServiceRecovery& r);
// Reads them back: only restart actions are described (other action types are an error naming
// them, so nothing is silently taken for a restart).
Expected<ServiceRecovery> query_service_recovery(const std::string& name);

}  // namespace rollout::platform
