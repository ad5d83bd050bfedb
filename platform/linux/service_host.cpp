// systemd runs the daemon as a plain process (see service_host.hpp).
#include "platform/service_host.hpp"
#include "platform/stop_request.hpp"

namespace rollout::platform {

int run_service(const std::string&, std::atomic<bool>& stop, const std::function<int()>& body) {
  watch_stop_requests(stop);
  return body();
}

bool stderr_is_discarded() {
  return false;
}

}  // namespace rollout::platform
