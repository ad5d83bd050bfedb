#include "common/files.hpp"

#include <fstream>

namespace rollout {

Expected<std::string> read_file_capped(const std::string& path, std::size_t cap) {
  std::ifstream f(path, std::ios::binary);
  if (!f) return make_error("io_error", "cannot read " + path);
  // Read in chunks: the cap may be gigabytes while the file is small, so never allocate the cap.
  std::string data;
  char buf[64 * 1024];
  while (f) {
    f.read(buf, sizeof buf);
    const auto n = static_cast<std::size_t>(f.gcount());
    if (data.size() + n > cap) {
      return make_error("too_large", path + " is larger than " + std::to_string(cap) + " bytes");
    }
    data.append(buf, n);
  }
  if (f.bad()) return make_error("io_error", "error while reading " + path);
  return data;
}

}  // namespace rollout
