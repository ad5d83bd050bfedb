// The controller's timing rules and the failed-start revert, against the scripted server: the
// gaps asserted are lower bounds (a slow machine only makes them longer).
#include "tests/agent/hostile_fixture.hpp"

namespace rollout::agent::test {
namespace {

using std::chrono::milliseconds;

milliseconds gap(const std::vector<std::chrono::steady_clock::time_point>& t, std::size_t i) {
  return std::chrono::duration_cast<milliseconds>(t[i + 1] - t[i]);
}

class Controller : public Hostile {};

TEST_F(Controller, RetryAfterIsObeyed) {
  auto answered = std::make_shared<int>(0);
  set_checkin_script([answered](ScriptedConnection& c) {
    if ((*answered)++ == 0) {
      c.write(ScriptedServer::response(503, R"({"error":"busy"})", "Retry-After: 4\r\n"));
    } else {
      c.write(ScriptedServer::response(200, R"({"poll_interval_s":60})"));
    }
  });
  start_agent();
  ASSERT_TRUE(eventually([&] { return checkins() >= 2; }));
  EXPECT_GE(gap(checkin_times(), 0), milliseconds(3900));
  EXPECT_TRUE(logged("HTTP 503"));
}

TEST_F(Controller, TheServersIntervalIsHonouredWithJitter) {
  set_poll_interval(3);
  start_agent();  // its own poll_interval is 1 s until the server says otherwise
  ASSERT_TRUE(eventually([&] { return checkins() >= 4; }));
  const auto t = checkin_times();
  for (std::size_t i = 0; i + 1 < t.size(); ++i) {
    EXPECT_GE(gap(t, i), milliseconds(2400)) << "check-in " << i;  // 3 s - 20 % jitter
  }
}

TEST_F(Controller, AVersionThatCannotStartIsRevertedAtOnce) {
  const std::string not_a_program = "this is not an executable format\n";
  serve_artifact(not_a_program);
  serve_directive(directive({manifest("1.1.0", not_a_program)}));
  start_agent();
  ASSERT_TRUE(eventually([&] { return !reports().empty(); }));
  const auto r = reports().front();
  EXPECT_EQ(r.outcome, "crash");
  EXPECT_EQ(r.error_code.value_or(""), "start_failed");
  EXPECT_EQ(r.version, "1.1.0");
  EXPECT_EQ(fs::read_symlink(root() / "current").string(), "versions/1.0.0");
  EXPECT_TRUE(logged("managed agent started version=1.0.0"));
  auto j = parse_journal(rollout::testing::read_file(dir_.path() / "state" / "journal.json"));
  ASSERT_TRUE(j.ok());
  EXPECT_EQ(j->state, UpdateState::reverted);
  EXPECT_TRUE(j->is_bad("1.1.0"));
}

}  // namespace
}  // namespace rollout::agent::test
