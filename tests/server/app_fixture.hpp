// An App built from a real config (fresh keys, a fresh database, a movable clock), served by
// the real HTTP host (server-plugin/http, the one rollout-server runs) on a loopback port and
// driven through real sockets with the project's libcurl client. The App stays in this process
// so a test can move its clock. Helpers publish signed releases, enroll agents and log users in.
// The database is the test program's backend (store_backends(), a link-time choice): a file in the
// test's directory in server_tests, a fresh PostgreSQL database in pg_tests, so the same test
// sources run on both.
#pragma once

#include <gtest/gtest.h>

#include <atomic>
#include <boost/json.hpp>
#include <filesystem>
#include <thread>

#include "common/encoding.hpp"
#include "common/http/client.hpp"
#include "common/protocol.hpp"
#include "common/release.hpp"
#include "platform/secret_file.hpp"
#include "server-plugin/app.hpp"
#include "server-plugin/auth/password.hpp"
#include "server-plugin/config.hpp"
#include "server-plugin/http/server.hpp"
#include "server-plugin/store.hpp"
#include "tests/server/store_backends.hpp"
#include "tests/testing/testing.hpp"

namespace rollout::server::testing {

namespace bj = boost::json;

struct Session {
  std::string cookie;
  std::string csrf;
};

class AppFixture : public ::testing::Test {
 protected:
  void SetUp() override {
    release_key_ = crypto::PrivateKey::generate().value();
    directive_key_ = crypto::PrivateKey::generate().value();
    const auto d = dir_.path();
    ASSERT_TRUE(
        platform::write_new_secret_file((d / "directive.key").string(), directive_key_->pem())
            .ok());
    rollout::testing::write_file(d / "release.pub", release_key_->public_key().pem());
    cfg_.database_url = fresh_database_url("app");
    cfg_.data_dir = (d / "data").string();
    cfg_.directive_key = (d / "directive.key").string();
    cfg_.release_keys = {(d / "release.pub").string()};
    cfg_.enrollment_keys = {"enroll-secret"};
    cfg_.password_cost = 10;
    // Promotion moves every stable agent at once here (as before waves); wave tests set a plan.
    // No timer thread: a test evaluates the rollouts itself (App::evaluate_rollouts).
    cfg_.waves.cumulative_bp = {waves::kBuckets};
    cfg_.waves_evaluate_interval = std::chrono::milliseconds(0);
    rollout::testing::write_file(d / "admin.pw", "admin-password-1234\n");
    cfg_.admin_password_file = (d / "admin.pw").string();
    Start();
  }

  // A second App on the same database and clock (a second server instance) evaluates the rollouts
  // at the same time as app_; returns the decisions both took together.
  std::size_t evaluate_racing_a_second_app() {
    auto second = make_app_from(cfg_, [this] { return now_; });
    EXPECT_TRUE(second.ok()) << second.error().message;
    if (!second.ok()) return 0;
    std::atomic<std::size_t> total{0};
    auto run = [&](App& app) {
      auto n = app.evaluate_rollouts();
      EXPECT_TRUE(n.ok()) << (n.ok() ? "" : n.error().message);
      if (n.ok()) total += *n;
    };
    std::thread a([&] { run(*app_); });
    std::thread b([&] { run(**second); });
    a.join();
    b.join();
    return total.load();
  }

  // A fresh, empty database of this program's backend; `name` keeps SQLite's files apart.
  std::string fresh_database_url(const std::string& name) {
    const auto sub = dir_.path() / ("db-" + name);
    std::filesystem::create_directories(sub);
    return rollout::testing::store_backends().front().url(sub);
  }

  void Start() {
    auto app = make_app_from(cfg_, [this] { return now_; });
    ASSERT_TRUE(app.ok()) << app.error().message;
    app_ = std::move(app.value());
    if (!loopback_) {
      http::ServerOptions o;
      o.address = "127.0.0.1";
      o.port = 0;
      o.body_limit = cfg_.upload_limit + 1024 * 1024;
      o.admit = [this](const http::Request& head) {
        return app_->admit(head, std::nullopt);  // as rollout-server does
      };
      o.worker_threads = 4;
      loopback_ = std::make_unique<http::Server>(o, [this](const http::Request& r) {
        for (auto seen = largest_body_.load();
             r.body.size() > seen && !largest_body_.compare_exchange_weak(seen, r.body.size());) {
        }
        return app_->handle(r, std::nullopt);
      });
      auto st = loopback_->start();
      ASSERT_TRUE(st.ok()) << st.error().message;
    }
  }

  void TearDown() override {
    if (loopback_) loopback_->shutdown();
    loopback_.reset();
  }

  // A second handle on the same database, to inspect what requests changed.
  std::unique_ptr<Store> store() { return open_store(cfg_.database_url).value(); }

  // One request through the loopback socket; a transport failure is status 0 with the error as
  // the body. A client per call: tests call from several threads at once.
  http::Response call(const std::string& method, const std::string& target,
                      const std::string& body = "", std::vector<http::Header> headers = {}) {
    net::TransportOptions o;
    o.allow_plain_http = true;
    o.max_json_response = 64 * 1024 * 1024;
    auto client = net::make_curl_transport(o);
    net::Request r;
    r.method = method;
    r.url = "http://127.0.0.1:" + std::to_string(loopback_->port()) + target;
    r.body = body;
    for (auto& h : headers) r.headers.emplace_back(h.name, h.value);
    auto answer = client->send(r);
    http::Response out;
    if (!answer) {
      out.status = 0;
      out.body = answer.error().message;
      return out;
    }
    out.status = static_cast<unsigned>(answer->status);
    out.body = std::move(answer->body);
    for (auto& [name, value] : answer->headers) out.headers.push_back({name, value});
    return out;
  }

