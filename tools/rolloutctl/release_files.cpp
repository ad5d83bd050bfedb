#include "tools/rolloutctl/release_files.hpp"

#include <fstream>
#include <vector>

#include "common/crypto.hpp"
#include "common/encoding.hpp"

namespace rollout::ctl {

Expected<ArtifactDigest> digest_file(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  if (!f) return make_error("io_error", "cannot read artifact " + path);
  crypto::Sha256 h;
  ArtifactDigest d;
  std::vector<char> buf(1 << 16);
  while (f) {
    f.read(buf.data(), static_cast<std::streamsize>(buf.size()));
    const auto n = static_cast<std::size_t>(f.gcount());
    h.update(buf.data(), n);
    d.size += n;
  }
  if (f.bad()) return make_error("io_error", "error while reading artifact " + path);
  d.sha256_hex = encoding::hex(h.finish());
  return d;
}

}  // namespace rollout::ctl
