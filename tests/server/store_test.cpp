#include "server-plugin/store.hpp"

#include <gtest/gtest.h>
#include <sqlite3.h>

#include <chrono>
#include <cmath>
#include <csignal>
#include <future>
#include <limits>
#include <map>
#include <random>
#include <thread>

#include <sys/wait.h>
#include <unistd.h>

#include "server-plugin/store/sqlite/db.hpp"
#include "server-plugin/store/sqlite/migrations.hpp"
#include "tests/server/store_backends.hpp"
#include "tests/server/targets_watcher.hpp"
#include "tests/testing/testing.hpp"

namespace rollout::server {
namespace {

// A database file at an older schema, as an older rollout-server left it: the real migrations up
// to `version` and nothing after, then `sql` run on it (rows in that schema's own columns).
void make_old_database(const std::string& path, int version, const std::string& sql) {
  {
    auto db = sqlite::Db::open(path);
    ASSERT_TRUE(db.ok()) << db.error().message;
    auto v = sqlite::migrate(*db, version);
    ASSERT_TRUE(v.ok()) << v.error().message;
    ASSERT_EQ(*v, version);
  }
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(path.c_str(), &db), SQLITE_OK);
  char* err = nullptr;
  const int rc = sqlite3_exec(db, sql.c_str(), nullptr, nullptr, &err);
  EXPECT_EQ(rc, SQLITE_OK) << (err ? err : "");
  sqlite3_free(err);
  sqlite3_close(db);
}

// SQLite specifics (the suite both backends run is suites/store_suite.cpp): the audit table refuses
// UPDATE and DELETE even from raw SQL, and a schema newer than the binary is refused.
TEST(SqliteStore, AuditRowsCannotBeChangedOrDeleted) {
  testing::TempDir dir;
  const auto path = (dir / "r.db").string();
  {
    auto store = open_store("sqlite:" + path).value();
    Event e;
    e.at = 1;
    e.user = "u";
    e.action = "rollback";
    ASSERT_TRUE(store->append_event(e).ok());
  }
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(path.c_str(), &db), SQLITE_OK);
  EXPECT_NE(sqlite3_exec(db, "UPDATE rollout_events SET reason = 'x'", nullptr, nullptr, nullptr),
            SQLITE_OK);
  EXPECT_NE(sqlite3_exec(db, "DELETE FROM rollout_events", nullptr, nullptr, nullptr), SQLITE_OK);
  ASSERT_EQ(
      sqlite3_exec(db, "INSERT INTO schema_migrations VALUES (999, 0)", nullptr, nullptr, nullptr),
      SQLITE_OK);
  sqlite3_close(db);
  auto again = open_store("sqlite:" + path);
  ASSERT_FALSE(again.ok());
  EXPECT_NE(again.error().message.find("newer than this server"), std::string::npos);
}

// Reads one value as text with the raw API, the way an operator's sqlite3 shell would.
std::string scalar(sqlite3* db, const char* sql) {
  sqlite3_stmt* st = nullptr;
  std::string out = "<error>";
  if (sqlite3_prepare_v2(db, sql, -1, &st, nullptr) == SQLITE_OK && sqlite3_step(st) == SQLITE_ROW)
    out = reinterpret_cast<const char*>(sqlite3_column_text(st, 0));
  sqlite3_finalize(st);
  return out;
}

TEST(SqliteStore, WalModeAndOneRowPerMigrationAfterReopens) {
  testing::TempDir dir;
  const auto path = (dir / "r.db").string();
  int version = 0;
  for (int i = 0; i < 3; ++i) version = open_store("sqlite:" + path).value()->schema_version();
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(path.c_str(), &db), SQLITE_OK);
  EXPECT_EQ(scalar(db, "PRAGMA journal_mode"), "wal");
  EXPECT_EQ(scalar(db, "SELECT COUNT(*) = COUNT(DISTINCT version) FROM schema_migrations"), "1");
  EXPECT_EQ(scalar(db, "SELECT MAX(version) FROM schema_migrations"), std::to_string(version));
  EXPECT_EQ(scalar(db, "SELECT COUNT(*) FROM schema_migrations"), std::to_string(version));
  sqlite3_close(db);
}

