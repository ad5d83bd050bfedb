#include <unistd.h>

#include <fstream>

#include "platform/host.hpp"

namespace rollout::platform {

std::string host_name() {
  char buf[256] = {};
  if (::gethostname(buf, sizeof buf - 1) != 0) return "unknown";
  return buf;
}

Expected<std::string> machine_id() {
  for (const char* path : {"/etc/machine-id", "/var/lib/dbus/machine-id"}) {
    std::ifstream f(path);
    std::string id;
    if (std::getline(f, id) && id.size() >= 16 && id.size() <= 64 &&
        id.find_first_not_of("0123456789abcdef") == std::string::npos) {
      return id;
    }
  }
  return make_error("not_found", "no /etc/machine-id");
}

std::string build_os() {
  return "linux";
}

}  // namespace rollout::platform
