// Per-policy wave plans (issue #13): a policy's "waves" object (parse, validate, store, API), and
// the rollout groups it makes, on the App's movable clock: a site with its own plan completes
// while the default group is still on wave 1; a group that only pauses pauses itself and the
// others go on; a group that rolls back rolls the whole release back; one decision per group
// with two Apps on one database; a restart resumes per group; agents whose policy changes
// mid-rollout follow the documented rules; manual control of one group or all.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <set>
#include <thread>

#include "server-plugin/app/policy_plan.hpp"
#include "tests/server/app_fixture.hpp"

namespace rollout::server::testing {
namespace {

using ::testing::HasSubstr;

// ---- the "waves" object on its own -------------------------------------------------------

Expected<waves::PlanFields> parse_text(const std::string& text) {
  return policy_plan::parse(bj::parse(text).as_object(), waves::Plan{});
}

TEST(PolicyPlan, ParsesEveryFieldAndPrintsItBack) {
  auto f = parse_text(R"({"steps":["10%","0.5"],"soak":"30m","hysteresis":"1m","updated":"90%",)"
                      R"("max_wait":"2h","min_first_wave":3,"on_critical":"pause"})");
  ASSERT_FALSE(f.ok()) << "0.5 after 10% is 50%: fine; but steps must end at 100%";
  EXPECT_THAT(f.error().message, HasSubstr("'steps'"));
  f = parse_text(R"({"steps":["10%","0.5","100%"],"soak":"30m","hysteresis":"1m","updated":"90%",)"
                 R"("max_wait":"2h","min_first_wave":3,"on_critical":"pause"})");
  ASSERT_TRUE(f.ok()) << f.error().message;
  EXPECT_EQ(*f->cumulative_bp, (std::vector<std::uint32_t>{1000, 5000, 10000}));
  EXPECT_EQ(f->soak->count(), 1800);
  EXPECT_EQ(f->hysteresis->count(), 60);
  EXPECT_EQ(*f->updated_bp, 9000u);
  EXPECT_EQ(f->max_wait->count(), 7200);
  EXPECT_EQ(*f->min_first_wave, 3u);
  EXPECT_EQ(*f->on_critical, waves::OnBad::pause);
  // Stored and read back unchanged; the API spelling for GET.
  auto back = policy_plan::from_json(policy_plan::to_json(*f));
  ASSERT_TRUE(back.ok());
  EXPECT_EQ(*back, *f);
  EXPECT_EQ(bj::serialize(policy_plan::to_api(*f)),
            R"({"steps":["10%","50%","100%"],"min_first_wave":3,"soak":"1800s",)"
            R"("hysteresis":"60s","max_wait":"7200s","updated":"90%","on_critical":"pause"})");
  // Unset fields are inherited.
  auto one = parse_text(R"({"soak":"60s"})");
  ASSERT_TRUE(one.ok());
  const waves::Plan merged = waves::merged(waves::Plan{}, *one);
  EXPECT_EQ(merged.soak.count(), 60);
  EXPECT_EQ(merged.cumulative_bp, waves::Plan{}.cumulative_bp);
  EXPECT_EQ(merged.on_critical, waves::OnBad::rollback);
}

TEST(PolicyPlan, GarbageIsRefusedNamingTheField) {
  const std::pair<const char*, const char*> cases[] = {
      {R"({})", "at least one of"},
      {R"({"steps":"10%"})", "'steps'"},
      {R"({"steps":[]})", "'steps'"},
      {R"({"steps":[10]})", "'steps'"},
      {R"({"steps":["abc"]})", "'steps'"},
      {R"({"steps":["0%","100%"]})", "'steps'"},
      {R"({"steps":["150%"]})", "'steps'"},
      {R"({"steps":["50%","10%","100%"]})", "'steps'"},
      {R"({"steps":["10%","50%"]})", "'steps'"},
      {R"({"steps":["1%","2%","3%","4%","5%","6%","7%","8%","9%","10%","11%","12%","13%",)"
       R"("14%","15%","16%","100%"]})",
       "'steps'"},
      {R"({"soak":"forever"})", "'soak'"},
      {R"({"soak":60})", "'soak'"},
      {R"({"soak":"400d"})", "'soak'"},
      {R"({"hysteresis":"-5m"})", "'hysteresis'"},
      {R"({"max_wait":"0s"})", "'max_wait'"},
      {R"({"updated":"0%"})", "'updated'"},
      {R"({"updated":"101%"})", "'updated'"},
      {R"({"updated":0.5})", "'updated'"},
      {R"({"min_first_wave":-1})", "'min_first_wave'"},
      {R"({"min_first_wave":2000000})", "'min_first_wave'"},
      {R"({"min_first_wave":"5"})", "'min_first_wave'"},
      {R"({"on_critical":"explode"})", "'on_critical'"},
      {R"({"on_critical":true})", "'on_critical'"},
      {R"({"soak":"60s","color":"red"})", "'color'"},
  };
  for (const auto& [text, field] : cases) {
    auto f = parse_text(text);
    ASSERT_FALSE(f.ok()) << text;
    EXPECT_EQ(f.error().code, "invalid_field") << text;
    EXPECT_THAT(f.error().message, HasSubstr("policy.waves")) << text;
    EXPECT_THAT(f.error().message, HasSubstr(field)) << text << " → " << f.error().message;
  }
  std::string long_share = "\"" + std::string(100, '1') + "%\"";
  auto f = parse_text(R"({"steps":[)" + long_share + "]}");
  ASSERT_FALSE(f.ok());
  EXPECT_LT(f.error().message.size(), 200u) << "the echo of a bad value is capped";
}

TEST(PolicyPlan, GroupsAreNamedByTheirChainOfPlans) {
  Agent a;
  a.id = "a1";
  a.client = "acme";
  a.site = "lab";
  auto policy = [](std::string scope, std::string id, std::optional<std::string> plan) {
    return Policy{std::move(scope), std::move(id), std::nullopt,   std::nullopt,
                  std::nullopt,     std::nullopt,  std::move(plan)};
  };
  EXPECT_EQ(resolve_policy(a, {}).plan_group, "default");
  const std::string soak60 = R"({"soak_s":60})", pause = R"({"on_critical":"pause"})";
  const std::vector<Policy> site_only{policy("site", "lab", soak60),
                                      policy("default", "", R"({"hysteresis_s":7})")};
  const Resolved r = resolve_policy(a, site_only);
  EXPECT_EQ(r.plan_group, "site:lab");
  auto g = policy_plan::group_of(r, waves::Plan{});
  ASSERT_TRUE(g.ok());
  EXPECT_EQ(g->plan.soak.count(), 60);
  EXPECT_EQ(g->plan.hysteresis.count(), 7) << "the default policy's fields are inherited";
  const std::vector<Policy> both{policy("client", "acme", pause), policy("site", "lab", soak60)};
  const Resolved rb = resolve_policy(a, both);
  EXPECT_EQ(rb.plan_group, "site:lab,client:acme");
  g = policy_plan::group_of(rb, waves::Plan{});
  ASSERT_TRUE(g.ok());
  EXPECT_EQ(g->plan.soak.count(), 60);
  EXPECT_EQ(g->plan.on_critical, waves::OnBad::pause);
  EXPECT_EQ(policy_plan::label("site:lab,client:acme"), "site lab, client acme");
  EXPECT_EQ(policy_plan::label("default"), "default rollout group");
}

// ---- rollout groups in the App -------------------------------------------------------------

// The lab's plans start with a share of one bucket ("0.01%"), so its wave 1 is exactly
// min_first_wave (2) of its 4 agents whatever ids the server gives them: with "50%" all four fall
// under the threshold one run in sixteen (the ids are random UUIDs), and a test that needs a lab
// agent left out of wave 1 would fail then.
class PolicyWaves : public AppFixture {
 protected:
  void SetUp() override {
    AppFixture::SetUp();
    if (HasFatalFailure()) return;
    cfg_.waves.cumulative_bp = {2000, 10000};  // the default group: 20 % then everyone
    cfg_.waves.min_first_wave = 2;
    cfg_.waves.soak = std::chrono::seconds(600);
    cfg_.waves.hysteresis = std::chrono::seconds(120);
    cfg_.thresholds.min_attempts = 2;
    restart();
    admin_ = admin();
    ASSERT_EQ(publish(admin_, "1.0.0").status, 201u);
    ASSERT_EQ(promote("1.0.0").status, 200u);
    for (int i = 0; i < 10; ++i) hq_.push_back(enroll("hq-" + std::to_string(i), "1.0.0"));
    for (int i = 0; i < 4; ++i)
      lab_.push_back(enroll("lab-" + std::to_string(i), "1.0.0", "stable", "lab"));
    for (auto* a : all()) EXPECT_FALSE(checkin(*a).has_value());
    ASSERT_EQ(publish(admin_, "1.1.0").status, 201u);
  }

