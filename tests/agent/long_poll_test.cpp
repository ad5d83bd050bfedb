// Long-poll check-ins on the real Controller loop, a FakeClock and the fake server of
// controller_loop_fixture.hpp: a held check-in takes virtual time (the fake server moves the
// clock itself, a loop tick at a time), so the bounds are exact and nothing depends on how fast
// the machine is. What a held answer, an old server, a proxy that cuts held requests and a stop
// during a hold do to the next check-in; that supervision and the watchdog go on during a hold.
#include <gtest/gtest.h>

#include "agent/long_poll.hpp"
#include "tests/agent/controller_loop_fixture.hpp"

namespace rollout::agent::test {
namespace {

using namespace std::chrono_literals;
using std::chrono::milliseconds;
using Answer = FakeServer::Answer;

milliseconds ms(Steady::duration d) {
  return std::chrono::duration_cast<milliseconds>(d);
}

// A server that holds: a check-in asking to be held is answered after `hold` with
// Preference-Applied; one that does not ask is answered at once.
Answer held_answer(std::chrono::seconds granted, milliseconds hold,
                   std::string body = R"({"poll_interval_s":60})") {
  Answer a;
  a.body = std::move(body);
  a.headers = {{"preference-applied", "wait=" + std::to_string(granted.count())}};
  a.hold = hold;
  return a;
}

bool asks_to_be_held(const net::Request& r) {
  for (const auto& h : r.headers) {
    if (h.first == "Prefer") return true;
  }
  return false;
}

class LongPollLoop : public ControllerLoop {
 protected:
  // Holds every check-in that asks for the whole wait it asks; answers the others at once with
  // `plain`.
  void serve_holding(Answer plain = {}) {
    server_.set_responder([plain](const net::Request& r) {
      if (!asks_to_be_held(r)) return plain;
      std::chrono::seconds wait{0};
      for (const auto& [name, value] : r.headers) {
        if (name == "Prefer") wait = std::chrono::seconds(std::stoi(value.substr(5)));
      }
      return held_answer(wait, wait);
    });
  }

