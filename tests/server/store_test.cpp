#include "server-plugin/store.hpp"

#include <gtest/gtest.h>
#include <sqlite3.h>

#include <csignal>
#include <limits>
#include <map>
#include <random>
#include <thread>

#include <sys/wait.h>
#include <unistd.h>

#include "server-plugin/store/sqlite/db.hpp"
#include "tests/server/store_backends.hpp"
#include "tests/testing/testing.hpp"

namespace rollout::server {
namespace {

// What migration 7 adds (the promotion counter and promotion_seq's UNIQUE index), dropped to
// make a database of an older schema.
constexpr const char* kDropPromotionCounter =
    "DROP INDEX releases_promotion_seq; DROP TABLE counters; ";
// What the migrations after 3 add (5: webhooks, 6: policies' wave plans, 7), dropped to make a
// database of an older schema.
const std::string kDropWebhookTables =
    std::string(
        "DROP TABLE webhooks; DROP TABLE webhook_deliveries; DROP TABLE notify_watch; "
        "DROP TABLE notify_lease; ALTER TABLE policies DROP COLUMN waves; ") +
    kDropPromotionCounter;

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
  EXPECT_EQ(scalar(db, "SELECT COUNT(*) FROM schema_migrations"), std::to_string(version));
  EXPECT_EQ(scalar(db, "SELECT MAX(version) FROM schema_migrations"), std::to_string(version));
  sqlite3_close(db);
}

// A database made before latest_attempts existed gets it filled from its attempts on upgrade.
TEST(SqliteStore, UpgradingFillsLatestOutcomesFromEarlierReports) {
  testing::TempDir dir;
  const auto path = (dir / "r.db").string();
  {
    auto store = open_store("sqlite:" + path).value();
    Attempt a;
    a.release = {"1.0.0", "linux", "x86_64"};
    a.received_at = 5;
    std::vector<Attempt> batch;
    for (auto [id, agent, outcome, at] :
         {std::tuple{"r1", "a1", "failure", "2026-11-24T10:00:00.5Z"},
          std::tuple{"r2", "a1", "success", "2026-11-24T10:00:00.25Z"},
          std::tuple{"r3", "a2", "crash", "2026-11-24T10:00:00Z"}}) {
      a.id = id;
      a.agent_id = agent;
      a.outcome = outcome;
      a.occurred_at = at;
      batch.push_back(a);
    }
    ASSERT_TRUE(store->record_attempts(batch).ok());
  }
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(path.c_str(), &db), SQLITE_OK);
  ASSERT_EQ(sqlite3_exec(db,
                         (std::string("DROP TABLE latest_attempts; DROP INDEX attempts_received; "
                                      "DROP TABLE agent_releases; DROP TABLE rollouts; "
                                      "ALTER TABLE policies DROP COLUMN rollout; ") +
                          kDropWebhookTables + "DELETE FROM schema_migrations WHERE version >= 2")
                             .c_str(),
                         nullptr, nullptr, nullptr),
            SQLITE_OK)
      << "back to the first schema, as an older rollout-server left it";
  sqlite3_close(db);
  auto reopened = open_store("sqlite:" + path);
  ASSERT_TRUE(reopened.ok()) << reopened.error().message;
  auto upgraded = std::move(reopened.value());
  const auto c = upgraded->release_counts(std::nullopt).value()[{"1.0.0", "linux", "x86_64"}];
  EXPECT_EQ(c.failure, 1u) << "a1: .5 is after .25";
  EXPECT_EQ(c.success, 0u);
  EXPECT_EQ(c.crash, 1u);
}

