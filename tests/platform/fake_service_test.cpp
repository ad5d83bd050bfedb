// FakeServiceNotifier: every notification recorded in order with its virtual time, the watchdog
// interval as configured, and the longest keep-alive gap a service manager would measure.
#include "platform/fake_service.hpp"

#include <gtest/gtest.h>

namespace rollout::platform {
namespace {

using namespace std::chrono_literals;
using Kind = FakeServiceNotifier::Kind;

TEST(FakeServiceNotifier, RecordsEveryCallWithItsVirtualTime) {
  FakeClock clock;
  FakeServiceNotifier n(clock);
  const auto start = clock.steady_now();
  const auto wall = clock.now();
  n.notify_ready();
  clock.advance(1s);
  n.notify_status("version 1.0.0, idle");
  clock.advance(2s);
  n.notify_watchdog();
  n.notify_stopping();
  auto calls = n.calls();
  ASSERT_EQ(calls.size(), 4u);
  EXPECT_EQ(calls[0].kind, Kind::ready);
  EXPECT_EQ(calls[0].at, start);
  EXPECT_EQ(calls[0].wall, wall);
  EXPECT_EQ(calls[1].kind, Kind::status);
  EXPECT_EQ(calls[1].text, "version 1.0.0, idle");
  EXPECT_EQ(calls[1].at, start + 1s);
  EXPECT_EQ(calls[2].kind, Kind::watchdog);
  EXPECT_EQ(calls[2].at, start + 3s);
  EXPECT_EQ(calls[3].kind, Kind::stopping);
  EXPECT_EQ(n.count(Kind::ready), 1u);
  EXPECT_EQ(n.statuses(), std::vector<std::string>{"version 1.0.0, idle"});
}

TEST(FakeServiceNotifier, WatchdogIntervalIsWhatTheTestConfigures) {
  FakeClock clock;
  FakeServiceNotifier none(clock);
  EXPECT_FALSE(none.watchdog_interval().has_value());
  FakeServiceNotifier n(clock, std::chrono::microseconds(30s));
  EXPECT_EQ(n.watchdog_interval(), std::chrono::microseconds(30s));
  n.set_watchdog_interval(std::nullopt);
  EXPECT_FALSE(n.watchdog_interval().has_value());
}

TEST(FakeServiceNotifier, LongestWatchdogGapCountsFromReadyToTheEnd) {
  FakeClock clock;
  FakeServiceNotifier n(clock);
  const auto start = clock.steady_now();
  EXPECT_FALSE(n.longest_watchdog_gap(start).has_value()) << "not ready yet";
  n.notify_watchdog();  // before READY: not counted
  clock.advance(5s);
  n.notify_ready();
  clock.advance(10s);
  n.notify_watchdog();
  clock.advance(14s);
  n.notify_watchdog();
  clock.advance(3s);
  EXPECT_EQ(n.longest_watchdog_gap(clock.steady_now()), std::chrono::nanoseconds(14s));
  // A loop that stops pinging shows up at the end of the test.
  EXPECT_EQ(n.longest_watchdog_gap(clock.steady_now() + 1min), std::chrono::nanoseconds(63s));
}

}  // namespace
}  // namespace rollout::platform
