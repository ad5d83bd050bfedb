// Streaming an artifact through SHA-256 without loading it whole (sign-release and verify).
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

}  // namespace rollout::ctl
