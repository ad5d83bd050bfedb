// rolloutctl's server verbs against the real rollout-server on loopback (TLS with a test CA),
// and the lifecycle of DESIGN.md §4 end to end through HTTP: publish → enroll → check-ins →
// reports → health → promote refused (409) → promote forced → rollback → downgrade directives on
// the next check-ins → audit rows with users and reasons. Agents are simulated over HTTP here;
// the real rollout-agent runs against the real server in tests/agent.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <boost/json.hpp>

#include "common/http/client.hpp"
#include "common/protocol.hpp"
#include "common/release.hpp"
#include "tests/testing/real_server.hpp"
#include "tests/testing/testing.hpp"

namespace rollout {
namespace {

namespace bj = boost::json;
using testing::RealServer;
using testing::run;
using testing::RunResult;
using testing::write_file;

const std::string kCtl = ROLLOUTCTL_PATH;

class RolloutctlServer : public ::testing::Test {
 protected:
  void SetUp() override {
    server_ = std::make_unique<RealServer>(testing::RealServerOptions{
        ROLLOUT_SERVER_PATH, dir_.path() / "server", true, "waves:\n  all_at_once: true\n"});
    std::string err;
    ASSERT_TRUE(server_->start(&err)) << err;
    write_file(dir_.path() / "admin.pw", std::string(RealServer::kAdminPassword) + "\n");
    net::TransportOptions o;
    o.ca_file = server_->ca_file().string();
    http_ = net::make_curl_transport(o);
    directive_keys_ = KeyRing::load({server_->directive_public_key().string()}).value();
    release_keys_ = KeyRing::load({server_->release_public_key().string()}).value();
  }

  // rolloutctl with the server's URL and CA, as `who` (admin by password, else a token).
  RunResult ctl(std::vector<std::string> args, const std::string& token = "",
                const std::string* input = nullptr) {
    args.insert(args.begin(), kCtl);
    args.insert(args.end(),
                {"--server", server_->base_url(), "--ca-file", server_->ca_file().string()});
    if (token.empty()) {
      args.insert(args.end(),
                  {"--user", "admin", "--password-file", (dir_.path() / "admin.pw").string()});
    } else {
      args.insert(args.end(), {"--token", token});
    }
    return run(args, input);
  }

  // Signs an artifact for `version` with the server's release key and publishes it.
  RunResult publish(const std::string& version) {
    const auto art = dir_.path() / ("agent-" + version);
    const auto man = dir_.path() / ("agent-" + version + ".manifest");
    write_file(art, "payload of " + version);
    auto s = run({kCtl, "sign-release", "--key", server_->release_private_key().string(),
                  "--artifact", art.string(), "--version", version, "--os", "linux", "--arch",
                  "x86_64", "--security-version", "1", "--out", man.string()});
    EXPECT_EQ(s.exit_code, 0) << s.err;
    return ctl({"publish", "--manifest", man.string(), "--artifact", art.string()});
  }

  struct Agent {
    std::string id, token, version;
  };

  Agent enroll(const std::string& name, const std::string& version, const std::string& channel) {
    protocol::EnrollRequest e{
        RealServer::kEnrollmentKey, name, name, "linux", "x86_64", version, "acme", "hq", channel};
    auto r = http_->post_json(server_->base_url() + "/api/agent/v1/enroll", e.to_json(), "");
    EXPECT_TRUE(r.ok() && r->status == 200) << (r.ok() ? r->body : r.error().message);
    auto resp = protocol::EnrollResponse::parse(r->body).value();
    return {resp.agent_id, resp.token, version};
  }

  // The verified directive of a check-in, if any: (action, version).
  std::optional<std::pair<std::string, std::string>> checkin(const Agent& a) {
    protocol::CheckinRequest c{a.id, a.version, "linux", "x86_64", "idle", 0, 0, std::nullopt, {}};
    auto r = http_->post_json(server_->base_url() + "/api/agent/v1/checkin", c.to_json(), a.token);
    EXPECT_TRUE(r.ok() && r->status == 200) << (r.ok() ? r->body : r.error().message);
    auto answer = protocol::CheckinResponse::parse(r->body).value();
    if (!answer.directive) return std::nullopt;
    auto v = verify_directive(bj::serialize(*answer.directive), directive_keys_, release_keys_);
    EXPECT_TRUE(v.ok()) << (v.ok() ? "" : v.error().message);
    if (!v.ok() || !v->release) return std::nullopt;
    return std::make_pair(std::string(to_string(v->directive.action)),
                          v->release->manifest.version.str());
  }

