// Clock waits: the real one ends at its deadline or on a notify; the fake one passes virtual time
// (jumping to the deadline or to the first scheduled event in auto-advance mode, following the
// test's advance() in manual mode) and is the same on every run. No test here measures how fast
// anything happens: real-time waits are only bounded above by generous limits.
#include <gtest/gtest.h>

#include <thread>
#include <vector>

#include "platform/clock.hpp"

namespace rollout::platform {
namespace {

using namespace std::chrono_literals;

TEST(Wake, IsRememberedUntilConsumed) {
  Wake w;
  EXPECT_FALSE(w.pending());
  w.notify();
  w.notify();
  EXPECT_TRUE(w.pending());
  EXPECT_TRUE(w.consume());
  EXPECT_FALSE(w.consume());
}

TEST(SystemClock, WaitEndsAtTheDeadlineWithoutANotify) {
  Wake w;
  auto& c = system_clock();
  const auto deadline = c.steady_now() + 20ms;
  EXPECT_FALSE(c.wait_until(deadline, w));
  EXPECT_GE(c.steady_now(), deadline);
}

TEST(SystemClock, ANotifyBeforeTheWaitIsNotLost) {
  Wake w;
  w.notify();
  // An hour-long wait returns at once: the notification was pending.
  EXPECT_TRUE(system_clock().wait_until(system_clock().steady_now() + 1h, w));
  EXPECT_FALSE(w.pending());
}

TEST(SystemClock, ANotifyFromAnotherThreadEndsAWaitWithoutDeadline) {
  Wake w;
  std::thread t([&] {
    std::this_thread::sleep_for(10ms);
    w.notify();
  });
  EXPECT_TRUE(system_clock().wait_until(std::chrono::steady_clock::time_point::max(), w));
  t.join();
}

TEST(SystemClock, APassedDeadlineReturnsAtOnce) {
  Wake w;
  EXPECT_FALSE(system_clock().wait_until(system_clock().steady_now() - 1s, w));
}

TEST(FakeClock, AdvanceMovesWallAndSteadyTimeTogether) {
  FakeClock c;
  const auto wall = c.now();
  const auto steady = c.steady_now();
  c.advance(90s);
  EXPECT_EQ(c.now() - wall, 90s);
  EXPECT_EQ(c.steady_now() - steady, 90s);
  c.set_wall(wall - 48h);  // a skewed wall clock leaves monotonic time alone
  EXPECT_EQ(c.steady_now() - steady, 90s);
}

TEST(FakeClock, AutoAdvanceJumpsToTheDeadline) {
  FakeClock c;
  Wake w;
  const auto start = c.steady_now();
  const auto wall = c.now();
  EXPECT_FALSE(c.wait_until(start + 10min, w));
  EXPECT_EQ(c.steady_now(), start + 10min);
  EXPECT_EQ(c.now(), wall + 10min);
  EXPECT_EQ(c.waits(), 1u);
}

TEST(FakeClock, AWaitStopsAtTheFirstScheduledEventAndRunsIt) {
  FakeClock c;
  Wake w;
  const auto start = c.steady_now();
  std::vector<std::string> ran;
  c.at(start + 3s, [&] { ran.push_back("b@" + std::to_string((c.steady_now() - start) / 1s)); });
  c.at(start + 1s, [&] { ran.push_back("a@" + std::to_string((c.steady_now() - start) / 1s)); });
  EXPECT_FALSE(c.wait_until(start + 1h, w));
  EXPECT_EQ(c.steady_now(), start + 1s) << "the wait must stop at the event";
  EXPECT_EQ(ran, (std::vector<std::string>{"a@1"}));
  EXPECT_FALSE(c.wait_until(start + 1h, w));
  EXPECT_EQ(c.steady_now(), start + 3s);
  EXPECT_EQ(ran, (std::vector<std::string>{"a@1", "b@3"}));
  EXPECT_FALSE(c.wait_until(start + 1h, w));
  EXPECT_EQ(c.steady_now(), start + 1h);
}

TEST(FakeClock, AnEventThatNotifiesEndsTheWaitAsWoken) {
  FakeClock c;
  Wake w;
  std::atomic<bool> stop{false};
  c.after(5min, [&] {
    stop = true;
    w.notify();
  });
  // A loop that waits for its next check-in every minute until stopped: deterministic count.
  int checkins = 0;
  const auto start = c.steady_now();
  auto next = start;
  while (!stop) {
    if (c.steady_now() >= next) {
      ++checkins;
      next += 1min;
    }
    (void)c.wait_until(next, w);
  }
  EXPECT_EQ(c.steady_now(), start + 5min);
  EXPECT_EQ(checkins, 5);  // at 0, 1, 2, 3 and 4 minutes
}

TEST(FakeClock, APendingNotifyReturnsWithoutMovingTime) {
  FakeClock c;
  Wake w;
  const auto start = c.steady_now();
  w.notify();
  EXPECT_TRUE(c.wait_until(start + 1h, w));
  EXPECT_EQ(c.steady_now(), start);
}

TEST(FakeClock, AdvanceRunsDueEventsInOrderAtTheirOwnInstants) {
  FakeClock c;
  const auto start = c.steady_now();
  std::vector<std::chrono::seconds> seen;
  for (int s : {30, 10, 20}) {
    c.at(start + std::chrono::seconds(s), [&] {
      seen.push_back(std::chrono::duration_cast<std::chrono::seconds>(c.steady_now() - start));
    });
  }
  c.advance(25s);
  EXPECT_EQ(seen, (std::vector<std::chrono::seconds>{10s, 20s}));
  EXPECT_EQ(c.steady_now(), start + 25s);
  c.advance(5s);
  EXPECT_EQ(seen.size(), 3u);
}

TEST(FakeClock, AnEventMayScheduleAnother) {
  FakeClock c;
  Wake w;
  int ticks = 0;
  std::function<void()> tick = [&] {
    if (++ticks < 4) c.after(1s, tick);
  };
  c.after(1s, tick);
  const auto start = c.steady_now();
  while (c.steady_now() < start + 10s) (void)c.wait_until(start + 10s, w);
  EXPECT_EQ(ticks, 4);
}

TEST(FakeClock, ManualModeWaitsForTheTestToAdvance) {
  FakeClock c;
  c.set_auto_advance(false);
  Wake w;
  const auto start = c.steady_now();
  std::atomic<bool> returned{false};
  std::thread loop([&] {
    (void)c.wait_until(start + 10s, w);
    returned = true;
  });
  ASSERT_TRUE(c.await_waiters(1));
  c.advance(9s);
  // Still parked: virtual time has not reached the deadline (the loop re-checks and sleeps on).
  ASSERT_TRUE(c.await_waiters(1));
  EXPECT_FALSE(returned.load());
  c.advance(1s);
  loop.join();
  EXPECT_TRUE(returned.load());
  EXPECT_EQ(c.waiters(), 0u);
}

TEST(FakeClock, ManualModeWaitEndsOnANotifyFromAnotherThread) {
  FakeClock c;
  c.set_auto_advance(false);
  Wake w;
  bool woken = false;
  std::thread loop([&] { woken = c.wait_until(std::chrono::steady_clock::time_point::max(), w); });
  ASSERT_TRUE(c.await_waiters(1));
  w.notify();
  loop.join();
  EXPECT_TRUE(woken);
}

TEST(FakeClock, ManualModeWaitEndsWhenAnEventRuns) {
  FakeClock c;
  c.set_auto_advance(false);
  Wake w;
  const auto start = c.steady_now();
  bool ran = false;
  c.at(start + 1s, [&] { ran = true; });
  std::thread loop([&] { (void)c.wait_until(start + 1h, w); });
  ASSERT_TRUE(c.await_waiters(1));
  c.advance(2s);
  loop.join();
  EXPECT_TRUE(ran);
  EXPECT_EQ(c.steady_now(), start + 2s);
}

// Work on another thread that the waiter expects (Wake::expect) takes no virtual time: the
// auto-advancing wait does not jump past it but returns, woken, when it is fulfilled.
TEST(FakeClock, AnExpectedFulfilTakesNoVirtualTime) {
  FakeClock c;
  Wake w;
  const auto start = c.steady_now();
  w.expect();
  EXPECT_TRUE(w.expecting());
  std::thread worker([&] {
    ASSERT_TRUE(c.await_waiters(1));
    w.fulfil();
  });
  EXPECT_TRUE(c.wait_until(start + 1h, w));
  worker.join();
  EXPECT_EQ(c.steady_now(), start);
  EXPECT_FALSE(w.expecting());
  (void)c.wait_until(start + 1h, w);  // nothing expected any more: it jumps again
  EXPECT_EQ(c.steady_now(), start + 1h);
}

// While it is expected, the worker may move time itself (a server holding a request for a
// virtual minute): the wait then ends at its deadline as in manual mode, and events run.
TEST(FakeClock, WhileAFulfilIsExpectedAnotherThreadMovesTime) {
  FakeClock c;
  Wake w;
  const auto start = c.steady_now();
  bool ran = false;
  c.at(start + 1s, [&] { ran = true; });
  w.expect();
  std::thread worker([&] {
    ASSERT_TRUE(c.await_waiters(1));
    c.advance(3s);
  });
  EXPECT_FALSE(c.wait_until(start + 2s, w));
  worker.join();
  EXPECT_TRUE(ran);
  EXPECT_EQ(c.steady_now(), start + 3s);
  w.fulfil();
  EXPECT_TRUE(c.wait_until(start + 1h, w));  // the pending notify
}

TEST(FakeClockDeathTest, AWaitThatCanNeverEndAbortsWithAMessage) {
  FakeClock c;
  Wake w;
  EXPECT_DEATH((void)c.wait_until(std::chrono::steady_clock::time_point::max(), w),
               "can never end");
}

}  // namespace
}  // namespace rollout::platform
