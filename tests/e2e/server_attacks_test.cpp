// Server-side attacks against the real rollout-server binary over TLS on loopback: forged and
// replayed reports, path traversal in artifact and version URLs, oversized and deeply nested JSON,
// login brute force, session fixation, and CSRF from another origin. The in-process auth matrix
// (tests/server/auth_matrix_test.cpp) covers every route; this replays the attacks through the
// real socket, parser and TLS stack.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <boost/json.hpp>

#include "common/encoding.hpp"
#include "common/protocol.hpp"
#include "tests/testing/real_server.hpp"
#include "tests/testing/testing.hpp"

namespace rollout {
namespace {

namespace bj = boost::json;
using testing::RealServer;
using testing::run;

struct Answer {
  int status = 0;
  std::string headers;
  std::string body;
};

class ServerAttack : public ::testing::Test {
 protected:
  void SetUp() override {
    server_ = std::make_unique<RealServer>(testing::RealServerOptions{
        ROLLOUT_SERVER_PATH, dir_.path() / "server", true, "waves:\n  all_at_once: true\n"});
    std::string err;
    ASSERT_TRUE(server_->start(&err)) << err;
  }

  // curl with --path-as-is, so "../" reaches the server exactly as an attacker sends it.
  Answer http(const std::string& method, const std::string& path, const std::string& body = "",
              std::vector<std::string> headers = {}) {
    const auto hdr = dir_.path() / "headers.txt";
    const auto out = dir_.path() / "body.txt";
    std::vector<std::string> argv{"/usr/bin/curl",
                                  "-sS",
                                  "--max-time",
                                  "30",
                                  "--path-as-is",
                                  "--cacert",
                                  server_->ca_file().string(),
                                  "-X",
                                  method,
                                  "-D",
                                  hdr.string(),
                                  "-o",
                                  out.string(),
                                  "-w",
                                  "%{http_code}"};
    for (const auto& h : headers) argv.insert(argv.end(), {"-H", h});
    if (!body.empty()) {
      const auto in = dir_.path() / "request.json";
      testing::write_file(in, body);
      argv.insert(argv.end(),
                  {"-H", "Content-Type: application/json", "--data-binary", "@" + in.string()});
    }
    argv.push_back(server_->base_url() + path);
    auto r = run(argv);
    Answer a;
    a.status = r.out.empty() ? 0 : std::stoi(r.out);
    a.headers = testing::read_file(hdr);
    a.body = testing::read_file(out);
    return a;
  }

  std::pair<std::string, std::string> enroll(const std::string& name) {
    protocol::EnrollRequest e{
        RealServer::kEnrollmentKey, name, name, "linux", "x86_64", "1.0.0", "acme", "hq", "stable"};
    auto a = http("POST", "/api/agent/v1/enroll", e.to_json());
    EXPECT_EQ(a.status, 200) << a.body;
    auto r = protocol::EnrollResponse::parse(a.body).value();
    return {r.agent_id, r.token};
  }

  std::string report_batch(const std::string& agent_id, const std::string& id) {
    protocol::Report r;
    r.id = id;
    r.agent_id = agent_id;
    r.version = "1.1.0";
    r.os = "linux";
    r.arch = "x86_64";
    r.outcome = "failure";
    r.stage = "download";
    r.error_code = "network";
    r.occurred_at = "2026-11-25T00:00:00Z";
    return protocol::ReportBatch{{r}}.to_json();
  }

  // Session cookie and CSRF token of a fresh admin login.
  std::pair<std::string, std::string> login() {
    auto a = http(
        "POST", "/api/auth/login",
        std::string(R"({"username":"admin","password":")") + RealServer::kAdminPassword + "\"}");
    EXPECT_EQ(a.status, 200) << a.body;
    const auto p = a.headers.find("rollout_session=");
    const std::string cookie = a.headers.substr(p, a.headers.find(';', p) - p);
    return {cookie, std::string(bj::parse(a.body).at("csrf_token").as_string())};
  }

