// Where published artifacts live (issue #14), behind one interface so that publish and download
// do not care: the local directory data_dir/artifacts (LocalArtifactStore, local_artifacts.hpp),
// or the database itself (PostgreSQL: store/postgres/pg_artifacts.hpp), so that any of several
// rollout-server instances on one database serves an artifact published through any other.
//
// An artifact is named by the lower-case hex SHA-256 of its bytes. An upload takes the bytes as
// a request body (http::BodySink) and publishes them at commit() only when their size and
// SHA-256 are the signed manifest's ("artifact_mismatch" otherwise); publishing is atomic (the
// whole artifact or nothing), and an upload dropped without commit() leaves nothing behind.
// Concurrent uploads of one artifact are safe: the first commit publishes, a later one with the
// right bytes succeeds too and adds nothing. Reading gives a byte range as an http::BodySource;
// memory use never depends on an artifact's size.
//
// Thread-safety: an ArtifactStore may be used from any number of threads at once; one Upload or
// one source is used by one thread at a time. Failures are values: "invalid_argument" for a
// name that is not a SHA-256, "not_found" for an artifact that is not published, "storage" (or
// the file system's code) when the disk or database fails.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include "common/error.hpp"
#include "server-plugin/http/message.hpp"

namespace rollout::server {
struct ServerConfig;
class Store;
}  // namespace rollout::server

namespace rollout::server::artifacts {

// One upload in progress: write() the body in order, then commit() once.
class Upload : public http::BodySink {
 public:
  // Checks size and hash against what begin() was told and publishes; "artifact_mismatch" when
  // they differ. After commit() (whatever it returned) the upload holds nothing any more.
  virtual Status commit() = 0;
};

class ArtifactStore {
 public:
  virtual ~ArtifactStore() = default;

  // Starts the upload of an artifact of `size` bytes whose hex SHA-256 is `sha256`.
  virtual Expected<std::shared_ptr<Upload>> begin(const std::string& sha256,
                                                  std::uint64_t size) = 0;
  // The size of a published artifact, or nullopt when it is not published (here).
  virtual Expected<std::optional<std::uint64_t>> published_size(const std::string& sha256) = 0;
  // Bytes [offset, offset + length) of a published artifact, streamed; "invalid_argument" when
  // the range is not inside the artifact.
  virtual Expected<std::shared_ptr<http::BodySource>> read(const std::string& sha256,
                                                           std::uint64_t offset,
                                                           std::uint64_t length) = 0;
  // Sets the body of `r` to that range: read() by default; the local directory sends the file
  // itself (http::FileRange, which the host streams without a copy).
  virtual Status attach(const std::string& sha256, std::uint64_t offset, std::uint64_t length,
                        http::Response& r);
};

// True for 64 lower-case hex digits.
bool valid_name(const std::string& sha256);

// The store `artifact_store` in the config asks for (config.hpp): the directory under
// cfg.data_dir/artifacts, or `store`'s database (Store::database_artifacts()).
Expected<std::unique_ptr<ArtifactStore>> open_artifact_store(const ServerConfig& cfg, Store& store);

}  // namespace rollout::server::artifacts
