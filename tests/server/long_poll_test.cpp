// Long-poll check-ins (server-plugin/app/long_poll.hpp) through the real HTTP host: a check-in
// with `Prefer: wait=N` and nothing to do is held, and answered early when a committed change
// gives it a directive (a rollback, a promotion, a policy), with Preference-Applied; at the cap,
// without the header, or with long-poll off it is answered at once and says nothing. Waits are
// bounded by the hold itself (a check-in that is never woken comes back at its limit without a
// directive, so a broken wake fails the test instead of hanging it); nothing asserts speed.
#include <boost/asio.hpp>
#include <future>

#include "server-plugin/app/long_poll.hpp"
#include "tests/server/app_fixture.hpp"

namespace rollout::server::testing {
namespace {

struct Held {
  http::Response response;
  std::optional<protocol::CheckinResponse> answer;
};

class LongPoll : public AppFixture {
 protected:
  // A check-in asking to be held `wait` seconds (no header when 0).
  Held checkin_held(const AgentId& a, unsigned wait, const std::string& state = "idle") {
    protocol::CheckinRequest c{a.id, a.version, "linux", "x86_64", state, 0, 0, std::nullopt, {}};
    std::vector<http::Header> h{{"Authorization", "Bearer " + a.token}};
    if (wait > 0) h.push_back({"Prefer", "wait=" + std::to_string(wait)});
    Held out{call("POST", "/api/agent/v1/checkin", c.to_json(), h), std::nullopt};
    if (out.response.status == 200) {
      auto p = protocol::CheckinResponse::parse(out.response.body);
      EXPECT_TRUE(p.ok()) << out.response.body;
      if (p.ok()) out.answer = std::move(p.value());
    }
    return out;
  }

  std::future<Held> checkin_held_async(const AgentId& a, unsigned wait) {
    return std::async(std::launch::async, [this, a, wait] { return checkin_held(a, wait); });
  }

  // Waits (bounded) until `n` check-ins are held: the hold is in place before the change.
  void wait_held(std::size_t n) {
    for (int i = 0; i < 2000 && held_count() != n; ++i)
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    ASSERT_EQ(held_count(), n);
  }

  std::size_t held_count() {
    auto m = call("GET", "/metrics", "", {{"Authorization", "Bearer " + metrics_token()}});
    const std::string name = "\nrollout_checkins_held ";
    const auto at = m.body.find(name);
    EXPECT_NE(at, std::string::npos) << m.body;
    if (at == std::string::npos) return 0;
    return std::stoul(m.body.substr(at + name.size()));
  }

  std::string metrics_token() {
    if (token_.empty()) {
      auto r = as(admin(), "POST", "/api/tokens", R"({"name":"metrics"})");
      EXPECT_EQ(r.status, 201u) << r.body;
      token_ = std::string(bj::parse(r.body).at("token").as_string());
    }
    return token_;
  }

  // 1.0.0 stable, 1.1.0 promoted over it; `n` stable agents running 1.1.0.
  std::vector<AgentId> fleet_on_1_1(int n) {
    auto ops = admin();
    EXPECT_EQ(publish(ops, "1.0.0").status, 201u);
    promote_forced("1.0.0");
    EXPECT_EQ(publish(ops, "1.1.0").status, 201u);
    promote_forced("1.1.0");
    std::vector<AgentId> out;
    for (int i = 0; i < n; ++i) {
      auto a = enroll("agent-" + std::to_string(i), "1.1.0");
      EXPECT_FALSE(checkin(a).has_value());
      out.push_back(a);
    }
    return out;
  }

  void promote_forced(const std::string& version) {
    auto r = as(admin(), "POST", "/api/updates/rollouts/" + version + "/promote",
                R"({"os":"linux","arch":"x86_64","force":true,"reason":"test baseline"})");
    ASSERT_EQ(r.status, 200u) << r.body;
  }

  void rollback(const std::string& version) {
    auto r = as(admin(), "POST", "/api/updates/rollouts/" + version + "/rollback",
                R"({"os":"linux","arch":"x86_64","reason":"crashes on start"})");
    ASSERT_EQ(r.status, 200u) << r.body;
  }

