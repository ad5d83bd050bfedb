#include "server-plugin/auth/rate_limit.hpp"

#include <gtest/gtest.h>

namespace rollout::auth {
namespace {

using namespace std::chrono_literals;

TEST(RateLimiter, AllowsABurstThenRefusesWithRetryAfter) {
  RateLimiter rl(5, 5);  // 5 at once, one more every 12 s
  const auto t0 = RateLimiter::Clock::time_point{} + 1000s;
  for (int i = 0; i < 5; ++i) EXPECT_TRUE(rl.take("ip|alice", t0).allowed) << i;
  auto d = rl.take("ip|alice", t0);
  EXPECT_FALSE(d.allowed);
  EXPECT_EQ(d.retry_after, 12s);
  EXPECT_TRUE(rl.take("ip|bob", t0).allowed) << "keys are independent";
  EXPECT_FALSE(rl.take("ip|alice", t0 + 11s).allowed);
  EXPECT_TRUE(rl.take("ip|alice", t0 + 12s).allowed);
}

TEST(RateLimiter, CheckDoesNotSpend) {
  RateLimiter rl(1, 1);
  const auto t0 = RateLimiter::Clock::time_point{} + 1000s;
  for (int i = 0; i < 3; ++i) EXPECT_TRUE(rl.check("k", t0).allowed);
  EXPECT_TRUE(rl.take("k", t0).allowed);
  EXPECT_FALSE(rl.check("k", t0).allowed);
}

TEST(RateLimiter, TableStaysBoundedUnderManyKeys) {
  RateLimiter rl(2, 1, 100);
  const auto t0 = RateLimiter::Clock::time_point{} + 1000s;
  for (int i = 0; i < 1000; ++i) rl.take("k" + std::to_string(i), t0);
  EXPECT_LE(rl.size(), 100u);
}

TEST(RateLimiter, EvictionDropsIdleKeysBeforeLimitedOnes) {
  RateLimiter rl(1, 1, 3);  // one attempt, refilled once a minute
  const auto t0 = RateLimiter::Clock::time_point{} + 1000s;
  EXPECT_TRUE(rl.take("idle1", t0).allowed);
  EXPECT_TRUE(rl.take("idle2", t0).allowed);
  EXPECT_TRUE(rl.take("attacker", t0 + 59s).allowed);
  // idle1/idle2 have refilled by t0+61s; attacker has not, so it must survive eviction.
  EXPECT_TRUE(rl.take("newcomer", t0 + 61s).allowed);
  EXPECT_FALSE(rl.take("attacker", t0 + 61s).allowed);
}

}  // namespace
}  // namespace rollout::auth
