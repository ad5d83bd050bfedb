// Stable rollouts in waves wired into the App (issue #13): promotion starts a rollout, check-in
// lets in only the open waves' agents, the gate advances, completes, pauses and rolls back on
// the fake clock (each decision exactly once, also with two Apps on one database), manual
// control through the API, and a restart resumes where the rollout was.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <condition_variable>
#include <mutex>
#include <set>
#include <thread>

#include "server-plugin/app/ticker.hpp"
#include "tests/server/app_fixture.hpp"

namespace rollout::server::testing {
namespace {

class Waves : public AppFixture {
 protected:
  void SetUp() override {
    AppFixture::SetUp();
    if (HasFatalFailure()) return;
    cfg_.waves.cumulative_bp = {2000, 10000};  // 20 % then everyone
    cfg_.waves.min_first_wave = 2;
    cfg_.waves.soak = std::chrono::seconds(600);
    cfg_.waves.hysteresis = std::chrono::seconds(120);
    cfg_.thresholds.min_attempts = 2;
    restart();
    admin_ = admin();
    ASSERT_EQ(publish(admin_, "1.0.0").status, 201u);
    ASSERT_EQ(promote("1.0.0").status, 200u);
    for (int i = 0; i < 10; ++i) stable_.push_back(enroll("stable-" + std::to_string(i), "1.0.0"));
    beta_ = enroll("beta-0", "1.0.0", "beta");
    for (auto& a : stable_) EXPECT_FALSE(checkin(a).has_value());
    ASSERT_EQ(publish(admin_, "1.1.0").status, 201u);
  }

  void restart() {
    app_.reset();
    Start();
  }

  http::Response promote(const std::string& version) {
    return as(admin_, "POST", "/api/updates/rollouts/" + version + "/promote",
              R"({"os":"linux","arch":"x86_64","force":true,"reason":"test"})");
  }

  http::Response control(const std::string& what, const std::string& reason = "",
                         const std::string& version = "1.1.0") {
    bj::object body{{"os", "linux"}, {"arch", "x86_64"}};
    if (!reason.empty()) body["reason"] = reason;
    return as(admin_, "POST", "/api/updates/rollouts/" + version + "/waves/" + what,
              bj::serialize(body));
  }

  bj::object waves() { return row(admin_, "1.1.0").at("waves").as_object(); }

  // Every stable agent checks in once; the ones sent to 1.1.0 move to it (as a real agent would
  // once it installed it). Returns the names of the agents directed to 1.1.0 this round.
  std::set<std::string> checkin_all() {
    std::set<std::string> sent;
    for (auto& a : stable_) {
      auto d = checkin(a);
      if (!d) continue;
      directed_[a.id].push_back(d->release->manifest.version.str());
      if (d->release->manifest.version.str() == "1.1.0" &&
          d->directive.action == DirectiveAction::install) {
        sent.insert(a.id);
        a.version = "1.1.0";
      }
    }
    return sent;
  }

  void report_all(const std::set<std::string>& ids, const std::string& outcome) {
    for (auto& a : stable_) {
      if (!ids.count(a.id)) continue;
      ASSERT_EQ(report(a, "1.1.0", outcome).status, 200u);
      if (outcome != "success") a.version = "1.0.0";  // it reverted
    }
  }

  std::vector<Event> events(const std::string& action) {
    std::vector<Event> out;
    for (const auto& e : store()->list_events(0, 500, std::nullopt).value())
      if (e.action == action) out.push_back(e);
    return out;
  }

  std::size_t evaluate() {
    auto n = app_->evaluate_rollouts();
    EXPECT_TRUE(n.ok()) << (n.ok() ? "" : n.error().message);
    return n.ok() ? *n : 0;
  }

