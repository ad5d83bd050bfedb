// The release lifecycle end to end through the HTTP API, and the user guide's four scenarios.
#include "tests/server/app_fixture.hpp"

namespace rollout::server::testing {
namespace {

std::string health(const bj::object& row) {
  return std::string(row.at("health").as_object().at("status").as_string());
}

class Lifecycle : public AppFixture {
 protected:
  // 1.0.0 published, installed by five beta agents, promoted: the stable baseline.
  void baseline() {
    ASSERT_EQ(publish(admin(), "1.0.0").status, 201u);
    for (int i = 0; i < 5; ++i) {
      auto a = enroll("beta-" + std::to_string(i), "0.9.0", "beta");
      auto d = checkin(a);
      ASSERT_TRUE(d.has_value());
      EXPECT_EQ(d->directive.action, DirectiveAction::install);
      EXPECT_EQ(d->release->manifest.version.str(), "1.0.0");
      a.version = "1.0.0";
      ASSERT_EQ(report(a, "1.0.0", "success").status, 200u);
      beta_.push_back(a);
    }
    auto r = as(admin(), "POST", "/api/updates/rollouts/1.0.0/promote",
                R"({"os":"linux","arch":"x86_64"})");
    ASSERT_EQ(r.status, 200u) << r.body;
  }
  std::vector<AgentId> beta_;
};

TEST_F(Lifecycle, PublishEnrollReportPromoteRollbackAudit) {
  baseline();
  auto ops = admin();
  // A stable agent now gets 1.0.0.
  auto stable = enroll("stable-0", "0.9.0", "stable");
  auto d = checkin(stable);
  ASSERT_TRUE(d.has_value());
  EXPECT_EQ(d->release->manifest.version.str(), "1.0.0");
  EXPECT_EQ(d->directive.channel, "stable");
  // The same directive is re-sent until it expires (signed once).
  auto again = checkin(stable);
  ASSERT_TRUE(again.has_value());
  EXPECT_EQ(again->directive.sequence, d->directive.sequence);
  stable.version = "1.0.0";
  EXPECT_FALSE(checkin(stable).has_value()) << "on target: nothing to do";

  // 1.1.0 to beta: 4 successes and 1 failure of 5 = 80 % -> Critical; promotion refused.
  ASSERT_EQ(publish(ops, "1.1.0").status, 201u);
  EXPECT_FALSE(checkin(stable).has_value()) << "stable agents stay on stable";
  for (std::size_t i = 0; i < beta_.size(); ++i) {
    auto bd = checkin(beta_[i]);
    ASSERT_TRUE(bd.has_value());
    EXPECT_EQ(bd->release->manifest.version.str(), "1.1.0");
    EXPECT_GT(bd->directive.sequence, 1u);
    const bool ok = i != 0;
    if (ok) beta_[i].version = "1.1.0";
    report(beta_[i], "1.1.0", ok ? "success" : "failure");
    checkin(beta_[i]);  // the agent checks in on whatever it now runs
  }
  auto r = row(ops, "1.1.0");
  EXPECT_EQ(health(r), "critical");
  EXPECT_EQ(r["beta_agents"].as_int64(), 4);
  EXPECT_FALSE(r["can_promote"].as_bool());
  EXPECT_TRUE(r["needs_force"].as_bool());
  auto refused =
      as(ops, "POST", "/api/updates/rollouts/1.1.0/promote", R"({"os":"linux","arch":"x86_64"})");
  ASSERT_EQ(refused.status, 409u) << refused.body;
  auto refusal = bj::parse(refused.body).as_object();
  EXPECT_EQ(refusal["error"].as_string(), "health_check_failed");
  EXPECT_EQ(refusal["reasons"].as_array()[0].as_object()["code"].as_string(),
            "not_healthy:critical");
  EXPECT_TRUE(refusal["can_force"].as_bool());

  // Forced, with a reason.
  auto forced =
      as(ops, "POST", "/api/updates/rollouts/1.1.0/promote",
         R"({"os":"linux","arch":"x86_64","force":true,"reason":"known cosmetic issue"})");
  ASSERT_EQ(forced.status, 200u) << forced.body;
  EXPECT_EQ(bj::parse(forced.body).as_object()["stable_version"].as_string(), "1.1.0");
  auto sd = checkin(stable);
  ASSERT_TRUE(sd.has_value());
  EXPECT_EQ(sd->release->manifest.version.str(), "1.1.0");
  stable.version = "1.1.0";
  EXPECT_FALSE(checkin(stable).has_value());

  // Rollback: every agent on 1.1.0 (4 beta + 1 stable) is told to go back to 1.0.0.
  auto rb = as(ops, "POST", "/api/updates/rollouts/1.1.0/rollback",
               R"({"os":"linux","arch":"x86_64","reason":"Crashes on startup"})");
  ASSERT_EQ(rb.status, 200u) << rb.body;
  auto rbo = bj::parse(rb.body).as_object();
  EXPECT_EQ(rbo["downgraded_agents"].as_int64(), 5);
  EXPECT_EQ(rbo["fallback_version"].as_string(), "1.0.0");
  auto back = checkin(stable);
  ASSERT_TRUE(back.has_value());
  EXPECT_EQ(back->directive.action, DirectiveAction::downgrade);
  EXPECT_EQ(back->release->manifest.version.str(), "1.0.0");
  EXPECT_GT(back->directive.sequence, sd->directive.sequence) << "strictly increasing per agent";
  auto bb = checkin(beta_[1]);
  ASSERT_TRUE(bb.has_value());
  EXPECT_EQ(bb->directive.action, DirectiveAction::downgrade);
  EXPECT_EQ(health(row(ops, "1.1.0")), "blocked");

  // Audit: publish x2, promote x2 (one forced), rollback, with users and reasons.
  auto ev = as(ops, "GET", "/api/updates/events");
  const bj::value parsed = bj::parse(ev.body);
  auto events = parsed.at("events").as_array();
  std::map<std::string, int> actions;
  for (auto& e : events) actions[std::string(e.as_object()["action"].as_string())]++;
  EXPECT_EQ(actions["publish"], 2);
  EXPECT_EQ(actions["promote"], 2);
  EXPECT_EQ(actions["rollback"], 1);
  auto newest = events[0].as_object();
  EXPECT_EQ(newest["action"].as_string(), "rollback");
  EXPECT_EQ(newest["user"].as_string(), "admin");
  EXPECT_EQ(newest["reason"].as_string(), "Crashes on startup");
  EXPECT_EQ(newest["health"].as_object()["status"].as_string(), "critical");
  auto forced_event = events[1].as_object();
  EXPECT_EQ(forced_event["action"].as_string(), "promote");
  EXPECT_TRUE(forced_event["force"].as_bool());
  EXPECT_EQ(forced_event["reason"].as_string(), "known cosmetic issue");
}

TEST_F(Lifecycle, GuideScenario1NormalPromotion) {
  baseline();
  auto ops = admin();
  auto r = row(ops, "1.0.0");
  EXPECT_EQ(r["channel"].as_string(), "stable");
  EXPECT_EQ(health(r), "healthy");
}

TEST_F(Lifecycle, GuideScenario2WarningAt92PercentBlocksPromotion) {
  baseline();
  auto ops = admin();
  ASSERT_EQ(publish(ops, "1.2.0").status, 201u);
  for (int i = 0; i < 50; ++i) {
    auto a = enroll("w-" + std::to_string(i), "1.0.0", "beta");
    ASSERT_TRUE(checkin(a).has_value());
    report(a, "1.2.0", i < 46 ? "success" : "failure");
  }
  auto r = row(ops, "1.2.0");
  EXPECT_EQ(health(r), "warning");
  EXPECT_EQ(r["health"].as_object()["success"].as_int64(), 46);
  EXPECT_EQ(r["health"].as_object()["total"].as_int64(), 50);
  EXPECT_EQ(r["health"].as_object()["success_color"].as_string(), "yellow");
  auto refused =
      as(ops, "POST", "/api/updates/rollouts/1.2.0/promote", R"({"os":"linux","arch":"x86_64"})");
  EXPECT_EQ(refused.status, 409u);
  EXPECT_EQ(row(ops, "1.2.0")["channel"].as_string(), "beta") << "nothing changed";
}

TEST_F(Lifecycle, GuideScenario3EmergencyRollbackAndNoFallback) {
  ASSERT_EQ(publish(admin(), "1.0.0").status, 201u);
  auto none = as(admin(), "POST", "/api/updates/rollouts/1.0.0/rollback",
                 R"({"os":"linux","arch":"x86_64","reason":"bad"})");
  ASSERT_EQ(none.status, 409u);
  EXPECT_EQ(bj::parse(none.body).as_object()["error"].as_string(), "no_fallback_version");
  EXPECT_EQ(health(row(admin(), "1.0.0")), "unknown") << "a refused rollback blocks nothing";
}

TEST_F(Lifecycle, GuideScenario4ForcePromotionOfAWarningRelease) {
  baseline();
  auto ops = admin();
  ASSERT_EQ(publish(ops, "1.3.0").status, 201u);
  for (int i = 0; i < 50; ++i) {
    auto a = enroll("f-" + std::to_string(i), "1.0.0", "beta");
    ASSERT_TRUE(checkin(a).has_value());
    report(a, "1.3.0", i < 46 ? "success" : "failure");
  }
  auto no_reason = as(ops, "POST", "/api/updates/rollouts/1.3.0/promote",
                      R"({"os":"linux","arch":"x86_64","force":true})");
  EXPECT_EQ(no_reason.status, 400u);
  auto forced = as(ops, "POST", "/api/updates/rollouts/1.3.0/promote",
                   R"({"os":"linux","arch":"x86_64","force":true,"reason":"cosmetic"})");
  EXPECT_EQ(forced.status, 200u);
  EXPECT_TRUE(bj::parse(forced.body).as_object()["forced"].as_bool());
}

TEST_F(Lifecycle, BlockedReleaseCannotBePromotedEvenForced) {
  baseline();
  auto ops = admin();
  ASSERT_EQ(publish(ops, "2.0.0").status, 201u);
  for (int i = 0; i < 10; ++i) {
    auto a = enroll("c-" + std::to_string(i), "1.0.0", "beta");
    ASSERT_TRUE(checkin(a).has_value());
    report(a, "2.0.0", i < 9 ? "success" : "crash");
  }
  EXPECT_EQ(health(row(ops, "2.0.0")), "blocked") << "10 % crash auto-blocks";
  auto forced = as(ops, "POST", "/api/updates/rollouts/2.0.0/promote",
                   R"({"os":"linux","arch":"x86_64","force":true,"reason":"please"})");
  EXPECT_EQ(forced.status, 409u);
  EXPECT_FALSE(bj::parse(forced.body).as_object()["can_force"].as_bool());
}

TEST_F(Lifecycle, ReplayedReportsChangeNoCounts) {
  baseline();
  auto a = beta_[0];
  const std::string id = protocol::new_uuid();
  ASSERT_EQ(report(a, "1.0.0", "crash", id).status, 200u);
  auto before = row(admin(), "1.0.0")["health"].as_object();
  for (int i = 0; i < 3; ++i) ASSERT_EQ(report(a, "1.0.0", "crash", id).status, 200u);
  auto after = row(admin(), "1.0.0")["health"].as_object();
  EXPECT_EQ(before, after);
}

TEST_F(Lifecycle, ForgedReportForAnotherAgentIsRefused) {
  baseline();
  auto attacker = beta_[0];
  auto victim = beta_[1];
  protocol::Report rep;
  rep.id = protocol::new_uuid();
  rep.agent_id = victim.id;
  rep.version = "1.0.0";
  rep.os = "linux";
  rep.arch = "x86_64";
  rep.outcome = "crash";
  rep.occurred_at = "2026-11-24T10:00:00Z";
  auto r = call("POST", "/api/agent/v1/reports", protocol::ReportBatch{{rep}}.to_json(),
                {{"Authorization", "Bearer " + attacker.token}});
  EXPECT_EQ(r.status, 403u);
  EXPECT_EQ(row(admin(), "1.0.0")["health"].as_object()["crash"].as_int64(), 0);
}

TEST_F(Lifecycle, ReenrollingTheSameMachineKeepsItsIdentity) {
  auto a = enroll("machine-x", "1.0.0");
  auto b = enroll("machine-x", "1.0.0");
  EXPECT_EQ(a.id, b.id);
  EXPECT_NE(a.token, b.token);
  auto bad = call(
      "POST", "/api/agent/v1/enroll",
      protocol::EnrollRequest{"wrong", "h", "m", "linux", "x86_64", "1.0.0", {}, {}, {}}.to_json());
  EXPECT_EQ(bad.status, 401u);
}

// A steady agent's check-ins are answered without a write until its recorded time is
// checkin_record_interval (default 5 min) old; any change of version or state is written at once.
TEST_F(Lifecycle, UnchangedCheckInsRecordTheTimeOnlyEveryInterval) {
  auto a = enroll("machine-steady", "1.0.0");
  auto last = [&] { return store()->get_agent(a.id).value()->last_checkin_at; };
  checkin(a);
  const auto first = now_;
  EXPECT_EQ(last(), first);
  now_ += 60;
  checkin(a);
  EXPECT_EQ(last(), first) << "nothing changed, recorded a minute ago";
  now_ += 60;
  checkin(a, "downloading");
  EXPECT_EQ(last(), now_) << "a new state is written at once";
  EXPECT_EQ(store()->get_agent(a.id).value()->state, "downloading");
  now_ += 299;
  checkin(a, "downloading");
  EXPECT_EQ(last(), now_ - 299);
  now_ += 1;
  checkin(a, "downloading");
  EXPECT_EQ(last(), now_) << "five minutes old: written";
  const auto detail = as(admin(), "GET", "/api/agents/" + a.id);
  EXPECT_NE(detail.body.find("\"checkin_recorded_every_s\":300"), std::string::npos)
      << "the agent page says how stale the time may be";
}

TEST_F(Lifecycle, ArtifactDownloadWithRangeAndEtag) {
  ASSERT_EQ(publish(admin(), "1.0.0").status, 201u);
  auto a = enroll("dl", "0.9.0", "beta");
  auto d = checkin(a);
  ASSERT_TRUE(d.has_value());
  const auto& m = d->release->manifest;
  const std::string url = "/api/agent/v1/artifacts/" + m.sha256;
  const http::Header auth{"Authorization", "Bearer " + a.token};
  auto whole = call("GET", url, "", {auth});
  ASSERT_EQ(whole.status, 200u);
  EXPECT_EQ(whole.body.size(), m.size);
  EXPECT_EQ(whole.body, "artifact of 1.0.0 linux/x86_64");
  EXPECT_EQ(whole.header("ETag").value_or(""), "\"" + m.sha256 + "\"");
  auto part = call("GET", url, "", {auth, {"Range", "bytes=5-"}});
  ASSERT_EQ(part.status, 206u);
  EXPECT_EQ(part.body, std::string("artifact of 1.0.0 linux/x86_64").substr(5));
  EXPECT_EQ(part.header("Content-Range").value_or(""),
            "bytes 5-" + std::to_string(m.size - 1) + "/" + std::to_string(m.size));
  EXPECT_EQ(call("GET", url, "", {auth, {"Range", "bytes=9999-"}}).status, 416u);
  EXPECT_EQ(call("GET", url, "", {auth, {"If-None-Match", "\"" + m.sha256 + "\""}}).status, 304u);
  EXPECT_EQ(call("GET", url).status, 401u) << "agents only";
  EXPECT_EQ(call("GET", "/api/agent/v1/artifacts/..%2F..%2Fetc%2Fpasswd", "", {auth}).status, 404u);
  EXPECT_EQ(call("GET", "/api/agent/v1/artifacts/" + std::string(64, 'f'), "", {auth}).status,
            404u);
}

}  // namespace
}  // namespace rollout::server::testing

namespace rollout::server::testing {
namespace {

TEST_F(Lifecycle, StaleStableIsFlaggedInTheRowAndTheMetric) {
  baseline();
  ASSERT_EQ(publish(admin(), "1.5.0").status, 201u);
  auto metric = [&] { return as(admin(), "GET", "/metrics").body; };
  EXPECT_FALSE(row(admin(), "1.5.0")["stale_stable"].as_bool());
  EXPECT_NE(metric().find("rollout_stale_stable{os=\"linux\",arch=\"x86_64\"} 0"),
            std::string::npos);
  now_ += 8 * 86400;  // beta has been ahead of stable for 8 days (default limit 7)
  EXPECT_TRUE(row(admin(), "1.5.0")["stale_stable"].as_bool());
  EXPECT_NE(metric().find("rollout_stale_stable{os=\"linux\",arch=\"x86_64\"} 1"),
            std::string::npos);
}

}  // namespace
}  // namespace rollout::server::testing