  void restart() {
    app_.reset();
    Start();
  }

  std::vector<AgentId*> all() {
    std::vector<AgentId*> out;
    for (auto& a : hq_) out.push_back(&a);
    for (auto& a : lab_) out.push_back(&a);
    return out;
  }

  http::Response put_lab_plan(const std::string& plan_json) {
    return as(admin_, "PUT", "/api/policies",
              R"({"scope":"site","scope_id":"lab","waves":)" + plan_json + "}");
  }

  http::Response promote(const std::string& version) {
    return as(admin_, "POST", "/api/updates/rollouts/" + version + "/promote",
              R"({"os":"linux","arch":"x86_64","force":true,"reason":"test"})");
  }

  http::Response control(const std::string& what, const std::string& reason = "",
                         const std::optional<std::string>& group = {}) {
    bj::object body{{"os", "linux"}, {"arch", "x86_64"}};
    if (!reason.empty()) body["reason"] = reason;
    if (group) body["group"] = *group;
    return as(admin_, "POST", "/api/updates/rollouts/1.1.0/waves/" + what, bj::serialize(body));
  }

  bj::object waves() { return row(admin_, "1.1.0").at("waves").as_object(); }
  // One group's view from the row's "groups".
  bj::object group(const std::string& key) {
    const auto w = waves();
    if (w.contains("groups")) {
      for (const auto& g : w.at("groups").as_array())
        if (g.at("group").as_string() == key) return g.as_object();
    }
    ADD_FAILURE() << "no group " << key << " in " << bj::serialize(w);
    return {};
  }