  void report(const Agent& a, const std::string& version, const std::string& outcome) {
    protocol::Report rep;
    rep.id = protocol::new_uuid();
    rep.agent_id = a.id;
    rep.version = version;
    rep.from_version = a.version;
    rep.os = "linux";
    rep.arch = "x86_64";
    rep.outcome = outcome;
    if (outcome != "success") {
      rep.stage = outcome == "crash" ? "probation" : "download";
      rep.error_code = outcome == "crash" ? "crash_limit" : "network";
    }
    rep.occurred_at = format_rfc3339(
        std::chrono::time_point_cast<std::chrono::seconds>(std::chrono::system_clock::now()));
    auto r = http_->post_json(server_->base_url() + "/api/agent/v1/reports",
                              protocol::ReportBatch{{rep}}.to_json(), a.token);
    EXPECT_TRUE(r.ok() && r->status == 200) << (r.ok() ? r->body : r.error().message);
  }

  bj::value status_json(const std::string& token = "") {
    auto r = ctl({"status", "--json"}, token);
    EXPECT_EQ(r.exit_code, 0) << r.err;
    return bj::parse(r.out);
  }

  bj::object row(const std::string& version) {
    const bj::value v = status_json();
    for (const auto& r : v.at("rollouts").as_array()) {
      if (r.at("version").as_string() == version) return r.as_object();
    }
    ADD_FAILURE() << "no row for " << version;
    return {};
  }

