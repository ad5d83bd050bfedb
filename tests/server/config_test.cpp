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
  EXPECT_EQ(c->login_attempts, defaults.login_attempts);
  EXPECT_EQ(c->login_window, defaults.login_window);
  EXPECT_EQ(c->reports_per_agent_per_hour, 200u);
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
