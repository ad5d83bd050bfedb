// The rollout-agent command line: help, version, and configuration errors as exit code 2 with one
// line naming the key; the shipped example configuration is valid.
#include <gtest/gtest.h>

#include "platform/instance_lock.hpp"
#include "tests/agent/fleet_fixture.hpp"

namespace rollout::agent::test {
namespace {

using rollout::testing::run;

int lines(const std::string& s) {
  return static_cast<int>(std::count(s.begin(), s.end(), '\n'));
}

class AgentBinary : public ::testing::Test {
 protected:
  std::string config(const std::string& body) {
    const auto p = dir_.path() / "agent.yaml";
    rollout::testing::write_file(p, body);
    return p.string();
  }
  const std::string base_ =
      "server_url: https://127.0.0.1:9\nrelease_keys: [/k/r.pub]\ndirective_keys: [/k/d.pub]\n";
  rollout::testing::TempDir dir_;
};

TEST_F(AgentBinary, HelpAndVersion) {
  auto h = run({kAgentBin, "--help"});
  EXPECT_EQ(h.exit_code, 0);
  EXPECT_NE(h.out.find("usage: rollout-agent --config FILE"), std::string::npos);
  auto v = run({kAgentBin, "--version"});
  EXPECT_EQ(v.exit_code, 0);
  EXPECT_EQ(v.out.rfind("rollout-agent ", 0), 0u);
}

TEST_F(AgentBinary, UsageErrorsAreExit2WithOneLine) {
  for (const auto& argv : std::vector<std::vector<std::string>>{
           {kAgentBin}, {kAgentBin, "--bogus"}, {kAgentBin, "--config"}}) {
    auto r = run(argv);
    EXPECT_EQ(r.exit_code, 2) << argv.size();
    EXPECT_EQ(lines(r.err), 1) << r.err;
  }
}

// The installer's setup step and its read-back (agent/setup_command.hpp; the rest of it in
// setup_command_test.cpp): reached through the real binary, a bad property is exit 2 and one
// line naming it; show-recovery on Linux says that systemd's unit restarts the agent.
TEST_F(AgentBinary, SetupAndShowRecoveryAreSubcommands) {
  const auto state = (dir_.path() / "state").string();
  auto bad = run({kAgentBin, "setup", "--state-dir", state, "SERVER_URL=http://127.0.0.1:9"});
  EXPECT_EQ(bad.exit_code, 2);
  EXPECT_EQ(bad.err.rfind("rollout-agent setup: SERVER_URL: must be an https:// URL", 0), 0u)
      << bad.err;
  EXPECT_EQ(lines(bad.err), 1) << bad.err;
  EXPECT_FALSE(std::filesystem::exists(state));
  auto help = run({kAgentBin, "setup", "--help"});
  EXPECT_EQ(help.exit_code, 0);
  EXPECT_NE(help.out.find("NAME: SERVER_URL ENROLLMENT_KEY RELEASE_KEYS"), std::string::npos);
  auto show = run({kAgentBin, "show-recovery", "rollout-agent"});
  EXPECT_EQ(show.exit_code, 1);
  EXPECT_NE(show.err.find("Restart=always"), std::string::npos) << show.err;
  EXPECT_EQ(run({kAgentBin, "show-recovery"}).exit_code, 2);
}

TEST_F(AgentBinary, BadConfigNamesTheKey) {
  struct Case {
    std::string yaml, needle;
  };
  const std::vector<Case> cases = {
      {base_ + "poll_intervall: 5s\n", "unknown key 'poll_intervall'"},
      {base_ + "probation: soon\n", "'probation' must be a duration"},
      {base_ + "crash_limit: 0\n", "crash_limit"},
      {base_ + "long_poll_wait: 301s\n", "'long_poll_wait' must be whole seconds"},
      {base_ + "long_poll_wait: 1500ms\n", "'long_poll_wait' must be whole seconds"},
      {base_ + "long_poll_wait: 55\n", "'long_poll_wait' must be a duration"},
      {base_ + "channel_hint: nightly\n", "channel_hint"},
      {base_ + "version_pointer: junction\n", "'version_pointer'"},
      {base_ + "executable: ../../bin/sh\n", "'executable'"},
      {base_ + "product: Rollout Agent\n", "'product'"},
      {base_ + "product: \"\"\n", "'product'"},
      {base_ + "log_file_count: 1\n", "log_file_count"},
      {base_ + "log_file_count: 101\n", "log_file_count"},
      {base_ + "log_file_max_size: 1KiB\n", "'log_file_max_size' must be between 4KiB and 1GiB"},
      {base_ + "log_file_max_size: 2GiB\n", "'log_file_max_size' must be between 4KiB and 1GiB"},
      {base_ + "log_file_max_size: big\n", "log_file_max_size"},
      {"server_url: http://127.0.0.1:9\nrelease_keys: [a]\ndirective_keys: [b]\n",
       "'server_url' is plain http://"},
      {"server_url: ftp://x\nrelease_keys: [a]\ndirective_keys: [b]\n", "'server_url' must be"},
      {"server_url: https://x\ndirective_keys: [b]\n", "'release_keys' is required"},
      {"release_keys: [a]\ndirective_keys: [b]\n", "'server_url'"},
  };
  for (const auto& c : cases) {
    auto r = run({kAgentBin, "--config", config(c.yaml), "--check-config"});
    EXPECT_EQ(r.exit_code, 2) << c.yaml;
    EXPECT_EQ(lines(r.err), 1) << r.err;
    EXPECT_NE(r.err.find(c.needle), std::string::npos) << r.err;
  }
  auto missing = run({kAgentBin, "--config", (dir_.path() / "none.yaml").string()});
  EXPECT_EQ(missing.exit_code, 2);
}

TEST_F(AgentBinary, OverridesApplyAfterTheFile) {
  auto r =
      run({kAgentBin, "--config", config(base_), "--set", "probation=often", "--check-config"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("probation"), std::string::npos) << r.err;
}

TEST_F(AgentBinary, TheExampleConfigurationIsValid) {
  auto r = run({kAgentBin, "--config", std::string(ROLLOUT_SOURCE_DIR) + "/conf/agent.example.yaml",
                "--check-config"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
}

TEST_F(AgentBinary, StartupFailureIsExit1WithOneLine) {
  // Keys that do not exist: the configuration parses, the start-up fails.
  auto r = run({kAgentBin, "--config",
                config(base_ + "state_dir: " + (dir_.path() / "s").string() +
                       "\ninstall_root: " + (dir_.path() / "r").string() + "\n")});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_EQ(lines(r.err), 1) << r.err;
  EXPECT_NE(r.err.find("release_keys"), std::string::npos) << r.err;
}

TEST_F(AgentBinary, ALogFileThatCannotBeOpenedIsExit1NamingIt) {
  rollout::testing::write_file(dir_.path() / "plain-file", "not a directory");
  auto r = run({kAgentBin, "--config",
                config(base_ + "state_dir: " + (dir_.path() / "s").string() +
                       "\ninstall_root: " + (dir_.path() / "r").string() + "\nlog_file: " +
                       (dir_.path() / "plain-file" / "agent.log").string() + "\n")});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_EQ(lines(r.err), 1) << r.err;
  EXPECT_EQ(r.err.rfind("rollout-agent: log_file: ", 0), 0u) << r.err;
  EXPECT_FALSE(std::filesystem::exists(dir_.path() / "s" / "journal.json")) << "nothing touched";
}

TEST_F(AgentBinary, ASecondAgentOnTheSameStateIsRefused) {
  const auto state = dir_.path() / "s";
  std::filesystem::create_directories(state);
  auto held = platform::lock_instance((state / "agent.lock").string());
  ASSERT_TRUE(held.ok());
  auto r = run({kAgentBin, "--config",
                config(base_ + "state_dir: " + state.string() +
                       "\ninstall_root: " + (dir_.path() / "r").string() + "\n")});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_EQ(lines(r.err), 1) << r.err;
  EXPECT_NE(r.err.find("only one rollout-agent may run"), std::string::npos) << r.err;
  EXPECT_FALSE(std::filesystem::exists(state / "journal.json")) << "nothing touched";
}

}  // namespace
}  // namespace rollout::agent::test
