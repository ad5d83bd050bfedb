// rollout-demo-agent's behaviours, observed the way the controller will observe them: through
// platform::Process (exit code, signal, stderr tail). Variants are built with --make-variant,
// as a release pipeline would build single-file artifacts.
#include <gtest/gtest.h>
#include <signal.h>

#include <filesystem>
#include <string>
#include <vector>

#include "platform/process.hpp"
#include "tests/testing/target.hpp"
#include "tests/testing/testing.hpp"

namespace rollout::agent {
namespace {

using namespace std::chrono_literals;
using rollout::testing::read_file;
using rollout::testing::TempDir;
using rollout::testing::write_file;

const std::string kDemo = ROLLOUT_DEMO_AGENT_PATH;

// The program's own stderr lines: under qemu-user a fatal signal adds the emulator's own line
// ("qemu: uncaught target signal 6 (Aborted) - core dumped"), which is not the demo agent's.
std::vector<std::string> own_lines(std::vector<std::string> lines) {
  if (!rollout::testing::emulator().empty()) {
    std::erase_if(lines, [](const std::string& l) { return l.rfind("qemu: ", 0) == 0; });
  }
  return lines;
}

struct DemoTest : ::testing::Test {
  TempDir dir;

  std::string variant(const std::string& behaviour, const std::string& version) {
    const std::string out = (dir / ("demo-" + version)).string();
    auto r = rollout::testing::run(
        {kDemo, "--make-variant", out, "--behaviour", behaviour, "--version", version});
    EXPECT_EQ(r.exit_code, 0) << r.err;
    return out;
  }

  std::unique_ptr<platform::Process> start(const std::string& exe) {
    platform::LaunchOptions o;
    // A variant is a program of the target architecture: started through the emulator if any.
    auto argv = rollout::testing::emulated({exe});
    o.executable = argv.front();
    o.args.assign(argv.begin() + 1, argv.end());
    o.stdout_path = (dir / "stdout").string();
    o.env = {{"ROLLOUT_DEMO_HEARTBEAT_MS", "50"}};
    auto p = platform::real_process_launcher().launch(o);
    EXPECT_TRUE(p) << p.error().message;
    return p ? std::move(p).value() : nullptr;
  }

  bool stdout_contains(const std::string& needle) {
    const auto deadline = std::chrono::steady_clock::now() + 60s;
    while (std::chrono::steady_clock::now() < deadline) {
      if (std::filesystem::exists(dir / "stdout") &&
          read_file(dir / "stdout").find(needle) != std::string::npos) {
        return true;
      }
      std::this_thread::sleep_for(20ms);
    }
    return false;
  }
};

TEST_F(DemoTest, VersionComesFromTheVariantAndSidecarAndEnvironmentOverrideIt) {
  EXPECT_EQ(rollout::testing::run({kDemo, "--version"}).out.empty(), false);
  const auto exe = variant("healthy", "2.3.4");
  EXPECT_EQ(rollout::testing::run(rollout::testing::emulated({exe, "--version"})).out, "2.3.4\n");
  write_file(dir / "version", "9.9.9\n");
  EXPECT_EQ(rollout::testing::run(rollout::testing::emulated({exe, "--version"})).out, "9.9.9\n");
  ::setenv("ROLLOUT_DEMO_VERSION", "7.7.7", 1);
  EXPECT_EQ(rollout::testing::run(rollout::testing::emulated({exe, "--version"})).out, "7.7.7\n");
  ::unsetenv("ROLLOUT_DEMO_VERSION");
}

TEST_F(DemoTest, HealthyRunsWithHeartbeatsUntilSigterm) {
  auto p = start(variant("healthy", "1.0.0"));
  ASSERT_TRUE(stdout_contains("heartbeat 1.0.0 2"));
  EXPECT_FALSE(p->poll().has_value());
  auto s = p->terminate(60s);
  EXPECT_TRUE(s.success()) << s.describe();
  EXPECT_TRUE(stdout_contains("stopping"));
}

TEST_F(DemoTest, CrashAtStartAbortsWithAPanicLine) {
  auto p = start(variant("crash-at-start", "1.0.1"));
  auto s = p->wait_for(60s);
  ASSERT_TRUE(s);
  EXPECT_TRUE(s->signaled());
  EXPECT_EQ(s->signal, SIGABRT);
  EXPECT_EQ(own_lines(p->stderr_tail()), std::vector<std::string>{"panic: simulated crash"});
}

TEST_F(DemoTest, CrashAfterRunsThenAborts) {
  auto p = start(variant("crash-after:1", "1.0.2"));
  ASSERT_TRUE(stdout_contains("heartbeat 1.0.2 1"));
  auto s = p->wait_for(60s);
  ASSERT_TRUE(s);
  EXPECT_EQ(s->signal, SIGABRT);
  EXPECT_EQ(own_lines(p->stderr_tail()).back(), "panic: simulated crash");
}

TEST_F(DemoTest, ExitNonzeroExitsWithTheCode) {
  auto p = start(variant("exit-nonzero:3", "1.0.3"));
  auto s = p->wait_for(60s);
  ASSERT_TRUE(s);
  EXPECT_FALSE(s->signaled());
  EXPECT_EQ(s->code, 3);
  EXPECT_EQ(p->stderr_tail(), std::vector<std::string>{"demo agent 1.0.3 exiting with code 3"});
}

TEST_F(DemoTest, HangIgnoresSigtermAndNeedsSigkill) {
  auto p = start(variant("hang", "1.0.4"));
  // It announces the hang once SIGTERM is ignored; a graceful stop must then fail.
  const auto deadline = std::chrono::steady_clock::now() + 60s;
  while (p->stderr_tail().empty() && std::chrono::steady_clock::now() < deadline) {
    EXPECT_FALSE(p->wait_for(20ms).has_value());
  }
  ASSERT_EQ(p->stderr_tail(), std::vector<std::string>{"demo agent 1.0.4 hanging"});
  auto s = p->terminate(200ms);
  EXPECT_TRUE(s.signaled());
  EXPECT_EQ(s.signal, SIGKILL);
}

TEST_F(DemoTest, SidecarAndEnvironmentChooseTheBehaviour) {
  const auto exe = variant("healthy", "1.0.5");
  write_file(dir / "behaviour", "exit-nonzero:4\n");
  EXPECT_EQ(rollout::testing::run(rollout::testing::emulated({exe})).exit_code, 4);
  ::setenv("ROLLOUT_DEMO_BEHAVIOUR", "exit-nonzero:5", 1);
  EXPECT_EQ(rollout::testing::run(rollout::testing::emulated({exe})).exit_code, 5);
  ::unsetenv("ROLLOUT_DEMO_BEHAVIOUR");
}

TEST_F(DemoTest, UnknownBehaviourOrArgumentIsExitCodeTwo) {
  const auto exe = variant("dance", "1.0.6");
  auto r = rollout::testing::run(rollout::testing::emulated({exe}));
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("unknown behaviour 'dance'"), std::string::npos);
  EXPECT_EQ(rollout::testing::run({kDemo, "--bogus"}).exit_code, 2);
  EXPECT_EQ(rollout::testing::run({kDemo, "--help"}).exit_code, 0);
}

}  // namespace
}  // namespace rollout::agent
