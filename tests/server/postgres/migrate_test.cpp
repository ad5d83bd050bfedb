// Moving up from SQLite to PostgreSQL (server-plugin/migrate/sqlite_to_pg.hpp): everything
// copied reads back the same through a PgStore, new rows after the move get fresh ids, and the
// refusals (a non-empty target, a missing source, a missing artifact, a table the list does not
// cover) write nothing.
#include "server-plugin/migrate/sqlite_to_pg.hpp"

#include <sqlite3.h>

#include "server-plugin/artifacts/artifact_store.hpp"
#include "server-plugin/migrate/tables.hpp"
#include "server-plugin/store/postgres/pg_conn.hpp"
#include "server-plugin/store/postgres/pg_migrations.hpp"
#include "server-plugin/store/sqlite/migrations.hpp"
#include "tests/server/postgres/migrate_fixture.hpp"

namespace rollout::server {
namespace {

using migrate_testing::artifact_bytes;
using migrate_testing::MigrateFixture;

constexpr std::int64_t kNow = 3100;

std::string render(const Agent& a) {
  std::string d = a.directive ? a.directive->version + a.directive->action +
                                    std::to_string(a.directive->sequence) +
                                    std::to_string(a.directive->expires_at) + a.directive->envelope
                              : "none";
  return a.id + a.token_hash + a.hostname + a.machine_id + a.os + a.arch + a.current_version +
         a.client + a.site + a.channel_hint + a.state + std::to_string(a.security_floor) + "/" +
         std::to_string(a.last_sequence) + "/" + std::to_string(a.enrolled_at) + "/" +
         std::to_string(a.last_checkin_at) + d;
}

std::string render(const Attempt& a) {
  return a.id + a.agent_id + a.release.version + a.from_version + a.outcome + a.stage +
         a.error_code + a.message + (a.exit_code ? std::to_string(*a.exit_code) : "-") +
         (a.signal ? std::to_string(*a.signal) : "-") + a.stderr_tail + a.occurred_at + "/" +
         std::to_string(a.received_at);
}

std::string render(const Event& e) {
  return std::to_string(e.id) + "/" + std::to_string(e.at) + e.user + e.action + e.version + e.os +
         e.arch + e.reason + (e.force ? "F" : "-") + e.health_json + e.detail_json;
}

std::string render(const Webhook& w) {
  std::string ev;
  for (const auto& e : w.events) ev += e + ",";
  return w.id + w.url + w.secret + ev + w.source + w.created_by + std::to_string(w.created_at) +
         "/" + std::to_string(w.cursor) + "/" + std::to_string(w.attempts) + "/" +
         std::to_string(w.next_attempt_at);
}

std::string render(const WebhookDelivery& d) {
  return std::to_string(d.id) + d.webhook_id + std::to_string(d.event_id) + d.event_type +
         std::to_string(d.attempt) + std::to_string(d.status) + d.outcome + d.error +
         std::to_string(d.at) + "/" + std::to_string(d.duration_ms);
}

std::string render(const LogEntry& l) {
  return std::to_string(l.id) + "/" + std::to_string(l.at) + l.level + l.component + l.message +
         l.fields_json;
}

template <class T>
std::vector<std::string> rendered(const Expected<std::vector<T>>& v) {
  EXPECT_TRUE(v.ok()) << (v.ok() ? "" : v.error().message);
  std::vector<std::string> out;
  if (v.ok()) {
    for (const auto& x : *v) out.push_back(render(x));
  }
  return out;
}

// Everything the stores give back, as text: what must read the same after the move.
std::vector<std::string> everything(Store& s) {
  std::vector<std::string> out = migrate::rollouts_view(s, kNow).value();
  auto add = [&](const std::vector<std::string>& v) { out.insert(out.end(), v.begin(), v.end()); };
  add(rendered(s.list_agents()));
  for (const char* id : {"a1", "a2"}) {
    add(rendered(s.agent_attempts(id, 100)));
    for (const auto& r : s.list_agent_releases(id).value()) {
      out.push_back(r.agent_id + r.release.version + r.how + std::to_string(r.first_at));
    }
  }
  for (const auto& o : s.latest_outcomes({"1.1.0", "linux", "x86_64"}).value()) {
    out.push_back("latest " + o.agent_id + o.outcome);
  }
  out.push_back("attempts " + std::to_string(s.attempt_count().value()));
  add(rendered(s.list_events(0, 100, std::nullopt)));
  add(rendered(s.events_after(0, 100)));
  add(rendered(s.list_webhooks()));
  add(rendered(s.list_webhook_deliveries("hook1", 100)));
  add(rendered(s.query_logs("", "", 100)));
  out.push_back("watch " + s.get_watch("release:1.1.0/linux/x86_64").value().value_or("none"));
  for (const char* u : {"alice", "bob"}) {
    auto user = s.get_user(u).value();
    out.push_back(user ? user->username + user->password_hash + user->role : "no user");
  }
  out.push_back("users " + std::to_string(s.user_count().value()));
  auto tok = s.get_api_token("tok-hash").value();
  out.push_back(tok ? tok->username + tok->name + std::to_string(tok->created_at) : "no token");
  return out;
}

migrate::Options options(const std::string& sqlite_path, const std::string& pg_url,
                         const std::filesystem::path& data_dir) {
  return migrate::Options{sqlite_path, pg_url, data_dir, kNow};
}

std::int64_t pg_rows(const std::string& url, const std::string& table) {
  auto conn = pg::Conn::open(url);
  EXPECT_TRUE(conn.ok());
  if (!conn) return -1;
  auto r = conn->query("SELECT COUNT(*) FROM " + migrate::quoted(table));
  EXPECT_TRUE(r.ok()) << (r ? "" : r.error().message);
  return r ? r->i64(0, 0).value() : -1;
}

TEST_F(MigrateFixture, CopiesEveryTableAndReadsBackTheSameThroughAPgStore) {
  auto report = migrate::sqlite_to_pg(options(sqlite_path(), pg_url_, dir_.path()));
  ASSERT_TRUE(report.ok()) << report.error().message;
  EXPECT_EQ(report->artifacts, 3);
  std::map<std::string, std::int64_t> rows;
  for (const auto& t : report->copied) rows[t.table] = t.rows;
  for (const auto& t : migrate::tables()) {
    if (t.how == migrate::Disposition::copy || t.how == migrate::Disposition::counters) {
      EXPECT_GT(rows[t.name], 0) << "the fixture has no row in " << t.name;
    }
  }
  EXPECT_EQ(rows["releases"], 3);
  EXPECT_EQ(rows["update_attempts"], 3);
  EXPECT_EQ(rows["rollout_events"], 3);
  ASSERT_EQ(report->left_out.size(), 3u);

  auto sqlite_store = open_store("sqlite:" + sqlite_path()).value();
  auto pg_store = open_store(pg_url_).value();
  const auto before = everything(*sqlite_store);
  EXPECT_GT(before.size(), 30u);
  EXPECT_EQ(everything(*pg_store), before);
  // The audit trail in its order, ids kept (newest first).
  auto events = pg_store->list_events(0, 10, std::nullopt).value();
  ASSERT_EQ(events.size(), 3u);
  EXPECT_EQ(events[0].id, 3);
  EXPECT_EQ(events[0].action, "rollback");
  EXPECT_EQ(events[2].action, "publish");
  // Transient rows stay behind.
  EXPECT_FALSE(pg_store->get_session("sess-hash").value());
  EXPECT_EQ(pg_rows(pg_url_, "rate_limits"), 0);

  // New rows after the move get fresh ids and sequences.
  auto id = pg_store->append_event(events[0]);
  ASSERT_TRUE(id.ok()) << id.error().message;
  EXPECT_EQ(*id, 4);
  EXPECT_EQ(pg_store->next_promotion_seq().value(), 3u);
  ASSERT_TRUE(pg_store
                  ->record_attempts(
                      {migrate_testing::attempt("00000000-0000-4000-8000-000000000004", "a2",
                                                "1.1.0", "failure", "2026-11-24T10:00:00Z", 3003)})
                  .ok());
  auto conn = pg::Conn::open(pg_url_).value();
  EXPECT_EQ(conn.query("SELECT seq FROM update_attempts WHERE id = $1",
                       pg::Params("00000000-0000-4000-8000-000000000004"))
                .value()
                .i64(0, 0)
                .value(),
            4);
  // The later arrival with an earlier time does not win a2's latest outcome.
  const ReleaseKey bad{"1.1.0", "linux", "x86_64"};
  EXPECT_EQ(pg_store->release_counts(std::nullopt).value()[bad].success, 1u);
  ASSERT_TRUE(pg_store->append_log({0, 3200, "info", "server", "moved", "{}"}).ok());
  EXPECT_EQ(pg_store->query_logs("", "", 1).value().at(0).id, 3);
  ASSERT_TRUE(
      pg_store
          ->add_webhook_delivery({0, "hook1", 4, "rollback", 1, 200, "delivered", "", 3300, 5}, 50)
          .ok());
  EXPECT_EQ(pg_store->list_webhook_deliveries("hook1", 1).value().at(0).id, 2);
  EXPECT_EQ(pg_store->next_directive_sequence("a2").value(), 2u);
}

TEST_F(MigrateFixture, MigratingAgainIntoTheSameTargetIsRefusedAndChangesNothing) {
  ASSERT_TRUE(migrate::sqlite_to_pg(options(sqlite_path(), pg_url_, dir_.path())).ok());
  auto pg_store = open_store(pg_url_).value();
  const auto before = everything(*pg_store);
  auto again = migrate::sqlite_to_pg(options(sqlite_path(), pg_url_, dir_.path()));
  ASSERT_FALSE(again.ok());
  EXPECT_EQ(again.error().code, "target_not_empty");
  EXPECT_NE(again.error().message.find("releases"), std::string::npos) << again.error().message;
  EXPECT_EQ(everything(*pg_store), before);
}

// A copy that does not read back the same (here: triggers on the target that drop or change
// rows as they arrive) is caught before COMMIT and leaves nothing behind.
TEST_F(MigrateFixture, ACopyThatDoesNotMatchIsRolledBack) {
  {
    auto conn = pg::Conn::open(pg_url_).value();
    ASSERT_TRUE(pg::migrate(conn).ok());
    ASSERT_TRUE(conn.exec("CREATE FUNCTION drop_row() RETURNS trigger LANGUAGE plpgsql AS $$ "
                          "BEGIN RETURN NULL; END $$; "
                          "CREATE TRIGGER lose_logs BEFORE INSERT ON logs "
                          "FOR EACH ROW EXECUTE FUNCTION drop_row()")
                    .ok());
  }
  auto r = migrate::sqlite_to_pg(options(sqlite_path(), pg_url_, dir_.path()));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, "verify_failed");
  EXPECT_NE(r.error().message.find("logs"), std::string::npos) << r.error().message;
  EXPECT_EQ(pg_rows(pg_url_, "releases"), 0);