// A database made before latest_attempts existed gets it filled from its attempts on upgrade.
TEST(SqliteStore, UpgradingFillsLatestOutcomesFromEarlierReports) {
  testing::TempDir dir;
  const auto path = (dir / "r.db").string();
  make_old_database(path, 1, R"sql(
INSERT INTO update_attempts (id, agent_id, version, os, arch, outcome, occurred_at, received_at)
VALUES ('r1', 'a1', '1.0.0', 'linux', 'x86_64', 'failure', '2026-11-24T10:00:00.5Z', 5),
       ('r2', 'a1', '1.0.0', 'linux', 'x86_64', 'success', '2026-11-24T10:00:00.25Z', 5),
       ('r3', 'a2', '1.0.0', 'linux', 'x86_64', 'crash', '2026-11-24T10:00:00Z', 5);
)sql");
  auto reopened = open_store("sqlite:" + path);
  ASSERT_TRUE(reopened.ok()) << reopened.error().message;
  auto upgraded = std::move(reopened.value());
  const auto c = upgraded->release_counts(std::nullopt).value()[{"1.0.0", "linux", "x86_64"}];
  EXPECT_EQ(c.failure, 1u) << "a1: .5 is after .25";
  EXPECT_EQ(c.success, 0u);
  EXPECT_EQ(c.crash, 1u);
}

// Migration 8: occurred_at from RFC 3339 text to integer microseconds, exactly, and arrival order
// from the old rowid to seq. A database of schema 6 (filled the way an older server did, its
// latest_attempts built by migration 2's ranking) reads back the same times, the same latest
// outcomes and counts, and keeps its audit trail, logs and delivery log with their ids.
TEST(SqliteStore, MigratingToIntegerTimesKeepsEveryAttemptAndItsOrder) {
  testing::TempDir dir;
  const auto path = (dir / "r.db").string();
  make_old_database(path, 1, R"sql(
INSERT INTO update_attempts (id, agent_id, version, os, arch, outcome, stage, message, exit_code,
  occurred_at, received_at)
VALUES ('r1', 'a1', '1.0.0', 'linux', 'x86_64', 'success', '', '', NULL,
        '2026-11-24T10:00:00.5Z', 100),
       ('r2', 'a1', '1.0.0', 'linux', 'x86_64', 'failure', 'download', 'net', 7,
        '2026-11-24T10:00:00Z', 200),
       ('r3', 'a2', '1.0.0', 'linux', 'x86_64', 'crash', 'probation', 'boom', NULL,
        '2026-11-24T10:00:00.123456Z', 100),
       ('r4', 'a2', '1.0.0', 'linux', 'x86_64', 'failure', 'probation', 'boom', NULL,
        '2026-11-24T10:00:00.123457Z', 300),
       ('r5', 'a3', '1.0.0', 'linux', 'x86_64', 'failure', 'download', 'first', NULL,
        '2026-11-24T10:00:01Z', 100),
       ('r6', 'a3', '1.0.0', 'linux', 'x86_64', 'success', '', '', NULL,
        '2026-11-24T10:00:01Z', 100),
       ('r7', 'a4', '1.0.0', 'linux', 'x86_64', 'success', '', '', NULL,
        '1999-12-31T23:59:59.999999Z', 100);
)sql");
  make_old_database(path, 6, R"sql(
INSERT INTO rollout_events (at, user, action) VALUES (1, 'admin', 'promote'), (2, 'admin', 'block');
INSERT INTO logs (at, level, component, message) VALUES (1, 'info', 'x', 'one'), (2, 'info', 'x', 'two');
INSERT INTO webhook_deliveries (webhook_id, event_id, event_type, attempt, status, outcome, at)
  VALUES ('w', 1, 'release.promoted', 1, 200, 'delivered', 3);
)sql");
  auto opened = open_store("sqlite:" + path);
  ASSERT_TRUE(opened.ok()) << opened.error().message;
  auto store = std::move(opened.value());
  EXPECT_EQ(store->schema_version(), 8);
  std::map<std::string, std::string> times;
  for (const char* agent : {"a1", "a2", "a3", "a4"}) {
    for (const auto& a : store->agent_attempts(agent, 10).value()) times[a.id] = a.occurred_at;
  }
  EXPECT_EQ(times, (std::map<std::string, std::string>{{"r1", "2026-11-24T10:00:00.5Z"},
                                                       {"r2", "2026-11-24T10:00:00Z"},
                                                       {"r3", "2026-11-24T10:00:00.123456Z"},
                                                       {"r4", "2026-11-24T10:00:00.123457Z"},
                                                       {"r5", "2026-11-24T10:00:01Z"},
                                                       {"r6", "2026-11-24T10:00:01Z"},
                                                       {"r7", "1999-12-31T23:59:59.999999Z"}}));
  auto r2 = store->agent_attempts("a1", 10).value();
  ASSERT_EQ(r2.size(), 2u);
  EXPECT_EQ(r2[0].id, "r2") << "received last, listed first";
  EXPECT_EQ(r2[0].exit_code, 7);
  EXPECT_EQ(r2[0].message, "net");
  // a1: .5 after the whole second; a2: one microsecond later wins; a3: same instant, later
  // arrival (the old rowid) wins; a4 alone.
  std::map<std::string, std::string> latest;
  for (const auto& o : store->latest_outcomes({"1.0.0", "linux", "x86_64"}).value())
    latest[o.agent_id] = o.outcome;
  EXPECT_EQ(latest,
            (std::map<std::string, std::string>{
                {"a1", "success"}, {"a2", "failure"}, {"a3", "success"}, {"a4", "success"}}));
  const ReleaseKey key{"1.0.0", "linux", "x86_64"};
  const auto all = store->release_counts(std::nullopt).value()[key];
  const auto ranked = store->release_counts(0).value()[key];
  EXPECT_EQ(all.success, 3u);
  EXPECT_EQ(all.failure, 1u);
  EXPECT_EQ(all.crash, 0u);
  EXPECT_EQ(ranked.success, all.success) << "ranking the migrated attempts agrees";
  EXPECT_EQ(ranked.failure, all.failure);
  // New attempts come after the migrated ones: an equal time loses to the later arrival.
  ASSERT_TRUE(store
                  ->record_attempts({testing::sample_attempt("r8", "a3", key, "crash",
                                                             "2026-11-24T10:00:01Z", 400)})
                  .ok());
  EXPECT_EQ(store->release_counts(std::nullopt).value()[key].crash, 1u);
  EXPECT_EQ(store->release_counts(0).value()[key].crash, 1u);
  // The audit trail keeps its ids and goes on after them; logs and deliveries carry over.
  auto events = store->list_events(0, 10, std::nullopt).value();
  ASSERT_EQ(events.size(), 2u);
  EXPECT_EQ(events[0].id, 2);
  EXPECT_EQ(events[0].action, "block");
  Event e;
  e.at = 3;
  e.user = "admin";
  e.action = "rollback";
  EXPECT_EQ(store->append_event(e).value(), 3);
  EXPECT_EQ(store->query_logs("", "", 10).value().size(), 2u);
  EXPECT_EQ(store->list_webhook_deliveries("w", 10).value().size(), 1u);
}

