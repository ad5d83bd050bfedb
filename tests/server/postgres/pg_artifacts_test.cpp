// What only the database artifact store has (the behaviour both artifact stores share is
// tests/server/suites/artifact_store_suite.cpp, which pg_tests runs on PostgreSQL): leftovers of
// an upload whose process died are collected when a store opens, never visible as published, a
// live upload of another server is left alone, and an upload collected under its feet is refused
// at commit; a chunk size of its own per upload.
#include "server-plugin/store/postgres/pg_artifacts.hpp"

#include <gtest/gtest.h>

#include "common/crypto.hpp"
#include "common/encoding.hpp"
#include "server-plugin/store/postgres/pg_store.hpp"
#include "tests/testing/postgres/pg_cluster.hpp"

namespace rollout::server::pg {
namespace {

using testing::PgCluster;

std::string sha_of(std::string_view bytes) {
  crypto::Sha256 h;
  h.update(bytes);
  return encoding::hex(h.finish());
}

class PgArtifacts : public ::testing::Test {
 protected:
  void SetUp() override {
    auto& cluster = PgCluster::get();
    url_ = cluster.url(cluster.create_database());
    auto store = PgStore::open(url_);  // the schema, migration 4 included
    ASSERT_TRUE(store) << store.error().message;
    auto conn = Conn::open(url_);
    ASSERT_TRUE(conn) << conn.error().message;
    conn_.emplace(std::move(conn.value()));
    auto pool = Pool::open(PoolOptions{url_, 4, std::chrono::milliseconds(5000)});
    ASSERT_TRUE(pool) << pool.error().message;
    pool_ = std::move(pool.value());
  }

  std::unique_ptr<PgArtifactStore> open_store(ArtifactOptions o = {}) {
    auto s = PgArtifactStore::open(pool_, o);
    EXPECT_TRUE(s) << s.error().message;
    return s ? std::move(s.value()) : nullptr;
  }

  std::int64_t count(const std::string& sql) {
    auto r = conn_->exec(sql);
    EXPECT_TRUE(r) << r.error().message;
    return r ? r->i64(0, 0).value() : -1;
  }

  std::string url_;
  std::optional<Conn> conn_;
  std::shared_ptr<Pool> pool_;
};

TEST_F(PgArtifacts, LeftoversOfADeadUploadAreCollectedAtOpenAndNeverPublished) {
  const std::string sha(64, 'a');
  // What a process killed mid-upload leaves: its upload row and some chunks, a day old; and a
  // live upload of another server, started just now.
  ASSERT_TRUE(conn_->exec(
      "INSERT INTO artifact_uploads VALUES ('dead', '" + sha +
      "', 10, EXTRACT(EPOCH FROM now())::BIGINT - 90000), ('live', '" + sha +
      "', 10, EXTRACT(EPOCH FROM now())::BIGINT);"
      "INSERT INTO artifact_chunks VALUES ('dead', 0, '\\x0102'), ('dead', 1, '\\x03'), "
      "('live', 0, '\\x0405')"));
  auto store = open_store();
  ASSERT_TRUE(store);
  EXPECT_EQ(count("SELECT count(*) FROM artifact_uploads WHERE id = 'dead'"), 0);
  EXPECT_EQ(count("SELECT count(*) FROM artifact_chunks WHERE upload_id = 'dead'"), 0);
  EXPECT_EQ(count("SELECT count(*) FROM artifact_uploads WHERE id = 'live'"), 1);
  EXPECT_EQ(count("SELECT count(*) FROM artifact_chunks WHERE upload_id = 'live'"), 1);
  auto size = store->published_size(sha);
  ASSERT_TRUE(size);
  EXPECT_FALSE(size->has_value()) << "an upload in progress is not an artifact";
  EXPECT_EQ(store->read(sha, 0, 1).error().code, "not_found");
}

TEST_F(PgArtifacts, AnUploadCollectedBeforeItsCommitIsRefusedAndPublishesNothing) {
  auto store = open_store();
  ASSERT_TRUE(store);
  const std::string bytes(3000, 'z');
  const std::string sha = sha_of(bytes);
  auto up = store->begin(sha, bytes.size());
  ASSERT_TRUE(up) << up.error().message;
  (*up)->write(bytes);
  // This upload stalled for longer than stale_after; another server collects it.
  ASSERT_TRUE(conn_->exec("UPDATE artifact_uploads SET started_at = 0"));
  auto other = open_store();
  ASSERT_TRUE(other);
  auto st = (*up)->commit();
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.error().code, "storage");
  EXPECT_NE(st.error().message.find("stale"), std::string::npos) << st.error().message;
  EXPECT_FALSE(store->published_size(sha)->has_value());
  EXPECT_EQ(count("SELECT count(*) FROM artifact_chunks"), 0);
  // Published again, it is there.
  auto again = store->begin(sha, bytes.size());
  ASSERT_TRUE(again);
  (*again)->write(bytes);
  ASSERT_TRUE((*again)->commit());
  EXPECT_EQ(store->published_size(sha)->value_or(0), bytes.size());
}

TEST_F(PgArtifacts, EachArtifactIsReadWithTheChunkSizeItWasWrittenWith) {
  auto small = open_store(ArtifactOptions{1000, std::chrono::hours(24)});
  auto large = open_store(ArtifactOptions{4096, std::chrono::hours(24)});
  ASSERT_TRUE(small && large);
  std::string bytes;
  for (int i = 0; i < 10'500; ++i) bytes.push_back(static_cast<char>(i % 251));
  const std::string sha = sha_of(bytes);
  auto up = small->begin(sha, bytes.size());
  ASSERT_TRUE(up);
  for (std::size_t at = 0; at < bytes.size(); at += 333) (*up)->write(bytes.substr(at, 333));
  ASSERT_TRUE((*up)->commit());
  EXPECT_EQ(count("SELECT count(*) FROM artifact_chunks"), 11) << "1000-byte chunks, one short";
  EXPECT_EQ(count("SELECT max(octet_length(data)) FROM artifact_chunks"), 1000);
  auto src = large->read(sha, 999, 2002);
  ASSERT_TRUE(src) << src.error().message;
  std::string got;
  for (;;) {
    auto piece = (*src)->read(4096);
    ASSERT_TRUE(piece) << piece.error().message;
    if (piece->empty()) break;
    got += *piece;
  }
  EXPECT_EQ(got, bytes.substr(999, 2002));
  EXPECT_EQ(PgArtifactStore::open(pool_, ArtifactOptions{0, std::chrono::hours(1)}).error().code,
            "invalid_argument");
}

}  // namespace
}  // namespace rollout::server::pg
