// Process launch and supervision on Linux, with /bin/sh as the child. Waits use generous
// deadlines only to wait for events; nothing asserts how fast anything happens.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>

#include "platform/output_tail.hpp"
#include "platform/process.hpp"
#include "tests/testing/testing.hpp"

namespace rollout::platform {
namespace {

using namespace std::chrono_literals;
using rollout::testing::read_file;
using rollout::testing::TempDir;

std::unique_ptr<Process> sh(const std::string& script, LaunchOptions o = {}) {
  o.executable = "/bin/sh";
  o.args.insert(o.args.begin(), {"-c", script, "sh"});
  auto p = real_process_launcher().launch(o);
  EXPECT_TRUE(p) << p.error().message;
  return p ? std::move(p).value() : nullptr;
}

ExitStatus wait_exit(Process& p) {
  auto s = p.wait_for(60s);
  EXPECT_TRUE(s.has_value()) << "child did not exit";
  return s.value_or(ExitStatus{});
}

bool wait_stderr_line(Process& p, const std::string& line) {
  const auto deadline = std::chrono::steady_clock::now() + 60s;
  while (std::chrono::steady_clock::now() < deadline) {
    (void)p.wait_for(50ms);
    for (const auto& l : p.stderr_tail()) {
      if (l == line) return true;
    }
  }
  return false;
}

TEST(Process, ReportsExitCode) {
  auto p = sh("exit 3");
  auto s = wait_exit(*p);
  EXPECT_FALSE(s.signaled());
  EXPECT_EQ(s.code, 3);
  EXPECT_FALSE(s.success());
  EXPECT_EQ(s.describe(), "exit code 3");
  EXPECT_GT(p->pid(), 0);
}

TEST(Process, ReportsTerminatingSignal) {
  auto p = sh("kill -ABRT $$");
  auto s = wait_exit(*p);
  EXPECT_TRUE(s.signaled());
  EXPECT_EQ(s.signal, SIGABRT);
  EXPECT_EQ(s.describe(), "signal 6 (ABRT)");
}

TEST(Process, PollIsNonBlockingWhileRunning) {
  auto p = sh("exec sleep 100");
  EXPECT_FALSE(p->poll().has_value());
  EXPECT_FALSE(p->wait_handles().empty());
  auto s = p->terminate(30s);
  EXPECT_TRUE(s.signaled());
  EXPECT_EQ(s.signal, SIGTERM);
}

TEST(Process, KeepsOnlyTheLastStderrLines) {
  LaunchOptions o;
  o.stderr_max_lines = 5;
  auto p = sh("i=1; while [ $i -le 200 ]; do echo line$i >&2; i=$((i+1)); done; exit 1", o);
  wait_exit(*p);
  EXPECT_EQ(p->stderr_tail(),
            (std::vector<std::string>{"line196", "line197", "line198", "line199", "line200"}));
}

TEST(Process, StderrTailIsBoundedInBytes) {
  LaunchOptions o;
  o.stderr_max_bytes = 100;
  auto p = sh("head -c 100000 /dev/zero | tr '\\0' a >&2; echo >&2; echo last >&2", o);
  wait_exit(*p);
  std::size_t total = 0;
  for (const auto& l : p->stderr_tail()) total += l.size();
  EXPECT_LE(total, 100u);
  ASSERT_FALSE(p->stderr_tail().empty());
  EXPECT_EQ(p->stderr_tail().back(), "last");
}

TEST(Process, TerminateFallsBackToSigkillWhenSigtermIsIgnored) {
  auto p = sh("trap '' TERM; echo ready >&2; while :; do sleep 1; done");
  ASSERT_TRUE(wait_stderr_line(*p, "ready"));
  auto s = p->terminate(200ms);
  EXPECT_TRUE(s.signaled());
  EXPECT_EQ(s.signal, SIGKILL);
}

TEST(Process, PassesArgumentsEnvironmentAndWorkingDirectory) {
  TempDir dir;
  LaunchOptions o;
  o.env = {{"ROLLOUT_TEST_VAR", "hello"}};
  o.working_dir = dir.path().string();
  o.args = {"arg one"};
  o.stdout_path = (dir / "out.log").string();
  auto p = sh("echo \"$ROLLOUT_TEST_VAR|$(pwd)|$1\"", o);
  EXPECT_TRUE(wait_exit(*p).success());
  EXPECT_EQ(read_file(dir / "out.log"), "hello|" + dir.path().string() + "|arg one\n");
}

TEST(Process, WithoutInheritedEnvironmentOnlyGivenVariablesArePresent) {
  TempDir dir;
  ::setenv("ROLLOUT_TEST_PARENT_ONLY", "x", 1);
  LaunchOptions o;
  o.inherit_environment = false;
  o.env = {{"A", "1"}};
  o.stdout_path = (dir / "out").string();
  auto p = sh("echo \"${ROLLOUT_TEST_PARENT_ONLY:-unset} $A\"", o);
  wait_exit(*p);
  EXPECT_EQ(read_file(dir / "out"), "unset 1\n");
}

TEST(Process, ChildInheritsNoStrayDescriptors) {
  const int leaked = ::open("/dev/null", O_RDONLY);  // deliberately without O_CLOEXEC
  ASSERT_GE(leaked, 3);
  // launch() returns once exec has succeeded, so the child's table is final here.
  auto p = sh("exec sleep 100");
  ::close(leaked);
  std::vector<std::string> fds;
  for (const auto& e :
       std::filesystem::directory_iterator("/proc/" + std::to_string(p->pid()) + "/fd")) {
    fds.push_back(e.path().filename());
  }
  std::sort(fds.begin(), fds.end());
  EXPECT_EQ(fds, (std::vector<std::string>{"0", "1", "2"}));
  p->terminate(30s);
}

TEST(Process, MissingExecutableIsALaunchError) {
  LaunchOptions o;
  o.executable = "/nonexistent/program";
  auto p = real_process_launcher().launch(o);
  ASSERT_FALSE(p);
  EXPECT_EQ(p.error().code, "launch_failed");
  EXPECT_NE(p.error().message.find("/nonexistent/program"), std::string::npos);
}

TEST(Process, DestroyingARunningProcessKillsIt) {
  TempDir dir;
  pid_t pid;
  {
    auto p = sh("exec sleep 100");
    pid = static_cast<pid_t>(p->pid());
  }
  EXPECT_NE(::kill(pid, 0), 0);  // reaped: the pid no longer names our child
}

TEST(CurrentExecutable, ResolvesToThisTestProgram) {
  auto path = current_executable_path();
  ASSERT_TRUE(path);
  EXPECT_NE(path->find("platform_tests"), std::string::npos);
}

TEST(OutputTail, KeepsPartialLastLineAndDropsOldest) {
  OutputTail t(3, 1000);
  t.append("a\nb\r\nc");
  t.append("d\ne\nf");
  EXPECT_EQ(t.lines(), (std::vector<std::string>{"cd", "e", "f"}));
  EXPECT_EQ(t.text(), "cd\ne\nf");
}

TEST(OutputTail, ALineLongerThanTheBoundKeepsItsEnd) {
  OutputTail t(10, 4);
  t.append("abcdefgh\n");
  EXPECT_EQ(t.lines(), std::vector<std::string>{"efgh"});
  t.append("xyz");
  EXPECT_EQ(t.lines(), std::vector<std::string>{"xyz"});
}

}  // namespace
}  // namespace rollout::platform
