// LockFileEx instance lock: exclusion (also between handles of one process), the holder's pid
// in the refusal, and release when the holder dies.
#include <gtest/gtest.h>
#include <windows.h>

#include <thread>

#include "platform/instance_lock.hpp"
#include "platform/process.hpp"
#include "tests/testing/testing.hpp"

namespace rollout::platform {
namespace {

using namespace std::chrono_literals;

TEST(WindowsInstanceLock, SecondHolderIsRefusedWithTheFirstsPid) {
  testing::TempDir tmp;
  const auto path = (tmp / "agent.lock").string();
  auto first = lock_instance(path);
  ASSERT_TRUE(first) << first.error().message;
  auto second = lock_instance(path);
  ASSERT_FALSE(second);
  EXPECT_EQ(second.error().code, "locked");
  EXPECT_NE(second.error().message.find("pid " + std::to_string(::GetCurrentProcessId())),
            std::string::npos)
      << second.error().message;
  first->reset();
  auto third = lock_instance(path);
  EXPECT_TRUE(third) << third.error().message;
}

TEST(WindowsInstanceLock, ReleasedWhenTheHolderIsKilled) {
  testing::TempDir tmp;
  const auto path = (tmp / "agent.lock").string();
  auto self = current_executable_path();
  ASSERT_TRUE(self);
  LaunchOptions o;
  o.executable = self->substr(0, self->find_last_of("\\/")) + "\\rollout_test_child.exe";
  o.args = {"lock", path};
  auto child = real_process_launcher().launch(o);
  ASSERT_TRUE(child) << child.error().message;
  for (int i = 0; i < 300 && (*child)->stderr_tail().empty(); ++i) {
    std::this_thread::sleep_for(100ms);
  }
  ASSERT_EQ((*child)->stderr_tail(), std::vector<std::string>{"locked"});
  auto refused = lock_instance(path);
  ASSERT_FALSE(refused);
  EXPECT_NE(refused.error().message.find("pid " + std::to_string((*child)->pid())),
            std::string::npos)
      << refused.error().message;

  (void)(*child)->terminate(0ms);  // forced: like a crash, no clean-up in the holder
  auto after = lock_instance(path);
  EXPECT_TRUE(after) << after.error().message;
}

}  // namespace
}  // namespace rollout::platform
