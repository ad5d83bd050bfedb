// The PostgreSQL schema follows the SQLite one: after both migrations, the same tables with the
// same columns, except the differences the portable rules make on purpose (listed here). A new
// SQLite migration without its PostgreSQL twin (or the reverse) fails this test.
#include <gtest/gtest.h>

#include <set>
#include <string>

#include "server-plugin/store/postgres/pg_migrations.hpp"
#include "server-plugin/store/sqlite/db.hpp"
#include "server-plugin/store/sqlite/migrations.hpp"
#include "tests/testing/postgres/pg_cluster.hpp"

namespace rollout::server {
namespace {

using Columns = std::set<std::string>;  // "table.column"

Columns sqlite_columns() {
  auto db = sqlite::Db::open(":memory:");
  if (!db) throw std::runtime_error(db.error().message);
  if (auto v = sqlite::migrate(*db); !v) throw std::runtime_error(v.error().message);
  auto q = db->prepare(
      "SELECT m.name || '.' || p.name FROM sqlite_master m, pragma_table_info(m.name) p "
      "WHERE m.type = 'table' AND m.name NOT LIKE 'sqlite\\_%' ESCAPE '\\'");
  if (!q) throw std::runtime_error(q.error().message);
  Columns out;
  while (q->step()) out.insert(q->text(0));
  return out;
}

Columns postgres_columns(pg::Conn& conn) {
  auto r = conn.exec(
      "SELECT table_name || '.' || column_name FROM information_schema.columns "
      "WHERE table_schema = 'public'");
  if (!r) throw std::runtime_error(r.error().message);
  Columns out;
  for (int i = 0; i < r->rows(); ++i) out.insert(r->text(i, 0));
  return out;
}

TEST(PgSchema, HasTheTablesAndColumnsOfTheSqliteSchemaSaveThePortableRules) {
  auto& cluster = testing::PgCluster::get();
  auto conn = pg::Conn::open(cluster.url(cluster.create_database()));
  ASSERT_TRUE(conn) << conn.error().message;
  ASSERT_TRUE(pg::migrate(*conn));

  // SQLite's text timestamp and rowid ranking, replaced by integers and a sequence column.
  const Columns only_sqlite = {
      "update_attempts.occurred_at",
      "latest_attempts.occurred_s",
      "latest_attempts.occurred_frac",
      "latest_attempts.attempt_rowid",
  };
  const Columns only_postgres = {
      "update_attempts.occurred_at_us",
      "update_attempts.seq",
      "latest_attempts.occurred_at_us",
      "latest_attempts.attempt_seq",
      // Artifacts in the database (artifact_store: database); SQLite keeps them in files.
      "artifact_uploads.id",
      "artifact_uploads.sha256",
      "artifact_uploads.size",
      "artifact_uploads.started_at",
      "artifact_chunks.upload_id",
      "artifact_chunks.idx",
      "artifact_chunks.data",
      "artifacts.sha256",
      "artifacts.size",
      "artifacts.chunk_size",
      "artifacts.upload_id",
      "artifacts.published_at",
  };
  Columns expected;
  for (const auto& c : sqlite_columns()) {
    if (!only_sqlite.count(c)) expected.insert(c);
  }
  // Whichever of the renames SQLite has made already (the timestamps work) counts once.
  expected.insert(only_postgres.begin(), only_postgres.end());
  const Columns actual = postgres_columns(*conn);
  for (const auto& c : expected) {
    EXPECT_TRUE(actual.count(c)) << "PostgreSQL schema lacks " << c;
  }
  for (const auto& c : actual) {
    EXPECT_TRUE(expected.count(c)) << "PostgreSQL schema has " << c << ", SQLite does not";
  }
}

}  // namespace
}  // namespace rollout::server
