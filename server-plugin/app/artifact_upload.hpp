// Storing a published artifact: the bytes arrive as a request body (streamed by the host, or in
// memory from a host that buffers), go to a temporary file of their own under
// data_dir/artifacts while being hashed, and are published under their SHA-256 name only when
// size and hash equal the verified signed manifest's: fsync of the file, rename, fsync of the
// directory. A file already at that name is trusted only once its own hash has been checked (an
// empty or partial file left by a power cut is replaced). Nothing is left behind on failure.
// Memory use does not depend on the artifact's size. One upload is used by one thread at a time;
// concurrent uploads of the same artifact each have their own temporary file.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include "common/crypto.hpp"
#include "common/error.hpp"
#include "platform/fs.hpp"
#include "server-plugin/http/message.hpp"

namespace rollout::server {

class ArtifactUpload final : public http::BodySink {
 public:
  // Creates the temporary file in `dir` for an artifact of `size` bytes with hex `sha256`.
  static Expected<std::shared_ptr<ArtifactUpload>> begin(
      const std::string& dir, std::string sha256, std::uint64_t size,
      platform::FileSystem& fs = platform::real_file_system());
  ~ArtifactUpload() override;

  // Appends a piece of the body. The first failure (disk full, more bytes than the manifest
  // says) is kept and later pieces are dropped; commit() reports it.
  void write(std::string_view chunk) override;
  // Checks size and hash against the manifest and publishes the file; "artifact_mismatch" when
  // they differ, the file system's error otherwise. The temporary file is gone afterwards.
  Status commit();

  ArtifactUpload(const ArtifactUpload&) = delete;
  ArtifactUpload& operator=(const ArtifactUpload&) = delete;

 private:
  ArtifactUpload(platform::FileSystem& fs, std::string dir, std::string sha256, std::uint64_t size,
                 std::string tmp, platform::File file);
  Status publish();
  // True when `path` holds exactly the expected bytes.
  bool already_there(const std::string& path);

  platform::FileSystem& fs_;
  const std::string dir_, sha256_, tmp_;
  const std::uint64_t size_;
  platform::File file_;
  crypto::Sha256 hash_;
  std::uint64_t received_ = 0;
  std::optional<Error> failed_;
  bool done_ = false;
};

}  // namespace rollout::server
