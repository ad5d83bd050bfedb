// An enrolled endpoint cannot forge health (issue 10 §1): a report counts only for a published
// release of the agent's own os/arch that the server directed it to or saw it running at a
// check-in. Every way of lying is refused through the real HTTP host with a 4xx naming the
// reason, counted in /metrics, and the database compared before and after; the honest ways
// (directed install, directed downgrade, the running version, a release later rolled back) count.
#include "tests/server/app_fixture.hpp"

namespace rollout::server::testing {
namespace {

class Reports : public AppFixture {
 protected:
  void SetUp() override {
    cfg_.reports_per_agent_per_hour = 100;  // the smallest allowed cap: one full batch
    AppFixture::SetUp();
    ASSERT_EQ(publish(admin(), "1.0.0").status, 201u);
    ASSERT_EQ(publish(admin(), "1.1.0").status, 201u);
    ASSERT_EQ(publish(admin(), "1.1.0", "windows").status, 201u);
  }

  struct Endpoint {
    AgentId id;
    std::string os = "linux";
    std::string arch = "x86_64";
  };

  Endpoint enroll_on(const std::string& machine, const std::string& version,
                     const std::string& channel, const std::string& os = "linux") {
    protocol::EnrollRequest e{"enroll-secret", machine, machine, os,     "x86_64",
                              version,         "acme",  "hq",    channel};
    auto r = call("POST", "/api/agent/v1/enroll", e.to_json());
    EXPECT_EQ(r.status, 200u) << r.body;
    auto resp = protocol::EnrollResponse::parse(r.body).value();
    return {{resp.agent_id, resp.token, version}, os, "x86_64"};
  }

  // Checks in on whatever the endpoint runs; the directive's (action, version), if any.
  std::optional<std::pair<std::string, std::string>> checkin_on(const Endpoint& a) {
    protocol::CheckinRequest c{a.id.id, a.id.version, a.os,        a.arch, "idle", 0,
                               0,       std::nullopt, std::nullopt};
    auto r = call("POST", "/api/agent/v1/checkin", c.to_json(),
                  {{"Authorization", "Bearer " + a.id.token}});
    EXPECT_EQ(r.status, 200u) << r.body;
    auto answer = protocol::CheckinResponse::parse(r.body).value();
    if (!answer.directive) return std::nullopt;
    KeyRing dk, rk;
    dk.add(directive_key_->public_key());
    rk.add(release_key_->public_key());
    auto v = verify_directive(bj::serialize(*answer.directive), dk, rk).value();
    return std::make_pair(std::string(to_string(v.directive.action)),
                          v.release->manifest.version.str());
  }

  protocol::Report rep(const Endpoint& a, const std::string& version, const std::string& outcome,
                       const std::string& os = "", const std::string& id = protocol::new_uuid()) {
    protocol::Report r;
    r.id = id;
    r.agent_id = a.id.id;
    r.version = version;
    r.os = os.empty() ? a.os : os;
    r.arch = a.arch;
    r.outcome = outcome;
    if (outcome != "success") {
      r.stage = outcome == "crash" ? "probation" : "download";
      r.error_code = outcome == "crash" ? "crash_limit" : "network";
    }
    r.occurred_at = format_rfc3339(SysTime(std::chrono::seconds(now_)));
    return r;
  }

  http::Response send(const Endpoint& a, std::vector<protocol::Report> batch) {
    return call("POST", "/api/agent/v1/reports", protocol::ReportBatch{std::move(batch)}.to_json(),
                {{"Authorization", "Bearer " + a.id.token}});
  }

  // Everything a report could change: the attempts, every release's counts (all time and the
  // last 24 h), what each agent may report on. The logs table is left out on purpose: a refusal
  // is logged.
  std::string snapshot() {
    auto s = store();
    std::string out = "attempts=" + std::to_string(s->attempt_count().value());
    for (const auto& since : {std::optional<std::int64_t>{}, std::optional<std::int64_t>{0}}) {
      for (const auto& [k, c] : s->release_counts(since).value()) {
        out += "|" + k.version + "/" + k.os + ":" + std::to_string(c.success) + "/" +
               std::to_string(c.failure) + "/" + std::to_string(c.crash);
      }
    }
    for (const auto& a : s->list_agents().value()) {
      for (const auto& r : s->list_agent_releases(a.id).value()) {
        out += "|" + a.hostname + "@" + r.release.version + "/" + r.release.os + ":" + r.how;
      }
    }
    return out;
  }

