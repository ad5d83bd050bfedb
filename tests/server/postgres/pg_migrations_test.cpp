// pg::migrate against the real cluster: once per database even with two servers starting at
// once, a failed step rolls back alone, a newer schema is refused; and the schema's own rules:
// the audit trail is append-only and its ids become visible in commit order.
#include "server-plugin/store/postgres/pg_migrations.hpp"

#include <gtest/gtest.h>

#include <array>
#include <string_view>
#include <thread>

#include "tests/testing/postgres/pg_cluster.hpp"

namespace rollout::server::pg {
namespace {

using testing::eventually;
using testing::PgCluster;

class PgMigrations : public ::testing::Test {
 protected:
  PgCluster& cluster = PgCluster::get();
  const std::string db = cluster.create_database();

  Conn open() {
    auto c = Conn::open(cluster.url(db));
    if (!c) throw std::runtime_error(c.error().message);
    return std::move(c).value();
  }
  std::int64_t count(Conn& c, const std::string& sql, const Params& p = Params()) {
    auto r = c.query(sql, p);
    if (!r) throw std::runtime_error(r.error().message);
    return *r->i64(0, 0);
  }
  // How many sessions wait for the advisory lock `key` (pg_locks splits it in two halves).
  std::int64_t waiting_for(Conn& c, std::int64_t key) {
    return count(c,
                 "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted "
                 "AND database = (SELECT oid FROM pg_database WHERE datname = current_database()) "
                 "AND ((classid::BIGINT << 32) | objid::BIGINT) = $1",
                 Params(key));
  }
  std::int64_t insert_event(Conn& c, const std::string& action) {
    auto r = c.query(
        "INSERT INTO rollout_events (at, \"user\", action) VALUES (1, 'op', $1) "
        "RETURNING id",
        Params(action));
    if (!r) throw std::runtime_error(r.error().message);
    return *r->i64(0, 0);
  }
};

TEST_F(PgMigrations, AFreshDatabaseGetsTheSchemaOnceAndASecondRunChangesNothing) {
  Conn c = open();
  auto v = migrate(c);
  ASSERT_TRUE(v) << v.error().message;
  EXPECT_EQ(*v, latest_schema_version());
  EXPECT_EQ(count(c, "SELECT count(*) FROM schema_migrations"), latest_schema_version());
  EXPECT_EQ(count(c, "SELECT count(*) FROM notify_lease"), 1);
  auto again = migrate(c);
  ASSERT_TRUE(again) << again.error().message;
  EXPECT_EQ(*again, latest_schema_version());
  EXPECT_EQ(count(c, "SELECT count(*) FROM schema_migrations"), latest_schema_version());
  EXPECT_EQ(count(c, "SELECT count(*) FROM notify_lease"), 1);
  EXPECT_FALSE(c.in_transaction());
  // The lock is released: another session takes it at once.
  Conn other = open();
  auto r = other.query("SELECT pg_try_advisory_lock($1)", Params(kMigrationLock));
  ASSERT_TRUE(r);
  EXPECT_TRUE(*r->boolean(0, 0));
}

TEST_F(PgMigrations, TwoServersStartingAtOnceApplyEachMigrationOnce) {
  Conn gate = open();
  ASSERT_TRUE(gate.query("SELECT pg_advisory_lock($1)", Params(kMigrationLock)));
  Conn a = open();
  Conn b = open();
  Expected<int> ra = make_error("unset", ""), rb = make_error("unset", "");
  std::thread ta([&] { ra = migrate(a); });
  std::thread tb([&] { rb = migrate(b); });
  // Both are inside migrate(), queued on the lock: now let them race for it.
  const bool queued = eventually([&] { return waiting_for(gate, kMigrationLock) == 2; });
  ASSERT_TRUE(gate.query("SELECT pg_advisory_unlock($1)", Params(kMigrationLock)));
  ta.join();
  tb.join();
  ASSERT_TRUE(queued);
  ASSERT_TRUE(ra) << ra.error().message;
  ASSERT_TRUE(rb) << rb.error().message;
  EXPECT_EQ(*ra, latest_schema_version());
  EXPECT_EQ(*rb, latest_schema_version());
  EXPECT_EQ(count(gate, "SELECT count(*) FROM schema_migrations"), latest_schema_version());
  EXPECT_EQ(count(gate, "SELECT count(DISTINCT version) FROM schema_migrations"),
            latest_schema_version());
  EXPECT_EQ(count(gate, "SELECT count(*) FROM notify_lease"), 1);  // migration 1's row, once
}

TEST_F(PgMigrations, ASchemaNewerThanTheBinaryIsRefusedAndLeftAlone) {
  Conn c = open();
  ASSERT_TRUE(migrate(c));
  ASSERT_TRUE(
      c.query("INSERT INTO schema_migrations VALUES ($1, 0)", Params(latest_schema_version() + 1)));
  auto v = migrate(c);
  ASSERT_FALSE(v);
  EXPECT_EQ(v.error().code, "storage");
  EXPECT_NE(v.error().message.find("newer than this server understands"), std::string::npos)
      << v.error().message;
  EXPECT_NE(v.error().message.find("upgrade rollout-server"), std::string::npos);
  EXPECT_EQ(count(c, "SELECT count(*) FROM schema_migrations"), latest_schema_version() + 1);
  EXPECT_FALSE(c.in_transaction());
}

TEST_F(PgMigrations, AFailingStepRollsBackAloneAndStopsTheRun) {
  Conn c = open();
  constexpr std::array<std::string_view, 3> steps = {
      "CREATE TABLE a (x BIGINT)",
      "CREATE TABLE b (x BIGINT); SELECT no_such_function()",
      "CREATE TABLE c (x BIGINT)",
  };
  auto v = migrate(c, steps);
  ASSERT_FALSE(v);
  EXPECT_NE(v.error().message.find("migration 2"), std::string::npos) << v.error().message;
  EXPECT_NE(v.error().message.find("no_such_function"), std::string::npos);
  EXPECT_FALSE(c.in_transaction());
  EXPECT_EQ(count(c, "SELECT COALESCE(MAX(version), 0) FROM schema_migrations"), 1);
  EXPECT_EQ(count(c, "SELECT count(*) FROM pg_tables WHERE tablename IN ('a', 'b', 'c')"), 1);
  Conn other = open();  // the lock was released on the error path too
  auto r = other.query("SELECT pg_try_advisory_lock($1)", Params(kMigrationLock));
  ASSERT_TRUE(r);
  EXPECT_TRUE(*r->boolean(0, 0));
}

TEST_F(PgMigrations, TimestampsAreIntegersAndAttemptsCarryTheirOwnSequence) {
  Conn c = open();
  ASSERT_TRUE(migrate(c));
  // Every column holding a time (at, *_at, *_at_us) is BIGINT; no text timestamps.
  auto r = c.exec(
      "SELECT table_name || '.' || column_name || ' ' || data_type FROM information_schema.columns "
      "WHERE table_schema = 'public' AND (column_name = 'at' OR column_name LIKE '%\\_at' OR "
      "column_name LIKE '%\\_at\\_us') AND data_type <> 'bigint'");
  ASSERT_TRUE(r) << r.error().message;
  for (int i = 0; i < r->rows(); ++i) ADD_FAILURE() << "not BIGINT: " << r->text(i, 0);
  EXPECT_EQ(count(c,
                  "SELECT count(*) FROM information_schema.columns WHERE table_name = "
                  "'update_attempts' AND column_name IN ('occurred_at_us', 'seq')"),
            2);
  EXPECT_EQ(count(c,
                  "SELECT count(*) FROM information_schema.columns WHERE table_name = "
                  "'latest_attempts' AND column_name = 'attempt_seq'"),
            1);
  // seq is assigned by the database, in insertion order.
  for (const char* id : {"r1", "r2"}) {
    ASSERT_TRUE(
        c.query("INSERT INTO update_attempts (id, agent_id, version, os, arch, outcome, "
                "occurred_at_us, received_at) VALUES ($1, 'a', '1.0.0', 'linux', "
                "'x86_64', 'success', 1, 1)",
                Params(id)));
  }
  EXPECT_LT(count(c, "SELECT seq FROM update_attempts WHERE id = 'r1'"),
            count(c, "SELECT seq FROM update_attempts WHERE id = 'r2'"));
}

TEST_F(PgMigrations, TheAuditTrailIsAppendOnly) {
  Conn c = open();
  ASSERT_TRUE(migrate(c));
  insert_event(c, "promote");
  for (const char* sql : {"UPDATE rollout_events SET reason = 'x'", "DELETE FROM rollout_events",
                          "TRUNCATE rollout_events"}) {
    auto r = c.exec(sql);
    ASSERT_FALSE(r) << sql;
    EXPECT_EQ(r.error().code, "constraint") << sql;
    EXPECT_NE(r.error().message.find("rollout_events is append-only"), std::string::npos)
        << r.error().message;
  }
  EXPECT_EQ(count(c, "SELECT count(*) FROM rollout_events WHERE reason = ''"), 1);
}

TEST_F(PgMigrations, AuditIdsBecomeVisibleInCommitOrder) {
  Conn a = open();
  ASSERT_TRUE(migrate(a));
  Conn b = open();
  Conn reader = open();
  const std::int64_t before = insert_event(a, "publish");

  ASSERT_TRUE(a.exec("BEGIN"));
  const std::int64_t first = insert_event(a, "promote");
  std::int64_t second = 0;
  std::thread writer([&] { second = insert_event(b, "rollback"); });  // autocommit
  // b waits for a's transaction before it gets an id, so no id after `before` is visible yet
  // and none can become visible out of order.
  const bool waits = eventually([&] {
    return count(reader,
                 "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted "
                 "AND pid = $1",
                 Params(b.backend_pid())) == 1;
  });
  const auto visible =
      count(reader, "SELECT count(*) FROM rollout_events WHERE id > $1", Params(before));
  ASSERT_TRUE(a.exec("COMMIT"));
  writer.join();
  ASSERT_TRUE(waits);
  EXPECT_EQ(visible, 0);
  EXPECT_GT(first, before);
  EXPECT_GT(second, first);

  // A rolled-back writer leaves a gap, never a later id visible before an earlier one.
  ASSERT_TRUE(a.exec("BEGIN"));
  const std::int64_t rolled = insert_event(a, "promote");
  ASSERT_TRUE(a.exec("ROLLBACK"));
  EXPECT_GT(insert_event(b, "promote"), rolled);

  // An explicit id (rows copied from SQLite when moving up) is kept.
  ASSERT_TRUE(
      a.exec("INSERT INTO rollout_events (id, at, \"user\", action) "
             "VALUES (1000, 1, 'op', 'copied')"));
  EXPECT_EQ(count(a, "SELECT id FROM rollout_events WHERE action = 'copied'"), 1000);
}

}  // namespace
}  // namespace rollout::server::pg
