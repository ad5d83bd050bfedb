// Artifacts in the PostgreSQL database (artifact_store: database; issue #14), so that every
// rollout-server on one database serves every artifact, with no shared file system.
//
// Tables (pg_migrations.cpp, migration 4): artifact_uploads (one row per upload in progress),
// artifact_chunks (upload_id, idx, data BYTEA of chunk_size bytes, the last one shorter) and
// artifacts (sha256 -> size, chunk_size, the upload_id whose chunks are its bytes). An upload
// registers itself, then writes each full chunk as it arrives (its own statement: memory holds
// at most one chunk), hashing as it goes. commit() checks size and SHA-256 and publishes in one
// transaction: it deletes its artifact_uploads row (which must still be there: an upload that the
// collector took is refused), inserts the artifacts row, and when another upload of the same
// artifact published first (ON CONFLICT DO NOTHING) deletes its own chunks instead; both succeed.
// Readers see an artifact only through its artifacts row, so a half-written upload is never
// visible. An upload dropped without commit() deletes its rows; one whose process died is
// collected later: uploads started longer ago than the store's stale_after are removed when a
// store opens and, at most hourly, when an upload begins.
//
// Reads lease a connection per chunk (never for a whole download, which may be slow) and select
// only the bytes of the range, chunk by chunk. Thread-safe: the store may be used from any
// thread; an upload or a source from one thread at a time. Failures are Error values ("storage"
// from the database, "conflict" as pg_conn.hpp says, "artifact_mismatch" for wrong bytes).
#pragma once

#include <atomic>
#include <chrono>
#include <memory>

#include "server-plugin/artifacts/artifact_store.hpp"
#include "server-plugin/store/postgres/pg_pool.hpp"

namespace rollout::server::pg {

struct ArtifactOptions {
  std::uint64_t chunk_size = 1 << 20;  // bytes per artifact_chunks row of a new upload
  // Uploads older than this are a dead process's leftovers (an upload at the host's slowest
  // allowed rate, 16 KiB/s, of 256 MiB takes under 5 h).
  std::chrono::seconds stale_after{24 * 3600};
};

class PgArtifactStore final : public artifacts::ArtifactStore {
 public:
  // Collects stale uploads before it returns (its error is returned too).
  static Expected<std::unique_ptr<PgArtifactStore>> open(std::shared_ptr<Pool> pool,
                                                         ArtifactOptions options = {});

  Expected<std::shared_ptr<artifacts::Upload>> begin(const std::string& sha256,
                                                     std::uint64_t size) override;
  Expected<std::optional<std::uint64_t>> published_size(const std::string& sha256) override;
  Expected<std::shared_ptr<http::BodySource>> read(const std::string& sha256, std::uint64_t offset,
                                                   std::uint64_t length) override;

  // Removes the uploads started more than `older_than` ago (by the database's clock) and their
  // chunks; the number removed.
  Expected<std::int64_t> collect_stale_uploads(std::chrono::seconds older_than);

 private:
  PgArtifactStore(std::shared_ptr<Pool> pool, ArtifactOptions options)
      : pool_(std::move(pool)), options_(options) {}

  std::shared_ptr<Pool> pool_;
  const ArtifactOptions options_;
  std::atomic<std::int64_t> last_collect_{0};  // steady-clock seconds of the last collection
};

}  // namespace rollout::server::pg
