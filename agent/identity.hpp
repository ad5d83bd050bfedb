// The agent's identity: the id and token the server gave it at enrollment, kept in one owner-only
// file (0600, replaced atomically) in the state directory. It survives restarts and reinstalls
// of the controller, so an endpoint never appears twice: enrollment happens only when the file
// does not exist. A file that exists but does not parse is an error, not a reason to re-enroll.
#pragma once

#include <optional>
#include <string>

#include "common/error.hpp"
#include "platform/fs.hpp"

namespace rollout::agent {

struct Identity {
  std::string agent_id;
  std::string token;
};

// nullopt when the file does not exist; "invalid_identity" when it does not parse or is not
// owner-only.
Expected<std::optional<Identity>> load_identity(platform::FileSystem& fs, const std::string& path);
Status save_identity(platform::FileSystem& fs, const std::string& path, const Identity& id);

}  // namespace rollout::agent
