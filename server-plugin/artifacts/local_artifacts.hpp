// Artifacts in a local directory (data_dir/artifacts), the store of a single server or of
// servers that share that directory. An upload goes to a temporary file of its own in the
// directory while being hashed, and is published under its SHA-256 name only when size and hash
// equal the signed manifest's: fsync of the file, rename, fsync of the directory. A file already
// at that name is trusted only once its own hash has been checked (an empty or partial file left
// by a power cut is replaced). Nothing is left behind on failure or when an upload is dropped.
// Downloads are the file itself (http::FileRange), which the host streams without a copy.
// Memory use does not depend on an artifact's size. The store is thread-safe; one upload is used
// by one thread at a time, and concurrent uploads of one artifact each have their own temporary
// file (the last rename wins, with the same bytes).
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include "common/crypto.hpp"
#include "common/error.hpp"
#include "platform/fs.hpp"
#include "server-plugin/artifacts/artifact_store.hpp"

namespace rollout::server::artifacts {

class LocalUpload final : public Upload {
 public:
  // Creates the temporary file in `dir` for an artifact of `size` bytes with hex `sha256`.
  static Expected<std::shared_ptr<LocalUpload>> begin(
      const std::string& dir, std::string sha256, std::uint64_t size,
      platform::FileSystem& fs = platform::real_file_system());
  ~LocalUpload() override;

  // Appends a piece of the body. The first failure (disk full, more bytes than the manifest
  // says) is kept and later pieces are dropped; commit() reports it.
  void write(std::string_view chunk) override;
  // Checks size and hash against the manifest and publishes the file; "artifact_mismatch" when
  // they differ, the file system's error otherwise. The temporary file is gone afterwards.
  Status commit() override;

  LocalUpload(const LocalUpload&) = delete;
  LocalUpload& operator=(const LocalUpload&) = delete;

 private:
  LocalUpload(platform::FileSystem& fs, std::string dir, std::string sha256, std::uint64_t size,
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

class LocalArtifactStore final : public ArtifactStore {
 public:
  // `dir` must exist (make_app creates data_dir/artifacts).
  explicit LocalArtifactStore(std::string dir,
                              platform::FileSystem& fs = platform::real_file_system())
      : dir_(std::move(dir)), fs_(fs) {}

  Expected<std::shared_ptr<Upload>> begin(const std::string& sha256, std::uint64_t size) override;
  Expected<std::optional<std::uint64_t>> published_size(const std::string& sha256) override;
  Expected<std::shared_ptr<http::BodySource>> read(const std::string& sha256, std::uint64_t offset,
                                                   std::uint64_t length) override;
  Status attach(const std::string& sha256, std::uint64_t offset, std::uint64_t length,
                http::Response& r) override;

 private:
  // The published file's path after checking the name and that [offset, offset+length) is in it.
  Expected<std::string> checked_path(const std::string& sha256, std::uint64_t offset,
                                     std::uint64_t length);

  const std::string dir_;
  platform::FileSystem& fs_;
};

}  // namespace rollout::server::artifacts
