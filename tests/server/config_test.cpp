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
  EXPECT_EQ(c->reports_per_agent_per_hour, 200u);
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
