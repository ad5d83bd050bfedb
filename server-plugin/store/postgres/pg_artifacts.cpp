// The PostgreSQL artifact store: chunked uploads, publish in one transaction, ranged reads.
#include "server-plugin/store/postgres/pg_artifacts.hpp"

#include "common/crypto.hpp"
#include "common/encoding.hpp"

namespace rollout::server::pg {
namespace {

constexpr const char* kInsertChunk =
    "INSERT INTO artifact_chunks (upload_id, idx, data) VALUES ($1, $2, decode($3, 'hex'))";
// Removes an upload that will not be published, its chunks with it.
constexpr const char* kDropUpload =
    "WITH gone AS (DELETE FROM artifact_uploads WHERE id = $1 RETURNING id) "
    "DELETE FROM artifact_chunks WHERE upload_id = $1";

std::int64_t steady_seconds() {
  return std::chrono::duration_cast<std::chrono::seconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

class PgUpload final : public artifacts::Upload {
 public:
  PgUpload(std::shared_ptr<Pool> pool, std::string id, std::string sha256, std::uint64_t size,
           std::uint64_t chunk_size)
      : pool_(std::move(pool)),
        id_(std::move(id)),
        sha256_(std::move(sha256)),
        size_(size),
        chunk_size_(chunk_size) {}

  ~PgUpload() override {
    if (!done_) drop();
  }
  PgUpload(const PgUpload&) = delete;
  PgUpload& operator=(const PgUpload&) = delete;

  void write(std::string_view chunk) override {
    if (failed_ || done_ || chunk.empty()) return;
    received_ += chunk.size();
    if (received_ > size_) {
      failed_ = make_error("artifact_mismatch",
                           "the artifact is larger than the signed "
                           "manifest's " +
                               std::to_string(size_) + " bytes");
      pending_.clear();
      return;
    }
    hash_.update(chunk);
    while (!chunk.empty()) {
      const std::size_t take = std::min<std::size_t>(chunk.size(), chunk_size_ - pending_.size());
      pending_.append(chunk.substr(0, take));
      chunk.remove_prefix(take);
      if (pending_.size() == chunk_size_) flush();
      if (failed_) return;
    }
  }

  Status commit() override {
    if (done_) return make_error("internal", "artifact upload committed twice");
    Status st = publish();
    if (!st) drop();
    done_ = true;
    pending_.clear();
    pending_.shrink_to_fit();
    return st;
  }

 private:
  void flush() {
    auto lease = pool_->acquire();
    if (!lease) {
      failed_ = lease.error().context("storing the artifact");
      return;
    }
    auto r = (*lease)->prepared("art_chunk_put", kInsertChunk,
                                Params(id_, next_idx_, encoding::hex(pending_)));
    if (!r) {
      failed_ = r.error().context("storing the artifact");
      return;
    }
    ++next_idx_;
    pending_.clear();
  }

  Status publish() {
    if (failed_) return *failed_;
    if (received_ != size_ || encoding::hex(hash_.finish()) != sha256_) {
      return make_error("artifact_mismatch",
                        "the artifact's size or SHA-256 differs from the signed manifest (got " +
                            std::to_string(received_) + " of " + std::to_string(size_) + " bytes)");
    }
    if (!pending_.empty()) flush();
    if (failed_) return *failed_;
    auto lease = pool_->acquire();
    if (!lease) return lease.error().context("storing the artifact");
    Conn& c = **lease;
    auto step = [&]() -> Status {
      if (auto st = c.exec("BEGIN ISOLATION LEVEL READ COMMITTED"); !st) return st.error();
      // Taking our own row first: the collector cannot remove our chunks under us after this.
      auto mine =
          c.prepared("art_upload_take", "DELETE FROM artifact_uploads WHERE id = $1", Params(id_));
      if (!mine) return mine.error();
      if (mine->affected() != 1) {
        return make_error("storage",
                          "the upload was removed as stale before it was published; publish "
                          "again");
      }
      auto stored = c.prepared("art_upload_bytes",
                               "SELECT COALESCE(SUM(octet_length(data)), 0) FROM artifact_chunks "
                               "WHERE upload_id = $1",
                               Params(id_));
      if (!stored) return stored.error();
      auto n = stored->i64(0, 0);
      if (!n) return n.error();
      if (static_cast<std::uint64_t>(*n) != size_) {
        return make_error("storage", "the database holds " + std::to_string(*n) + " of the " +
                                         std::to_string(size_) + " bytes written");
      }
      auto ins =
          c.prepared("art_publish",
                     "INSERT INTO artifacts (sha256, size, chunk_size, upload_id, published_at) "
                     "VALUES ($1, $2, $3, $4, EXTRACT(EPOCH FROM now())::BIGINT) "
                     "ON CONFLICT (sha256) DO NOTHING",
                     Params(sha256_, static_cast<std::int64_t>(size_),
                            static_cast<std::int64_t>(chunk_size_), id_));
      if (!ins) return ins.error();
      if (ins->affected() == 0) {
        // Published by another upload meanwhile (the same bytes: same hash): ours goes.
        auto del = c.prepared("art_chunks_drop", "DELETE FROM artifact_chunks WHERE upload_id = $1",
                              Params(id_));
        if (!del) return del.error();
      }
      if (auto done = c.exec("COMMIT"); !done) return done.error();
      return {};
    };
    Status st = step();
    if (c.usable() && c.in_transaction()) (void)c.exec("ROLLBACK");
    if (!st) return st.error().context("publishing the artifact");
    return {};
  }

  // Best effort: what is left is collected as stale later.
  void drop() {
    auto lease = pool_->acquire();
    if (lease) (void)(*lease)->prepared("art_upload_drop", kDropUpload, Params(id_));
  }

  std::shared_ptr<Pool> pool_;
  const std::string id_, sha256_;
  const std::uint64_t size_, chunk_size_;
  std::string pending_;  // the chunk being filled, < chunk_size_ bytes between writes
  std::int64_t next_idx_ = 0;
  crypto::Sha256 hash_;
  std::uint64_t received_ = 0;
  std::optional<Error> failed_;
  bool done_ = false;
};

// A range of a published artifact, fetched one chunk's slice at a time.
class ChunkSource final : public http::BodySource {
 public:
  ChunkSource(std::shared_ptr<Pool> pool, std::string upload_id, std::uint64_t chunk_size,
              std::uint64_t offset, std::uint64_t length)
      : pool_(std::move(pool)),
        upload_id_(std::move(upload_id)),
        chunk_size_(chunk_size),
        at_(offset),
        end_(offset + length),
        size_(length) {}

  std::uint64_t size() const override { return size_; }

  Expected<std::string> read(std::size_t max) override {
    if (buffered_.size() == used_) {
      if (at_ >= end_) return std::string();
      if (auto st = fetch(); !st) return st.error();
    }
    const std::size_t n = std::min(max, buffered_.size() - used_);
    std::string out = buffered_.substr(used_, n);
    used_ += n;
    return out;
  }

 private:
  // The rest of the current chunk, up to the range's end.
  Status fetch() {
    const std::uint64_t idx = at_ / chunk_size_;
    const std::uint64_t within = at_ % chunk_size_;
    const std::uint64_t want = std::min(chunk_size_ - within, end_ - at_);
    auto lease = pool_->acquire();
    if (!lease) return lease.error();
    auto r = (*lease)->prepared(
        "art_chunk_get",
        "SELECT encode(substring(data FROM $3 FOR $4), 'hex') FROM artifact_chunks "
        "WHERE upload_id = $1 AND idx = $2",
        Params(upload_id_, static_cast<std::int64_t>(idx), static_cast<std::int64_t>(within + 1),
               static_cast<std::int64_t>(want)));
    if (!r) return r.error().context("reading the artifact");
    if (r->rows() != 1)
      return make_error("storage", "artifact chunk " + std::to_string(idx) + " is missing");
    auto bytes = encoding::unhex(r->text(0, 0));
    if (!bytes) return bytes.error().context("reading the artifact");
    if (bytes->size() != want) {
      return make_error("storage", "artifact chunk " + std::to_string(idx) + " is short");
    }
    buffered_ = std::move(bytes.value());
    used_ = 0;
    at_ += want;
    return {};
  }

  std::shared_ptr<Pool> pool_;
  const std::string upload_id_;
  const std::uint64_t chunk_size_;
  std::uint64_t at_;  // the next byte to fetch
  const std::uint64_t end_, size_;
  std::string buffered_;  // fetched, of which used_ bytes were given out
  std::size_t used_ = 0;
};

}  // namespace

Expected<std::unique_ptr<PgArtifactStore>> PgArtifactStore::open(std::shared_ptr<Pool> pool,
                                                                 ArtifactOptions options) {
  if (options.chunk_size == 0 || options.chunk_size > (64u << 20)) {
    return make_error("invalid_argument", "artifact chunk size must be 1 byte to 64 MiB");
  }
  std::unique_ptr<PgArtifactStore> s(new PgArtifactStore(std::move(pool), options));
  auto n = s->collect_stale_uploads(options.stale_after);
  if (!n) return n.error().context("collecting stale artifact uploads");
  return s;
}

Expected<std::int64_t> PgArtifactStore::collect_stale_uploads(std::chrono::seconds older_than) {
  last_collect_ = steady_seconds();
  auto lease = pool_->acquire();
  if (!lease) return lease.error();
  auto r = (*lease)->prepared(
      "art_collect",
      "WITH gone AS (DELETE FROM artifact_uploads "
      "WHERE started_at < EXTRACT(EPOCH FROM now())::BIGINT - $1 RETURNING id), "
      "chunks AS (DELETE FROM artifact_chunks WHERE upload_id IN (SELECT id FROM gone)) "
      "SELECT COUNT(*) FROM gone",
      Params(static_cast<std::int64_t>(older_than.count())));
  if (!r) return r.error();
  return r->i64(0, 0);
}

Expected<std::shared_ptr<artifacts::Upload>> PgArtifactStore::begin(const std::string& sha256,
                                                                    std::uint64_t size) {
  if (!artifacts::valid_name(sha256))
    return make_error("invalid_argument", "artifact name must be a lower-case hex SHA-256");
  if (steady_seconds() - last_collect_ >= 3600) (void)collect_stale_uploads(options_.stale_after);
  std::string id = encoding::hex(crypto::random_bytes(16));
  auto lease = pool_->acquire();
  if (!lease) return lease.error().context("storing the artifact");
  auto r = (*lease)->prepared("art_upload_begin",
                              "INSERT INTO artifact_uploads (id, sha256, size, started_at) "
                              "VALUES ($1, $2, $3, EXTRACT(EPOCH FROM now())::BIGINT)",
                              Params(id, sha256, static_cast<std::int64_t>(size)));
  if (!r) return r.error().context("storing the artifact");
  return std::shared_ptr<artifacts::Upload>(
      std::make_shared<PgUpload>(pool_, std::move(id), sha256, size, options_.chunk_size));
}

Expected<std::optional<std::uint64_t>> PgArtifactStore::published_size(const std::string& sha256) {
  if (!artifacts::valid_name(sha256))
    return make_error("invalid_argument", "artifact name must be a lower-case hex SHA-256");
  auto lease = pool_->acquire();
  if (!lease) return lease.error();
  auto r = (*lease)->prepared("art_size", "SELECT size FROM artifacts WHERE sha256 = $1",
                              Params(sha256));
  if (!r) return r.error();
  if (r->rows() == 0) return std::optional<std::uint64_t>();
  auto n = r->i64(0, 0);
  if (!n) return n.error();
  return std::optional<std::uint64_t>(static_cast<std::uint64_t>(*n));
}

Expected<std::shared_ptr<http::BodySource>> PgArtifactStore::read(const std::string& sha256,
                                                                  std::uint64_t offset,
                                                                  std::uint64_t length) {
  if (!artifacts::valid_name(sha256))
    return make_error("invalid_argument", "artifact name must be a lower-case hex SHA-256");
  auto lease = pool_->acquire();
  if (!lease) return lease.error();
  auto r = (*lease)->prepared("art_find",
                              "SELECT size, chunk_size, upload_id FROM artifacts WHERE sha256 = $1",
                              Params(sha256));
  if (!r) return r.error();
  if (r->rows() == 0) return make_error("not_found", "artifact " + sha256 + " is not stored");
  auto size = r->i64(0, 0);
  if (!size) return size.error();
  auto chunk = r->i64(0, 1);
  if (!chunk) return chunk.error();
  const auto total = static_cast<std::uint64_t>(*size);
  if (offset > total || length > total - offset || *chunk <= 0)
    return make_error("invalid_argument", "the range is outside the artifact");
  return std::shared_ptr<http::BodySource>(std::make_shared<ChunkSource>(
      pool_, r->text(0, 2), static_cast<std::uint64_t>(*chunk), offset, length));
}

}  // namespace rollout::server::pg