  // Signs a linux/x86_64 release with rolloutctl and publishes it with an admin session.
  void publish(const std::string& version) {
    const auto art = dir_.path() / ("artifact-" + version);
    const auto man = dir_.path() / ("artifact-" + version + ".manifest");
    const std::string payload = "payload of " + version;
    testing::write_file(art, payload);
    auto s = run({ROLLOUTCTL_PATH, "sign-release", "--key", server_->release_private_key().string(),
                  "--artifact", art.string(), "--version", version, "--os", "linux", "--arch",
                  "x86_64", "--security-version", "1", "--out", man.string()});
    ASSERT_EQ(s.exit_code, 0) << s.err;
    auto [cookie, csrf] = login();
    const bj::object body{{"manifest", bj::parse(testing::read_file(man))},
                          {"artifact", encoding::base64(payload)}};
    auto a = http("POST", "/api/updates/releases", bj::serialize(body),
                  {"Cookie: " + cookie, "X-CSRF-Token: " + csrf});
    ASSERT_EQ(a.status, 201) << a.body;
  }

  // A check-in saying the agent runs `version`.
  void checkin(const std::string& id, const std::string& token, const std::string& version) {
    protocol::CheckinRequest c{id, version, "linux", "x86_64", "idle", 0, 0, std::nullopt, {}};
    auto a = http("POST", "/api/agent/v1/checkin", c.to_json(), {"Authorization: Bearer " + token});
    ASSERT_EQ(a.status, 200) << a.body;
  }

  std::size_t attempts(const std::string& agent_id) {
    auto [cookie, csrf] = login();
    auto a = http("GET", "/api/agents/" + agent_id, "", {"Cookie: " + cookie});
    EXPECT_EQ(a.status, 200) << a.body;
    return bj::parse(a.body).at("history").as_array().size();
  }

  testing::TempDir dir_;
  std::unique_ptr<RealServer> server_;
};

TEST_F(ServerAttack, ForgedReportWithAnotherAgentsTokenIsRefused) {
  auto [a_id, a_token] = enroll("victim");
  auto [b_id, b_token] = enroll("attacker");
  auto r = http("POST", "/api/agent/v1/reports", report_batch(a_id, protocol::new_uuid()),
                {"Authorization: Bearer " + b_token});
  EXPECT_EQ(r.status, 403) << r.body;
  EXPECT_EQ(attempts(a_id), 0u);
  EXPECT_EQ(attempts(b_id), 0u);
}

// Through the real binary: a report about a release the agent was never offered (here: one
// that is not even published) is refused with 422 and stored nowhere.
TEST_F(ServerAttack, ReportForAReleaseNeverOfferedIsRefused) {
  auto [id, token] = enroll("liar");
  auto r = http("POST", "/api/agent/v1/reports", report_batch(id, protocol::new_uuid()),
                {"Authorization: Bearer " + token});
  EXPECT_EQ(r.status, 422) << r.body;
  EXPECT_NE(r.body.find("\"error\":\"unknown_release\""), std::string::npos) << r.body;
  EXPECT_EQ(attempts(id), 0u);
}

TEST_F(ServerAttack, ReplayedReportsCountOnce) {
  publish("1.1.0");
  auto [id, token] = enroll("replayer");
  checkin(id, token, "1.1.0");
  const std::string batch = report_batch(id, protocol::new_uuid());
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(
        http("POST", "/api/agent/v1/reports", batch, {"Authorization: Bearer " + token}).status,
        200);
  }
  EXPECT_EQ(attempts(id), 1u);
}

TEST_F(ServerAttack, PathTraversalInArtifactAndVersionUrls) {
  auto [id, token] = enroll("walker");
  for (const std::string& p :
       std::vector<std::string>{"/api/agent/v1/artifacts/../../server.yaml",
                                "/api/agent/v1/artifacts/..%2f..%2fserver.yaml",
                                "/api/agent/v1/artifacts/%2e%2e%2fkeys%2fdirective.key",
                                "/api/agent/v1/artifacts/" + std::string(64, 'a') + "%00"}) {
    auto a = http("GET", p, "", {"Authorization: Bearer " + token});
    EXPECT_TRUE(a.status == 400 || a.status == 404) << p << " -> " << a.status;
    EXPECT_EQ(a.body.find("directive_key"), std::string::npos) << p;
    EXPECT_EQ(a.body.find("PRIVATE KEY"), std::string::npos) << p;
  }
  auto [cookie, csrf] = login();
  for (const std::string& p :
       std::vector<std::string>{"/api/updates/rollouts/..%2f..%2fx/promote",
                                "/api/updates/rollouts/../../api/users/promote"}) {
    auto a = http("POST", p, R"({"os":"linux","arch":"x86_64"})",
                  {"Cookie: " + cookie, "X-CSRF-Token: " + csrf});
    EXPECT_TRUE(a.status == 400 || a.status == 404) << p << " -> " << a.status << " " << a.body;
  }
}

TEST_F(ServerAttack, OversizedAndDeeplyNestedJson) {
  auto [id, token] = enroll("bulky");
  const std::string huge = "{\"x\":\"" + std::string(2 * 1024 * 1024, 'a') + "\"}";
  EXPECT_EQ(http("POST", "/api/agent/v1/checkin", huge, {"Authorization: Bearer " + token}).status,
            413);
  const std::string deep = std::string(100000, '[') + std::string(100000, ']');
  auto a = http("POST", "/api/agent/v1/reports", deep, {"Authorization: Bearer " + token});
  EXPECT_EQ(a.status, 400) << a.body;
  EXPECT_EQ(http("GET", "/healthz").status, 200) << "the server survived";
  EXPECT_EQ(attempts(id), 0u);
}

TEST_F(ServerAttack, LoginBruteForceIsRateLimited) {
  int limited = 0;
  for (int i = 0; i < 30 && limited == 0; ++i) {
    auto a = http("POST", "/api/auth/login",
                  R"({"username":"admin","password":"guess-)" + std::to_string(i) + "\"}");
    if (a.status == 429) {
      ++limited;
    } else {
      EXPECT_EQ(a.status, 401) << a.body;
    }
  }
  EXPECT_EQ(limited, 1) << "30 wrong passwords were never rate limited";
  // While limited, even the right password is refused: guessing gains nothing.
  auto right =
      http("POST", "/api/auth/login",
           std::string(R"({"username":"admin","password":")") + RealServer::kAdminPassword + "\"}");
  EXPECT_EQ(right.status, 429);
}

