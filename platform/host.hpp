// Facts about the machine the agent runs on: its host name and a stable machine identity (on
// Linux /etc/machine-id, which survives reinstalls of our packages). Stateless, thread-safe.
#pragma once

#include <string>

#include "common/error.hpp"

namespace rollout::platform {

std::string host_name();
// "not_found" when the OS offers none.
Expected<std::string> machine_id();
// The OS and architecture this binary was built for, as release manifests spell them
// ("linux" / "windows", "x86_64" / "aarch64").
std::string build_os();
std::string build_arch();

}  // namespace rollout::platform
