// On Linux the unit file says how systemd restarts the daemon (installers/systemd, Restart=).
#include "platform/service_recovery.hpp"

namespace rollout::platform {

namespace {

Error unsupported() {
  return make_error("unsupported",
                    "service recovery actions are a Windows setting; on Linux the systemd unit's "
                    "Restart=always restarts the agent");
}

}  // namespace

Expected<ServiceRecovery> set_service_recovery(const std::string&, const ServiceRecovery&) {
  return unsupported();
}

Expected<ServiceRecovery> query_service_recovery(const std::string&) {
  return unsupported();
}

}  // namespace rollout::platform
