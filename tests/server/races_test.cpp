// Races that used to slip through: concurrent wrong passwords all passing the login limiter
// while the first ones were still hashing, and two first starts on one database each trying to
// create the admin user.
#include <gtest/gtest.h>

#include <atomic>
#include <barrier>
#include <future>

#include "tests/server/app_fixture.hpp"

namespace rollout::server::testing {
namespace {

class Races : public AppFixture {};

TEST_F(Races, ConcurrentWrongGuessesGetAtMostTheLimitOfPasswordChecks) {
  // A slow hash (scrypt N = 2^14) keeps each password check open long enough for the others
  // to arrive while it runs, as a brute force over many connections would.
  cfg_.password_cost = 14;
  app_.reset();
  Start();
  user_with_role("slow", "operator");
  constexpr int kGuesses = 24;
  std::barrier start(kGuesses);
  std::vector<std::future<unsigned>> answers;
  for (int i = 0; i < kGuesses; ++i) {
    answers.push_back(std::async(std::launch::async, [&, i] {
      start.arrive_and_wait();
      return call("POST", "/api/auth/login",
                  bj::serialize(bj::object{{"username", "slow"},
                                           {"password", "wrong-guess-" + std::to_string(i)}}))
          .status;
    }));
  }
  int checked = 0, limited = 0;
  for (auto& a : answers) {
    const unsigned st = a.get();
    if (st == 401) ++checked;
    if (st == 429) ++limited;
  }
  EXPECT_EQ(checked, static_cast<int>(cfg_.login_attempts)) << "each 401 was a password check";
  EXPECT_EQ(checked + limited, kGuesses);
  // The right password is refused too until the bucket refills.
  auto right =
      call("POST", "/api/auth/login",
           bj::serialize(bj::object{{"username", "slow"}, {"password", "slow-password-12"}}));
  EXPECT_EQ(right.status, 429u) << right.body;
}

TEST_F(Races, ARightPasswordDoesNotSpendTheLimit) {
  for (unsigned i = 0; i < cfg_.login_attempts + 3; ++i) admin();  // each login must succeed
  auto wrong = call("POST", "/api/auth/login",
                    bj::serialize(bj::object{{"username", "admin"}, {"password", "nope"}}));
  EXPECT_EQ(wrong.status, 401u);
}

TEST_F(Races, TheLoginLimitComesFromTheConfig) {
  cfg_.login_attempts = 2;
  app_.reset();
  Start();
  std::vector<unsigned> got;
  for (int i = 0; i < 4; ++i) {
    got.push_back(call("POST", "/api/auth/login",
                       bj::serialize(bj::object{{"username", "admin"}, {"password", "nope"}}))
                      .status);
  }
  EXPECT_EQ(got, (std::vector<unsigned>{401, 401, 429, 429}));
}

TEST_F(Races, TwoFirstStartsOnOneDatabaseBothStartWithOneAdmin) {
  ServerConfig fresh = cfg_;
  fresh.database_url = fresh_database_url("first-start");
  fresh.password_cost = 14;  // a slow hash between "no user yet" and the insert
  constexpr int kStarts = 2;
  std::barrier start(kStarts);
  std::vector<std::future<Expected<std::unique_ptr<App>>>> apps;
  for (int i = 0; i < kStarts; ++i) {
    apps.push_back(std::async(std::launch::async, [&] {
      start.arrive_and_wait();
      return make_app_from(fresh, [this] { return now_; });
    }));
  }
  for (auto& a : apps) {
    auto app = a.get();
    EXPECT_TRUE(app.ok()) << app.error().message;
  }
  auto store = open_store(fresh.database_url).value();
  EXPECT_EQ(store->user_count().value(), 1u);
  auto admin_user = store->get_user("admin").value();
  ASSERT_TRUE(admin_user);
  EXPECT_EQ(admin_user->role, "admin");
  EXPECT_TRUE(auth::verify_password("admin-password-1234", admin_user->password_hash));
}

}  // namespace
}  // namespace rollout::server::testing
