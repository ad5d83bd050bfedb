// Every mutating route refuses, with nothing changed in the database: no credentials (401), a
// viewer (403), a session without its CSRF token (403), malformed JSON, bad semver or a missing
// reason (400), an oversized body (413).
#include "tests/server/app_fixture.hpp"

namespace rollout::server::testing {
namespace {

struct Mutation {
  std::string method;
  std::string target;
  std::string body;
};

class AuthMatrix : public AppFixture {
 protected:
  void SetUp() override {
    AppFixture::SetUp();
    ASSERT_EQ(publish(admin(), "1.0.0").status, 201u);
    ASSERT_EQ(publish(admin(), "1.1.0").status, 201u);
  }

  // Everything a request could have changed.
  std::string snapshot() {
    auto s = store();
    std::string out;
    for (const auto& r : s->list_releases().value()) {
      out += r.key.version + r.key.os + std::to_string(r.promotion_seq) + (r.blocked ? "B" : "-") +
             ";";
    }
    out += "|events=" + std::to_string(s->list_events(0, 1000, std::nullopt).value().size());
    out += "|policies=" + std::to_string(s->list_policies().value().size());
    out += "|users=" + std::to_string(s->user_count().value());
    return out;
  }

  std::vector<Mutation> mutations() {
    return {
        {"POST", "/api/updates/rollouts/1.1.0/promote",
         R"({"os":"linux","arch":"x86_64","force":true,"reason":"r"})"},
        {"POST", "/api/updates/rollouts/1.0.0/rollback",
         R"({"os":"linux","arch":"x86_64","reason":"r"})"},
        {"PUT", "/api/policies", R"({"scope":"default","channel":"beta"})"},
        {"POST", "/api/users",
         R"({"username":"eve","password":"eve-password-123","role":"admin"})"},
        {"POST", "/api/updates/releases", R"({"manifest":{},"artifact":""})"},
    };
  }
};

TEST_F(AuthMatrix, NoCredentialsIs401) {
  const auto before = snapshot();
  for (const auto& m : mutations()) {
    auto r = call(m.method, m.target, m.body);
    EXPECT_EQ(r.status, 401u) << m.target;
    EXPECT_NE(r.body.find("\"error\":\"unauthorized\""), std::string::npos);
  }
  EXPECT_EQ(snapshot(), before);
}

TEST_F(AuthMatrix, ViewerIs403) {
  auto viewer = user_with_role("vera", "viewer");
  const auto before = snapshot();
  for (const auto& m : mutations()) {
    EXPECT_EQ(as(viewer, m.method, m.target, m.body).status, 403u) << m.target;
  }
  EXPECT_EQ(snapshot(), before);
  EXPECT_EQ(as(viewer, "GET", "/api/updates/rollouts").status, 200u) << "a viewer reads everything";
}

TEST_F(AuthMatrix, OperatorCannotAdminister) {
  auto op = user_with_role("otto", "operator");
  const auto before = snapshot();
  EXPECT_EQ(as(op, "PUT", "/api/policies", R"({"scope":"default","channel":"beta"})").status, 403u);
  EXPECT_EQ(
      as(op, "POST", "/api/users", R"({"username":"x","password":"x-password-123","role":"admin"})")
          .status,
      403u);
  EXPECT_EQ(snapshot(), before);
}

TEST_F(AuthMatrix, SessionWithoutCsrfTokenIs403) {
  auto ops = admin();
  const auto before = snapshot();
  for (const auto& m : mutations()) {
    auto no_token = call(m.method, m.target, m.body, {{"Cookie", "rollout_session=" + ops.cookie}});
    EXPECT_EQ(no_token.status, 403u) << m.target;
    EXPECT_NE(no_token.body.find("\"error\":\"csrf\""), std::string::npos);
    auto wrong =
        call(m.method, m.target, m.body,
             {{"Cookie", "rollout_session=" + ops.cookie}, {"X-CSRF-Token", std::string(64, '0')}});
    EXPECT_EQ(wrong.status, 403u) << m.target;
  }
  EXPECT_EQ(snapshot(), before);
}

TEST_F(AuthMatrix, MalformedJsonBadSemverAndMissingReasonAre400) {
  auto ops = admin();
  const auto before = snapshot();
  const std::vector<Mutation> bad = {
      {"POST", "/api/updates/rollouts/1.1.0/promote", "{not json"},
      {"POST", "/api/updates/rollouts/1.1.0/promote", R"({"os":"linux"})"},
      {"POST", "/api/updates/rollouts/1.1.0/promote",
       R"({"os":"linux","arch":"x86_64","force":true})"},
      {"POST", "/api/updates/rollouts/1.1/promote", R"({"os":"linux","arch":"x86_64"})"},
      {"POST", "/api/updates/rollouts/01.1.0/rollback",
       R"({"os":"linux","arch":"x86_64","reason":"r"})"},
      {"POST", "/api/updates/rollouts/1.0.0/rollback", R"({"os":"linux","arch":"x86_64"})"},
      {"POST", "/api/updates/rollouts/1.0.0/rollback",
       R"({"os":"linux","arch":"x86_64","reason":"   "})"},
      {"POST", "/api/updates/rollouts/1.0.0/rollback",
       R"({"os":"beos","arch":"x86_64","reason":"r"})"},
      {"POST", "/api/updates/rollouts/1.0.0/rollback",
       R"({"os":"linux","arch":"x86_64","reason":"r","x":1})"},
      {"PUT", "/api/policies", R"({"scope":"galaxy","channel":"beta"})"},
      {"PUT", "/api/policies",
       R"({"scope":"site","scope_id":"hq","window_start":"25:00","window_end":"01:00"})"},
      {"POST", "/api/users", R"({"username":"x","password":"short","role":"admin"})"},
      {"POST", "/api/updates/releases", R"({"manifest":{"payload_type":"x"},"artifact":"AAAA"})"},
      {"POST", "/api/updates/releases", "[]"},
      {"POST", "/api/updates/rollouts/1.0.0/rollback", std::string(20, '[') + std::string(20, ']')},
  };
  for (const auto& m : bad) {
    auto r = as(ops, m.method, m.target, m.body);
    EXPECT_EQ(r.status, 400u) << m.target << " " << m.body << " -> " << r.body;
    auto v = bj::parse(r.body).as_object();
    EXPECT_TRUE(v.contains("error") && v.contains("message")) << r.body;
  }
  EXPECT_EQ(snapshot(), before);
}

TEST_F(AuthMatrix, OversizedBodyIs413) {
  auto ops = admin();
  const auto before = snapshot();
  const std::string huge(cfg_.body_limit + 1, ' ');
  for (const auto& m : mutations()) {
    if (m.target == "/api/updates/releases") continue;  // uploads have their own, larger cap
    EXPECT_EQ(as(ops, m.method, m.target, huge).status, 413u) << m.target;
  }
  EXPECT_EQ(
      as(ops, "POST", "/api/updates/releases", std::string(cfg_.upload_limit + 1, ' ')).status,
      413u);
  EXPECT_EQ(snapshot(), before);
}

TEST_F(AuthMatrix, PublishRefusesUnverifiedTamperedAndDuplicateReleases) {
  auto ops = admin();
  EXPECT_EQ(publish(ops, "1.0.0").status, 409u) << "duplicate (version, os, arch)";
  // Signed by a key the server does not trust.
  auto other = crypto::PrivateKey::generate().value();
  std::swap(*release_key_, other);
  EXPECT_EQ(publish(ops, "2.0.0").status, 400u);
  std::swap(*release_key_, other);
  // Artifact that differs from the manifest.
  const std::string artifact = "real bytes";
  ReleaseManifest m;
  m.version = SemVer::parse("3.0.0").value();
  m.os = "linux";
  m.arch = "x86_64";
  m.size = artifact.size();
  m.sha256 = crypto::sha256_hex(artifact);
  m.created_at = SysTime(std::chrono::seconds(now_));
  auto env =
      sign_envelope(std::string(kReleasePayloadType), m.to_payload(), {*release_key_}).value();
  auto r = as(ops, "POST", "/api/updates/releases",
              bj::serialize(bj::object{{"manifest", envelope_to_json(env)},
                                       {"artifact", encoding::base64("evil bytes")}}));
  EXPECT_EQ(r.status, 400u);
  EXPECT_NE(r.body.find("artifact_mismatch"), std::string::npos);
  EXPECT_FALSE(store()->get_release({"3.0.0", "linux", "x86_64"}).value().has_value());
}

TEST_F(AuthMatrix, LoginIsRateLimitedAndSessionsAreFreshPerLogin) {
  for (int i = 0; i < 5; ++i) {
    EXPECT_EQ(call("POST", "/api/auth/login", R"({"username":"admin","password":"wrong"})").status,
              401u);
  }
  auto limited =
      call("POST", "/api/auth/login", R"({"username":"admin","password":"admin-password-1234"})");
  EXPECT_EQ(limited.status, 429u) << "even the right password waits once the bucket is empty";
  EXPECT_TRUE(limited.header("Retry-After").has_value());
  // Another user name from the same address is a separate bucket.
  auto viewer_first = call("POST", "/api/auth/login", R"({"username":"nobody","password":"x"})");
  EXPECT_EQ(viewer_first.status, 401u);
}

TEST_F(AuthMatrix, SessionCookieIsHttpOnlyStrictAndRotated) {
  auto r =
      call("POST", "/api/auth/login", R"({"username":"admin","password":"admin-password-1234"})",
           {{"Cookie", "rollout_session=attacker-chosen"}});
  ASSERT_EQ(r.status, 200u);
  const std::string cookie(r.header("Set-Cookie").value_or(""));
  EXPECT_NE(cookie.find("HttpOnly"), std::string::npos);
  EXPECT_NE(cookie.find("SameSite=Strict"), std::string::npos);
  EXPECT_EQ(cookie.find("attacker-chosen"), std::string::npos) << "no session fixation";
  auto s = admin();
  EXPECT_EQ(as(s, "POST", "/api/auth/logout").status, 200u);
  EXPECT_EQ(as(s, "GET", "/api/updates/rollouts").status, 401u) << "logged out";
}

TEST_F(AuthMatrix, ApiTokensWorkWithoutCsrfAndUnknownRoutesAre404) {
  auto ops = admin();
  auto t = as(ops, "POST", "/api/tokens", R"({"name":"ci"})");
  ASSERT_EQ(t.status, 201u);
  const std::string token(bj::parse(t.body).as_object()["token"].as_string());
  auto r = call("GET", "/api/updates/rollouts", "", {{"Authorization", "Bearer " + token}});
  EXPECT_EQ(r.status, 200u);
  EXPECT_EQ(call("GET", "/api/updates/rollouts", "", {{"Authorization", "Bearer rt_wrong"}}).status,
            401u);
  EXPECT_EQ(call("GET", "/api/nothing").status, 404u);
  EXPECT_EQ(call("DELETE", "/api/updates/rollouts").status, 405u);
  EXPECT_EQ(call("GET", "/healthz").status, 200u);
}

TEST_F(AuthMatrix, ConcurrentPromoteAndRollbackEndConsistent) {
  auto ops = admin();
  // 1.0.0 must be stable for a rollback of 1.1.0 to have a fallback.
  ASSERT_EQ(as(ops, "POST", "/api/updates/rollouts/1.0.0/promote",
               R"({"os":"linux","arch":"x86_64","force":true,"reason":"baseline"})")
                .status,
            200u);
  for (int round = 0; round < 5; ++round) {
    const std::string v = "1.2." + std::to_string(round);
    ASSERT_EQ(publish(ops, v).status, 201u);
    http::Response p, r;
    std::thread t1([&] {
      p = as(ops, "POST", "/api/updates/rollouts/" + v + "/promote",
             R"({"os":"linux","arch":"x86_64","force":true,"reason":"race"})");
    });
    std::thread t2([&] {
      r = as(ops, "POST", "/api/updates/rollouts/" + v + "/rollback",
             R"({"os":"linux","arch":"x86_64","reason":"race"})");
    });
    t1.join();
    t2.join();
    auto rel = store()->get_release({v, "linux", "x86_64"}).value().value();
    // Whatever the order, the release is blocked by the rollback (which always has 1.0.0 to fall
    // back to); a promotion that came first left its mark, one that came second was refused.
    EXPECT_EQ(r.status, 200u) << r.body;
    EXPECT_TRUE(rel.blocked);
    if (p.status == 200u) {
      EXPECT_GT(rel.promotion_seq, 0u);
    } else {
      EXPECT_EQ(p.status, 409u);
      EXPECT_EQ(rel.promotion_seq, 0u);
    }
  }
}

}  // namespace
}  // namespace rollout::server::testing