  std::string token_;
};

TEST_F(LongPoll, NothingToDoIsHeldToTheLimitAndSaysSo) {
  auto agents = fleet_on_1_1(1);
  auto h = checkin_held(agents[0], 1);
  ASSERT_EQ(h.response.status, 200u) << h.response.body;
  EXPECT_EQ(h.response.header("Preference-Applied").value_or(""), "wait=1");
  ASSERT_TRUE(h.answer);
  EXPECT_FALSE(h.answer->directive);
  EXPECT_EQ(held_count(), 0u) << "the hold ended with its answer";
}

TEST_F(LongPoll, WithoutThePreferenceOrWithLongPollOffTheAnswerIsImmediateAndSaysNothing) {
  auto agents = fleet_on_1_1(1);
  auto plain = checkin_held(agents[0], 0);
  ASSERT_EQ(plain.response.status, 200u);
  EXPECT_FALSE(plain.response.header("Preference-Applied"));
  for (const char* garbage : {"wait=0", "wait=abc", "wait=100000"}) {
    protocol::CheckinRequest c{agents[0].id, "1.1.0", "linux", "x86_64", "idle", 0, 0, {}, {}};
    auto r = call("POST", "/api/agent/v1/checkin", c.to_json(),
                  {{"Authorization", "Bearer " + agents[0].token}, {"Prefer", garbage}});
    ASSERT_EQ(r.status, 200u) << garbage;
    EXPECT_FALSE(r.header("Preference-Applied")) << garbage;
  }
  TearDown();
  cfg_.long_poll_limit = std::chrono::seconds(0);
  Start();
  auto off = checkin_held(agents[0], 30);
  ASSERT_EQ(off.response.status, 200u);
  EXPECT_FALSE(off.response.header("Preference-Applied")) << "long_poll.limit 0s holds nothing";
}

TEST_F(LongPoll, ARollbackAnswersHeldCheckInsAtOnceWithTheDowngrade) {
  auto agents = fleet_on_1_1(3);
  std::vector<std::future<Held>> held;
  for (const auto& a : agents) held.push_back(checkin_held_async(a, 20));
  wait_held(agents.size());
  rollback("1.1.0");
  for (auto& f : held) {
    Held h = f.get();
    ASSERT_EQ(h.response.status, 200u) << h.response.body;
    EXPECT_EQ(h.response.header("Preference-Applied").value_or(""), "wait=20");
    ASSERT_TRUE(h.answer);
    ASSERT_TRUE(h.answer->directive) << "woken by the rollback, not by the limit";
    KeyRing dk, rk;
    dk.add(directive_key_->public_key());
    rk.add(release_key_->public_key());
    auto v = verify_directive(bj::serialize(*h.answer->directive), dk, rk);
    ASSERT_TRUE(v.ok()) << v.error().message;
    EXPECT_EQ(v->directive.action, DirectiveAction::downgrade);
    EXPECT_EQ(v->release->manifest.version.str(), "1.0.0");
  }
  EXPECT_EQ(held_count(), 0u);
}

TEST_F(LongPoll, APromotionAndAPolicyChangeAnswerOnlyThoseTheyGiveSomething) {
  auto ops = admin();
  ASSERT_EQ(publish(ops, "1.0.0").status, 201u);
  promote_forced("1.0.0");
  auto stable = enroll("stable-1", "1.0.0");
  auto beta = enroll("beta-1", "1.0.0", "beta");
  auto other = enroll("other-1", "1.0.0", "stable", "branch");
  EXPECT_FALSE(checkin(stable).has_value());
  EXPECT_FALSE(checkin(other).has_value());
  ASSERT_EQ(publish(ops, "1.2.0").status, 201u);
  // The beta agent is answered at once (a directive right away), still saying it would hold.
  auto b = checkin_held(beta, 20);
  ASSERT_TRUE(b.answer && b.answer->directive);
  EXPECT_EQ(b.response.header("Preference-Applied").value_or(""), "wait=20");
  // Site "hq" moves to beta: the stable agent there is woken with 1.2.0, the other site's not.
  auto woken = checkin_held_async(stable, 20);
  auto untouched = checkin_held_async(other, 2);
  wait_held(2);
  auto p = as(ops, "PUT", "/api/policies", R"({"scope":"site","scope_id":"hq","channel":"beta"})");
  ASSERT_EQ(p.status, 200u) << p.body;
  Held w = woken.get();
  ASSERT_TRUE(w.answer && w.answer->directive) << w.response.body;
  Held u = untouched.get();
  ASSERT_TRUE(u.answer);
  EXPECT_FALSE(u.answer->directive) << "held on to its limit: nothing for it";
  EXPECT_EQ(u.response.header("Preference-Applied").value_or(""), "wait=2");
}

TEST_F(LongPoll, BeyondMaxHeldAnAgentIsAnsweredAtOnceAndPolls) {
  TearDown();
  cfg_.long_poll_max_held = 1;
  Start();
  auto agents = fleet_on_1_1(2);
  auto first = checkin_held_async(agents[0], 20);
  wait_held(1);
  auto second = checkin_held(agents[1], 20);
  ASSERT_EQ(second.response.status, 200u);
  EXPECT_FALSE(second.response.header("Preference-Applied")) << "not held: poll";
  ASSERT_TRUE(second.answer);
  EXPECT_EQ(second.answer->poll_interval_s, 60u);
  auto m = call("GET", "/metrics", "", {{"Authorization", "Bearer " + metrics_token()}});
  EXPECT_NE(m.body.find("rollout_checkins_hold_refused_total 1"), std::string::npos) << m.body;
  rollback("1.1.0");
  EXPECT_TRUE(first.get().answer->directive);
}

TEST_F(LongPoll, ARollbackOnAnotherServerWakesCheckInsHeldHere) {
  if (cfg_.database_url.rfind("sqlite:", 0) == 0)
    GTEST_SKIP() << "several servers share a PostgreSQL database, never a SQLite file";
  auto agents = fleet_on_1_1(2);
  auto second = make_app_from(cfg_, [this] { return now_; });
  ASSERT_TRUE(second.ok()) << second.error().message;
  std::vector<std::future<Held>> held;
  for (const auto& a : agents) held.push_back(checkin_held_async(a, 20));
  wait_held(agents.size());
  http::Request rb;
  rb.method = "POST";
  rb.target = "/api/updates/rollouts/1.1.0/rollback";
  rb.body = R"({"os":"linux","arch":"x86_64","reason":"crashes, seen from the other server"})";
  rb.headers = {{"Content-Type", "application/json"}};
  auto r = (*second)->handle(rb, Identity{"admin", "admin"});
  ASSERT_EQ(r.status, 200u) << r.body;
  for (auto& f : held) {
    Held h = f.get();
    ASSERT_TRUE(h.answer && h.answer->directive)
        << "woken through LISTEN/NOTIFY: " << h.response.body;
  }
}

TEST_F(LongPoll, AServerThatStopsAnswersItsHeldCheckInsInsteadOfDroppingThem) {
  auto agents = fleet_on_1_1(1);
  // The client's own timeout (60 s) is far below this hold: only the shutdown can answer it.
  auto held = checkin_held_async(agents[0], 300);
  wait_held(1);
  loopback_->shutdown();
  Held h = held.get();
  ASSERT_EQ(h.response.status, 200u) << h.response.body;
  ASSERT_TRUE(h.answer);
  EXPECT_FALSE(h.answer->directive);
}

TEST_F(LongPoll, AClientThatGoesAwayEndsItsHold) {
  auto agents = fleet_on_1_1(1);
  {
    protocol::CheckinRequest c{agents[0].id, "1.1.0", "linux", "x86_64", "idle", 0, 0, {}, {}};
    const std::string body = c.to_json();
    const std::string req =
        "POST /api/agent/v1/checkin HTTP/1.1\r\nHost: x\r\nAuthorization: "
        "Bearer " +
        agents[0].token +
        "\r\nPrefer: wait=300\r\nContent-Type: application/json\r\n"
        "Content-Length: " +
        std::to_string(body.size()) + "\r\n\r\n" + body;
    boost::asio::io_context io;
    boost::asio::ip::tcp::socket sock(io);
    sock.connect({boost::asio::ip::make_address("127.0.0.1"), loopback_->port()});
    boost::asio::write(sock, boost::asio::buffer(req));
    wait_held(1);
  }  // closed without reading the answer
  wait_held(0);
}

}  // namespace
}  // namespace rollout::server::testing