// A database made before agent_releases existed: each agent's last directive and the version it
// last ran become reportable when they are published releases of its own platform; nothing else.
TEST(SqliteStore, UpgradingFillsAgentReleasesFromDirectivesAndRunningVersions) {
  testing::TempDir dir;
  const auto path = (dir / "r.db").string();
  {
    auto store = open_store("sqlite:" + path).value();
    for (auto [version, os] : {std::pair{"1.0.0", "linux"}, std::pair{"1.1.0", "linux"},
                               std::pair{"1.1.0", "windows"}}) {
      Release r;
      r.key = {version, os, "x86_64"};
      r.product = "rollout-agent";
      r.sha256 = std::string(60, 'b') + version + os[0];
      r.manifest = "{}";
      r.published_by = "admin";
      ASSERT_TRUE(store->insert_release(r).ok());
    }
    for (auto [id, os, running, directed] :
         {std::tuple{"a1", "linux", "1.0.0", "1.1.0"},       // both count
          std::tuple{"a2", "linux", "2.0.0", ""},            // runs no release, never directed
          std::tuple{"a3", "windows", "1.0.0", "1.1.0"}}) {  // 1.0.0 has no windows build
      Agent a;
      a.id = id;
      a.token_hash = std::string("t-") + id;
      a.hostname = a.machine_id = id;
      a.os = os;
      a.arch = "x86_64";
      a.current_version = running;
      a.last_checkin_at = 42;
      ASSERT_TRUE(store->insert_agent(a).ok());
      if (*directed) {
        ASSERT_TRUE(store->set_agent_directive(id, {directed, "install", 1, 99, "{}"}).ok());
      }
    }
  }
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(path.c_str(), &db), SQLITE_OK);
  ASSERT_EQ(sqlite3_exec(db,
                         (std::string("DROP TABLE agent_releases; DROP TABLE rollouts; "
                                      "ALTER TABLE policies DROP COLUMN rollout; ") +
                          kDropWebhookTables + "DELETE FROM schema_migrations WHERE version >= 3")
                             .c_str(),
                         nullptr, nullptr, nullptr),
            SQLITE_OK)
      << "back to schema 2, as an older rollout-server left it";
  sqlite3_close(db);
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
  { ASSERT_TRUE(open_store("sqlite:" + path).ok()); }
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(path.c_str(), &db), SQLITE_OK);
  ASSERT_EQ(sqlite3_exec(db, R"sql(
DROP TABLE rollouts;
CREATE TABLE rollouts (
  version TEXT NOT NULL, os TEXT NOT NULL, arch TEXT NOT NULL,
  previous_version TEXT NOT NULL DEFAULT '',
  plan TEXT NOT NULL, thresholds TEXT NOT NULL, memory TEXT NOT NULL,
  state TEXT NOT NULL CHECK (state IN ('rolling_out', 'paused', 'complete', 'rolled_back')),
  rule TEXT NOT NULL DEFAULT '', reason TEXT NOT NULL DEFAULT '',
  rev INTEGER NOT NULL, started_at INTEGER NOT NULL, updated_at INTEGER NOT NULL,
  PRIMARY KEY (version, os, arch));
INSERT INTO rollouts VALUES ('1.1.0', 'linux', 'x86_64', '1.0.0', '{"p":1}', '[10000]',
  '{"wave":0}', 'paused', 'warning', 'health is Warning', 7, 100, 200);
ALTER TABLE policies DROP COLUMN waves;
INSERT INTO policies (scope, scope_id, channel) VALUES ('site', 'lab', 'stable');
DROP INDEX releases_promotion_seq; DROP TABLE counters;
DELETE FROM schema_migrations WHERE version >= 6;
)sql",
                         nullptr, nullptr, nullptr),
            SQLITE_OK)
      << sqlite3_errmsg(db);
  sqlite3_close(db);
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
  { ASSERT_TRUE(open_store("sqlite:" + path).ok()); }
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(path.c_str(), &db), SQLITE_OK);
  ASSERT_EQ(sqlite3_exec(db,
                         (std::string(kDropPromotionCounter) +
                          "INSERT INTO releases (version, os, arch, product, size, sha256, "
                          "security_version, manifest, created_at, published_by, promoted_at, "
                          "promotion_seq) VALUES "
                          "('1.0.0', 'linux', 'x86_64', 'p', 1, 'a', 1, '{}', 1, 'x', 100, 1),"
                          "('1.2.0', 'linux', 'x86_64', 'p', 1, 'b', 1, '{}', 1, 'x', 300, 2),"
                          "('1.1.0', 'linux', 'x86_64', 'p', 1, 'c', 1, '{}', 1, 'x', 200, 2),"
                          "('1.3.0', 'linux', 'x86_64', 'p', 1, 'd', 1, '{}', 1, 'x', NULL, 0);"
                          "DELETE FROM schema_migrations WHERE version >= 7")
                             .c_str(),
                         nullptr, nullptr, nullptr),
            SQLITE_OK)
      << sqlite3_errmsg(db);
  sqlite3_close(db);
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

}  // namespace
}  // namespace rollout::server
