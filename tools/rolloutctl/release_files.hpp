// File helpers shared by the release verbs: streaming an artifact through SHA-256 without loading
// it whole, and reading a small document with a size cap.
#pragma once

#include <cstdint>
#include <string>

#include "common/error.hpp"

namespace rollout::ctl {

struct ArtifactDigest {
  std::uint64_t size = 0;
  std::string sha256_hex;
};

// Error code "io_error" when the file cannot be read.
Expected<ArtifactDigest> digest_file(const std::string& path);
// Error "io_error" when unreadable, "too_large" past `cap` bytes.
Expected<std::string> read_capped(const std::string& path, std::size_t cap);

}  // namespace rollout::ctl
