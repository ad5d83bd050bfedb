// Writes a file that only the owner may read (private keys, agent credentials). The file is
// created with owner-only permissions from the first byte (never world-readable, not even
// briefly) and must not exist yet: an existing file or a pre-placed symlink is an error, so a
// key is never silently replaced.
#pragma once

#include <string>
#include <string_view>

#include "common/error.hpp"

namespace rollout::platform {

Status write_new_secret_file(const std::string& path, std::string_view bytes);

}  // namespace rollout::platform
