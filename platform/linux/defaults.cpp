// Linux defaults (see defaults.hpp): the FHS places, and symlinks for the version pointers.
#include "platform/defaults.hpp"
#include "platform/version_pointer.hpp"

namespace rollout::platform {

std::string default_state_dir() {
  return "/var/lib/rollout-agent";
}

std::string default_install_root() {
  return "/opt/rollout-agent";
}

PointerKind default_pointer_kind() {
  return PointerKind::symlink;
}

}  // namespace rollout::platform