  testing::TempDir dir_;
  std::unique_ptr<RealServer> server_;
  std::unique_ptr<net::Transport> http_;
  KeyRing directive_keys_, release_keys_;
};

TEST_F(RolloutctlServer, LifecycleEndToEndOverHttp) {
  // A token for the rest of the commands, and a viewer.
  auto tok = ctl({"token", "create", "--name", "ci"});
  ASSERT_EQ(tok.exit_code, 0) << tok.err;
  const std::string token = tok.out.substr(0, tok.out.find('\n'));
  ASSERT_EQ(token.rfind("rt_", 0), 0u) << tok.out;
  const std::string viewer_pw = "viewer-password-1\n";
  auto add = ctl({"users", "add", "vera", "--role", "viewer"}, token, &viewer_pw);
  ASSERT_EQ(add.exit_code, 0) << add.err;

  // 1.0.0 becomes stable (forced: nobody has run it yet), 1.1.0 is the beta.
  ASSERT_EQ(publish("1.0.0").exit_code, 0);
  auto first = ctl({"promote", "1.0.0", "--os", "linux", "--arch", "x86_64", "--force", "--reason",
                    "initial release"},
                   token);
  ASSERT_EQ(first.exit_code, 0) << first.err;
  auto pub = publish("1.1.0");
  ASSERT_EQ(pub.exit_code, 0) << pub.err;
  EXPECT_NE(pub.out.find("published 1.1.0 linux/x86_64 on beta"), std::string::npos) << pub.out;

  std::vector<Agent> beta, stable;
  for (int i = 0; i < 6; ++i) beta.push_back(enroll("beta-" + std::to_string(i), "1.0.0", "beta"));
  for (int i = 0; i < 4; ++i)
    stable.push_back(enroll("st-" + std::to_string(i), "1.0.0", "stable"));
  for (auto& a : stable) EXPECT_FALSE(checkin(a).has_value()) << "stable agents stay on 1.0.0";
  for (std::size_t i = 0; i < beta.size(); ++i) {
    auto d = checkin(beta[i]);
    ASSERT_TRUE(d.has_value());
    EXPECT_EQ(d->first, "install");
    EXPECT_EQ(d->second, "1.1.0");
    report(beta[i], "1.1.0", i < 4 ? "success" : "failure");  // 4/6: critical
    if (i < 4) {
      beta[i].version = "1.1.0";
      EXPECT_FALSE(checkin(beta[i]).has_value()) << "on target now";
    }
  }
  EXPECT_EQ(row("1.1.0").at("health").at("status").as_string(), "critical");

  // Refused: exit 1 with the reasons; then forced with a reason.
  auto refused = ctl({"promote", "1.1.0", "--os", "linux", "--arch", "x86_64"}, token);
  EXPECT_EQ(refused.exit_code, 1);
  EXPECT_NE(refused.err.find("HTTP 409 health_check_failed"), std::string::npos) << refused.err;
  EXPECT_NE(refused.err.find("not_healthy:critical"), std::string::npos) << refused.err;
  EXPECT_EQ(row("1.1.0").at("channel").as_string(), "beta");
  auto forced = ctl({"promote", "1.1.0", "--os", "linux", "--arch", "x86_64", "--force", "--reason",
                     "hotfix needed now"},
                    token);
  ASSERT_EQ(forced.exit_code, 0) << forced.err;
  EXPECT_NE(forced.out.find("Version 1.1.0 promoted to stable"), std::string::npos);
  for (auto& a : stable) {
    auto d = checkin(a);
    ASSERT_TRUE(d.has_value());
    EXPECT_EQ(*d, std::make_pair(std::string("install"), std::string("1.1.0")));
    report(a, "1.1.0", "success");
    a.version = "1.1.0";
    EXPECT_FALSE(checkin(a).has_value()) << "on target now";
  }

  // Rollback: every agent on 1.1.0 (4 beta + 4 stable) is told to go back to 1.0.0.
  auto no_reason = ctl({"rollback", "1.1.0", "--os", "linux", "--arch", "x86_64"}, token);
  EXPECT_EQ(no_reason.exit_code, 2);
  auto rb =
      ctl({"rollback", "1.1.0", "--os", "linux", "--arch", "x86_64", "--reason", "crashes on boot"},
          token);
  ASSERT_EQ(rb.exit_code, 0) << rb.err;
  EXPECT_NE(rb.out.find("Version 1.1.0 rolled back. 8 agents downgraded (to 1.0.0)"),
            std::string::npos)
      << rb.out;
  int downgrades = 0;
  for (auto* group : {&beta, &stable}) {
    for (auto& a : *group) {
      auto d = checkin(a);
      if (a.version == "1.1.0") {
        ASSERT_TRUE(d.has_value());
        EXPECT_EQ(*d, std::make_pair(std::string("downgrade"), std::string("1.0.0")));
        ++downgrades;
      }
    }
  }
  EXPECT_EQ(downgrades, 8);
  EXPECT_EQ(row("1.1.0").at("health").at("status").as_string(), "blocked");

  // The audit trail names users and reasons.
  auto events =
      run({"/usr/bin/curl", "-sS", "--max-time", "20", "--cacert", server_->ca_file().string(),
           "-H", "Authorization: Bearer " + token, server_->base_url() + "/api/updates/events"});
  ASSERT_EQ(events.exit_code, 0) << events.err;
  const bj::value ev = bj::parse(events.out);
  std::vector<std::string> seen;
  for (const auto& e : ev.at("events").as_array()) {
    if (e.at("action").as_string() == "promote" || e.at("action").as_string() == "rollback") {
      EXPECT_EQ(e.at("user").as_string(), "admin");
      seen.push_back(std::string(e.at("action").as_string()) + " " +
                     std::string(e.at("version").as_string()) + " " +
                     std::string(e.at("reason").as_string()));
    }
  }
  EXPECT_THAT(seen, ::testing::UnorderedElementsAre("promote 1.0.0 initial release",
                                                    "promote 1.1.0 hotfix needed now",
                                                    "rollback 1.1.0 crashes on boot"));

  // The terminal table.
  auto table = ctl({"status"}, token);
  ASSERT_EQ(table.exit_code, 0) << table.err;
  EXPECT_NE(table.out.find("VERSION"), std::string::npos);
  EXPECT_NE(table.out.find("1.1.0    linux / x86_64"), std::string::npos) << table.out;
  EXPECT_NE(table.out.find("blocked"), std::string::npos) << table.out;
  EXPECT_EQ(table.out.find("\033["), std::string::npos) << "no colours when not a terminal";
}

TEST_F(RolloutctlServer, RefusalsAndInputErrorsUseTheExitCodeConvention) {
  auto tok = ctl({"token", "create", "--name", "ci"});
  ASSERT_EQ(tok.exit_code, 0) << tok.err;
  const std::string token = tok.out.substr(0, tok.out.find('\n'));
  const std::string pw = "viewer-password-1\n";
  ASSERT_EQ(ctl({"users", "add", "vera", "--role", "viewer"}, token, &pw).exit_code, 0);
  write_file(dir_.path() / "vera.pw", pw);
  auto vtok = run({kCtl, "token", "create", "--name", "v", "--server", server_->base_url(),
                   "--ca-file", server_->ca_file().string(), "--user", "vera", "--password-file",
                   (dir_.path() / "vera.pw").string()});
  ASSERT_EQ(vtok.exit_code, 0) << vtok.err;
  const std::string viewer = vtok.out.substr(0, vtok.out.find('\n'));
  ASSERT_EQ(publish("2.0.0").exit_code, 0);

  // A viewer can read but not act: 403 → exit 1, and nothing changed.
  EXPECT_EQ(ctl({"status"}, viewer).exit_code, 0);
  auto denied =
      ctl({"promote", "2.0.0", "--os", "linux", "--arch", "x86_64", "--force", "--reason", "x"},
          viewer);
  EXPECT_EQ(denied.exit_code, 1);
  EXPECT_NE(denied.err.find("HTTP 403"), std::string::npos) << denied.err;
  EXPECT_EQ(row("2.0.0").at("channel").as_string(), "beta");

  // Input errors are caught before the server (exit 2) ...
  EXPECT_EQ(ctl({"promote", "2.0", "--os", "linux", "--arch", "x86_64"}, token).exit_code, 2);
  EXPECT_EQ(ctl({"promote", "2.0.0", "--os", "beos", "--arch", "x86_64"}, token).exit_code, 2);
  EXPECT_EQ(
      ctl({"promote", "2.0.0", "--os", "linux", "--arch", "x86_64", "--force"}, token).exit_code,
      2);
  const std::string short_pw = "short\n";
  EXPECT_EQ(ctl({"users", "add", "bob", "--role", "operator"}, token, &short_pw).exit_code, 2);
  EXPECT_EQ(ctl({"users", "add", "bob", "--role", "root"}, token, &pw).exit_code, 2);
  // ... the server's refusals are exit 1: a duplicate publish, an unknown release, a bad token.
  auto dup = publish("2.0.0");
  EXPECT_NE(dup.exit_code, 0);
  EXPECT_EQ(ctl({"rollback", "9.9.9", "--os", "linux", "--arch", "x86_64", "--reason", "x"}, token)
                .exit_code,
            1);
  EXPECT_EQ(ctl({"status"}, "rt_not-a-token").exit_code, 1);
  // No fallback for the only release: 409 → exit 1, the release stays unblocked.
  auto nofb =
      ctl({"rollback", "2.0.0", "--os", "linux", "--arch", "x86_64", "--reason", "bad"}, token);
  EXPECT_EQ(nofb.exit_code, 1);
  EXPECT_NE(nofb.err.find("no_fallback_version"), std::string::npos) << nofb.err;
  EXPECT_FALSE(row("2.0.0").at("blocked").as_bool());
  // Plain http is refused unless asked for; an unreachable server is exit 1.
  auto plain = run({kCtl, "status", "--server", "http://127.0.0.1:9", "--token", token});
  EXPECT_EQ(plain.exit_code, 2);
  server_->stop();
  EXPECT_EQ(ctl({"status"}, token).exit_code, 1);
}

TEST_F(RolloutctlServer, PublishRefusesAManifestThatDoesNotVerify) {
  const auto art = dir_.path() / "a.bin";
  write_file(art, "real bytes");
  ASSERT_EQ(
      run({kCtl, "keygen", "--role", "release", "--out", (dir_.path() / "k").string()}).exit_code,
      0);
  const auto man = dir_.path() / "a.manifest";
  ASSERT_EQ(run({kCtl, "sign-release", "--key", (dir_.path() / "k" / "release.key").string(),
                 "--artifact", art.string(), "--version", "3.0.0", "--os", "linux", "--arch",
                 "x86_64", "--security-version", "1", "--out", man.string()})
                .exit_code,
            0);
  auto r = ctl({"publish", "--manifest", man.string(), "--artifact", art.string()});
  EXPECT_EQ(r.exit_code, 2) << "a 400: the request itself was wrong";
  EXPECT_NE(r.err.find("does not verify"), std::string::npos) << r.err;
  EXPECT_EQ(status_json().at("rollouts").as_array().size(), 0u);
}

}  // namespace
}  // namespace rollout