// A database made before agent_releases existed: each agent's last directive and the version it
// last ran become reportable when they are published releases of its own platform; nothing else.
TEST(SqliteStore, UpgradingFillsAgentReleasesFromDirectivesAndRunningVersions) {
  testing::TempDir dir;
  const auto path = (dir / "r.db").string();
  make_old_database(path, 2, R"sql(
INSERT INTO releases (version, os, arch, product, size, sha256, security_version, manifest,
  created_at, published_by)
VALUES ('1.0.0', 'linux', 'x86_64', 'rollout-agent', 0, 'h1', 0, '{}', 0, 'admin'),
       ('1.1.0', 'linux', 'x86_64', 'rollout-agent', 0, 'h2', 0, '{}', 0, 'admin'),
       ('1.1.0', 'windows', 'x86_64', 'rollout-agent', 0, 'h3', 0, '{}', 0, 'admin');
INSERT INTO agents (id, token_hash, hostname, machine_id, os, arch, current_version, enrolled_at,
  last_checkin_at, directive_version, directive_action, directive_sequence)
VALUES ('a1', 't-a1', 'a1', 'a1', 'linux', 'x86_64', '1.0.0', 0, 42, '1.1.0', 'install', 1),
       -- runs no release, never directed
       ('a2', 't-a2', 'a2', 'a2', 'linux', 'x86_64', '2.0.0', 0, 42, NULL, NULL, NULL),
       -- 1.0.0 has no windows build
       ('a3', 't-a3', 'a3', 'a3', 'windows', 'x86_64', '1.0.0', 0, 42, '1.1.0', 'install', 1);
)sql");
  auto upgraded = open_store("sqlite:" + path).value();
  auto a1 = upgraded->list_agent_releases("a1").value();
  ASSERT_EQ(a1.size(), 2u);
  std::map<std::string, std::string> how;
  for (const auto& r : a1) how[r.release.version] = r.how;
  EXPECT_EQ(how["1.1.0"], "install");
  EXPECT_EQ(how["1.0.0"], "running");
  EXPECT_TRUE(upgraded->list_agent_releases("a2").value().empty());
  auto a3 = upgraded->list_agent_releases("a3").value();
  ASSERT_EQ(a3.size(), 1u);
  EXPECT_EQ(a3[0].release, (ReleaseKey{"1.1.0", "windows", "x86_64"}));
}