  // The refusal's reason for each refused id.
  std::map<std::string, std::string> refused(const http::Response& r) {
    EXPECT_EQ(r.status, 422u) << r.body;
    std::map<std::string, std::string> out;
    auto parsed = protocol::ReportRefusal::parse(r.body);
    EXPECT_TRUE(parsed.ok()) << r.body;
    if (parsed) {
      for (const auto& x : parsed->refused) out[x.id] = x.reason;
    }
    return out;
  }

  std::uint64_t refused_metric(const std::string& reason) {
    auto m = as(admin(), "GET", "/metrics");
    const std::string key = "rollout_reports_refused_total{reason=\"" + reason + "\"} ";
    const auto p = m.body.find(key);
    EXPECT_NE(p, std::string::npos) << m.body;
    return p == std::string::npos ? 0 : std::stoull(m.body.substr(p + key.size()));
  }

  bj::object health_of(const std::string& version, const std::string& os) {
    auto r = as(admin(), "GET", "/api/updates/rollouts");
    const bj::value parsed = bj::parse(r.body);
    for (const auto& v : parsed.at("rollouts").as_array()) {
      if (v.at("version").as_string() == version && v.at("os").as_string() == os)
        return v.at("health").as_object();
    }
    ADD_FAILURE() << "no row " << version << " " << os;
    return {};
  }

