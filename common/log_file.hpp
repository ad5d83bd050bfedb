// A log file rotated by size, for programs whose stderr nobody keeps (a Windows service: the SCM
// drops it). Lines are appended to `path`; a line that would take the file past `max_bytes` first
// rotates it: path.<count-1> is removed, path.<n> becomes path.<n+1>, path becomes path.1, and a
// fresh path is opened. So at most `count` files of about `max_bytes` each (a line longer than
// `max_bytes` goes alone into a fresh file), the newest in `path`. A restart appends to what is
// there and counts its size. The directory is created when missing.
//
// Platform-neutral (std::filesystem and std::ofstream, wide paths on Windows); every line is
// flushed as it is written, so a crash loses nothing written before it. A write or rotation that
// fails later (a full disk, a reader holding a file Windows will not rename) drops that line or
// keeps appending, and the next line tries again: logging never stops the program.
// Thread-safe through the log facade's own lock (Sink::write is called under it).
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "common/error.hpp"
#include "common/log.hpp"

namespace rollout::log {

struct FileOptions {
  std::string path;
  std::uint64_t max_bytes = 10 * 1024 * 1024;
  unsigned count = 5;  // files kept, the current one included (2..100)
  Format format = Format::text;
};

// Error "invalid_argument" for limits out of range (max_bytes below 4 KiB or above 1 GiB, count
// outside 2..100), "io_error" naming the path when the directory cannot be made or the file
// cannot be opened for appending.
Expected<std::shared_ptr<Sink>> make_file_sink(const FileOptions& options);

}  // namespace rollout::log
