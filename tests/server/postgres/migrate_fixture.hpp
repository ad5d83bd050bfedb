// Shared by the tests of `rollout-server migrate` (migrate_test.cpp, migrate_cli_test.cpp): a
// SQLite server database filled through the Store API with rows in every table, the artifact
// files of its releases beside it, and a fresh PostgreSQL database on the program's cluster.
// Each fixture owns its temporary directory and database. Not thread-safe.
#pragma once

#include <gtest/gtest.h>

#include <filesystem>
#include <string>

#include "common/crypto.hpp"
#include "server-plugin/store.hpp"
#include "tests/server/store_backends.hpp"
#include "tests/testing/postgres/pg_cluster.hpp"
#include "tests/testing/testing.hpp"

namespace rollout::server::migrate_testing {

inline Attempt attempt(const std::string& id, const std::string& agent, const std::string& version,
                       const std::string& outcome, const std::string& occurred,
                       std::int64_t received) {
  Attempt a =
      testing::sample_attempt(id, agent, {version, "linux", "x86_64"}, outcome, occurred, received);
  if (outcome != "success") {
    a.stage = "download";
    a.error_code = "network";
    a.message = "no route";
    a.exit_code = 3;
    a.stderr_tail = "tail";
  }
  return a;
}

// The bytes of version `v`'s artifact in the fixture (its release's size and SHA-256 are theirs).
inline std::string artifact_bytes(const std::string& v) {
  return "artifact of " + v + std::string(3 << 20, static_cast<char>('a' + v.back() - '0'));
}

// Rows in every table the migration copies, and in the transient ones it leaves out.
inline void fill(Store& s, const std::filesystem::path& data_dir) {
  std::filesystem::create_directories(data_dir / "artifacts");
  for (const char* v : {"1.0.0", "1.1.0", "1.2.0"}) {
    auto r = testing::sample_release(v);
    r.manifest = std::string("{\"version\":\"") + v + "\"}";
    const std::string bytes = artifact_bytes(v);
    r.size = bytes.size();
    r.sha256 = crypto::sha256_hex(bytes);
    ASSERT_TRUE(s.insert_release(r).ok());
    testing::write_file(data_dir / "artifacts" / r.sha256, bytes);
  }
  // 1.0.0 stable, 1.1.0 promoted and rolled back (blocked), 1.2.0 beta.
  for (const char* v : {"1.0.0", "1.1.0"}) {
    auto seq = s.next_promotion_seq();
    ASSERT_TRUE(seq.ok());
    ASSERT_TRUE(s.set_promoted({v, "linux", "x86_64"}, 2000, *seq).ok());
  }
  ASSERT_TRUE(s.set_blocked({"1.1.0", "linux", "x86_64"}, "rolled back: crashes").ok());

  auto a1 = testing::sample_agent("a1");
  a1.client = "acme";
  a1.site = "lab";
  auto a2 = testing::sample_agent("a2");
  a2.current_version = "1.1.0";
  ASSERT_TRUE(s.insert_agent(a1).ok());
  ASSERT_TRUE(s.insert_agent(a2).ok());
  auto seq = s.next_directive_sequence("a2");
  ASSERT_TRUE(seq.ok());
  ASSERT_TRUE(s.set_agent_directive("a2", {"1.0.0", "downgrade", *seq, 9000, "{\"sig\":1}"}).ok());
  ASSERT_TRUE(s.add_agent_release({"a1", {"1.1.0", "linux", "x86_64"}, "install", 2100}).ok());
  ASSERT_TRUE(s.add_agent_release({"a2", {"1.1.0", "linux", "x86_64"}, "running", 2100}).ok());
  ASSERT_TRUE(s.record_attempts({
                                    attempt("00000000-0000-4000-8000-000000000001", "a1", "1.1.0",
                                            "failure", "2026-11-24T10:00:00.123456Z", 3000),
                                    attempt("00000000-0000-4000-8000-000000000002", "a1", "1.1.0",
                                            "crash", "2026-11-24T10:00:00.5Z", 3001),
                                    attempt("00000000-0000-4000-8000-000000000003", "a2", "1.1.0",
                                            "success", "2026-11-24T10:00:01Z", 3002),
                                })
                  .ok());

  RolloutRecord ro;
  ro.key = {"1.1.0", "linux", "x86_64"};
  ro.previous_version = "1.0.0";
  ro.plan_json = "{\"steps\":[10,100]}";
  ro.thresholds_json = "{}";
  ro.memory_json = "{\"wave\":1}";
  ro.started_at = 2000;
  ro.updated_at = 2000;
  ASSERT_TRUE(s.insert_rollout(ro).ok());
  RolloutRecord lab = ro;
  lab.group = "site:lab";
  ASSERT_TRUE(s.insert_rollout(lab).ok());
  ro.state = "rolled_back";
  ro.rule = "manual";
  ro.reason = "crashes";
  ro.rev = 2;
  ro.updated_at = 2500;
  ASSERT_TRUE(s.update_rollout(ro, 1).value());

  for (const char* action : {"publish", "promote", "rollback"}) {
    Event e;
    e.at = 2000;
    e.user = "alice";
    e.action = action;
    e.version = "1.1.0";
    e.os = "linux";
    e.arch = "x86_64";
    e.force = std::string(action) == "rollback";
    e.health_json = "{\"status\":\"critical\"}";
    e.detail_json = "{}";
    ASSERT_TRUE(s.append_event(e).ok());
  }
  Webhook w;
  w.id = "hook1";
  w.url = "https://example.invalid/hook";
  w.secret = "s3cret";
  w.events = {"rollback"};
  w.source = "api";
  w.created_by = "alice";
  w.created_at = 2200;
  ASSERT_TRUE(s.insert_webhook(w).ok());
  ASSERT_TRUE(s.add_webhook_delivery(
                   {0, "hook1", 3, "rollback", 1, 500, "failed", "HTTP 500", 2300, 12}, 50)
                  .ok());
  ASSERT_TRUE(s.update_webhook_cursor("hook1", 3, 3, 1, 2400).value());
  ASSERT_TRUE(s.swap_watch("release:1.1.0/linux/x86_64", std::nullopt, "critical").value());
  ASSERT_TRUE(s.take_lease("webhooks", "server-a", 2000, 2060).value());

  ASSERT_TRUE(s.insert_user({"alice", "hash-a", "admin"}).ok());
  ASSERT_TRUE(s.insert_user({"bob", "hash-b", "viewer"}).ok());
  ASSERT_TRUE(s.insert_api_token({"tok-hash", "alice", "ci", 2100}).ok());
  ASSERT_TRUE(s.insert_session({"sess-hash", "bob", "csrf", 99999999999}).ok());
  ASSERT_TRUE(s.take_rate_token("ip|bob", 4000, 5, 0.1).ok());

  ASSERT_TRUE(s.put_policy({"default", "", "stable", std::nullopt, std::nullopt, std::nullopt,
                            std::nullopt})
                  .ok());
  ASSERT_TRUE(
      s.put_policy({"site", "lab", "beta", "01:00", "05:00", "all_at_once", "{\"steps\":[100]}"})
          .ok());
  ASSERT_TRUE(s.append_log({0, 2000, "info", "server", "started", "{}"}).ok());
  ASSERT_TRUE(
      s.append_log({0, 2001, "warn", "agents", "refused report", "{\"agent\":\"a1\"}"}).ok());
}

// A filled SQLite database in a temporary directory and an empty PostgreSQL database.
class MigrateFixture : public ::testing::Test {
 protected:
  void SetUp() override {
    auto& cluster = testing::PgCluster::get();
    pg_url_ = cluster.url(cluster.create_database());
    auto s = open_store("sqlite:" + sqlite_path());
    ASSERT_TRUE(s.ok()) << s.error().message;
    fill(**s, dir_.path());
  }
  std::string sqlite_path() const { return (dir_ / "rollout.db").string(); }

  testing::TempDir dir_;
  std::string pg_url_;
};

}  // namespace rollout::server::migrate_testing
