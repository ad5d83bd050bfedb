// The login rate limiter in the database (issue #14): its bucket from the config, and the limit
// shared by two servers on one database and kept across a restart. The bucket's own arithmetic
// and bounds are store tests (store_test.cpp, RateTokens*), run against every backend.
#include "server-plugin/auth/rate_limit.hpp"

#include <gtest/gtest.h>

#include "tests/server/app_fixture.hpp"

namespace rollout::server::testing {
namespace {

using namespace std::chrono_literals;

TEST(RateLimiter, ABurstOfAttemptsRegainedOverTheWindow) {
  rollout::testing::TempDir dir;
  auto store = open_store(rollout::testing::store_backends().front().url(dir.path())).value();
  auth::RateLimiter rl(*store, 5, 60s);  // 5 at once, one more every 12 s
  const std::int64_t t0 = 1000;
  for (int i = 0; i < 5; ++i) EXPECT_TRUE(rl.take("ip|alice", t0).value().allowed) << i;
  auto d = rl.take("ip|alice", t0).value();
  EXPECT_FALSE(d.allowed);
  EXPECT_EQ(d.retry_after, 12);
  EXPECT_TRUE(rl.take("ip|bob", t0).value().allowed) << "keys are independent";
  EXPECT_FALSE(rl.take("ip|alice", t0 + 11).value().allowed);
  EXPECT_TRUE(rl.take("ip|alice", t0 + 12).value().allowed);
  EXPECT_FALSE(rl.take("ip|alice", t0 + 12).value().allowed);
  ASSERT_TRUE(rl.give_back("ip|alice").ok());
  EXPECT_TRUE(rl.take("ip|alice", t0 + 12).value().allowed) << "a given-back token spends again";
}

class LoginLimit : public AppFixture {
 protected:
  // A wrong password for admin, through the loopback socket (app_) or straight into `other`,
  // from the same address either way.
  unsigned wrong_login(App* other = nullptr) {
    const std::string body = R"({"username":"admin","password":"wrong"})";
    if (!other) return call("POST", "/api/auth/login", body).status;
    http::Request r;
    r.method = "POST";
    r.target = "/api/auth/login";
    r.headers = {{"Content-Type", "application/json"}};
    r.body = body;
    r.remote_addr = "127.0.0.1";
    return other->handle(r, std::nullopt).status;
  }
};

TEST_F(LoginLimit, TwoServersOnOneDatabaseShareOneLimit) {
  auto second = make_app_from(cfg_, [this] { return now_; });
  ASSERT_TRUE(second.ok()) << second.error().message;
  int checked = 0;
  for (int i = 0; i < 10; ++i) {
    const unsigned st = wrong_login(i % 2 ? second->get() : nullptr);
    EXPECT_TRUE(st == 401 || st == 429) << st;
    if (st == 401) ++checked;
  }
  EXPECT_EQ(checked, static_cast<int>(cfg_.login_attempts))
      << "two servers, not twice the attempts";
  EXPECT_EQ(wrong_login(second->get()), 429u);
  EXPECT_EQ(wrong_login(), 429u);
}

TEST_F(LoginLimit, ARestartDoesNotResetTheLimitButTimeDoes) {
  for (unsigned i = 0; i < cfg_.login_attempts; ++i) EXPECT_EQ(wrong_login(), 401u);
  EXPECT_EQ(wrong_login(), 429u);
  app_.reset();
  Start();
  EXPECT_EQ(wrong_login(), 429u) << "the bucket is in the database";
  now_ += std::chrono::duration_cast<std::chrono::seconds>(cfg_.login_window).count();
  EXPECT_EQ(wrong_login(), 401u) << "refilled on the App's clock";
}

TEST_F(LoginLimit, HugeUserNamesAreRefusedAndOddOnesLimitedLikeAnyOther) {
  auto long_name =
      call("POST", "/api/auth/login",
           bj::serialize(bj::object{{"username", std::string(65, 'x')}, {"password", "x"}}));
  EXPECT_EQ(long_name.status, 400u) << long_name.body;
  EXPECT_NE(long_name.body.find("username"), std::string::npos) << long_name.body;
  auto huge =
      call("POST", "/api/auth/login",
           bj::serialize(bj::object{{"username", std::string(100'000, 'x')}, {"password", "x"}}));
  EXPECT_EQ(huge.status, 413u) << huge.body;
  const std::string odd =
      bj::serialize(bj::object{{"username", "\x01\xc3\xa9'\";--"}, {"password", "x"}});
  for (unsigned i = 0; i < cfg_.login_attempts; ++i)
    EXPECT_EQ(call("POST", "/api/auth/login", odd).status, 401u);
  EXPECT_EQ(call("POST", "/api/auth/login", odd).status, 429u);
}

}  // namespace
}  // namespace rollout::server::testing