  http::Response as(const Session& s, const std::string& method, const std::string& target,
                    const std::string& body = "") {
    return call(method, target, body,
                {{"Cookie", "rollout_session=" + s.cookie}, {"X-CSRF-Token", s.csrf}});
  }

  Session login(const std::string& user, const std::string& password) {
    auto r = call("POST", "/api/auth/login",
                  bj::serialize(bj::object{{"username", user}, {"password", password}}));
    EXPECT_EQ(r.status, 200u) << r.body;
    Session s;
    auto cookie = std::string(r.header("Set-Cookie").value_or(""));
    s.cookie = cookie.substr(16, cookie.find(';') - 16);
    s.csrf = std::string(bj::parse(r.body).as_object()["csrf_token"].as_string());
    return s;
  }

  Session admin() { return login("admin", "admin-password-1234"); }

  Session user_with_role(const std::string& name, const std::string& role) {
    auto r = as(admin(), "POST", "/api/users",
                bj::serialize(bj::object{
                    {"username", name}, {"password", name + "-password-12"}, {"role", role}}));
    EXPECT_EQ(r.status, 201u) << r.body;
    return login(name, name + "-password-12");
  }

  // Signs a release for a small artifact and publishes it; returns the HTTP answer.
  http::Response publish(const Session& s, const std::string& version,
                         const std::string& os = "linux", const std::string& arch = "x86_64",
                         std::uint64_t security_version = 1) {
    const std::string artifact = "artifact of " + version + " " + os + "/" + arch;
    ReleaseManifest m;
    m.version = SemVer::parse(version).value();
    m.os = os;
    m.arch = arch;
    m.size = artifact.size();
    m.sha256 = crypto::sha256_hex(artifact);
    m.security_version = security_version;
    m.created_at = SysTime(std::chrono::seconds(now_));
    auto env =
        sign_envelope(std::string(kReleasePayloadType), m.to_payload(), {*release_key_}).value();
    return as(s, "POST", "/api/updates/releases",
              bj::serialize(bj::object{{"manifest", envelope_to_json(env)},
                                       {"artifact", encoding::base64(artifact)}}));
  }

  struct AgentId {
    std::string id;
    std::string token;
    std::string version;
  };

  AgentId enroll(const std::string& machine, const std::string& version,
                 const std::string& channel = "stable", const std::string& site = "hq") {
    protocol::EnrollRequest e{"enroll-secret", machine, machine, "linux", "x86_64",
                              version,         "acme",  site,    channel};
    auto r = call("POST", "/api/agent/v1/enroll", e.to_json());
    EXPECT_EQ(r.status, 200u) << r.body;
    auto resp = protocol::EnrollResponse::parse(r.body).value();
    return {resp.agent_id, resp.token, version};
  }

  // Checks in; returns the verified directive if the answer carried one.
  std::optional<VerifiedDirective> checkin(AgentId& a, const std::string& state = "idle") {
    protocol::CheckinRequest c{a.id, a.version, "linux", "x86_64", state, 0, 0, std::nullopt, {}};
    auto r = call("POST", "/api/agent/v1/checkin", c.to_json(),
                  {{"Authorization", "Bearer " + a.token}});
    EXPECT_EQ(r.status, 200u) << r.body;
    auto answer = protocol::CheckinResponse::parse(r.body).value();
    if (!answer.directive) return std::nullopt;
    KeyRing dk, rk;
    dk.add(directive_key_->public_key());
    rk.add(release_key_->public_key());
    auto v = verify_directive(bj::serialize(*answer.directive), dk, rk);
    EXPECT_TRUE(v.ok()) << (v.ok() ? "" : v.error().message);
    if (!v.ok()) return std::nullopt;
    return std::move(v.value());
  }

  http::Response report(const AgentId& a, const std::string& version, const std::string& outcome,
                        const std::string& id = protocol::new_uuid()) {
    protocol::Report rep;
    rep.id = id;
    rep.agent_id = a.id;
    rep.version = version;
    rep.os = "linux";
    rep.arch = "x86_64";
    rep.outcome = outcome;
    if (outcome != "success") {
      rep.stage = outcome == "crash" ? "probation" : "download";
      rep.error_code = outcome == "crash" ? "crash_limit" : "network";
    }
    rep.occurred_at = format_rfc3339(SysTime(std::chrono::seconds(now_)));
    return call("POST", "/api/agent/v1/reports", protocol::ReportBatch{{rep}}.to_json(),
                {{"Authorization", "Bearer " + a.token}});
  }

  // The row of the Updates table for version (linux/x86_64).
  bj::object row(const Session& s, const std::string& version) {
    auto r = as(s, "GET", "/api/updates/rollouts");
    EXPECT_EQ(r.status, 200u);
    const bj::value parsed = bj::parse(r.body);  // named: a temporary would die before the loop
    for (const auto& v : parsed.at("rollouts").as_array()) {
      if (v.at("version").as_string() == version) return v.as_object();
    }
    ADD_FAILURE() << "no row for " << version;
    return {};
  }

  rollout::testing::TempDir dir_;
  ServerConfig cfg_;
  std::optional<crypto::PrivateKey> release_key_, directive_key_;
  std::unique_ptr<App> app_;
  std::unique_ptr<http::Server> loopback_;
  std::int64_t now_ = 1'795'000'000;
  std::atomic<std::size_t> largest_body_{0};  // the largest request body the host held in memory
};

}  // namespace rollout::server::testing
