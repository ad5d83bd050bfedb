// sd_notify integration: messages reach a NOTIFY_SOCKET (a datagram socket the test binds, as
// systemd does), the watchdog interval is read from WATCHDOG_USEC, and without a socket every
// call is a harmless no-op.
#include <gtest/gtest.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstring>

#include "platform/service.hpp"
#include "tests/testing/testing.hpp"

namespace rollout::platform {
namespace {

struct EnvGuard {
  ~EnvGuard() {
    ::unsetenv("NOTIFY_SOCKET");
    ::unsetenv("WATCHDOG_USEC");
    ::unsetenv("WATCHDOG_PID");
  }
};

TEST(ServiceNotifier, WithoutANotifySocketEverythingIsANoOp) {
  EnvGuard guard;
  ::unsetenv("NOTIFY_SOCKET");
  ::unsetenv("WATCHDOG_USEC");
  auto& n = system_service_notifier();
  n.notify_ready();
  n.notify_status("idle");
  n.notify_watchdog();
  n.notify_stopping();
  EXPECT_FALSE(n.watchdog_interval().has_value());
}

TEST(ServiceNotifier, SendsReadyStatusAndWatchdogToTheNotifySocket) {
  EnvGuard guard;
  rollout::testing::TempDir dir;
  const std::string path = (dir / "notify.sock").string();
  const int fd = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  ASSERT_GE(fd, 0);
  timeval limit{60, 0};  // fail rather than hang if a message never arrives
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &limit, sizeof limit);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  ASSERT_LT(path.size(), sizeof addr.sun_path);
  std::memcpy(addr.sun_path, path.c_str(), path.size() + 1);
  ASSERT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  ::setenv("NOTIFY_SOCKET", path.c_str(), 1);

  auto& n = system_service_notifier();
  n.notify_ready();
  n.notify_status("downloading 2.0.0\nsecond line");
  n.notify_watchdog();
  std::vector<std::string> got;
  for (int i = 0; i < 3; ++i) {
    char buf[512];
    const ssize_t len = ::recv(fd, buf, sizeof buf, 0);  // sd_notify sends synchronously
    ASSERT_GT(len, 0);
    got.emplace_back(buf, static_cast<std::size_t>(len));
  }
  ::close(fd);
  EXPECT_EQ(got, (std::vector<std::string>{"READY=1", "STATUS=downloading 2.0.0 second line",
                                           "WATCHDOG=1"}));
}

TEST(ServiceNotifier, ReadsTheWatchdogIntervalForThisProcess) {
  EnvGuard guard;
  ::setenv("WATCHDOG_USEC", "30000000", 1);
  ::setenv("WATCHDOG_PID", std::to_string(::getpid()).c_str(), 1);
  auto interval = system_service_notifier().watchdog_interval();
  ASSERT_TRUE(interval.has_value());
  EXPECT_EQ(*interval, std::chrono::seconds(30));
  ::setenv("WATCHDOG_PID", "1", 1);  // meant for another process
  EXPECT_FALSE(system_service_notifier().watchdog_interval().has_value());
}

}  // namespace
}  // namespace rollout::platform