// A migration that fails halfway leaves nothing behind: the tables it created are gone and the
// version is not recorded, so fixing the cause and restarting just works.
// A database of schema 5 (one rollout row per release, policies without plans): its rollout
// becomes the default group's row, revision and all, and its policies read with no plan.
TEST(SqliteStore, UpgradingMakesEachRolloutTheDefaultGroupsRow) {
  testing::TempDir dir;
  const auto path = (dir / "r.db").string();
  make_old_database(path, 5, R"sql(
INSERT INTO rollouts VALUES ('1.1.0', 'linux', 'x86_64', '1.0.0', '{"p":1}', '[10000]',
  '{"wave":0}', 'paused', 'warning', 'health is Warning', 7, 100, 200);
INSERT INTO policies (scope, scope_id, channel) VALUES ('site', 'lab', 'stable');
)sql");
  auto upgraded = open_store("sqlite:" + path).value();
  auto rows = upgraded->list_rollouts({"1.1.0", "linux", "x86_64"}).value();
  ASSERT_EQ(rows.size(), 1u);
  EXPECT_EQ(rows[0].group, "default");
  EXPECT_EQ(rows[0].state, "paused");
  EXPECT_EQ(rows[0].reason, "health is Warning");
  EXPECT_EQ(rows[0].plan_json, R"({"p":1})");
  EXPECT_EQ(rows[0].rev, 7u);
  EXPECT_EQ(rows[0].updated_at, 200);
  RolloutRecord next = rows[0];
  next.rev = 8;
  EXPECT_TRUE(upgraded->update_rollout(next, 7).value()) << "updated on its revision as before";
  auto policies = upgraded->list_policies().value();
  ASSERT_EQ(policies.size(), 1u);
  EXPECT_FALSE(policies[0].waves.has_value());
}

TEST(SqliteStore, AFailedMigrationRollsBackCompletely) {
  testing::TempDir dir;
  const auto path = (dir / "r.db").string();
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(path.c_str(), &db), SQLITE_OK);
  // A stray 'logs' table makes the last statement of migration 1 fail.
  ASSERT_EQ(sqlite3_exec(db, "CREATE TABLE logs (x)", nullptr, nullptr, nullptr), SQLITE_OK);
  auto failed = open_store("sqlite:" + path);
  ASSERT_FALSE(failed.ok());
  EXPECT_NE(failed.error().message.find("migration 1"), std::string::npos)
      << failed.error().message;
  EXPECT_EQ(scalar(db, "SELECT COUNT(*) FROM sqlite_master WHERE name = 'releases'"), "0");
  ASSERT_EQ(sqlite3_exec(db, "DROP TABLE logs", nullptr, nullptr, nullptr), SQLITE_OK);
  sqlite3_close(db);
  EXPECT_TRUE(open_store("sqlite:" + path).ok());
}

// A database of schema 6, where two promotions could store the same promotion_seq (each read
// MAX()+1): upgrading keeps the order, parts the tie by promotion time, and the counter goes on
// from the highest.
TEST(SqliteStore, UpgradingPartsTiedPromotionSequencesAndCountsOnFromThem) {
  testing::TempDir dir;
  const auto path = (dir / "r.db").string();
  make_old_database(path, 6, R"sql(
INSERT INTO releases (version, os, arch, product, size, sha256, security_version, manifest,
  created_at, published_by, promoted_at, promotion_seq) VALUES
  ('1.0.0', 'linux', 'x86_64', 'p', 1, 'a', 1, '{}', 1, 'x', 100, 1),
  ('1.2.0', 'linux', 'x86_64', 'p', 1, 'b', 1, '{}', 1, 'x', 300, 2),
  ('1.1.0', 'linux', 'x86_64', 'p', 1, 'c', 1, '{}', 1, 'x', 200, 2),
  ('1.3.0', 'linux', 'x86_64', 'p', 1, 'd', 1, '{}', 1, 'x', NULL, 0);
)sql");
  auto upgraded = open_store("sqlite:" + path).value();
  std::map<std::string, std::uint64_t> seq;
  for (const auto& r : upgraded->list_releases().value()) seq[r.key.version] = r.promotion_seq;
  EXPECT_EQ(seq, (std::map<std::string, std::uint64_t>{
                     {"1.0.0", 1}, {"1.1.0", 2}, {"1.2.0", 3}, {"1.3.0", 0}}));
  EXPECT_EQ(upgraded->next_promotion_seq().value(), 4u);
  EXPECT_FALSE(upgraded->set_promoted({"1.3.0", "linux", "x86_64"}, 400, 3).ok())
      << "unique from now on";
}

