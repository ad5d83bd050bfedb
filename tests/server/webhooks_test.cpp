// Webhook signatures, targets, filters, retries and the body (issue #13). A receiver's check is
// written out once in the README; this test runs the same steps.
#include "server-plugin/webhooks.hpp"

#include <gtest/gtest.h>
#include <boost/json.hpp>

#include "common/crypto.hpp"
#include "common/encoding.hpp"

namespace rollout::server::webhooks {
namespace {

TEST(Webhooks, SignatureIsHmacOverTimestampDotBody) {
  const std::string b = R"({"type":"release.rolled_back"})";
  const std::string h = signature_header("s3cret", 1767225600, b);
  EXPECT_EQ(h,
            "t=1767225600,v1=" + encoding::hex(crypto::hmac_sha256("s3cret", "1767225600." + b)));
  EXPECT_TRUE(verify_signature(h, "s3cret", b, 1767225600));
}

TEST(Webhooks, VerificationRefusesEveryForgery) {
  const std::string b = R"({"a":1})";
  const std::int64_t t = 1767225600;
  const std::string h = signature_header("k", t, b);
  EXPECT_EQ(verify_signature(h, "other", b, t).error().code, "bad_signature");
  EXPECT_EQ(verify_signature(h, "k", b + " ", t).error().code, "bad_signature");
  EXPECT_EQ(verify_signature(h, "k", b, t + 301).error().code, "stale_signature");
  EXPECT_EQ(verify_signature(h, "k", b, t - 301).error().code, "stale_signature");
  EXPECT_TRUE(verify_signature(h, "k", b, t + 300));
  for (const char* bad : {"", "t=", "v1=ab", "t=12", "t=x,v1=ab", "garbage", "t=1,v1"}) {
    EXPECT_EQ(verify_signature(bad, "k", b, t).error().code, "bad_signature_header") << bad;
  }
  // Every single-byte change of the header fails.
  for (std::size_t i = 0; i < h.size(); ++i) {
    std::string m = h;
    m[i] = m[i] == '0' ? '1' : '0';
    EXPECT_FALSE(verify_signature(m, "k", b, t)) << i;
  }
  // Rotation: a second v1 for the new secret is accepted beside the old one.
  const std::string rotated = h + ",v1=" + signature_header("new", t, b).substr(h.find("v1=") + 3);
  EXPECT_TRUE(verify_signature(rotated, "new", b, t));
  EXPECT_TRUE(verify_signature(rotated, "k", b, t));
}

TEST(Webhooks, FiltersNameKnownEvents) {
  EXPECT_TRUE(validate_filter({"*"}));
  EXPECT_TRUE(validate_filter({"release.rolled_back", "rollout.paused"}));
  EXPECT_FALSE(validate_filter({}));
  EXPECT_EQ(validate_filter({"release.rolledback"}).error().code, "invalid_argument");
  EXPECT_TRUE(wants({"*"}, "rollout.completed"));
  EXPECT_TRUE(wants({"rollout.paused", "release.blocked"}, "release.blocked"));
  EXPECT_FALSE(wants({"rollout.paused"}, "release.blocked"));
  for (auto t : kEventTypes) EXPECT_TRUE(known_event(t));
}

TEST(Webhooks, TargetsRefuseTheAdminPortAndMetadataRange) {
  TargetPolicy p;
  p.own_port = 8443;
  auto t = parse_target("https://hooks.example.net:9000/rollout?x=1", p);
  ASSERT_TRUE(t) << t.error().message;
  EXPECT_EQ(t->host, "hooks.example.net");
  EXPECT_EQ(t->port, 9000);
  EXPECT_EQ(t->target, "/rollout?x=1");
  EXPECT_EQ(parse_target("https://h.example.net", p)->target, "/");
  EXPECT_EQ(parse_target("https://h.example.net", p)->port, 443);
  EXPECT_EQ(parse_target("https://[::1]:9000/x", p)->host, "::1");

  for (const char* bad : {"http://h.example.net/", "ftp://h/", "https://user:pw@h.example.net/",
                          "/relative", "https://h.example.net:0/", "https://h.example.net:70000/",
                          "https://h.example.net/#frag", "not a url"}) {
    auto r = parse_target(bad, p);
    ASSERT_FALSE(r) << bad;
    EXPECT_EQ(r.error().code, "invalid_webhook_url") << bad;
  }
  EXPECT_EQ(parse_target(std::string("https://h/") + std::string(3000, 'a'), p).error().code,
            "invalid_webhook_url");
  for (const char* ssrf : {"https://127.0.0.1:8443/api/updates/rollouts/1.0.0/rollback",
                           "https://[::1]:8443/", "https://169.254.169.254/latest/meta-data",
                           "https://0.0.0.0:9000/", "https://[::ffff:127.0.0.1]:8443/"}) {
    auto r = parse_target(ssrf, p);
    ASSERT_FALSE(r) << ssrf;
    EXPECT_EQ(r.error().code, "forbidden_webhook_target") << ssrf;
  }
  // Loopback on another port (a local relay, the tests' receiver) is allowed by default...
  EXPECT_TRUE(parse_target("https://127.0.0.1:9000/", p));
  // ... and can be refused altogether, or allowed everywhere.
  p.loopback = TargetPolicy::Loopback::refuse;
  EXPECT_FALSE(parse_target("https://127.0.0.1:9000/", p));
  p.loopback = TargetPolicy::Loopback::allow;
  EXPECT_TRUE(check_address("127.0.0.1", 8443, p));
  p.allow_http = true;
  EXPECT_TRUE(parse_target("http://127.0.0.1:9000/", p));
}

TEST(Webhooks, ResolvedAddressesAreCheckedAtDelivery) {
  TargetPolicy p;
  p.own_port = 8443;
  EXPECT_TRUE(check_address("203.0.113.7", 443, p));
  EXPECT_TRUE(check_address("2001:db8::1", 443, p));
  EXPECT_EQ(check_address("127.0.0.53", 8443, p).error().code, "forbidden_webhook_target");
  EXPECT_FALSE(check_address("fe80::1", 443, p));
  EXPECT_FALSE(check_address("224.0.0.1", 443, p));
  EXPECT_FALSE(check_address("::ffff:169.254.169.254", 443, p));
  EXPECT_FALSE(check_address("not-an-address", 443, p));
}

TEST(Webhooks, RetriesBackOffThenHourly) {
  EXPECT_EQ(retry_delay(1).count(), 10);
  EXPECT_EQ(retry_delay(2).count(), 30);
  EXPECT_EQ(retry_delay(3).count(), 60);
  EXPECT_EQ(retry_delay(4).count(), 300);
  EXPECT_EQ(retry_delay(5).count(), 900);
  EXPECT_EQ(retry_delay(6).count(), 3600);
  EXPECT_EQ(retry_delay(29).count(), 3600);
  EXPECT_EQ(retry_delay(6, 999).count(), 3600 + 3600 * 999 / 5000);  // at most +20 %
  std::int64_t total = 0;
  for (std::uint32_t a = 1; a < kMaxAttempts; ++a) total += retry_delay(a).count();
  EXPECT_GT(total, 20 * 3600);  // about a day of trying before a delivery is abandoned
  EXPECT_LT(total, 30 * 3600);
}

TEST(Webhooks, BodyCarriesReleaseHealthActorAndRule) {
  Event e;
  e.id = "0b6f8c1e-2f47-4f43-9a55-1f4f5b2b8a10";
  e.type = "release.rolled_back";
  e.occurred_at = 1767225600;
  e.version = "0.6.28";
  e.os = "windows";
  e.arch = "x86_64";
  e.health = {"Blocked", 4, 0, 1};
  e.actor = "system";
  e.reason = "health of wave 1 is Blocked";
  e.rule = "blocked";
  e.wave = 1;
  const auto v = boost::json::parse(body(e)).as_object();
  EXPECT_EQ(v.at("type").as_string(), "release.rolled_back");
  EXPECT_EQ(v.at("occurred_at").as_string(), "2026-01-01T00:00:00Z");
  EXPECT_EQ(v.at("release").at("os").as_string(), "windows");
  EXPECT_EQ(v.at("health").at("total").to_number<std::uint64_t>(), 5u);
  EXPECT_EQ(v.at("actor").as_string(), "system");
  EXPECT_EQ(v.at("rule").as_string(), "blocked");
  EXPECT_EQ(v.at("wave").to_number<std::uint64_t>(), 1u);
  Event manual = e;
  manual.rule.reset();
  manual.wave.reset();
  EXPECT_FALSE(boost::json::parse(body(manual)).as_object().contains("rule"));
}

}  // namespace
}  // namespace rollout::server::webhooks