  // A proxy whose idle timeout is shorter than the hold cuts the held check-in (a reset after 30 s,
  // or its 504): the agent backs off as for any error, then checks in without Prefer for 30 min,
  // and then asks to be held again (and after another cut, falls back for longer).
  void expect_fallback_after_a_cut(Answer cut) {
    server_.set_responder([cut](const net::Request& r) {
      if (asks_to_be_held(r)) return cut;
      return Answer{200, R"({"poll_interval_s":60})", {}};
    });
    run_for(2h);
    const auto seen = server_.seen();
    ASSERT_GE(seen.size(), 60u);
    std::vector<Steady> held;
    for (const auto& s : seen) {
      if (s.prefer) held.push_back(s.at);
    }
    ASSERT_EQ(held.size(), 3u) << "at start, after 30 min, after another 60 min";
    EXPECT_EQ(seen.front().prefer.value_or(""), "wait=55");
    EXPECT_FALSE(seen[1].prefer.has_value()) << "the check-in after the cut asked again";
    EXPECT_GE(ms(seen[1].at - seen[0].at), 30s + 1600ms);  // cut at 30 s, then the ~2 s backoff
    EXPECT_LE(ms(seen[1].at - seen[0].at), 30s + 2400ms + 250ms);
    // The first check-in at least 30 min after the cut asks again (plain ones run every ~60 s).
    EXPECT_GE(held[1] - held[0], 30s + 30min);
    EXPECT_LE(held[1] - held[0], 30s + 30min + 75s);
    EXPECT_GE(held[2] - held[1], 30s + 60min);
    EXPECT_LE(held[2] - held[1], 30s + 60min + 75s);
  }
};

TEST_F(LongPollLoop, EveryCheckinAsksForTheConfiguredWaitWithATimeoutBeyondIt) {
  cfg_.long_poll_wait = 40s;
  server_.set_default({200, R"({"poll_interval_s":30})", {}});  // an old server: never holds
  run_for(5min);
  const auto seen = server_.seen();
  ASSERT_GE(seen.size(), 8u);
  for (const auto& s : seen) {
    EXPECT_EQ(s.prefer.value_or("(none)"), "wait=40");
    EXPECT_EQ(s.timeout.value_or(0s), 40s + LongPoll::kTimeoutMargin);
  }
}

// An answer without Preference-Applied (an old server, or one at its cap of held connections)
// is not an error: the agent polls at the interval it gave, with jitter, and keeps asking.
TEST_F(LongPollLoop, AnAnswerWithoutPreferenceAppliedPollsAtTheInterval) {
  server_.set_default({200, R"({"poll_interval_s":30})", {}});
  run_for(10min);
  const auto t = server_.checkins();
  ASSERT_GE(t.size(), 16u);
  for (std::size_t i = 1; i < t.size(); ++i) {
    EXPECT_GE(ms(t[i] - t[i - 1]), 24s) << i;          // 30 s - 20 %
    EXPECT_LE(ms(t[i] - t[i - 1]), 36s + 250ms) << i;  // 30 s + 20 %, plus a tick
  }
  for (const auto& s : server_.seen()) EXPECT_EQ(s.prefer.value_or("(none)"), "wait=55");
}

TEST_F(LongPollLoop, ZeroWaitSendsNoPreferHeader) {
  cfg_.long_poll_wait = 0s;
  serve_holding(Answer{200, R"({"poll_interval_s":30})", {}});
  run_for(5min);
  const auto seen = server_.seen();
  ASSERT_GE(seen.size(), 8u);
  for (const auto& s : seen) {
    EXPECT_FALSE(s.prefer.has_value()) << *s.prefer;
    EXPECT_FALSE(s.timeout.has_value());
  }
}

// The server held each check-in for the 55 s granted: the next one starts right after the
// answer (up to a second of jitter), not a poll interval later.
TEST_F(LongPollLoop, AHeldAnswerIsFollowedByTheNextCheckinAtOnce) {
  serve_holding();
  run_for(10min);
  const auto t = server_.checkins();
  ASSERT_GE(t.size(), 10u);
  for (std::size_t i = 1; i < t.size(); ++i) {
    EXPECT_GE(ms(t[i] - t[i - 1]), 55s) << i;
    EXPECT_LE(ms(t[i] - t[i - 1]), 55s + 1s + 250ms) << i;  // the hold, the jitter, a tick
  }
}

// A server that answers every held check-in at once (a directive this agent will not act on,
// say) does not make the agent check in every second: after two such answers it waits the
// interval the server gave.
TEST_F(LongPollLoop, AServerAnsweringHeldCheckinsAtOnceDoesNotMakeItSpin) {
  server_.set_default(held_answer(55s, 0ms, R"({"poll_interval_s":60})"));
  run_for(10min);
  const auto t = server_.checkins();
  EXPECT_GE(t.size(), 8u);  // every 60 s +- 20 %, and the first two at once
  EXPECT_LE(t.size(), 16u) << "checked in every second";
}

TEST_F(LongPollLoop, AHeldCheckinCutByTheNetworkFallsBackToPollingAndTriesAgainLater) {
  Answer cut;
  cut.hold = 30s;
  cut.error = make_error("network", "Connection reset by peer");
  expect_fallback_after_a_cut(cut);
}

TEST_F(LongPollLoop, AProxysGatewayTimeoutFallsBackToPollingAndTriesAgainLater) {
  Answer cut{504, "<html>Gateway Time-out</html>", {}};
  cut.hold = 30s;
  expect_fallback_after_a_cut(cut);
}

// A stop during a held check-in cancels it: the loop shuts down at the stop, not when the
// server would have answered (the fake holds until cancelled, bounded in real time).
TEST_F(LongPollLoop, AStopWhileACheckinIsHeldEndsItAtOnce) {
  cfg_.long_poll_wait = 300s;
  serve_holding();
  const Steady start = clock_.steady_now();
  run_for(20s);
  EXPECT_EQ(server_.checkins().size(), 1u);
  EXPECT_EQ(server_.cancelled(), 1);
  EXPECT_LE(clock_.steady_now() - start, 20s + 250ms) << "the stop waited for the answer";
  EXPECT_EQ(notifier_.calls().back().kind, platform::FakeServiceNotifier::Kind::stopping);
}

// While the server holds check-ins, the managed agent is restarted when it exits and the
// watchdog is fed every half interval, as when nothing is held.
TEST_F(LongPollLoop, SupervisionAndTheWatchdogGoOnWhileACheckinIsHeld) {
  serve_holding();
  notifier_.set_watchdog_interval(std::chrono::microseconds(4'000'000));
  launcher_.set_default(platform::FakeChild::exits_after(7s, 1));
  run_for(10min);
  EXPECT_GE(server_.checkins().size(), 10u);
  const auto gap = notifier_.longest_watchdog_gap(clock_.steady_now());
  ASSERT_TRUE(gap.has_value());
  EXPECT_LE(*gap, 2s + 250ms);
  // An exit every 7 s, each restarted within the backoff (capped at 60 s), though every check-in
  // in this run was held.
  const auto t = launch_times();
  ASSERT_GE(t.size(), 10u);
  for (std::size_t i = 1; i < t.size(); ++i) EXPECT_LE(ms(t[i] - t[i - 1]), 7s + 60s + 250ms) << i;
  for (const auto& s : server_.seen()) EXPECT_TRUE(s.prefer.has_value());
}

// During an update (here probation) check-ins are plain, at the short interval; once the
// update is committed the agent checks in at once (the server sees it without waiting for a
// poll interval or a hold) and asks to be held again.
TEST_F(LongPollLoop, ChecksInPlainlyDuringAnUpdateAndAtOnceWhenItEnds) {
  in_probation();
  serve_holding(Answer{200, R"({"poll_interval_s":5})", {}});
  const std::optional<Steady> committed_at = run_until_committed(12min);
  ASSERT_TRUE(committed_at.has_value()) << "never committed";
  const auto seen = server_.seen();
  std::optional<Steady> first_held;
  for (const auto& s : seen) {
    if (s.at < *committed_at - 1s) {
      EXPECT_FALSE(s.prefer.has_value()) << "held during probation";
    } else if (s.prefer && !first_held) {
      first_held = s.at;
    }
  }
  ASSERT_TRUE(first_held.has_value());
  EXPECT_LE(*first_held - *committed_at, 1s) << "the commit waited for the interval";
}

TEST(LongPoll, ReadsTheGrantedWaitFromPreferenceApplied) {
  auto with = [](std::string value) {
    net::JsonResult r;
    r.headers = {{"content-type", "application/json"}, {"preference-applied", std::move(value)}};
    return LongPoll::granted(r);
  };
  EXPECT_EQ(with("wait=55"), 55s);
  EXPECT_EQ(with(" respond-async, WAIT = 30 "), 30s);
  EXPECT_EQ(with("wait=\"10\""), 10s);
  EXPECT_EQ(with("return=minimal"), std::nullopt);
  EXPECT_EQ(with("wait=soon"), std::nullopt);
  EXPECT_EQ(LongPoll::granted(net::JsonResult{}), std::nullopt);
  EXPECT_EQ(LongPoll::prefer(55s), (std::pair<std::string, std::string>{"Prefer", "wait=55"}));
}

TEST(LongPollConfig, DefaultsToFiftyFiveSecondsAndZeroTurnsItOff) {
  rollout::testing::TempDir dir;
  const std::string base =
      "server_url: https://x\nrelease_keys: [a.pub]\ndirective_keys: [b.pub]\n";
  rollout::testing::write_file(dir.path() / "agent.yaml", base);
  auto c = load_agent_config((dir.path() / "agent.yaml").string());
  ASSERT_TRUE(c) << c.error().message;
  EXPECT_EQ(c->long_poll_wait, 55s);
  rollout::testing::write_file(dir.path() / "agent.yaml", base + "long_poll_wait: 0s\n");
  c = load_agent_config((dir.path() / "agent.yaml").string());
  ASSERT_TRUE(c) << c.error().message;
  EXPECT_EQ(c->long_poll_wait, 0s);
  rollout::testing::write_file(dir.path() / "agent.yaml", base + "long_poll_wait: 5m\n");
  c = load_agent_config((dir.path() / "agent.yaml").string());
  ASSERT_TRUE(c) << c.error().message;
  EXPECT_EQ(c->long_poll_wait, 300s);
  rollout::testing::write_file(dir.path() / "agent.yaml", base + "long_poll_wait: 6m\n");
  c = load_agent_config((dir.path() / "agent.yaml").string());
  ASSERT_FALSE(c);
  EXPECT_NE(c.error().message.find("line 4: 'long_poll_wait' must be whole seconds"),
            std::string::npos)
      << c.error().message;
}

}  // namespace
}  // namespace rollout::agent::test