  {
    auto conn = pg::Conn::open(pg_url_).value();
    ASSERT_TRUE(conn.exec("DROP TRIGGER lose_logs ON logs; "
                          "CREATE FUNCTION unblock() RETURNS trigger LANGUAGE plpgsql AS $$ "
                          "BEGIN NEW.blocked := false; RETURN NEW; END $$; "
                          "CREATE TRIGGER unblock BEFORE INSERT ON releases "
                          "FOR EACH ROW EXECUTE FUNCTION unblock()")
                    .ok());
  }
  r = migrate::sqlite_to_pg(options(sqlite_path(), pg_url_, dir_.path()));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, "verify_failed");
  EXPECT_NE(r.error().message.find("rollouts view"), std::string::npos) << r.error().message;
  EXPECT_NE(r.error().message.find("1.1.0"), std::string::npos) << r.error().message;
  EXPECT_EQ(pg_rows(pg_url_, "releases"), 0);
  EXPECT_EQ(pg_rows(pg_url_, "rollout_events"), 0);
}

TEST_F(MigrateFixture, ATargetWithASingleRowIsRefused) {
  {
    auto pg_store = open_store(pg_url_).value();
    ASSERT_TRUE(pg_store->insert_user({"carol", "h", "viewer"}).ok());
  }
  auto r = migrate::sqlite_to_pg(options(sqlite_path(), pg_url_, dir_.path()));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, "target_not_empty");
  EXPECT_NE(r.error().message.find("users"), std::string::npos) << r.error().message;
  EXPECT_EQ(pg_rows(pg_url_, "users"), 1);
  EXPECT_EQ(pg_rows(pg_url_, "releases"), 0);
}

