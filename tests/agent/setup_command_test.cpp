// `rollout-agent setup` (agent/setup_command.hpp), in-process on a temporary directory: the
// config directory it writes loads as the agent's config, a bad property changes nothing, and an
// existing config is refused, kept or replaced as asked.
#include <gtest/gtest.h>

#include <cstdio>
#include <filesystem>

#include "agent/config.hpp"
#include "agent/setup_command.hpp"
#include "common/crypto.hpp"
#include "platform/fs.hpp"
#include "tests/testing/testing.hpp"

namespace rollout::agent {
namespace {

namespace fs = std::filesystem;

std::string key_body() {
  std::string pem = crypto::PrivateKey::generate().value().public_key().pem();
  std::string body;
  for (std::size_t at = pem.find('\n') + 1; pem.compare(at, 5, "-----") != 0;) {
    const auto end = pem.find('\n', at);
    body += pem.substr(at, end - at);
    at = end + 1;
  }
  return body;
}

struct Outcome {
  int code = -1;
  std::string out, err;
};

class SetupCommand : public ::testing::Test {
 protected:
  testing::TempDir dir;
  const std::string config = (dir / "config").string();
  const std::string state = (dir / "state").string();

  std::vector<std::string> base() const {
    return {"--config-dir", config,           "--state-dir",
            state,          "--install-root", (dir / "root").string()};
  }
  std::vector<std::string> good(const std::string& key = "enroll-1") const {
    auto a = base();
    a.insert(a.end(), {"SERVER_URL=https://127.0.0.1:8443", "ENROLLMENT_KEY=" + key,
                       "RELEASE_KEYS=" + key_body(), "DIRECTIVE_KEYS=" + key_body(),
                       "SERVER_CA=", "CHANNEL=beta", "EXECUTABLE=agent.exe"});
    return a;
  }
  Outcome run(const std::vector<std::string>& args) {
    const auto out_path = dir / "out.txt", err_path = dir / "err.txt";
    std::FILE* out = std::fopen(out_path.string().c_str(), "w");
    std::FILE* err = std::fopen(err_path.string().c_str(), "w");
    Outcome o;
    o.code = run_setup_command(args, out, err);
    std::fclose(out);
    std::fclose(err);
    o.out = testing::read_file(out_path);
    o.err = testing::read_file(err_path);
    return o;
  }
  std::string yaml() const { return testing::read_file(fs::path(config) / "agent.yaml"); }
  // Nothing of a setup is there: no config, no staging or old copy, no state directory.
  void expect_nothing_written() const {
    for (const auto& p :
         {config, config + ".new", config + ".old", state, (dir / "root").string()}) {
      EXPECT_FALSE(fs::exists(p)) << p;
    }
  }
};

TEST_F(SetupCommand, WritesAConfigDirectoryTheAgentLoads) {
  const auto o = run(good());
  ASSERT_EQ(o.code, 0) << o.err;
  EXPECT_NE(o.out.find("wrote " + config + ": agent.yaml, release-1.pub, directive-1.pub"),
            std::string::npos)
      << o.out;
  auto cfg = load_agent_config((fs::path(config) / "agent.yaml").string());
  ASSERT_TRUE(cfg) << cfg.error().message;
  EXPECT_EQ(cfg->server_url, "https://127.0.0.1:8443");
  EXPECT_EQ(cfg->enrollment_key, "enroll-1");
  EXPECT_EQ(cfg->channel_hint, "beta");
  EXPECT_EQ(cfg->executable, "agent.exe");
  EXPECT_EQ(cfg->state_dir, state);
  EXPECT_EQ(cfg->release_keys,
            std::vector<std::string>{platform::join_path(config, "release-1.pub")});
  EXPECT_TRUE(fs::is_directory(state));
  EXPECT_TRUE(fs::is_directory(dir / "root"));
  EXPECT_FALSE(fs::exists(config + ".new"));
}

TEST_F(SetupCommand, TheFilesAndDirectoriesAreOwnerOnly) {
  ASSERT_EQ(run(good()).code, 0);
  for (const auto& p : {fs::path(config), fs::path(state), fs::path(config) / "agent.yaml",
                        fs::path(config) / "release-1.pub"}) {
    const auto perms = fs::status(p).permissions();
    EXPECT_EQ(perms & (fs::perms::group_all | fs::perms::others_all), fs::perms::none) << p;
  }
}

TEST_F(SetupCommand, ABadPropertyIsOneLineNamingItAndChangesNothing) {
  auto args = good();
  args[6] = "SERVER_URL=http://127.0.0.1:8443";
  const auto o = run(args);
  EXPECT_EQ(o.code, 2);
  EXPECT_EQ(o.err.rfind("rollout-agent setup: SERVER_URL: must be an https:// URL", 0), 0u)
      << o.err;
  EXPECT_EQ(std::count(o.err.begin(), o.err.end(), '\n'), 1) << o.err;
  EXPECT_EQ(o.out, "");
  expect_nothing_written();
}

TEST_F(SetupCommand, UsageErrorsAreExitTwoAndChangeNothing) {
  const std::vector<std::pair<std::vector<std::string>, std::string>> cases = {
      {{"--config-dir", config, "SERVR_URL=https://x"}, "unknown property 'SERVR_URL'"},
      {{"--config-dir", config, "CHANNEL=beta", "CHANNEL=stable"}, "CHANNEL given twice"},
      {{"--config-dir", config, "--if-exists", "overwrite"}, "--if-exists must be"},
      {{"--config-dir", config, "--bogus"}, "unknown argument '--bogus'"},
      {{"--config-dir"}, "--config-dir needs a value"},
  };
  for (const auto& [args, expected] : cases) {
    const auto o = run(args);
    EXPECT_EQ(o.code, 2) << expected;
    EXPECT_NE(o.err.find(expected), std::string::npos) << o.err;
  }
  expect_nothing_written();
}

TEST_F(SetupCommand, AnExistingConfigIsRefusedKeptOrReplacedAsAsked) {
  ASSERT_EQ(run(good("enroll-1")).code, 0);
  const std::string first = yaml();

  auto again = run(good("enroll-2"));  // default: --if-exists fail
  EXPECT_EQ(again.code, 1);
  EXPECT_NE(again.err.find(config + " exists; --if-exists keep leaves it"), std::string::npos)
      << again.err;
  EXPECT_EQ(yaml(), first);

  auto keep = base();  // an upgrade or repair: no properties at all
  keep.insert(keep.end(), {"--if-exists", "keep", "SERVER_URL=", "ENROLLMENT_KEY="});
  const auto kept = run(keep);
  EXPECT_EQ(kept.code, 0) << kept.err;
  EXPECT_NE(kept.out.find("kept the existing " + config), std::string::npos) << kept.out;
  EXPECT_EQ(yaml(), first);

  auto replace = good("enroll-2");
  replace.insert(replace.end(), {"--if-exists", "replace"});
  const auto replaced = run(replace);
  EXPECT_EQ(replaced.code, 0) << replaced.err;
  EXPECT_NE(yaml().find("enrollment_key: 'enroll-2'"), std::string::npos) << yaml();
  EXPECT_FALSE(fs::exists(config + ".old"));
  EXPECT_FALSE(fs::exists(config + ".new"));

  auto bad = good("enroll-3");  // a bad property on replace keeps the old config
  bad.insert(bad.end(), {"--if-exists", "replace", "CHANNEL=nightly"});
  bad.erase(std::find(bad.begin(), bad.end(), "CHANNEL=beta"));
  const auto refused = run(bad);
  EXPECT_EQ(refused.code, 2);
  EXPECT_NE(refused.err.find("CHANNEL: must be beta or stable"), std::string::npos) << refused.err;
  EXPECT_NE(yaml().find("enrollment_key: 'enroll-2'"), std::string::npos);
}

TEST_F(SetupCommand, AServiceWhoseRecoveryCannotBeSetGetsNoConfig) {
  // No such service (Windows), or no recovery actions to set at all (Linux: systemd's Restart=).
  auto args = good();
  args.insert(args.end(), {"--service", "rollout-agent-no-such-service"});
  const auto o = run(args);
  EXPECT_EQ(o.code, 1);
  EXPECT_EQ(std::count(o.err.begin(), o.err.end(), '\n'), 1) << o.err;
  expect_nothing_written();
}

TEST(SetupRecovery, TheAgentsServiceRestartsOnEveryFailure) {
  EXPECT_EQ(platform::describe(agent_service_recovery()),
            "restart after 10 s, 30 s, 60 s; reset after 86400 s; also on an error exit");
  EXPECT_EQ(platform::describe(platform::ServiceRecovery{}), "no recovery actions");
}

}  // namespace
}  // namespace rollout::agent
