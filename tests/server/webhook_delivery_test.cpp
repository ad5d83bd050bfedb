// Webhooks through the real server: a loopback receiver (the project's HTTP host on another
// port) gets the signed events of a promote and a rollback in order; the server's own port is
// refused, as a literal address and as a name that resolves to it (checked at the socket); the
// API is admin-only and never shows a secret; garbage configs are refused naming the key.
#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <cstdlib>
#include <ctime>
#include <fstream>
#include <mutex>
#include <set>
#include <sstream>
#include <thread>

#include "server-plugin/http/server.hpp"
#include "server-plugin/notifier.hpp"
#include "server-plugin/webhooks.hpp"
#include "tests/server/app_fixture.hpp"
#include "tests/testing/webhook_receiver.hpp"

namespace rollout::server::testing {
namespace {

constexpr const char* kSecret = "receiver-secret-0123456789";

using Receiver = rollout::testing::WebhookReceiver;

class WebhookServer : public AppFixture {
 protected:
  struct Attempt_ {
    std::string outcome;
    std::string error;
  };

  void SetUp() override {
    receiver_ = std::make_unique<Receiver>(kSecret, [this] { return now_; });
    cfg_.webhook_delivery.allow_http = true;
    cfg_.webhook_delivery.interval = std::chrono::milliseconds(100);
    cfg_.webhooks = {{"http://127.0.0.1:" + std::to_string(receiver_->port()) + "/hook",
                      kSecret,
                      {"release.promoted", "release.rolled_back"}}};
    AppFixture::SetUp();
  }
  void TearDown() override {
    AppFixture::TearDown();
    app_.reset();  // stops the delivery worker before the receiver goes
    receiver_.reset();
  }

  // Waits (bounded) for the webhook's delivery log to hold an entry.
  std::vector<Attempt_> deliveries(const Session& s, const std::string& id, std::size_t n) {
    std::vector<Attempt_> out;
    for (int i = 0; i < 400; ++i) {
      auto r = as(s, "GET", "/api/webhooks/" + id + "/deliveries");
      EXPECT_EQ(r.status, 200u) << r.body;
      out.clear();
      const bj::value parsed = bj::parse(r.body);  // named: a temporary would die before the loop
      for (const auto& d : parsed.at("deliveries").as_array())
        out.push_back(
            {std::string(d.at("outcome").as_string()), std::string(d.at("error").as_string())});
      if (out.size() >= n) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(25));
    }
    return out;
  }

