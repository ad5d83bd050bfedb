// Where the agent keeps things when its configuration does not say, by OS convention:
//   Linux    state /var/lib/rollout-agent, install root /opt/rollout-agent, symlink pointers;
//   Windows  state %ProgramData%\RolloutAgent, install root %ProgramFiles%\RolloutAgent\managed,
//            pointer files (default_pointer_kind() in version_pointer.hpp).
// Stateless, thread-safe.
#pragma once

#include <string>

namespace rollout::platform {

// Identity, journal, report queue, downloads.
std::string default_state_dir();
// versions/<v>/, current, previous of the managed agent.
std::string default_install_root();

}  // namespace rollout::platform