TEST_F(MigrateFixture, AMissingArtifactIsRefusedBeforeAnythingIsWritten) {
  auto sqlite_store = open_store("sqlite:" + sqlite_path()).value();
  const auto release = sqlite_store->list_releases().value().at(1);
  const auto sha = release.sha256;
  std::filesystem::remove(dir_ / "artifacts" / sha);
  auto r = migrate::sqlite_to_pg(options(sqlite_path(), pg_url_, dir_.path()));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, "artifact_missing");
  EXPECT_NE(r.error().message.find(sha), std::string::npos) << r.error().message;
  EXPECT_EQ(pg_rows(pg_url_, "releases"), 0);
  // A wrong size is missing too; the right file makes it go through.
  testing::write_file(dir_ / "artifacts" / sha, "short");
  EXPECT_EQ(migrate::sqlite_to_pg(options(sqlite_path(), pg_url_, dir_.path())).error().code,
            "artifact_missing");
  // The right size with the wrong bytes is refused when the bytes are copied (their SHA-256),
  // and nothing of the rows is written.
  testing::write_file(dir_ / "artifacts" / sha, std::string(release.size, 'x'));
  auto corrupt = migrate::sqlite_to_pg(options(sqlite_path(), pg_url_, dir_.path()));
  ASSERT_FALSE(corrupt.ok());
  EXPECT_EQ(corrupt.error().code, "artifact_mismatch");
  EXPECT_NE(corrupt.error().message.find(sha), std::string::npos) << corrupt.error().message;
  EXPECT_EQ(pg_rows(pg_url_, "releases"), 0);
  testing::write_file(dir_ / "artifacts" / sha, artifact_bytes(release.key.version));
  EXPECT_TRUE(migrate::sqlite_to_pg(options(sqlite_path(), pg_url_, dir_.path())).ok());
}