// SQLite answers BUSY when another connection holds the write lock past the busy timeout: the
// store's retryable "conflict", not a storage failure.
TEST(SqliteStore, ABusyDatabaseIsAConflict) {
  testing::TempDir dir;
  const auto path = (dir / "r.db").string();
  { ASSERT_TRUE(open_store("sqlite:" + path).ok()); }
  auto holder = sqlite::Db::open(path);
  auto waiter = sqlite::Db::open(path);
  ASSERT_TRUE(holder.ok() && waiter.ok());
  ASSERT_TRUE(holder->exec("BEGIN IMMEDIATE").ok());
  ASSERT_TRUE(waiter->exec("PRAGMA busy_timeout=0").ok());  // no waiting in a test
  auto begin = waiter->exec("BEGIN IMMEDIATE");
  ASSERT_FALSE(begin.ok());
  EXPECT_EQ(begin.error().code, kConflict) << begin.error().message;
  auto write = waiter->prepare("INSERT INTO counters (name, value) VALUES ('x', 1)");
  ASSERT_TRUE(write.ok());
  auto st = write->run();
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.error().code, kConflict) << st.error().message;
  ASSERT_TRUE(holder->exec("ROLLBACK").ok());
}

TEST(SqliteStore, BadUrlsAreClearErrors) {
  EXPECT_EQ(open_store("mysql://x").error().code, "invalid_config");
  // Refused before any connection is tried.
  EXPECT_EQ(open_store("postgresql://127.0.0.1/x?pool_size=0").error().code, "invalid_config");
  EXPECT_FALSE(open_store("sqlite:/nonexistent-dir/x.db").ok());
  for (const auto* url : {"mysql://x", "", "sqlite", "postgresql://127.0.0.1/x?pool_size=x"}) {
    auto e = open_store(url);
    ASSERT_FALSE(e.ok()) << url;
    EXPECT_NE(e.error().message.find("database_url"), std::string::npos) << e.error().message;
  }
}

// SQLite calls the targets watcher on the committing thread: it has run when the committing call
// returns. And it runs outside the store's lock, so another thread's call is not held up by it
// (were it inside, the read below would wait for the watcher, which waits for the read).
TEST(SqliteStore, TheTargetsWatcherRunsBeforeTheCommitReturnsAndOutsideTheLock) {
  rollout::testing::TempDir dir;
  auto store = open_store("sqlite:" + (dir.path() / "feed.db").string()).value();
  auto counted = std::make_shared<rollout::testing::TargetsWatcher>();
  ASSERT_TRUE(store->watch_targets(rollout::testing::TargetsWatcher::fn(counted)).ok());
  ASSERT_TRUE(store->insert_release(rollout::testing::sample_release("1.0.0")).ok());
  EXPECT_EQ(counted->calls(), 1);

  std::promise<void> read_done;
  auto read_done_f = read_done.get_future();
  bool read_while_watching = false;
  std::thread reader;  // joined after the commit: inside the lock it could not finish before
  ASSERT_TRUE(store
                  ->watch_targets([&] {
                    reader = std::thread([&] {
                      (void)store->list_releases();
                      read_done.set_value();
                    });
                    read_while_watching =
                        read_done_f.wait_for(rollout::testing::TargetsWatcher::kLiveness) ==
                        std::future_status::ready;
                  })
                  .ok());
  ASSERT_TRUE(store->set_blocked({"1.0.0", "linux", "x86_64"}, "bad").ok());
  reader.join();
  EXPECT_TRUE(read_while_watching) << "the watcher ran inside the store's lock";
  ASSERT_TRUE(store->watch_targets({}).ok());
}

}  // namespace
}  // namespace rollout::server
