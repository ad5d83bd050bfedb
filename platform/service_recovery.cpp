// The OS-neutral part of service_recovery.hpp.
#include "platform/service_recovery.hpp"

namespace rollout::platform {

std::string describe(const ServiceRecovery& r) {
  if (r.restart_delays.empty()) return "no recovery actions";
  std::string out = "restart after ";
  for (std::size_t i = 0; i < r.restart_delays.size(); ++i) {
    out += (i ? ", " : "") + std::to_string(r.restart_delays[i].count()) + " s";
  }
  out += "; reset after " + std::to_string(r.reset_after.count()) + " s";
  out += r.on_error_exit ? "; also on an error exit" : "; on a crash only";
  return out;
}

}  // namespace rollout::platform