  std::unique_ptr<Receiver> receiver_;
};

TEST_F(WebhookServer, AReceiverOnLoopbackGetsSignedEventsInOrder) {
  auto admin = this->admin();
  ASSERT_EQ(publish(admin, "1.0.0").status, 201u);
  ASSERT_EQ(publish(admin, "1.1.0").status, 201u);
  auto forced = [&](const std::string& v) {
    return as(admin, "POST", "/api/updates/rollouts/" + v + "/promote",
              R"({"os":"linux","arch":"x86_64","force":true,"reason":"test fleet"})");
  };
  ASSERT_EQ(forced("1.0.0").status, 200u);
  ASSERT_EQ(forced("1.1.0").status, 200u);
  ASSERT_EQ(as(admin, "POST", "/api/updates/rollouts/1.1.0/rollback",
               R"({"os":"linux","arch":"x86_64","reason":"crashes on boot"})")
                .status,
            200u);
  EXPECT_EQ(receiver_->types(3), (std::vector<std::string>{"release.promoted", "release.promoted",
                                                           "release.rolled_back"}));
  const auto bodies = receiver_->bodies();
  ASSERT_EQ(bodies.size(), 3u);
  const bj::value last = bj::parse(bodies[2]);
  EXPECT_EQ(last.at("release").at("version").as_string(), "1.1.0");
  EXPECT_EQ(last.at("actor").as_string(), "admin");
  EXPECT_EQ(last.at("reason").as_string(), "crashes on boot");
  EXPECT_EQ(last.at("detail").at("fallback_version").as_string(), "1.0.0");
  EXPECT_GT(last.at("audit_id").as_int64(), bj::parse(bodies[1]).at("audit_id").as_int64());
  EXPECT_EQ(receiver_->refused(), 0);
  // The delivery log shows them, to admins.
  auto list = bj::parse(as(admin, "GET", "/api/webhooks").body);
  const auto& hooks = list.at("webhooks").as_array();
  ASSERT_EQ(hooks.size(), 1u);
  EXPECT_EQ(hooks[0].at("source").as_string(), "config");
  EXPECT_FALSE(hooks[0].as_object().contains("secret"));
  const std::string id(hooks[0].at("id").as_string());
  auto log = deliveries(admin, id, 3);
  ASSERT_EQ(log.size(), 3u);
  for (const auto& d : log) EXPECT_EQ(d.outcome, "delivered");
}

// Two servers on one database, both with the webhook in their config: each event arrives once.
TEST_F(WebhookServer, TwoServersOnOneDatabaseSendEachEventOnce) {
  auto second = make_app_from(cfg_, [this] { return now_; });
  ASSERT_TRUE(second.ok()) << second.error().message;
  auto admin = this->admin();
  for (const char* v : {"1.0.0", "1.1.0", "1.2.0"}) {
    ASSERT_EQ(publish(admin, v).status, 201u);
    ASSERT_EQ(as(admin, "POST", std::string("/api/updates/rollouts/") + v + "/promote",
                 R"({"os":"linux","arch":"x86_64","force":true,"reason":"r"})")
                  .status,
              200u);
  }
  EXPECT_EQ(receiver_->types(3).size(), 3u);
  // A later event as a barrier: each webhook's events go out in order, so a duplicate of an
  // earlier one would arrive before it.
  ASSERT_EQ(as(admin, "POST", "/api/updates/rollouts/1.2.0/rollback",
               R"({"os":"linux","arch":"x86_64","reason":"barrier"})")
                .status,
            200u);
  EXPECT_EQ(receiver_->types(4).back(), "release.rolled_back");
  std::set<std::int64_t> ids;
  for (const auto& b : receiver_->bodies()) ids.insert(bj::parse(b).at("audit_id").as_int64());
  EXPECT_EQ(receiver_->bodies().size(), 4u);
  EXPECT_EQ(ids.size(), 4u);
  second.value().reset();
}

TEST_F(WebhookServer, TheServersOwnPortIsRefusedAsAnAddressAndAsAName) {
  cfg_.listen_port = loopback_->port();  // the admin API this server serves
  Start();
  auto admin = this->admin();
  const std::string own = std::to_string(loopback_->port());
  auto literal = as(admin, "POST", "/api/webhooks",
                    R"({"url":"http://127.0.0.1:)" + own + R"(/api/users","events":["*"]})");
  EXPECT_EQ(literal.status, 400u) << literal.body;
  EXPECT_NE(literal.body.find("forbidden_webhook_target"), std::string::npos) << literal.body;
  // A name is accepted when added, then refused at the socket: nothing reaches the admin port.
  auto named = as(admin, "POST", "/api/webhooks",
                  R"({"url":"http://localhost:)" + own +
                      R"(/api/users","events":["*"],)"
                      R"("secret":"0123456789abcdef0123"})");
  ASSERT_EQ(named.status, 201u) << named.body;
  const std::string id(bj::parse(named.body).at("id").as_string());
  EXPECT_FALSE(bj::parse(named.body).as_object().contains("secret"));  // the caller chose it
  ASSERT_EQ(publish(admin, "1.0.0").status, 201u);
  ASSERT_EQ(as(admin, "POST", "/api/updates/rollouts/1.0.0/promote",
               R"({"os":"linux","arch":"x86_64","force":true,"reason":"r"})")
                .status,
            200u);
  auto log = deliveries(admin, id, 1);
  ASSERT_FALSE(log.empty());
  EXPECT_EQ(log.back().outcome, "failed");
  EXPECT_NE(log.back().error.find("own port"), std::string::npos) << log.back().error;
  // Another loopback port (the receiver) is fine.
  auto ok = as(admin, "POST", "/api/webhooks",
               R"({"url":"http://localhost:)" + std::to_string(receiver_->port()) +
                   R"(/hook","events":["release.promoted"],"secret":")" + kSecret + R"("})");
  EXPECT_EQ(ok.status, 201u) << ok.body;
}

