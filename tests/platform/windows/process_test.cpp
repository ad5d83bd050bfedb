// Process supervision on Windows, with a real child (rollout_test_child.exe, built beside this
// program): job-object lifetime, exception-code exits, graceful and forced stops, stderr tail.
#include "platform/process.hpp"

#include <gtest/gtest.h>
#include <windows.h>

#include <thread>

#include "platform/fs.hpp"
#include "tests/testing/testing.hpp"

namespace rollout::platform {
namespace {

using namespace std::chrono_literals;

std::string child_path() {
  auto self = current_executable_path();
  EXPECT_TRUE(self) << self.error().message;
  const auto dir = self->substr(0, self->find_last_of("\\/"));
  return dir + "\\rollout_test_child.exe";
}

std::unique_ptr<Process> start(std::vector<std::string> args) {
  LaunchOptions o;
  o.executable = child_path();
  o.args = std::move(args);
  o.env = {{"ROLLOUT_TEST_VAR", "from the test"}};
  auto p = real_process_launcher().launch(o);
  EXPECT_TRUE(p) << p.error().message;
  return p ? std::move(*p) : nullptr;
}

bool process_alive(DWORD pid) {
  HANDLE h = ::OpenProcess(SYNCHRONIZE, FALSE, pid);
  if (h == nullptr) return false;  // gone (and its id released)
  const bool running = ::WaitForSingleObject(h, 0) == WAIT_TIMEOUT;
  ::CloseHandle(h);
  return running;
}

TEST(WindowsProcess, ExitCodeIsReported) {
  auto p = start({"exit", "3"});
  ASSERT_TRUE(p);
  auto s = p->wait_for(30s);
  ASSERT_TRUE(s);
  EXPECT_FALSE(s->success());
  EXPECT_FALSE(s->signaled());
  EXPECT_EQ(s->code, 3);
  EXPECT_EQ(s->describe(), "exit code 3");
}

TEST(WindowsProcess, NullDereferenceIsReportedAsAccessViolation) {
  auto p = start({"crash"});
  ASSERT_TRUE(p);
  auto s = p->wait_for(30s);
  ASSERT_TRUE(s);
  EXPECT_FALSE(s->success());
  EXPECT_EQ(s->how, ExitStatus::How::exception);
  EXPECT_EQ(s->exception, 0xC0000005U);
  EXPECT_EQ(s->describe(), "exception 0xC0000005 (access violation)");
  const auto tail = p->stderr_tail();
  ASSERT_FALSE(tail.empty());
  EXPECT_EQ(tail.front(), "about to crash");
}

TEST(WindowsProcess, ChildAndGrandchildDieWhenTheJobCloses) {
  testing::TempDir tmp;
  const auto pid_file = (tmp / "grandchild.pid").string();
  auto p = start({"grandchild", pid_file});
  ASSERT_TRUE(p);
  DWORD grandchild = 0;
  for (int i = 0; i < 300 && grandchild == 0; ++i) {
    grandchild =
        static_cast<DWORD>(std::strtoul(testing::read_file(pid_file).c_str(), nullptr, 10));
    if (grandchild == 0) std::this_thread::sleep_for(100ms);
  }
  ASSERT_NE(grandchild, 0U) << "the child never reported its grandchild";
  const auto child = static_cast<DWORD>(p->pid());
  HANDLE gc = ::OpenProcess(SYNCHRONIZE | PROCESS_QUERY_LIMITED_INFORMATION, FALSE, grandchild);
  ASSERT_NE(gc, nullptr);
  EXPECT_TRUE(process_alive(child));
  EXPECT_EQ(::WaitForSingleObject(gc, 0), static_cast<DWORD>(WAIT_TIMEOUT));

  p.reset();  // the supervisor lets go: its job object closes

  EXPECT_EQ(::WaitForSingleObject(gc, 30'000), static_cast<DWORD>(WAIT_OBJECT_0))
      << "the grandchild outlived the job";
  ::CloseHandle(gc);
  EXPECT_FALSE(process_alive(child));
}

TEST(WindowsProcess, TerminateSetsTheStopEventFirst) {
  auto p = start({"wait-stop"});
  ASSERT_TRUE(p);
  // Wait until the child is waiting, so the stop is not a race with its start.
  for (int i = 0; i < 300 && p->stderr_tail().empty(); ++i) std::this_thread::sleep_for(100ms);
  const auto s = p->terminate(30s);
  EXPECT_EQ(s.code, 7) << s.describe();
  const auto tail = p->stderr_tail();
  ASSERT_FALSE(tail.empty());
  EXPECT_EQ(tail.back(), "stopping gracefully");
}

TEST(WindowsProcess, TerminateForcesAChildThatIgnoresTheStop) {
  auto p = start({"sleep"});
  ASSERT_TRUE(p);
  const auto s = p->terminate(200ms);
  EXPECT_FALSE(s.success());
  EXPECT_EQ(s.how, ExitStatus::How::exception);
  EXPECT_EQ(s.exception, 0xC000013AU);
  EXPECT_EQ(s.describe(), "exception 0xC000013A (stopped by force or Ctrl+C)");
}

TEST(WindowsProcess, StderrTailIsBounded) {
  LaunchOptions o;
  o.executable = child_path();
  o.args = {"lines", "1000"};
  o.stderr_max_lines = 5;
  auto p = real_process_launcher().launch(o);
  ASSERT_TRUE(p) << p.error().message;
  ASSERT_TRUE((*p)->wait_for(30s));
  const auto tail = (*p)->stderr_tail();
  ASSERT_EQ(tail.size(), 5U);
  EXPECT_EQ(tail.back(), "line 1000");
  EXPECT_EQ(tail.front(), "line 996");
}

TEST(WindowsProcess, StdinIsNul) {
  auto p = start({"stdin"});
  ASSERT_TRUE(p);
  auto s = p->wait_for(30s);
  ASSERT_TRUE(s);
  EXPECT_EQ(s->code, 0);
}

TEST(WindowsProcess, ArgumentsAndEnvironmentArriveIntact) {
  const std::string tricky = R"(a "quoted" arg with \\ and \" inside\)";
  auto p = start({"echo", "plain", "two words", tricky, ""});
  ASSERT_TRUE(p);
  auto s = p->wait_for(30s);
  ASSERT_TRUE(s);
  EXPECT_EQ(s->code, 0);
  const std::vector<std::string> want = {"plain", "two words", tricky, "var=from the test"};
  auto tail = p->stderr_tail();
  // The empty argument prints an empty line, which the tail keeps as an empty entry.
  tail.erase(std::remove(tail.begin(), tail.end(), std::string()), tail.end());
  EXPECT_EQ(tail, want);
}

TEST(WindowsProcess, MissingProgramIsALaunchFailure) {
  LaunchOptions o;
  o.executable = "C:\\does\\not\\exist.exe";
  auto p = real_process_launcher().launch(o);
  ASSERT_FALSE(p);
  EXPECT_EQ(p.error().code, "launch_failed");
  EXPECT_NE(p.error().message.find("exist.exe"), std::string::npos);
}

TEST(WindowsProcess, WaitHandlesAreWaitable) {
  auto p = start({"exit", "0"});
  ASSERT_TRUE(p);
  const auto handles = p->wait_handles();
  ASSERT_FALSE(handles.empty());
  EXPECT_EQ(::WaitForSingleObject(reinterpret_cast<HANDLE>(handles.front()), 30'000),
            static_cast<DWORD>(WAIT_OBJECT_0));
  auto s = p->poll();
  ASSERT_TRUE(s);
  EXPECT_TRUE(s->success());
}

}  // namespace
}  // namespace rollout::platform