  // Every agent checks in once; the ones sent 1.1.0 move to it. The ids sent 1.1.0.
  std::set<std::string> checkin_all() {
    std::set<std::string> sent;
    for (auto* a : all()) {
      auto d = checkin(*a);
      if (!d) continue;
      if (d->release->manifest.version.str() == "1.1.0" &&
          d->directive.action == DirectiveAction::install) {
        sent.insert(a->id);
        a->version = "1.1.0";
      }
    }
    return sent;
  }

  std::set<std::string> ids(const std::vector<AgentId>& agents) {
    std::set<std::string> out;
    for (const auto& a : agents) out.insert(a.id);
    return out;
  }
  std::set<std::string> only(const std::set<std::string>& sent, const std::vector<AgentId>& of) {
    std::set<std::string> out;
    for (const auto& a : of)
      if (sent.count(a.id)) out.insert(a.id);
    return out;
  }

  void report_all(const std::set<std::string>& which, const std::string& outcome) {
    for (auto* a : all()) {
      if (!which.count(a->id)) continue;
      ASSERT_EQ(report(*a, "1.1.0", outcome).status, 200u);
      if (outcome != "success") a->version = "1.0.0";
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
  std::vector<AgentId> hq_, lab_;
};

TEST_F(PolicyWaves, APolicysPlanIsStoredShownAndAuditedAndGarbageChangesNothing) {
  auto put = put_lab_plan(R"({"steps":["100%"],"soak":"60s","on_critical":"pause"})");
  ASSERT_EQ(put.status, 200u) << put.body;
  const auto before = as(admin_, "GET", "/api/policies").body;
  EXPECT_THAT(before,
              HasSubstr(R"("waves":{"steps":["100%"],"soak":"60s","on_critical":"pause"})"));
  const auto audit = events("policy_update");
  ASSERT_FALSE(audit.empty());
  EXPECT_THAT(audit.back().detail_json, HasSubstr(R"("waves":{"steps":["100%"])"));
  for (const char* bad : {R"({"steps":["10%"]})", R"({"soak":"soon"})", R"({"on_critical":"x"})",
                          R"({"updated":"0%"})", R"({})", R"("fast")", R"({"tempo":1})"}) {
    auto r = put_lab_plan(bad);
    EXPECT_EQ(r.status, 400u) << bad;
    EXPECT_THAT(r.body, HasSubstr("waves")) << bad;
    EXPECT_EQ(as(admin_, "GET", "/api/policies").body, before) << bad << ": nothing stored";
  }
  // A PUT with "waves": null, or without it, replaces the policy: no plan of its own any more.
  ASSERT_EQ(put_lab_plan("null").status, 200u);
  EXPECT_THAT(as(admin_, "GET", "/api/policies").body, HasSubstr(R"("waves":null)"));
  ASSERT_EQ(put_lab_plan(R"({"soak":"1m"})").status, 200u);
  ASSERT_EQ(as(admin_, "PUT", "/api/policies", R"({"scope":"site","scope_id":"lab"})").status,
            200u);
  EXPECT_THAT(as(admin_, "GET", "/api/policies").body, HasSubstr(R"("waves":null)"));
}

TEST_F(PolicyWaves, ASiteWithOneStepCompletesWhileTheDefaultGroupIsStillOnWaveOne) {
  ASSERT_EQ(put_lab_plan(R"({"steps":["100%"],"soak":"60s"})").status, 200u);
  auto p = promote("1.1.0");
  ASSERT_EQ(p.status, 200u) << p.body;
  ASSERT_EQ(events("rollout_started").size(), 1u) << "one start for the release";
  EXPECT_THAT(events("rollout_started")[0].detail_json, HasSubstr(R"("group":"site:lab")"));
  EXPECT_THAT(events("rollout_started")[0].reason, HasSubstr("; site lab: 1 wave,"));
  const auto sent = checkin_all();
  EXPECT_EQ(only(sent, lab_), ids(lab_)) << "the lab's one wave is all of it";
  const auto first = only(sent, hq_);
  EXPECT_LT(first.size(), hq_.size()) << "the default group lets in only its wave 1";
  EXPECT_EQ(static_cast<std::int64_t>(first.size()),
            group("default").at("per_wave").as_array()[0].at("agents").as_int64());
  EXPECT_EQ(group("default").at("stable_agents").as_int64(), 10);
  EXPECT_EQ(group("site:lab").at("stable_agents").as_int64(), 4);
  EXPECT_EQ(group("site:lab").at("label").as_string(), "site lab");
  report_all(sent, "success");
  now_ += 59;
  EXPECT_EQ(evaluate(), 0u);
  now_ += 1;
  EXPECT_EQ(evaluate(), 1u) << "the lab's soak of 60 s is over; the default's 600 s is not";
  auto done = events("rollout_completed");
  ASSERT_EQ(done.size(), 1u);
  EXPECT_THAT(done[0].detail_json, HasSubstr(R"("group":"site:lab")"));
  EXPECT_THAT(done[0].reason, HasSubstr("site lab: "));
  EXPECT_EQ(group("site:lab").at("state").as_string(), "complete");
  EXPECT_EQ(group("default").at("state").as_string(), "rolling_out");
  EXPECT_EQ(group("default").at("wave").as_int64(), 1);
  EXPECT_EQ(waves().at("group").as_string(), "default") << "the row's own fields: default's";
  EXPECT_TRUE(checkin_all().empty()) << "the default group's other agents still wait";
}

TEST_F(PolicyWaves, APauseOnlyGroupPausesItselfAndTheOthersGoOn) {
  ASSERT_EQ(put_lab_plan(R"({"steps":["0.01%","100%"],"on_critical":"pause"})").status, 200u);
  ASSERT_EQ(promote("1.1.0").status, 200u);
  const auto sent = checkin_all();
  const auto lab_first = only(sent, lab_);
  ASSERT_GE(lab_first.size(), 2u);
  ASSERT_LT(lab_first.size(), lab_.size());
  report_all(only(sent, hq_), "success");
  report_all(lab_first, "crash");
  now_ += 120;
  EXPECT_EQ(evaluate(), 1u);
  EXPECT_EQ(group("site:lab").at("state").as_string(), "paused");
  EXPECT_EQ(group("default").at("state").as_string(), "rolling_out");
  auto paused = events("rollout_paused");
  ASSERT_EQ(paused.size(), 1u);
  EXPECT_EQ(paused[0].user, "system");
  EXPECT_THAT(paused[0].detail_json, HasSubstr(R"("group":"site:lab")"));
  EXPECT_TRUE(events("rollback").empty());
  EXPECT_FALSE(row(admin_, "1.1.0").at("blocked").as_bool());
  now_ += 480;
  EXPECT_EQ(evaluate(), 1u) << "the default group soaked its 600 s and advances";
  EXPECT_EQ(group("default").at("wave").as_int64(), 2);
  EXPECT_EQ(group("site:lab").at("wave").as_int64(), 1);
  const auto rest = checkin_all();
  for (const auto& id : only(rest, lab_))
    EXPECT_TRUE(lab_first.count(id)) << id << ": the paused lab opens no further wave";
  EXPECT_EQ(only(rest, hq_).size() + only(sent, hq_).size(), hq_.size());
}

TEST_F(PolicyWaves, AGroupThatRollsBackRollsTheWholeReleaseBack) {
  ASSERT_EQ(put_lab_plan(R"({"steps":["0.01%","100%"],"hysteresis":"30s"})").status, 200u);
  ASSERT_EQ(promote("1.1.0").status, 200u);
  const auto sent = checkin_all();
  const auto lab_first = only(sent, lab_);
  report_all(lab_first, "crash");
  now_ += 29;
  EXPECT_EQ(evaluate(), 0u);
  now_ += 1;
  EXPECT_EQ(evaluate(), 1u) << "the lab's own hysteresis of 30 s";
  EXPECT_EQ(evaluate(), 0u);
  auto rb = events("rollback");
  ASSERT_EQ(rb.size(), 1u);
  EXPECT_EQ(rb[0].user, "system");
  EXPECT_THAT(rb[0].detail_json, HasSubstr(R"("group":"site:lab")"));
  EXPECT_THAT(rb[0].detail_json, HasSubstr(R"("wave":1)"));
  EXPECT_THAT(rb[0].detail_json, HasSubstr(R"("rule":"blocked")"));
  EXPECT_THAT(rb[0].health_json, HasSubstr("\"crash\":" + std::to_string(lab_first.size())));
  EXPECT_THAT(rb[0].reason, HasSubstr("site lab: "));
  auto r = row(admin_, "1.1.0");
  EXPECT_TRUE(r.at("blocked").as_bool());
  EXPECT_EQ(group("default").at("state").as_string(), "rolled_back");
  EXPECT_EQ(group("site:lab").at("state").as_string(), "rolled_back");
  // The default group's wave-1 agents on 1.1.0 are sent back too.
  for (auto& a : hq_) {
    if (!sent.count(a.id)) continue;
    auto d = checkin(a);
    ASSERT_TRUE(d.has_value()) << a.id;
    EXPECT_EQ(d->directive.action, DirectiveAction::downgrade);
  }
}

TEST_F(PolicyWaves, TwoAppsRacingOneGroupsDecisionTakeItOnce) {
  ASSERT_EQ(put_lab_plan(R"({"steps":["100%"],"soak":"60s"})").status, 200u);
  ASSERT_EQ(promote("1.1.0").status, 200u);
  report_all(checkin_all(), "success");
  now_ += 60;
  EXPECT_EQ(evaluate_racing_a_second_app(), 1u);
  EXPECT_EQ(events("rollout_completed").size(), 1u);
  EXPECT_EQ(group("site:lab").at("state").as_string(), "complete");
}

TEST_F(PolicyWaves, ARestartResumesEachGroupWhereItWas) {
  ASSERT_EQ(put_lab_plan(R"({"steps":["0.01%","100%"],"soak":"60s"})").status, 200u);
  ASSERT_EQ(promote("1.1.0").status, 200u);
  const auto sent = checkin_all();
  report_all(sent, "success");
  now_ += 30;
  evaluate();
  restart();
  EXPECT_EQ(group("site:lab").at("next_wave_in_s").as_int64(), 30);
  EXPECT_EQ(group("default").at("next_wave_in_s").as_int64(), 570);
  now_ += 30;
  EXPECT_EQ(evaluate(), 1u);
  restart();
  EXPECT_EQ(group("site:lab").at("wave").as_int64(), 2);
  EXPECT_EQ(group("default").at("wave").as_int64(), 1);
  const auto rest = checkin_all();
  EXPECT_EQ(only(rest, lab_).size() + only(sent, lab_).size(), lab_.size());
  EXPECT_TRUE(only(rest, hq_).empty());
}

TEST_F(PolicyWaves, AnAgentWhosePolicyChangesMidRolloutFollowsTheDocumentedRules) {
  ASSERT_EQ(put_lab_plan(R"({"steps":["100%"],"soak":"1h"})").status, 200u);
  ASSERT_EQ(promote("1.1.0").status, 200u);
  const auto sent = checkin_all();
  // A default-group agent still waiting gets a plan of its own: its group has no row in this
  // rollout, so it follows the default group (and keeps waiting).
  AgentId* waiting = nullptr;
  for (auto& a : hq_)
    if (!sent.count(a.id)) waiting = &a;
  ASSERT_NE(waiting, nullptr);
  auto put = as(admin_, "PUT", "/api/policies",
                bj::serialize(bj::object{{"scope", "agent"},
                                         {"scope_id", waiting->id},
                                         {"waves", bj::object{{"steps", bj::array{"100%"}}}}}));
  ASSERT_EQ(put.status, 200u) << put.body;
  EXPECT_FALSE(checkin(*waiting).has_value()) << "held by the default group's wave 1";
  // The lab's plan is removed: its agents are default's now, judged by their bucket under the
  // default group's thresholds; those already on 1.1.0 are never sent back.
  ASSERT_EQ(as(admin_, "PUT", "/api/policies", R"({"scope":"site","scope_id":"lab"})").status,
            200u);
  for (auto& a : lab_) EXPECT_FALSE(checkin(a).has_value()) << a.id << " keeps 1.1.0";
  EXPECT_EQ(group("site:lab").at("stable_agents").as_int64(), 0)
      << "the lab's row counts no agent any more";
  EXPECT_EQ(group("default").at("stable_agents").as_int64(), 14);
}

TEST_F(PolicyWaves, ManualControlActsOnEveryGroupOrOnlyTheOneNamed) {
  ASSERT_EQ(put_lab_plan(R"({"steps":["0.01%","100%"]})").status, 200u);
  ASSERT_EQ(promote("1.1.0").status, 200u);
  auto p = control("pause", "lab ticket", std::string("site:lab"));
  ASSERT_EQ(p.status, 200u) << p.body;
  EXPECT_EQ(bj::parse(p.body).at("groups").as_array().size(), 1u);
  EXPECT_EQ(group("site:lab").at("state").as_string(), "paused");
  EXPECT_EQ(group("default").at("state").as_string(), "rolling_out");
  EXPECT_EQ(control("pause", "", std::string("site:lab")).status, 409u);
  auto nope = control("pause", "", std::string("site:mars"));
  EXPECT_EQ(nope.status, 404u);
  EXPECT_THAT(nope.body, HasSubstr("site:lab")) << "names the groups there are";
  EXPECT_EQ(control("abort", "bad", std::string("site:lab")).status, 400u)
      << "an abort is release-wide";
  // Without a group: every group that can take it (the lab is paused already).
  auto all_pause = control("pause");
  ASSERT_EQ(all_pause.status, 200u) << all_pause.body;
  EXPECT_EQ(bj::parse(all_pause.body).at("groups").as_array().size(), 1u);
  EXPECT_EQ(control("pause").status, 409u) << "nothing left to pause";
  auto resumed = control("resume");
  ASSERT_EQ(resumed.status, 200u) << resumed.body;
  EXPECT_EQ(bj::parse(resumed.body).at("groups").as_array().size(), 2u);
  EXPECT_EQ(events("rollout_resumed").size(), 2u) << "one audit row per group";
  auto adv = control("advance", "", std::string("site:lab"));
  ASSERT_EQ(adv.status, 200u) << adv.body;
  EXPECT_EQ(group("site:lab").at("wave").as_int64(), 2);
  EXPECT_EQ(group("default").at("wave").as_int64(), 1);
  EXPECT_EQ(only(checkin_all(), lab_), ids(lab_));
  auto everyone = control("all", "fix for everyone");
  ASSERT_EQ(everyone.status, 200u) << everyone.body;
  EXPECT_EQ(group("default").at("wave").as_int64(), 2) << "the lab was in its last wave already";
  auto ab = control("abort", "customer reports");
  ASSERT_EQ(ab.status, 200u) << ab.body;
  EXPECT_EQ(group("site:lab").at("state").as_string(), "rolled_back");
  EXPECT_EQ(group("default").at("state").as_string(), "rolled_back");
}

}  // namespace
}  // namespace rollout::server::testing