TEST_F(WebhookServer, TheApiIsForAdminsAndNeverShowsASecret) {
  auto admin = this->admin();
  for (const char* role : {"viewer", "operator"}) {
    auto s = user_with_role(std::string("u") + role, role);
    EXPECT_EQ(as(s, "GET", "/api/webhooks").status, 403u) << role;
    EXPECT_EQ(
        as(s, "POST", "/api/webhooks", R"({"url":"https://hooks.example.net/x","events":["*"]})")
            .status,
        403u)
        << role;
    EXPECT_EQ(as(s, "DELETE", "/api/webhooks/wh_x").status, 403u) << role;
    EXPECT_EQ(as(s, "GET", "/api/webhooks/wh_x/deliveries").status, 403u) << role;
  }
  EXPECT_EQ(call("GET", "/api/webhooks").status, 401u);
  auto made = as(admin, "POST", "/api/webhooks",
                 R"({"url":"https://hooks.example.net/x","events":["rollout.paused"]})");
  ASSERT_EQ(made.status, 201u) << made.body;
  const bj::value m = bj::parse(made.body);
  const std::string id(m.at("id").as_string());
  const std::string secret(m.at("secret").as_string());  // generated, shown this once
  EXPECT_EQ(secret.size(), 64u);
  auto listed = as(admin, "GET", "/api/webhooks");
  EXPECT_EQ(listed.body.find(secret), std::string::npos);
  EXPECT_EQ(listed.body.find(kSecret), std::string::npos);  // the config one's neither
  EXPECT_EQ(as(admin, "GET", "/api/webhooks/" + id + "/deliveries").body.find(secret),
            std::string::npos);
  for (const char* bad :
       {R"({"url":"ftp://x/","events":["*"]})",
        R"({"url":"https://169.254.169.254/","events":["*"]})",
        R"({"url":"https://h.example/","events":[]})",
        R"({"url":"https://h.example/","events":["nope"]})",
        R"({"url":"https://h.example/","events":["*"],"secret":"short"})",
        R"({"url":"https://h.example/","events":["*"],"extra":1})", "[]", "garbage"}) {
    auto r = as(admin, "POST", "/api/webhooks", bad);
    EXPECT_EQ(r.status, 400u) << bad << " " << r.body;
  }
  EXPECT_EQ(bj::parse(as(admin, "GET", "/api/webhooks").body).at("webhooks").as_array().size(), 2u);
  // Audited, deletable; a config webhook is not deletable here.
  EXPECT_EQ(as(admin, "DELETE", "/api/webhooks/" + id).status, 200u);
  EXPECT_EQ(as(admin, "DELETE", "/api/webhooks/" + id).status, 404u);
  const std::string cfg_id = notify::config_webhook_id(cfg_.webhooks[0].url);
  EXPECT_EQ(as(admin, "DELETE", "/api/webhooks/" + cfg_id).status, 409u);
  auto events = as(admin, "GET", "/api/updates/events").body;
  EXPECT_NE(events.find("webhook_add"), std::string::npos);
  EXPECT_NE(events.find("webhook_delete"), std::string::npos);
  EXPECT_EQ(events.find(secret), std::string::npos);
}

TEST(WebhookConfig, GarbageIsRefusedNamingTheKey) {
  rollout::testing::TempDir dir;
  rollout::testing::write_file(dir / "secret", "a-secret-from-a-file-1234\n");
  const std::string head = "directive_key: d\nrelease_keys: [x]\n";
  rollout::testing::write_file(
      dir / "ok.yaml",
      head +
          "webhook_delivery:\n  allow_http: true\n  timeout: 5s\n  keep_deliveries: 50\n"
          "webhooks:\n  - url: https://hooks.example.net/a\n    secret: 0123456789abcdef\n"
          "    events: [release.rolled_back, rollout.paused]\n"
          "  - url: http://relay.internal:9000/b\n    secret_file: " +
          (dir / "secret").string() + "\n");
  auto ok = load_server_config((dir / "ok.yaml").string());
  ASSERT_TRUE(ok.ok()) << ok.error().message;
  ASSERT_EQ(ok->webhooks.size(), 2u);
  EXPECT_EQ(ok->webhooks[1].secret, "a-secret-from-a-file-1234");
  EXPECT_EQ(ok->webhooks[1].events, std::vector<std::string>{"*"});
  EXPECT_EQ(ok->webhook_delivery.keep_deliveries, 50u);
  const std::pair<const char*, const char*> bad[] = {
      {"webhooks: {url: x}\n", "'webhooks'"},
      {"webhooks: [x]\n", "'webhooks[0]'"},
      {"webhooks:\n  - secret: 0123456789abcdef\n", "'webhooks[0].url'"},
      {"webhooks:\n  - url: ftp://h/\n    secret: 0123456789abcdef\n", "'webhooks[0].url'"},
      {"webhooks:\n  - url: http://h/\n    secret: 0123456789abcdef\n", "'webhooks[0].url'"},
      {"webhooks:\n  - url: https://127.0.0.1:8443/\n    secret: 0123456789abcdef\n",
       "'webhooks[0].url'"},
      {"webhooks:\n  - url: https://h/\n", "'webhooks[0].secret'"},
      {"webhooks:\n  - url: https://h/\n    secret: short\n", "'webhooks[0].secret'"},
      {"webhooks:\n  - url: https://h/\n    secret: 0123456789abcdef\n    secret_file: /x\n",
       "'webhooks[0].secret'"},
      {"webhooks:\n  - url: https://h/\n    secret_file: /nonexistent/s\n",
       "'webhooks[0].secret_file'"},
      {"webhooks:\n  - url: https://h/\n    secret: 0123456789abcdef\n    events: [nope]\n",
       "'webhooks[0].events'"},
      {"webhooks:\n  - url: https://h/\n    secret: 0123456789abcdef\n    colour: red\n",
       "'webhooks[0].colour'"},
      {"webhooks:\n  - url: https://h/\n    secret: 0123456789abcdef\n"
       "  - url: https://h/\n    secret: 0123456789abcdef\n    url: https://i/\n",
       "twice"},
      {"webhook_delivery:\n  timeout: 0s\n", "'webhook_delivery.timeout'"},
      {"webhook_delivery:\n  interval: 1ms\n", "'webhook_delivery.interval'"},
      {"webhook_delivery:\n  lease: 5s\n", "'webhook_delivery.lease'"},
      {"webhook_delivery:\n  allow_own_port: maybe\n", "'webhook_delivery.allow_own_port'"},
  };
  for (const auto& [text, key] : bad) {
    rollout::testing::write_file(dir / "bad.yaml", head + text);
    auto r = load_server_config((dir / "bad.yaml").string());
    ASSERT_FALSE(r.ok()) << text;
    EXPECT_NE(r.error().message.find(key), std::string::npos) << text << " → " << r.error().message;
    EXPECT_NE(r.error().message.find("line"), std::string::npos) << r.error().message;
  }
  // The own port is fine when the switch says so.
  rollout::testing::write_file(
      dir / "own.yaml", head +
                            "webhook_delivery:\n  allow_own_port: true\nwebhooks:\n"
                            "  - url: https://127.0.0.1:8443/\n    secret: 0123456789abcdef\n");
  EXPECT_TRUE(load_server_config((dir / "own.yaml").string()).ok());
}

}  // namespace
}  // namespace rollout::server::testing

namespace rollout::server::testing {
namespace {

// The README's verification block, run as written on a body and header the server makes.
TEST(WebhookReadme, TheOpensslCheckAcceptsARealDeliveryAndRefusesATamperedOne) {
  std::ifstream in(std::string(ROLLOUT_SOURCE_DIR) + "/README.md");
  std::stringstream text;
  text << in.rdbuf();
  const std::string readme = text.str();
  const auto marker = readme.find("<!-- webhook-verify:");
  ASSERT_NE(marker, std::string::npos);
  const auto open = readme.find("```sh\n", marker);
  const auto close = readme.find("```", open + 6);
  ASSERT_TRUE(open != std::string::npos && close != std::string::npos);
  const std::string script = readme.substr(open + 6, close - open - 6);
  rollout::testing::TempDir dir;
  rollout::testing::write_file(dir / "verify.sh", script);
  Event e;
  e.id = 42;
  e.at = 1'795'000'000;
  e.user = "system";
  e.action = "rollback";
  e.version = "1.1.0";
  e.os = "linux";
  e.arch = "x86_64";
  e.reason = "health of wave 1 is critical: \"quoted\" and 'single' $(not run)";
  e.health_json = R"({"status":"critical","success":7,"failure":0,"crash":3})";
  const std::string body = notify::body(e, "release.rolled_back");
  const std::int64_t now = std::time(nullptr);
  const std::string secret = "a secret with spaces & $ signs";
  auto run = [&](const std::string& b, const std::string& sig) {
    rollout::testing::write_file(dir / "body.json", b);
    const std::string cmd = "cd '" + dir.path().string() + "' && SECRET='" + secret + "' SIG='" +
                            sig + "' bash verify.sh > out 2>&1";
    const int rc = std::system(cmd.c_str());
    std::ifstream o(dir / "out");
    std::stringstream got;
    got << o.rdbuf();
    return std::make_pair(rc, got.str());
  };
  const auto good = run(body, webhooks::signature_header(secret, now, body));
  EXPECT_EQ(good.first, 0);
  EXPECT_EQ(good.second, "verified\n");
  EXPECT_NE(run(body + " ", webhooks::signature_header(secret, now, body)).second, "verified\n");
  EXPECT_NE(run(body, webhooks::signature_header("other secret", now, body)).second, "verified\n");
  EXPECT_NE(run(body, webhooks::signature_header(secret, now - 301, body)).second, "verified\n");
}

}  // namespace
}  // namespace rollout::server::testing

namespace rollout::server::testing {
namespace {

// The curl sender on its own against a loopback host: a redirect is a failure (not followed),
// an answer over 64 KiB is a failure, and no proxy from the environment is used.
TEST(WebhookSender, NoRedirectNoLongAnswerNoProxy) {
  std::atomic<int> redirected_hits{0};
  http::ServerOptions o;
  o.port = 0;
  o.worker_threads = 1;
  http::Server target(o, [&](const http::Request& r) {
    if (r.target == "/moved") {
      http::Response moved = http::json_response(302, "{}");
      moved.set_header("Location", "/elsewhere");
      return moved;
    }
    if (r.target == "/elsewhere") ++redirected_hits;
    if (r.target == "/long") return http::json_response(200, std::string(100 * 1024, ' '));
    return http::json_response(200, "{}");
  });
  ASSERT_TRUE(target.start().ok());
  webhooks::TargetPolicy p;
  p.allow_http = true;
  p.loopback = webhooks::TargetPolicy::Loopback::allow;
  auto sender = notify::make_curl_sender(p, std::chrono::seconds(5), "");
  const std::string base = "http://127.0.0.1:" + std::to_string(target.port());
  ::setenv("http_proxy", "http://127.0.0.1:9", 1);  // a proxy that is not there
  ::setenv("HTTP_PROXY", "http://127.0.0.1:9", 1);
  const auto ok = sender->post(base + "/hook", "{}", "t=1,v1=00");
  ::unsetenv("http_proxy");
  ::unsetenv("HTTP_PROXY");
  EXPECT_EQ(ok.status, 200) << ok.error;
  EXPECT_TRUE(ok.error.empty()) << ok.error;
  const auto moved = sender->post(base + "/moved", "{}", "t=1,v1=00");
  EXPECT_EQ(moved.status, 302);
  EXPECT_NE(moved.error.find("HTTP 302"), std::string::npos);
  EXPECT_EQ(redirected_hits.load(), 0);
  const auto longer = sender->post(base + "/long", "{}", "t=1,v1=00");
  EXPECT_EQ(longer.status, 0);
  EXPECT_NE(longer.error.find("too_large"), std::string::npos) << longer.error;
  target.shutdown();
}

}  // namespace
}  // namespace rollout::server::testing