  // A beta agent that enrolled on 0.9.0 and was directed to install 1.1.0.
  Endpoint directed_to_1_1_0(const std::string& name) {
    auto a = enroll_on(name, "0.9.0", "beta");
    auto d = checkin_on(a);
    EXPECT_EQ(d, std::make_pair(std::string("install"), std::string("1.1.0")));
    return a;
  }
};

// The issue's case: a linux agent posting one crash for the windows release turned it from
// Healthy 19/0/0 to Blocked 19/0/1.
TEST_F(Reports, AnotherPlatformsReleaseIsRefusedAndChangesNothing) {
  for (int i = 0; i < 19; ++i) {
    auto w = enroll_on("win-" + std::to_string(i), "1.0.0", "beta", "windows");
    ASSERT_TRUE(checkin_on(w).has_value());
    ASSERT_EQ(send(w, {rep(w, "1.1.0", "success")}).status, 200u);
  }
  EXPECT_EQ(health_of("1.1.0", "windows").at("status").as_string(), "healthy");
  auto liar = directed_to_1_1_0("liar");
  const auto before = snapshot();
  auto lie = rep(liar, "1.1.0", "crash", "windows");
  auto r = send(liar, {lie});
  EXPECT_EQ(refused(r)[lie.id], "other_platform") << r.body;
  EXPECT_EQ(bj::parse(r.body).at("error").as_string(), "report_refused");
  EXPECT_EQ(snapshot(), before);
  EXPECT_EQ(health_of("1.1.0", "windows").at("status").as_string(), "healthy");
  EXPECT_EQ(health_of("1.1.0", "windows").at("crash").as_int64(), 0);
  EXPECT_EQ(refused_metric("other_platform"), 1u);
}

TEST_F(Reports, AReleaseNeverOfferedIsRefused) {
  auto a = directed_to_1_1_0("never-offered");  // told 1.1.0; never told or seen on 1.0.0
  const auto before = snapshot();
  auto lie = rep(a, "1.0.0", "crash");
  EXPECT_EQ(refused(send(a, {lie}))[lie.id], "not_offered");
  EXPECT_EQ(snapshot(), before);
  EXPECT_EQ(refused_metric("not_offered"), 1u);
  // Enrolling on a version is not running it at a check-in.
  auto b = enroll_on("enrolled-only", "1.0.0", "stable");
  auto lie2 = rep(b, "1.0.0", "success");
  EXPECT_EQ(refused(send(b, {lie2}))[lie2.id], "not_offered");
  EXPECT_EQ(snapshot(), before);
}

TEST_F(Reports, ANotYetPublishedReleaseIsRefusedAndStaysUncountedAfterItsPublication) {
  auto a = enroll_on("early", "1.2.0", "beta");
  checkin_on(a);  // says it runs 1.2.0 before 1.2.0 exists
  const auto before = snapshot();
  auto early = rep(a, "1.2.0", "crash");
  EXPECT_EQ(refused(send(a, {early}))[early.id], "unknown_release");
  EXPECT_EQ(snapshot(), before);
  EXPECT_EQ(refused_metric("unknown_release"), 1u);
  ASSERT_EQ(publish(admin(), "1.2.0").status, 201u);
  EXPECT_EQ(health_of("1.2.0", "linux").at("total").as_int64(), 0)
      << "the refused report did not wait for the publication";
  EXPECT_EQ(health_of("1.2.0", "linux").at("status").as_string(), "unknown");
  EXPECT_EQ(refused(send(a, {early}))[early.id], "not_offered")
      << "sent again after the publication, it is still refused: no check-in saw 1.2.0 yet";
  EXPECT_EQ(health_of("1.2.0", "linux").at("total").as_int64(), 0);
}

TEST_F(Reports, AVersionThatIsNotAReleaseIsRefused) {
  auto a = directed_to_1_1_0("dreamer");
  const auto before = snapshot();
  auto lie = rep(a, "7.7.7", "crash");
  EXPECT_EQ(refused(send(a, {lie}))[lie.id], "unknown_release");
  auto not_semver = rep(a, "1.1", "crash");
  auto r = send(a, {not_semver});
  EXPECT_EQ(r.status, 400u) << r.body;
  EXPECT_NE(r.body.find("invalid_body"), std::string::npos) << r.body;
  EXPECT_EQ(snapshot(), before);
}

// One lie refuses the whole batch, and the answer names only the lie: the agent drops it and
// sends the honest report again, which then counts.
TEST_F(Reports, OneLieRefusesTheWholeBatchAndNamesOnlyTheLie) {
  auto a = directed_to_1_1_0("mixed");
  const auto before = snapshot();
  auto honest = rep(a, "1.1.0", "success");
  auto lie = rep(a, "1.0.0", "crash");
  auto lie2 = rep(a, "1.1.0", "crash", "windows");
  auto answer = refused(send(a, {honest, lie, lie2}));
  EXPECT_EQ(answer.size(), 2u);
  EXPECT_EQ(answer[lie.id], "not_offered");
  EXPECT_EQ(answer[lie2.id], "other_platform");
  EXPECT_EQ(answer.count(honest.id), 0u);
  EXPECT_EQ(snapshot(), before) << "nothing of the batch was stored";
  auto r = send(a, {honest});
  ASSERT_EQ(r.status, 200u) << r.body;
  EXPECT_EQ(protocol::ReportAck::parse(r.body)->acknowledged, std::vector<std::string>{honest.id});
  EXPECT_EQ(health_of("1.1.0", "linux").at("success").as_int64(), 1);
}

// A replay of a stored report is acknowledged and changes nothing; it costs nothing against the
// hourly cap.
TEST_F(Reports, FloodingIsCappedPerAgentPerHourWith429) {
  auto a = directed_to_1_1_0("flooder");
  auto other = directed_to_1_1_0("neighbour");
  std::vector<protocol::Report> batch;
  for (int i = 0; i < 100; ++i) batch.push_back(rep(a, "1.1.0", i % 2 ? "success" : "failure"));
  ASSERT_EQ(send(a, batch).status, 200u) << "one full batch fits the smallest cap";
  EXPECT_EQ(health_of("1.1.0", "linux").at("total").as_int64(), 1) << "the agent counts once";
  const auto before = snapshot();
  now_ += 1800;
  auto r = send(a, {rep(a, "1.1.0", "crash")});
  ASSERT_EQ(r.status, 429u) << r.body;
  EXPECT_NE(r.body.find("\"error\":\"rate_limited\""), std::string::npos) << r.body;
  EXPECT_NE(r.body.find("reports_per_agent_per_hour"), std::string::npos) << r.body;
  EXPECT_EQ(r.header("Retry-After").value_or(""), "1800") << "when the oldest row leaves the hour";
  EXPECT_EQ(snapshot(), before);
  EXPECT_EQ(refused_metric("rate_limited"), 1u);
  auto replay = send(a, {batch[0]});
  ASSERT_EQ(replay.status, 200u) << "a replay is still acknowledged at the cap: " << replay.body;
  EXPECT_EQ(protocol::ReportAck::parse(replay.body)->acknowledged,
            std::vector<std::string>{batch[0].id});
  EXPECT_EQ(snapshot(), before);
  EXPECT_EQ(send(other, {rep(other, "1.1.0", "success")}).status, 200u) << "per agent";
  now_ += 1800;
  EXPECT_EQ(send(a, {rep(a, "1.1.0", "crash")}).status, 200u) << "an hour later";
}

// Every refusal is logged, so a hostile endpoint (or a stranger without a CSRF token) could grow
// the logs table one request at a time. Every log entry goes through one place, which keeps the
// table to its newest log_retention_rows entries, whoever makes the server log.
TEST_F(Reports, RefusalsCannotGrowTheLogsTableWithoutBound) {
  cfg_.log_retention_rows = 16;
  Start();
  auto liar = directed_to_1_1_0("log-flooder");
  for (int i = 0; i < 40; ++i)
    ASSERT_EQ(send(liar, {rep(liar, "1.1.0", "crash", "windows")}).status, 422u);
  auto logs = store()->query_logs("", "", 1000).value();
  EXPECT_LE(logs.size(), 16u);
  ASSERT_FALSE(logs.empty());
  EXPECT_NE(logs.front().message.find("refused"), std::string::npos)
      << "the newest entries are kept: " << logs.front().message;
}

TEST_F(Reports, DirectedInstallAndTheRunningVersionCount) {
  auto a = directed_to_1_1_0("installer");
  ASSERT_EQ(send(a, {rep(a, "1.1.0", "success")}).status, 200u);
  auto b = enroll_on("runner", "1.0.0", "stable");
  EXPECT_FALSE(checkin_on(b).has_value()) << "no stable release yet";
  ASSERT_EQ(send(b, {rep(b, "1.0.0", "crash")}).status, 200u) << "it said it runs 1.0.0";
  EXPECT_EQ(health_of("1.1.0", "linux").at("success").as_int64(), 1);
  EXPECT_EQ(health_of("1.0.0", "linux").at("crash").as_int64(), 1);
  auto s = store();
  auto how_a = s->get_agent_release(a.id.id, {"1.1.0", "linux", "x86_64"}).value();
  ASSERT_TRUE(how_a.has_value());
  EXPECT_EQ(how_a->how, "install");
  EXPECT_EQ(s->get_agent_release(b.id.id, {"1.0.0", "linux", "x86_64"}).value()->how, "running");
}

// A rolled-back release keeps its reports (stored before and after the rollback), and the
// downgrade the rollback directs makes the fallback reportable.
TEST_F(Reports, DirectedDowngradeCountsAndARolledBackReleaseKeepsItsReports) {
  auto ops = admin();
  ASSERT_EQ(as(ops, "POST", "/api/updates/rollouts/1.0.0/promote",
               R"({"os":"linux","arch":"x86_64","force":true,"reason":"first stable"})")
                .status,
            200u);
  auto a = directed_to_1_1_0("rolled-back");
  ASSERT_EQ(send(a, {rep(a, "1.1.0", "success")}).status, 200u);
  a.id.version = "1.1.0";
  EXPECT_FALSE(checkin_on(a).has_value());
  auto b = directed_to_1_1_0("crashed");
  ASSERT_EQ(send(b, {rep(b, "1.1.0", "crash")}).status, 200u);
  const auto counts_before = health_of("1.1.0", "linux");
  auto rb = as(ops, "POST", "/api/updates/rollouts/1.1.0/rollback",
               R"({"os":"linux","arch":"x86_64","reason":"crashes"})");
  ASSERT_EQ(rb.status, 200u) << rb.body;
  auto after = health_of("1.1.0", "linux");
  EXPECT_EQ(after.at("status").as_string(), "blocked");
  EXPECT_EQ(after.at("success"), counts_before.at("success")) << "still counts for 1.1.0";
  EXPECT_EQ(after.at("crash"), counts_before.at("crash"));
  auto d = checkin_on(a);
  EXPECT_EQ(d, std::make_pair(std::string("downgrade"), std::string("1.0.0")));
  ASSERT_EQ(send(a, {rep(a, "1.0.0", "success")}).status, 200u) << "the directed downgrade";
  EXPECT_EQ(health_of("1.0.0", "linux").at("success").as_int64(), 1);
  auto c = enroll_on("late", "0.9.0", "beta");
  ASSERT_EQ(send(a, {rep(a, "1.1.0", "failure")}).status, 200u)
      << "a report about the rolled-back release after the rollback still counts";
  EXPECT_EQ(health_of("1.1.0", "linux").at("failure").as_int64(), 1);
  EXPECT_EQ(health_of("1.1.0", "linux").at("success").as_int64(), 0) << "its latest outcome";
  auto lie = rep(c, "1.1.0", "crash");
  EXPECT_EQ(refused(send(c, {lie}))[lie.id], "not_offered")
      << "blocked releases are offered to no one new";
}

}  // namespace
}  // namespace rollout::server::testing