// With artifact_store: auto on PostgreSQL the new servers serve artifacts from the database:
// every release's bytes are there after the move, byte for byte, each published once even when
// two releases share one artifact or an earlier run already copied it.
TEST_F(MigrateFixture, ArtifactsAreCopiedIntoTheTargetDatabaseAndServedFromIt) {
  auto report = migrate::sqlite_to_pg(options(sqlite_path(), pg_url_, dir_.path()));
  ASSERT_TRUE(report.ok()) << report.error().message;
  EXPECT_TRUE(report->artifacts_in_database);
  EXPECT_EQ(report->artifacts_copied, 3);
  EXPECT_EQ(pg_rows(pg_url_, "artifacts"), 3);
  EXPECT_EQ(pg_rows(pg_url_, "artifact_uploads"), 0);
  auto pg_store = open_store(pg_url_).value();
  auto served = pg_store->database_artifacts().value();
  for (const auto& r : pg_store->list_releases().value()) {
    auto src = served->read(r.sha256, 0, r.size);
    ASSERT_TRUE(src.ok()) << src.error().message;
    std::string got;
    for (;;) {
      auto piece = (*src)->read(1 << 20);
      ASSERT_TRUE(piece.ok());
      if (piece->empty()) break;
      got += *piece;
    }
    EXPECT_EQ(got, artifact_bytes(r.key.version)) << r.key.version;
  }
}

// An artifact left in the target by a run that failed afterwards is no data: the next run is
// not refused for it, reuses it and copies only the others.
TEST_F(MigrateFixture, AnArtifactLeftByAFailedRunIsReusedNotRefused) {
  auto sqlite_store = open_store("sqlite:" + sqlite_path()).value();
  const auto releases = sqlite_store->list_releases().value();
  sqlite_store.reset();
  {
    auto pg_store = open_store(pg_url_).value();
    auto target = pg_store->database_artifacts().value();
    auto up = target->begin(releases.at(0).sha256, releases.at(0).size).value();
    up->write(artifact_bytes(releases.at(0).key.version));
    ASSERT_TRUE(up->commit().ok());
  }
  auto report = migrate::sqlite_to_pg(options(sqlite_path(), pg_url_, dir_.path()));
  ASSERT_TRUE(report.ok()) << report.error().message;
  EXPECT_EQ(report->artifacts_copied, 2);
  EXPECT_EQ(pg_rows(pg_url_, "artifacts"), 3);
}

