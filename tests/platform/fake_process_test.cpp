// FakeProcessLauncher: scripted children end, write stderr and answer SIGTERM at exact virtual
// instants, and every launch and stop is recorded, so supervisor tests can assert restarts,
// backoff and stops to the millisecond on a FakeClock.
#include "platform/fake_process.hpp"

#include <gtest/gtest.h>

namespace rollout::platform {
namespace {

using namespace std::chrono_literals;

LaunchOptions opts(std::string exe = "/opt/agent/versions/1.0.0/agent") {
  LaunchOptions o;
  o.executable = std::move(exe);
  o.args = {"--serve"};
  return o;
}

class FakeProcessTest : public ::testing::Test {
 protected:
  FakeClock clock;
  FakeProcessLauncher launcher{clock};
  std::chrono::steady_clock::time_point start = clock.steady_now();
};

TEST_F(FakeProcessTest, AChildExitsWithItsCodeAtItsInstant) {
  launcher.push(FakeChild::exits_after(5s, 3));
  auto p = launcher.launch(opts()).value();
  EXPECT_GT(p->pid(), 0);
  EXPECT_FALSE(p->poll().has_value());
  EXPECT_EQ(launcher.running(), 1u);
  clock.advance(4999ms);
  EXPECT_FALSE(p->poll().has_value());
  clock.advance(1ms);
  auto s = p->poll();
  ASSERT_TRUE(s.has_value());
  EXPECT_FALSE(s->signaled());
  EXPECT_EQ(s->code, 3);
  EXPECT_EQ(launcher.running(), 0u);
}

TEST_F(FakeProcessTest, AnAutoAdvancingWaitStopsWhenTheChildExits) {
  launcher.push(FakeChild::killed_after(2min, 11));
  auto p = launcher.launch(opts()).value();
  Wake w;
  // A supervisor waiting for its next check-in in an hour wakes at the crash instead.
  EXPECT_FALSE(clock.wait_until(start + 1h, w));
  EXPECT_EQ(clock.steady_now(), start + 2min);
  auto s = p->poll();
  ASSERT_TRUE(s.has_value());
  EXPECT_TRUE(s->signaled());
  EXPECT_EQ(s->signal, 11);
}

TEST_F(FakeProcessTest, WaitForPassesVirtualTime) {
  launcher.push(FakeChild::exits_after(30s, 0));
  auto p = launcher.launch(opts()).value();
  EXPECT_FALSE(p->wait_for(10s).has_value());
  EXPECT_EQ(clock.steady_now(), start + 10s);
  auto s = p->wait_for(1h);
  ASSERT_TRUE(s.has_value());
  EXPECT_TRUE(s->success());
  EXPECT_EQ(clock.steady_now(), start + 30s) << "the wait ends when the child does";
}

TEST_F(FakeProcessTest, StderrLinesAppearAtTheirInstantsInABoundedTail) {
  FakeChild c = FakeChild::killed_after(10s, 6);
  c.writes_stderr("starting", 0s).writes_stderr("loading plugins", 4s).writes_stderr("abort!", 9s);
  c.writes_stderr("never seen: after the end", 11s);
  launcher.push(c);
  LaunchOptions o = opts();
  o.stderr_max_lines = 2;
  auto p = launcher.launch(o).value();
  (void)p->poll();
  EXPECT_EQ(p->stderr_tail(), (std::vector<std::string>{"starting"}));
  clock.advance(5s);
  (void)p->poll();
  EXPECT_EQ(p->stderr_tail(), (std::vector<std::string>{"starting", "loading plugins"}));
  clock.advance(1h);
  ASSERT_TRUE(p->poll().has_value());
  EXPECT_EQ(p->stderr_tail(), (std::vector<std::string>{"loading plugins", "abort!"}));
}

TEST_F(FakeProcessTest, AFailedStartIsALaunchErrorAndIsRecorded) {
  launcher.push(FakeChild::fails_to_start("Exec format error"));
  auto p = launcher.launch(opts());
  ASSERT_FALSE(p.ok());
  EXPECT_EQ(p.error().code, "launch_failed");
  EXPECT_NE(p.error().message.find("Exec format error"), std::string::npos);
  ASSERT_EQ(launcher.launches().size(), 1u);
  EXPECT_EQ(launcher.launches()[0].pid, 0);
  EXPECT_EQ(launcher.running(), 0u);
}

TEST_F(FakeProcessTest, LaunchesAreRecordedWithOptionsAndTimes) {
  launcher.push(FakeChild::exits_after(1s, 1));
  auto a = launcher.launch(opts("/a")).value();
  clock.advance(7s);
  auto b = launcher.launch(opts("/b")).value();  // the default script: runs until stopped
  auto l = launcher.launches();
  ASSERT_EQ(l.size(), 2u);
  EXPECT_EQ(l[0].options.executable, "/a");
  EXPECT_EQ(l[0].options.args, std::vector<std::string>{"--serve"});
  EXPECT_EQ(l[0].at, start);
  EXPECT_EQ(l[1].options.executable, "/b");
  EXPECT_EQ(l[1].at, start + 7s);
  EXPECT_NE(l[0].pid, l[1].pid);
  EXPECT_TRUE(a->poll().has_value());
  EXPECT_FALSE(b->poll().has_value());
  EXPECT_EQ(launcher.running(), 1u);
}

TEST_F(FakeProcessTest, AScriptFunctionChoosesByLaunchOptions) {
  launcher.set_script([](const LaunchOptions& o) {
    return o.executable.find("/1.1.0/") != std::string::npos ? FakeChild::killed_after(3s, 11)
                                                             : FakeChild::runs();
  });
  auto old_version = launcher.launch(opts("/opt/versions/1.0.0/agent")).value();
  auto new_version = launcher.launch(opts("/opt/versions/1.1.0/agent")).value();
  clock.advance(1h);
  EXPECT_FALSE(old_version->poll().has_value());
  ASSERT_TRUE(new_version->poll().has_value());
  EXPECT_EQ(new_version->poll()->signal, 11);
}

TEST_F(FakeProcessTest, TerminateStopsAChildThatHonoursSigterm) {
  FakeChild c = FakeChild::runs();
  c.stops_after(2s, ExitStatus::exited(0));
  launcher.push(c);
  auto p = launcher.launch(opts()).value();
  clock.advance(1min);
  auto how = p->terminate(10s);
  EXPECT_TRUE(how.success());
  EXPECT_EQ(clock.steady_now(), start + 1min + 2s);
  auto stops = launcher.stops();
  ASSERT_EQ(stops.size(), 1u);
  EXPECT_EQ(stops[0].pid, p->pid());
  EXPECT_EQ(stops[0].at, start + 1min);
  EXPECT_EQ(stops[0].grace, 10s);
  EXPECT_FALSE(stops[0].forced);
  EXPECT_EQ(launcher.running(), 0u);
}

TEST_F(FakeProcessTest, AChildIgnoringSigtermIsKilledAfterTheGrace) {
  FakeChild c = FakeChild::runs();
  c.ignores_sigterm();
  launcher.push(c);
  auto p = launcher.launch(opts()).value();
  auto how = p->terminate(10s);
  EXPECT_TRUE(how.signaled());
  EXPECT_EQ(how.signal, 9);
  EXPECT_EQ(clock.steady_now(), start + 10s);
  ASSERT_EQ(launcher.stops().size(), 1u);
  EXPECT_TRUE(launcher.stops()[0].forced);
}

TEST_F(FakeProcessTest, TerminatingAnEndedChildReturnsHowItEnded) {
  launcher.push(FakeChild::exits_after(1s, 4));
  auto p = launcher.launch(opts()).value();
  clock.advance(2s);
  auto how = p->terminate(10s);
  EXPECT_EQ(how.code, 4);
  EXPECT_EQ(clock.steady_now(), start + 2s) << "nothing to wait for";
}

TEST_F(FakeProcessTest, DestroyingARunningChildRecordsAKill) {
  auto p = launcher.launch(opts()).value();
  const auto pid = p->pid();
  p.reset();
  auto stops = launcher.stops();
  ASSERT_EQ(stops.size(), 1u);
  EXPECT_EQ(stops[0].pid, pid);
  EXPECT_TRUE(stops[0].destroyed);
  EXPECT_EQ(stops[0].how.signal, 9);
  EXPECT_EQ(launcher.running(), 0u);
}

TEST_F(FakeProcessTest, AChildMayOutliveItsLauncher) {
  auto other = std::make_unique<FakeProcessLauncher>(clock);
  other->push(FakeChild::exits_after(1s, 0));
  auto p = other->launch(opts()).value();
  other.reset();
  clock.advance(1s);
  EXPECT_TRUE(p->poll().has_value());
}

TEST_F(FakeProcessTest, QueuedScriptsComeFirstThenTheDefault) {
  launcher.set_default(FakeChild::exits_after(1s, 7));
  launcher.push(FakeChild::exits_after(1s, 1));
  auto a = launcher.launch(opts()).value();
  auto b = launcher.launch(opts()).value();
  clock.advance(1s);
  EXPECT_EQ(a->poll()->code, 1);
  EXPECT_EQ(b->poll()->code, 7);
  EXPECT_TRUE(a->wait_handles().empty());
}

}  // namespace
}  // namespace rollout::platform
