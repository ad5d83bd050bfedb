// Reading small files whole with a size cap (keys, manifests, config): a file over the cap is
// refused before it is read into memory. Portable standard-library I/O only.
#pragma once

#include <string>

#include "common/error.hpp"

namespace rollout {

// Error "io_error" when the file cannot be read, "too_large" when it exceeds `cap` bytes.
Expected<std::string> read_file_capped(const std::string& path, std::size_t cap);

}  // namespace rollout
