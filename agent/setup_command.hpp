// `rollout-agent setup` and `rollout-agent show-recovery`: what the Windows installer runs
// (installers/windows/rollout-agent.wxs, a deferred custom action after InstallServices and
// before StartServices) to turn its properties into the agent's config directory:
//
//   rollout-agent setup [--state-dir DIR] [--config-dir DIR] [--install-root DIR]
//                       [--service NAME] [--if-exists fail|keep|replace] NAME=VALUE...
//
// The state directory and install root default to platform/defaults.hpp's, the config directory
// to <state dir>/config: on Windows %ProgramData%\RolloutAgent\config, where the MSI's service
// arguments point (the installer passes no paths: its command line must fit in 255 characters).
// NAME is one of SERVER_URL, ENROLLMENT_KEY, RELEASE_KEYS, DIRECTIVE_KEYS, SERVER_CA, CHANNEL,
// EXECUTABLE (agent/setup.hpp says what each holds); an empty value is the same as leaving it out.
//   1. An existing config directory is left alone (--if-exists fail: exit 1, the default; keep:
//      exit 0, nothing validated, so an upgrade or repair without properties keeps the config)
//      unless the admin asked for `replace`.
//   2. Every property is validated before anything is touched: a bad one is exit 2 and one line
//      naming it, and nothing changes.
//   3. --service NAME: the service's recovery actions, restart on failure
//      (platform/service_recovery.hpp; also on `keep`, since an upgrade reinstalls the service).
//   4. The state directory and the install root made owner-only, the files written
//      owner-only (a DACL of SYSTEM and Administrators on Windows: agent.yaml holds the enrollment
//      key) into DIR.new, which then takes DIR's place; a failure removes DIR.new.
// `show-recovery NAME` prints the service's recovery actions as the service manager has them.
// Exit codes: 0 done, 1 could not write or set, 2 usage error or a bad property.
#pragma once

#include <cstdio>
#include <string>
#include <vector>

#include "platform/service_recovery.hpp"

namespace rollout::agent {

// What the installer asks of the service manager: restart after 10 s, 30 s, then every 60 s;
// the count starts again after a day without a failure; a stop with an error exit code counts
// too (the agent exits 1 when it cannot start, e.g. its state directory is refused).
platform::ServiceRecovery agent_service_recovery();

// `args` is what follows the subcommand's name. Messages go to `out` / `err`.
int run_setup_command(const std::vector<std::string>& args, std::FILE* out, std::FILE* err);
int run_show_recovery_command(const std::vector<std::string>& args, std::FILE* out, std::FILE* err);

}  // namespace rollout::agent
