// One process per state directory: a second taker is refused with the holder's pid, the lock
// goes with its holder, and a child process does not carry it.
#include "platform/instance_lock.hpp"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>

#include "tests/testing/testing.hpp"

namespace rollout::platform {
namespace {

TEST(InstanceLock, ASecondTakerIsRefusedWithTheHoldersPid) {
  rollout::testing::TempDir dir;
  const std::string path = (dir.path() / "agent.lock").string();
  auto first = lock_instance(path);
  ASSERT_TRUE(first.ok()) << first.error().message;
  EXPECT_EQ(std::filesystem::status(path).permissions() & std::filesystem::perms::all,
            std::filesystem::perms::owner_read | std::filesystem::perms::owner_write);
  auto second = lock_instance(path);
  ASSERT_FALSE(second.ok());
  EXPECT_EQ(second.error().code, "locked");
  EXPECT_NE(second.error().message.find("pid " + std::to_string(::getpid())), std::string::npos)
      << second.error().message;
  first->reset();
  EXPECT_TRUE(lock_instance(path).ok()) << "released with its holder";
}

TEST(InstanceLock, AChildProcessDoesNotKeepTheLock) {
  rollout::testing::TempDir dir;
  const std::string path = (dir.path() / "agent.lock").string();
  auto held = lock_instance(path);
  ASSERT_TRUE(held.ok());
  // The pipe's write end closes at the child's exec, so EOF on the read end means "exec'd".
  int exec_done[2];
  ASSERT_EQ(::pipe2(exec_done, O_CLOEXEC), 0);
  const pid_t child = ::fork();
  if (child == 0) {
    ::execl("/bin/sleep", "sleep", "3", static_cast<char*>(nullptr));
    ::_exit(127);
  }
  ASSERT_GT(child, 0);
  ::close(exec_done[1]);
  char byte;
  EXPECT_EQ(::read(exec_done[0], &byte, 1), 0);
  ::close(exec_done[0]);
  held->reset();
  EXPECT_TRUE(lock_instance(path).ok()) << "the exec'd child inherited the lock";
  ::kill(child, SIGKILL);
  ::waitpid(child, nullptr, 0);
}

TEST(InstanceLock, ASymlinkAtTheLockPathIsRefused) {
  rollout::testing::TempDir dir;
  const auto target = dir.path() / "elsewhere";
  rollout::testing::write_file(target, "precious");
  std::filesystem::create_symlink(target, dir.path() / "agent.lock");
  EXPECT_FALSE(lock_instance((dir.path() / "agent.lock").string()).ok());
  EXPECT_EQ(rollout::testing::read_file(target), "precious");
}

}  // namespace
}  // namespace rollout::platform