  Session admin_;
  std::vector<AgentId> stable_;
  AgentId beta_;
  std::map<std::string, std::vector<std::string>> directed_;  // agent id -> versions sent
};

TEST_F(Waves, PromotionStartsARolloutThatLetsInOnlyTheFirstWave) {
  auto p = promote("1.1.0");
  ASSERT_EQ(p.status, 200u) << p.body;
  EXPECT_EQ(bj::parse(p.body).at("waves").as_int64(), 2);
  ASSERT_EQ(events("rollout_started").size(), 1u);
  auto w = waves();
  EXPECT_EQ(w.at("state").as_string(), "rolling_out");
  EXPECT_EQ(w.at("wave").as_int64(), 1);
  EXPECT_EQ(w.at("waves").as_int64(), 2);
  EXPECT_EQ(w.at("stable_agents").as_int64(), 10);
  // Wave 1 is the agents whose bucket is under its threshold: 20 % of the bucket space, raised
  // to hold at least min_first_wave agents (how many fall under it depends on the agents' ids).
  const auto first = w.at("per_wave").as_array()[0].at("agents").as_int64();
  EXPECT_GE(first, 2) << "at least min_first_wave";
  const auto sent = checkin_all();
  EXPECT_EQ(static_cast<std::int64_t>(sent.size()), first);
  // The others were sent nothing: they stay on the previous stable.
  for (auto& a : stable_) {
    if (!sent.count(a.id)) {
      EXPECT_TRUE(directed_[a.id].empty()) << a.id;
    }
  }
  // A second round changes nothing for them.
  checkin_all();
  for (auto& a : stable_) {
    if (!sent.count(a.id)) {
      EXPECT_TRUE(directed_[a.id].empty()) << a.id;
    }
  }
  // Beta agents get the release at once, as before.
  auto d = checkin(beta_);
  ASSERT_TRUE(d.has_value());
  EXPECT_EQ(d->release->manifest.version.str(), "1.1.0");
}

TEST_F(Waves, AHealthyReleaseSoaksAdvancesAndCompletes) {
  ASSERT_EQ(promote("1.1.0").status, 200u);
  const auto first = checkin_all();
  EXPECT_EQ(evaluate(), 0u) << "nothing to judge before the first results";
  EXPECT_EQ(waves().at("status_rule").as_string(), "updating");
  report_all(first, "success");  // the report batch evaluates at once: the soak starts now
  EXPECT_EQ(waves().at("status_rule").as_string(), "soaking");
  EXPECT_EQ(waves().at("next_wave_in_s").as_int64(), 600);
  now_ += 599;
  EXPECT_EQ(evaluate(), 0u);
  EXPECT_EQ(waves().at("next_wave_in_s").as_int64(), 1);
  now_ += 1;
  EXPECT_EQ(evaluate(), 1u);
  EXPECT_EQ(evaluate(), 0u) << "one decision, once";
  auto adv = events("rollout_advanced");
  ASSERT_EQ(adv.size(), 1u);
  EXPECT_EQ(adv[0].user, "system");
  EXPECT_THAT(adv[0].detail_json, ::testing::HasSubstr("\"rule\":\"healthy_soaked\""));
  EXPECT_EQ(waves().at("wave").as_int64(), 2);
  const auto rest = checkin_all();
  EXPECT_EQ(rest.size() + first.size(), 10u) << "wave 2 is everyone else";
  report_all(rest, "success");
  checkin_all();  // now the server knows they run it
  now_ += 600;
  EXPECT_EQ(evaluate(), 1u);
  auto done = events("rollout_completed");
  ASSERT_EQ(done.size(), 1u);
  EXPECT_EQ(done[0].user, "system");
  EXPECT_EQ(waves().at("state").as_string(), "complete");
  EXPECT_EQ(waves().at("wave").as_int64(), 2);
  EXPECT_FALSE(waves().contains("per_wave")) << "a finished rollout shows its end state only";
  EXPECT_EQ(row(admin_, "1.1.0").at("stable_agents").as_int64(), 10);
}

TEST_F(Waves, ACrashingReleaseRollsBackAutomaticallyAfterTheHysteresis) {
  ASSERT_EQ(promote("1.1.0").status, 200u);
  const auto first = checkin_all();
  ASSERT_FALSE(first.empty());
  report_all(first, "crash");
  EXPECT_EQ(waves().at("status_rule").as_string(), "holding_bad");
  now_ += 119;
  EXPECT_EQ(evaluate(), 0u) << "the condition must hold for the hysteresis";
  now_ += 1;
  EXPECT_EQ(evaluate(), 1u);
  EXPECT_EQ(evaluate(), 0u);
  auto rb = events("rollback");
  ASSERT_EQ(rb.size(), 1u);
  EXPECT_EQ(rb[0].user, "system");
  EXPECT_EQ(rb[0].version, "1.1.0");
  EXPECT_THAT(rb[0].detail_json, ::testing::HasSubstr("\"rule\":\"blocked\""));
  EXPECT_THAT(rb[0].detail_json, ::testing::HasSubstr("\"fallback_version\":\"1.0.0\""));
  EXPECT_THAT(rb[0].health_json, ::testing::HasSubstr("\"crash\":" + std::to_string(first.size())));
  EXPECT_THAT(rb[0].reason, ::testing::HasSubstr("rolled back automatically"));
  auto r = row(admin_, "1.1.0");
  EXPECT_TRUE(r.at("blocked").as_bool());
  EXPECT_EQ(r.at("waves").at("state").as_string(), "rolled_back");
  EXPECT_EQ(r.at("waves").at("rule").as_string(), "blocked");
  // No agent outside wave 1 was ever sent 1.1.0; an agent still on it is sent back.
  checkin_all();
  for (auto& a : stable_) {
    if (!first.count(a.id)) {
      EXPECT_TRUE(directed_[a.id].empty()) << a.id;
    }
  }
  AgentId& on_it = *std::find_if(stable_.begin(), stable_.end(),
                                 [&](const AgentId& a) { return first.count(a.id) > 0; });
  on_it.version = "1.1.0";
  auto d = checkin(on_it);
  ASSERT_TRUE(d.has_value());
  EXPECT_EQ(d->directive.action, DirectiveAction::downgrade);
  EXPECT_EQ(d->release->manifest.version.str(), "1.0.0");
}

TEST_F(Waves, OnCriticalPauseOnlyPauses) {
  cfg_.waves.on_critical = waves::OnBad::pause;
  restart();
  ASSERT_EQ(promote("1.1.0").status, 200u);
  report_all(checkin_all(), "crash");
  now_ += 120;
  EXPECT_EQ(evaluate(), 1u);
  EXPECT_EQ(waves().at("state").as_string(), "paused");
  EXPECT_EQ(events("rollout_paused").size(), 1u);
  EXPECT_TRUE(events("rollback").empty());
  EXPECT_FALSE(row(admin_, "1.1.0").at("blocked").as_bool());
}

TEST_F(Waves, ManualPauseResumeAdvanceAllAndAbort) {
  ASSERT_EQ(promote("1.1.0").status, 200u);
  const auto first = checkin_all();
  report_all(first, "success");
  auto p = control("pause", "looking at a ticket");
  ASSERT_EQ(p.status, 200u) << p.body;
  EXPECT_EQ(control("pause").status, 409u);
  now_ += 3600;
  EXPECT_EQ(evaluate(), 0u) << "a paused rollout does not advance";
  EXPECT_EQ(waves().at("state").as_string(), "paused");
  EXPECT_EQ(waves().at("reason").as_string(), "looking at a ticket");
  ASSERT_EQ(control("resume").status, 200u);
  EXPECT_EQ(control("resume").status, 409u);
  EXPECT_EQ(control("all").status, 400u) << "everyone now needs a reason";
  auto adv = control("advance");
  ASSERT_EQ(adv.status, 200u) << adv.body;
  EXPECT_EQ(bj::parse(adv.body).at("wave").as_int64(), 2);
  EXPECT_EQ(control("advance").status, 409u) << "already the last wave";
  EXPECT_EQ(checkin_all().size() + first.size(), 10u);
  EXPECT_EQ(control("abort").status, 400u) << "abort needs a reason";
  auto ab = control("abort", "customer reports");
  ASSERT_EQ(ab.status, 200u) << ab.body;
  EXPECT_EQ(bj::parse(ab.body).at("fallback_version").as_string(), "1.0.0");
  EXPECT_EQ(waves().at("state").as_string(), "rolled_back");
  EXPECT_EQ(control("resume").status, 409u);
  // Every step is in the audit trail under the user's name.
  for (const char* action : {"rollout_paused", "rollout_resumed", "rollout_advanced", "rollback"}) {
    auto e = events(action);
    ASSERT_EQ(e.size(), 1u) << action;
    EXPECT_EQ(e[0].user, "admin") << action;
  }
  EXPECT_EQ(events("rollback")[0].reason, "customer reports");
}

TEST_F(Waves, AllNowLetsEveryoneInAndAViewerMayNotControl) {
  ASSERT_EQ(promote("1.1.0").status, 200u);
  auto viewer = user_with_role("vera", "viewer");
  auto denied = as(viewer, "POST", "/api/updates/rollouts/1.1.0/waves/pause",
                   R"({"os":"linux","arch":"x86_64"})");
  EXPECT_EQ(denied.status, 403u);
  EXPECT_EQ(control("pause", "", "1.0.0").status, 404u) << "1.0.0 has no rollout";
  auto bad = as(admin_, "POST", "/api/updates/rollouts/1.1.0/waves/pause",
                R"({"os":"linux","arch":"x86_64","extra":1})");
  EXPECT_EQ(bad.status, 400u);
  auto all = control("all", "everyone needs the fix");
  ASSERT_EQ(all.status, 200u) << all.body;
  EXPECT_EQ(checkin_all().size(), 10u);
  auto e = events("rollout_advanced");
  ASSERT_EQ(e.size(), 1u);
  EXPECT_EQ(e[0].reason, "everyone needs the fix");
  EXPECT_THAT(e[0].detail_json, ::testing::HasSubstr("\"all\":true"));
}

TEST_F(Waves, ARestartResumesWhereTheRolloutWas) {
  ASSERT_EQ(promote("1.1.0").status, 200u);
  const auto first = checkin_all();
  report_all(first, "success");
  now_ += 300;
  evaluate();
  restart();
  EXPECT_EQ(waves().at("status_rule").as_string(), "soaking") << "the soak kept its start";
  EXPECT_EQ(waves().at("next_wave_in_s").as_int64(), 300);
  now_ += 300;
  EXPECT_EQ(evaluate(), 1u);
  restart();
  EXPECT_EQ(waves().at("wave").as_int64(), 2);
  EXPECT_EQ(checkin_all().size() + first.size(), 10u);
}

TEST_F(Waves, TwoServersOnOneDatabaseTakeADecisionOnce) {
  ASSERT_EQ(promote("1.1.0").status, 200u);
  report_all(checkin_all(), "success");
  now_ += 600;
  EXPECT_EQ(evaluate_racing_a_second_app(), 1u);
  EXPECT_EQ(events("rollout_advanced").size(), 1u);
  EXPECT_EQ(waves().at("wave").as_int64(), 2);
}

TEST_F(Waves, AllAtOnceMovesEveryStableAgentWithNoRollout) {
  cfg_.waves.cumulative_bp = {waves::kBuckets};
  restart();
  ASSERT_EQ(promote("1.1.0").status, 200u);
  EXPECT_EQ(checkin_all().size(), 10u);
  EXPECT_TRUE(row(admin_, "1.1.0").at("waves").is_null());
  EXPECT_TRUE(events("rollout_started").empty());
}

TEST_F(Waves, WaitingForItsWaveNeverDowngradesAnAgent) {
  ASSERT_EQ(promote("1.1.0").status, 200u);
  // Agents that already run the release (reinstalled with it, say) enroll mid-rollout: whatever
  // their wave, nobody sends them back to 1.0.0.
  for (int i = 0; i < 8; ++i) {
    auto late = enroll("late-" + std::to_string(i), "1.1.0");
    EXPECT_FALSE(checkin(late).has_value()) << late.id;
  }
}

TEST_F(Waves, WithNothingToFallBackToTheGatePausesInsteadOfRollingBack) {
  ASSERT_EQ(promote("1.1.0").status, 200u);
  auto rb = as(admin_, "POST", "/api/updates/rollouts/1.0.0/rollback",
               R"({"os":"linux","arch":"x86_64","reason":"old one is bad too"})");
  ASSERT_EQ(rb.status, 200u) << rb.body;
  report_all(checkin_all(), "crash");
  now_ += 120;
  EXPECT_EQ(evaluate(), 1u);
  auto w = waves();
  EXPECT_EQ(w.at("state").as_string(), "paused");
  EXPECT_EQ(w.at("rule").as_string(), "no_fallback");
  EXPECT_THAT(std::string(w.at("reason").as_string()), ::testing::HasSubstr("not rolled back"));
  EXPECT_FALSE(row(admin_, "1.1.0").at("blocked").as_bool());
  ASSERT_EQ(events("rollout_paused").size(), 1u);
  EXPECT_EQ(events("rollout_paused")[0].user, "system");
}

TEST_F(Waves, APolicyCanLetItsAgentsInAtOnce) {
  auto bad = as(admin_, "PUT", "/api/policies",
                R"({"scope":"agent","scope_id":"x","rollout":"sometimes"})");
  EXPECT_EQ(bad.status, 400u) << bad.body;
  std::set<std::string> lab;
  for (int i = 0; i < 3; ++i) {
    lab.insert(stable_[static_cast<std::size_t>(i)].id);
    auto put = as(admin_, "PUT", "/api/policies",
                  bj::serialize(bj::object{{"scope", "agent"},
                                           {"scope_id", stable_[static_cast<std::size_t>(i)].id},
                                           {"rollout", "all_at_once"}}));
    ASSERT_EQ(put.status, 200u) << put.body;
  }
  ASSERT_EQ(promote("1.1.0").status, 200u);
  const auto sent = checkin_all();
  for (const auto& id : lab) EXPECT_TRUE(sent.count(id)) << id << " is let in at once";
  // They join wave 1 and are judged with it; the hash still picks wave 1's own share.
  const auto first = waves().at("per_wave").as_array()[0].at("agents").as_int64();
  EXPECT_EQ(static_cast<std::int64_t>(sent.size()), first);
  EXPECT_GE(first, 5) << "the 3 at once plus at least min_first_wave by hash";
}

TEST(Ticker, RunsOnItsIntervalOnTheFakeClock) {
  platform::FakeClock clock;
  clock.set_auto_advance(false);
  std::mutex mu;
  std::condition_variable cv;
  int runs = 0;
  // The ticker's thread runs on its own: wait (bounded, in real time) until it ran `n` times.
  auto ran = [&](int n) {
    std::unique_lock lock(mu);
    return cv.wait_for(lock, std::chrono::seconds(10), [&] { return runs >= n; });
  };
  {
    Ticker t(clock, std::chrono::seconds(30), [&] {
      std::lock_guard lock(mu);
      ++runs;
      cv.notify_all();
    });
    ASSERT_TRUE(clock.await_waiters(1));
    clock.advance(std::chrono::seconds(29));
    ASSERT_TRUE(clock.await_waiters(1));
    {
      std::lock_guard lock(mu);
      EXPECT_EQ(runs, 0) << "not before the interval";
    }
    clock.advance(std::chrono::seconds(1));
    EXPECT_TRUE(ran(1));
    ASSERT_TRUE(clock.await_waiters(1));
    clock.advance(std::chrono::seconds(30));
    EXPECT_TRUE(ran(2));
    ASSERT_TRUE(clock.await_waiters(1));
  }  // the destructor stops the thread while it waits
  std::lock_guard lock(mu);
  EXPECT_EQ(runs, 2);
}

}  // namespace
}  // namespace rollout::server::testing
