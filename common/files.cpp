#include "common/files.hpp"

#include <fstream>

namespace rollout {

Expected<std::string> read_file_capped(const std::string& path, std::size_t cap) {
  std::ifstream f(path, std::ios::binary);
  if (!f) return make_error("io_error", "cannot read " + path);
  std::string data(cap + 1, '\0');
  f.read(data.data(), static_cast<std::streamsize>(data.size()));
  if (f.bad()) return make_error("io_error", "error while reading " + path);
  data.resize(static_cast<std::size_t>(f.gcount()));
  if (data.size() > cap) {
    return make_error("too_large", path + " is larger than " + std::to_string(cap) + " bytes");
  }
  return data;
}

}  // namespace rollout