TEST_F(ServerAttack, SessionFixationIsImpossible) {
  const std::string planted = "rollout_session=attacker-chosen-session-id-0000000000000000";
  auto a =
      http("POST", "/api/auth/login",
           std::string(R"({"username":"admin","password":")") + RealServer::kAdminPassword + "\"}",
           {"Cookie: " + planted});
  ASSERT_EQ(a.status, 200);
  EXPECT_EQ(a.headers.find("attacker-chosen"), std::string::npos) << "a fresh id is issued";
  EXPECT_NE(a.headers.find("HttpOnly"), std::string::npos);
  EXPECT_NE(a.headers.find("SameSite=Strict"), std::string::npos);
  EXPECT_NE(a.headers.find("Secure"), std::string::npos) << "served over TLS";
  EXPECT_EQ(http("GET", "/api/auth/me", "", {"Cookie: " + planted}).status, 401);
}

TEST_F(ServerAttack, CsrfFromAnotherOriginIsRefused) {
  auto [cookie, csrf] = login();
  // What a cross-site form post carries: the cookie (if the browser sent it) but no token.
  auto a = http("POST", "/api/users",
                R"({"username":"mallory","password":"mallory-password-1","role":"admin"})",
                {"Cookie: " + cookie, "Origin: https://evil.example"});
  EXPECT_EQ(a.status, 403) << a.body;
  auto wrong = http("POST", "/api/users",
                    R"({"username":"mallory","password":"mallory-password-1","role":"admin"})",
                    {"Cookie: " + cookie, "X-CSRF-Token: " + std::string(64, '0')});
  EXPECT_EQ(wrong.status, 403);
  // Nothing was created: mallory cannot log in.
  auto m =
      http("POST", "/api/auth/login", R"({"username":"mallory","password":"mallory-password-1"})");
  EXPECT_EQ(m.status, 401);
}

}  // namespace
}  // namespace rollout