// --artifacts local: the files stay for servers sharing the data dir; the database holds none.
TEST_F(MigrateFixture, ArtifactsLocalLeavesTheFilesWhereTheyAre) {
  auto o = options(sqlite_path(), pg_url_, dir_.path());
  o.artifacts_to_database = false;
  auto report = migrate::sqlite_to_pg(o);
  ASSERT_TRUE(report.ok()) << report.error().message;
  EXPECT_FALSE(report->artifacts_in_database);
  EXPECT_EQ(report->artifacts, 3);
  EXPECT_EQ(pg_rows(pg_url_, "artifacts"), 0);
}

TEST_F(MigrateFixture, ABadSourcePathIsAClearErrorAndCreatesNoFile) {
  const auto missing = (dir_ / "nope" / "rollout.db").string();
  auto r = migrate::sqlite_to_pg(options(missing, pg_url_, dir_.path()));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, "not_found");
  EXPECT_NE(r.error().message.find(missing), std::string::npos) << r.error().message;
  EXPECT_FALSE(std::filesystem::exists(missing));
  EXPECT_EQ(migrate::sqlite_to_pg(options(dir_.path().string(), pg_url_, dir_.path())).error().code,
            "not_found")
      << "a directory is no database";
}

TEST_F(MigrateFixture, AnOlderSourceSchemaIsUpgradedFirst) {
  testing::TempDir old;
  const auto path = (old / "old.db").string();
  {
    auto db = sqlite::Db::open(path).value();
    ASSERT_EQ(sqlite::migrate(db, 6).value(), 6);
    ASSERT_TRUE(db.exec("INSERT INTO users VALUES ('dave', 'h', 'admin', 5)").ok());
  }
  auto r = migrate::sqlite_to_pg(options(path, pg_url_, old.path()));
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_TRUE(open_store(pg_url_).value()->get_user("dave").value());
}

TEST_F(MigrateFixture, ANewerSourceSchemaIsRefused) {
  {
    auto db = sqlite::Db::open(sqlite_path()).value();
    ASSERT_TRUE(db.exec("INSERT INTO schema_migrations VALUES (999, 0)").ok());
  }
  auto r = migrate::sqlite_to_pg(options(sqlite_path(), pg_url_, dir_.path()));
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message.find("newer"), std::string::npos) << r.error().message;
  EXPECT_EQ(pg_rows(pg_url_, "releases"), 0);
}

// The table list covers both schemas exactly; a table or column it does not name stops the
// migration (so a new migration cannot be forgotten here).
TEST(MigrateTables, CoverEveryTableAndColumnOfBothSchemas) {
  auto& cluster = testing::PgCluster::get();
  auto conn = pg::Conn::open(cluster.url(cluster.create_database())).value();
  ASSERT_TRUE(pg::migrate(conn).ok());
  auto db = sqlite::Db::open(":memory:").value();
  ASSERT_TRUE(sqlite::migrate(db).ok());
  auto st = migrate::check_coverage(db, conn);
  EXPECT_TRUE(st.ok()) << st.error().message;

  for (const auto& t : migrate::tables()) {
    EXPECT_FALSE(t.why.empty()) << t.name;
    if (t.how == migrate::Disposition::copy) {
      EXPECT_FALSE(t.order_by.empty()) << t.name;
    }
  }

  ASSERT_TRUE(db.exec("CREATE TABLE future_things (id INTEGER PRIMARY KEY)").ok());
  st = migrate::check_coverage(db, conn);
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.error().code, "schema_mismatch");
  EXPECT_NE(st.error().message.find("future_things"), std::string::npos) << st.error().message;
  ASSERT_TRUE(db.exec("DROP TABLE future_things").ok());

  ASSERT_TRUE(conn.exec("ALTER TABLE agents ADD COLUMN nickname TEXT").ok());
  st = migrate::check_coverage(db, conn);
  ASSERT_FALSE(st.ok());
  EXPECT_NE(st.error().message.find("agents.nickname"), std::string::npos) << st.error().message;
}

}  // namespace
}  // namespace rollout::server
