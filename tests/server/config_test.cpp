#include "server-plugin/config.hpp"

#include <gtest/gtest.h>

#include "tests/testing/testing.hpp"

namespace rollout::server {
namespace {

TEST(ServerConfig, TheShippedExampleLoadsWithTheDocumentedValues) {
  auto c = load_server_config(std::string(ROLLOUT_SOURCE_DIR) + "/conf/server.example.yaml");
  ASSERT_TRUE(c.ok()) << c.error().message;
  EXPECT_EQ(c->listen_port, 8443);
  EXPECT_EQ(c->thresholds.healthy_success_bp, 9500u);
  EXPECT_EQ(c->thresholds.block_crash_bp, 500u);
  EXPECT_EQ(c->thresholds.min_attempts, 5u);
  EXPECT_EQ(c->upload_limit, 256u << 20);
  EXPECT_EQ(c->stale_stable_after, std::chrono::hours(24 * 7));
  EXPECT_EQ(c->checkin_record_interval, std::chrono::minutes(5));
  const ServerConfig defaults;
  EXPECT_EQ(c->io_threads, defaults.io_threads);
  EXPECT_EQ(c->worker_threads, defaults.worker_threads);
  EXPECT_EQ(c->read_timeout, defaults.read_timeout);
  EXPECT_EQ(c->long_poll_limit, defaults.long_poll_limit);
  EXPECT_EQ(c->long_poll_max_held, defaults.long_poll_max_held);
  EXPECT_EQ(c->login_attempts, defaults.login_attempts);
  EXPECT_EQ(c->login_window, defaults.login_window);
  EXPECT_EQ(c->reports_per_agent_per_hour, 200u);
  // The example spells out the waves defaults.
  EXPECT_EQ(c->waves.cumulative_bp, defaults.waves.cumulative_bp);
  EXPECT_EQ(c->waves.cumulative_bp, (std::vector<std::uint32_t>{100, 1000, 5000, 10000}));
  EXPECT_EQ(c->waves.min_first_wave, 5u);
  EXPECT_EQ(c->waves.soak, std::chrono::hours(1));
  EXPECT_EQ(c->waves.hysteresis, std::chrono::minutes(5));
  EXPECT_EQ(c->waves.updated_bp, 8000u);
  EXPECT_EQ(c->waves.max_wait, std::chrono::hours(24));
  EXPECT_EQ(c->waves.on_critical, waves::OnBad::rollback);
  EXPECT_EQ(c->waves_evaluate_interval, std::chrono::seconds(30));
}

TEST(ServerConfig, WavesAreReadAndBadValuesNameTheirKey) {
  rollout::testing::TempDir dir;
  auto load = [&](const std::string& waves) {
    rollout::testing::write_file(dir / "w.yaml",
                                 "directive_key: d\nrelease_keys: [x]\nwaves:\n" + waves);
    return load_server_config((dir / "w.yaml").string());
  };
  auto c = load(
      "  steps: [5%, 0.5, 100%]\n  min_first_wave: 3\n  soak: 20s\n  hysteresis: 4s\n"
      "  updated: 60%\n  max_wait: 2m\n  on_critical: pause\n  evaluate_interval: 1s\n");
  ASSERT_TRUE(c.ok()) << c.error().message;
  EXPECT_EQ(c->waves.cumulative_bp, (std::vector<std::uint32_t>{500, 5000, 10000}));
  EXPECT_EQ(c->waves.min_first_wave, 3u);
  EXPECT_EQ(c->waves.soak, std::chrono::seconds(20));
  EXPECT_EQ(c->waves.hysteresis, std::chrono::seconds(4));
  EXPECT_EQ(c->waves.updated_bp, 6000u);
  EXPECT_EQ(c->waves.max_wait, std::chrono::minutes(2));
  EXPECT_EQ(c->waves.on_critical, waves::OnBad::pause);
  EXPECT_EQ(c->waves_evaluate_interval, std::chrono::seconds(1));
  auto all = load("  all_at_once: true\n");
  ASSERT_TRUE(all.ok()) << all.error().message;
  EXPECT_TRUE(all->waves.all_at_once());
  for (const auto& [yaml, key] : std::vector<std::pair<std::string, std::string>>{
           {"  steps: [10%, 5%, 100%]\n", "steps"},
           {"  steps: [10%, 50%]\n", "steps"},
           {"  steps: [ten, 100%]\n", "steps"},
           {"  steps: [0%, 100%]\n", "steps"},
           {"  steps: [150%]\n", "steps"},
           {"  on_critical: panic\n", "on_critical"},
           {"  soak: forever\n", "soak"},
           {"  evaluate_interval: 100ms\n", "evaluate_interval"},
           {"  max_wait: 0s\n", "max_wait"},
           {"  updated: 0%\n", "updated"},
           {"  wave_size: 3\n", "wave_size"}}) {
    auto bad = load(yaml);
    ASSERT_FALSE(bad.ok()) << yaml;
    EXPECT_NE(bad.error().message.find(key), std::string::npos) << bad.error().message;
    EXPECT_NE(bad.error().message.find("line"), std::string::npos) << bad.error().message;
  }
}

TEST(ServerConfig, HostAndLoginLimitKnobsAreReadAndChecked) {
  rollout::testing::TempDir dir;
  rollout::testing::write_file(dir / "a.yaml",
                               "directive_key: d\nrelease_keys: [x]\nhttp:\n  worker_threads: 16\n"
                               "  io_threads: 3\n  read_timeout: 5s\nlogin_limit:\n"
                               "  attempts: 3\n  window: 10m\n");
  auto a = load_server_config((dir / "a.yaml").string());
  ASSERT_TRUE(a.ok()) << a.error().message;
  EXPECT_EQ(a->worker_threads, 16u);
  EXPECT_EQ(a->io_threads, 3u);
  EXPECT_EQ(a->read_timeout, std::chrono::seconds(5));
  EXPECT_EQ(a->login_attempts, 3u);
  EXPECT_EQ(a->login_window, std::chrono::minutes(10));
  for (const char* bad :
       {"http:\n  worker_threads: 0\n", "http:\n  read_timeout: 0s\n",
        "login_limit:\n  attempts: 0\n", "login_limit:\n  window: 0s\n", "http:\n  threads: 4\n"}) {
    rollout::testing::write_file(dir / "b.yaml",
                                 std::string("directive_key: d\nrelease_keys: [x]\n") + bad);
    auto b = load_server_config((dir / "b.yaml").string());
    EXPECT_FALSE(b.ok()) << bad;
  }
}

TEST(ServerConfig, LongPollKnobsAreReadAndChecked) {
  rollout::testing::TempDir dir;
  const ServerConfig defaults;
  EXPECT_EQ(defaults.long_poll_limit, std::chrono::seconds(55));
  EXPECT_EQ(defaults.long_poll_max_held, 50'000u);
  rollout::testing::write_file(dir / "a.yaml",
                               "directive_key: d\nrelease_keys: [x]\nlong_poll:\n  limit: 0s\n"
                               "  max_held: 7\n");
  auto a = load_server_config((dir / "a.yaml").string());
  ASSERT_TRUE(a.ok()) << a.error().message;
  EXPECT_EQ(a->long_poll_limit, std::chrono::seconds(0));
  EXPECT_EQ(a->long_poll_max_held, 7u);
  for (const char* bad : {"long_poll:\n  limit: 6m\n", "long_poll:\n  max_held: -1\n",
                          "long_poll:\n  max_held: 99999999\n", "long_poll:\n  wait: 5s\n"}) {
    rollout::testing::write_file(dir / "b.yaml",
                                 std::string("directive_key: d\nrelease_keys: [x]\n") + bad);
    auto b = load_server_config((dir / "b.yaml").string());
    ASSERT_FALSE(b.ok()) << bad;
    EXPECT_NE(b.error().message.find("long_poll"), std::string::npos) << b.error().message;
  }
}

// A cap below one full report batch would refuse an honest agent's full batch forever.
TEST(ServerConfig, ReportCapBelowOneBatchIsAnError) {
  rollout::testing::TempDir dir;
  rollout::testing::write_file(
      dir / "a.yaml", "directive_key: d\nrelease_keys: [x]\nreports_per_agent_per_hour: 99\n");
  auto a = load_server_config((dir / "a.yaml").string());
  ASSERT_FALSE(a.ok());
  EXPECT_NE(a.error().message.find("reports_per_agent_per_hour"), std::string::npos)
      << a.error().message;
  rollout::testing::write_file(
      dir / "b.yaml", "directive_key: d\nrelease_keys: [x]\nreports_per_agent_per_hour: 100\n");
  auto b = load_server_config((dir / "b.yaml").string());
  ASSERT_TRUE(b.ok()) << b.error().message;
  EXPECT_EQ(b->reports_per_agent_per_hour, 100u);
}

TEST(ServerConfig, ArtifactStoreIsAutoLocalOrDatabaseAndDatabaseNeedsPostgres) {
  rollout::testing::TempDir dir;
  auto load = [&](const std::string& extra) {
    rollout::testing::write_file(dir / "a.yaml", "directive_key: d\nrelease_keys: [x]\n" + extra);
    return load_server_config((dir / "a.yaml").string());
  };
  auto plain = load("");
  ASSERT_TRUE(plain.ok()) << plain.error().message;
  EXPECT_EQ(plain->artifact_store, "auto");
  EXPECT_FALSE(artifacts_in_database(*plain)) << "auto on sqlite: is the local directory";
  auto pg = load("database_url: postgresql://u@127.0.0.1/db\n");
  ASSERT_TRUE(pg.ok()) << pg.error().message;
  EXPECT_TRUE(artifacts_in_database(*pg)) << "auto on postgresql:// is the database";
  auto local_pg = load("database_url: postgresql://u@127.0.0.1/db\nartifact_store: local\n");
  ASSERT_TRUE(local_pg.ok()) << local_pg.error().message;
  EXPECT_FALSE(artifacts_in_database(*local_pg));
  auto db_pg = load("database_url: postgresql://u@127.0.0.1/db\nartifact_store: database\n");
  ASSERT_TRUE(db_pg.ok()) << db_pg.error().message;
  EXPECT_TRUE(artifacts_in_database(*db_pg));

  auto db_sqlite = load("database_url: sqlite:x.db\nartifact_store: database\n");
  ASSERT_FALSE(db_sqlite.ok());
  EXPECT_EQ(db_sqlite.error().code, "invalid_config");
  EXPECT_NE(db_sqlite.error().message.find("artifact_store: database"), std::string::npos)
      << db_sqlite.error().message;
  EXPECT_NE(db_sqlite.error().message.find("postgresql://"), std::string::npos);
  auto bogus = load("artifact_store: s3\n");
  ASSERT_FALSE(bogus.ok());
  EXPECT_NE(bogus.error().message.find("artifact_store"), std::string::npos)
      << bogus.error().message;
}

TEST(ServerConfig, RequiredKeysAndHalfTlsAreErrors) {
  rollout::testing::TempDir dir;
  rollout::testing::write_file(dir / "a.yaml", "release_keys: [x.pub]\n");
  auto a = load_server_config((dir / "a.yaml").string());
  ASSERT_FALSE(a.ok());
  EXPECT_NE(a.error().message.find("'directive_key' is required"), std::string::npos);
  rollout::testing::write_file(
      dir / "b.yaml", "directive_key: d\nrelease_keys: [x]\nlisten:\n  tls_cert_file: c.pem\n");
  auto b = load_server_config((dir / "b.yaml").string());
  ASSERT_FALSE(b.ok());
  EXPECT_NE(b.error().message.find("'listen' needs both tls_cert_file and tls_key_file"),
            std::string::npos)
      << b.error().message;
  rollout::testing::write_file(
      dir / "c.yaml", "directive_key: d\nrelease_keys: [x]\nhealth:\n  block_crash: 150%\n");
  EXPECT_FALSE(load_server_config((dir / "c.yaml").string()).ok());
}

}  // namespace
}  // namespace rollout::server
