#include "server-plugin/health.hpp"

#include <gtest/gtest.h>

namespace rollout::server {

// Statuses by name in failure output.
void PrintTo(HealthStatus s, std::ostream* os) {
  *os << to_string(s);
}

namespace {

// Counts out of 10 000 attempts, so 94.99 % is 9499 exactly.
Counts of(std::uint64_t success, std::uint64_t failure, std::uint64_t crash) {
  return Counts{success, failure, crash};
}

HealthStatus status(const Counts& c) {
  return evaluate(c, false).status;
}

TEST(Health, SuccessRateBoundaries) {
  EXPECT_EQ(status(of(9500, 450, 50)), HealthStatus::healthy) << "95.00 %";
  EXPECT_EQ(status(of(9499, 451, 50)), HealthStatus::warning) << "94.99 %";
  EXPECT_EQ(status(of(9000, 950, 50)), HealthStatus::warning) << "90.00 %";
  EXPECT_EQ(status(of(8999, 951, 50)), HealthStatus::critical)
      << "89.99 % (failure 9.51 % alone is Warning)";
}

TEST(Health, CrashRateBoundaries) {
  EXPECT_EQ(status(of(9901, 0, 99)), HealthStatus::healthy) << "crash 0.99 %";
  EXPECT_EQ(status(of(9900, 0, 100)), HealthStatus::warning) << "crash 1.00 %";
  EXPECT_EQ(status(of(9801, 0, 199)), HealthStatus::warning) << "crash 1.99 %";
  EXPECT_EQ(status(of(9800, 0, 200)), HealthStatus::critical) << "crash 2.00 %";
  auto below_block = evaluate(of(9501, 0, 499), false);
  EXPECT_EQ(below_block.status, HealthStatus::critical) << "crash 4.99 %: critical, not blocked";
  EXPECT_FALSE(below_block.auto_blocked);
  auto h = evaluate(of(9500, 0, 500), false);
  EXPECT_EQ(h.status, HealthStatus::blocked) << "crash 5.00 % blocks";
  EXPECT_TRUE(h.auto_blocked);
}

TEST(Health, FailureRateBoundaries) {
  // Success held high by reading failure levels through a larger total where needed.
  EXPECT_EQ(status(of(9501, 499, 0)), HealthStatus::healthy) << "failure 4.99 %";
  auto five = evaluate(of(9500, 500, 0), false);
  EXPECT_EQ(five.status, HealthStatus::warning)
      << "failure 5.00 % is Warning although success is 95 %";
  EXPECT_EQ(status(of(9000, 1000, 0)), HealthStatus::warning) << "failure 10.00 % (inclusive)";
  // 10.01 % failure: 1001 of 10000, success 89.99 % -> critical either way; isolate failure:
  Thresholds lenient;
  lenient.warning_success_bp = 0;
  lenient.healthy_success_bp = 0;
  EXPECT_EQ(evaluate(of(8999, 1001, 0), false, lenient).status, HealthStatus::critical)
      << "failure 10.01 %";
  EXPECT_EQ(evaluate(of(9000, 1000, 0), false, lenient).status, HealthStatus::warning);
}

TEST(Health, UnknownBlockedAndWorstOfThree) {
  EXPECT_EQ(status(of(0, 0, 0)), HealthStatus::unknown);
  EXPECT_EQ(evaluate(of(0, 0, 0), true).status, HealthStatus::blocked)
      << "admin block wins over no data";
  EXPECT_EQ(evaluate(of(100, 0, 0), true).status, HealthStatus::blocked)
      << "rolled back stays blocked";
  EXPECT_EQ(status(of(96, 0, 4)), HealthStatus::critical) << "success 96 % but crash 4 %";
}

TEST(Health, GuideScenarioWarningAt92Percent) {
  auto h = evaluate(of(46, 4, 0), false);
  EXPECT_EQ(h.status, HealthStatus::warning);
  EXPECT_DOUBLE_EQ(h.success_rate, 0.92);
  EXPECT_EQ(h.success_color, "yellow");
  auto check = promote_check(h, true, std::chrono::hours(30));
  EXPECT_FALSE(check.allowed);
  EXPECT_TRUE(check.can_force);
  ASSERT_EQ(check.blockers.size(), 1u);
  EXPECT_EQ(check.blockers[0].code, "not_healthy:warning");
  EXPECT_NE(check.blockers[0].message.find("92.00 %"), std::string::npos)
      << check.blockers[0].message;
}

TEST(Health, SuccessColour) {
  EXPECT_EQ(evaluate(of(95, 5, 0), false).success_color, "green");
  EXPECT_EQ(evaluate(of(80, 20, 0), false).success_color, "yellow");
  EXPECT_EQ(evaluate(of(79, 21, 0), false).success_color, "red");
  EXPECT_EQ(evaluate(of(0, 0, 0), false).success_color, "gray");
}

TEST(Health, WilsonIntervalShowsSmallSamplesAsUncertain) {
  auto [lo1, hi1] = wilson_interval(1, 1);
  EXPECT_NEAR(lo1, 0.2065, 1e-4);
  EXPECT_NEAR(hi1, 1.0, 1e-9);
  auto [lo, hi] = wilson_interval(48, 50);
  EXPECT_NEAR(lo, 0.8654, 1e-4);
  EXPECT_NEAR(hi, 0.9890, 1e-4);
  auto [lo0, hi0] = wilson_interval(0, 0);
  EXPECT_EQ(lo0, 0.0);
  EXPECT_EQ(hi0, 1.0);
  // 46 of 50 (the guide's Warning scenario): p = 0.92, 95 % interval [0.8117, 0.9685].
  auto [lo46, hi46] = evaluate(of(46, 4, 0), false).success_interval;
  EXPECT_NEAR(lo46, 0.8116, 1e-4);
  EXPECT_NEAR(hi46, 0.9685, 1e-4);
  auto [lon, hin] = wilson_interval(0, 10);
  EXPECT_EQ(lon, 0.0);
  EXPECT_NEAR(hin, 0.2775, 1e-4);
  auto [lob, hib] = wilson_interval(9500, 10000);
  EXPECT_LT(hib - lob, 0.01) << "large samples are tight";
}

TEST(Health, PromoteGate) {
  const auto healthy = evaluate(of(50, 0, 0), false);
  EXPECT_TRUE(promote_check(healthy, true, std::chrono::seconds(0)).allowed);
  auto not_beta = promote_check(healthy, false, std::chrono::seconds(0));
  EXPECT_FALSE(not_beta.allowed);
  EXPECT_FALSE(not_beta.can_force);
  EXPECT_EQ(not_beta.blockers[0].code, "not_beta");

  auto few = promote_check(evaluate(of(4, 0, 0), false), true, std::chrono::seconds(0));
  EXPECT_FALSE(few.allowed);
  EXPECT_TRUE(few.can_force);
  EXPECT_EQ(few.blockers[0].code, "too_few_attempts");
  EXPECT_EQ(few.blockers[0].message, "4 attempts, at least 5 are needed");
  auto one = promote_check(evaluate(of(1, 0, 0), false), true, std::chrono::seconds(0));
  EXPECT_EQ(one.blockers[0].message, "1 attempt, at least 5 are needed");

  Thresholds soak;
  soak.min_soak = std::chrono::hours(24);
  auto young = promote_check(healthy, true, std::chrono::hours(2), soak);
  EXPECT_EQ(young.blockers[0].code, "soak_not_met");

  auto blocked = promote_check(evaluate(of(90, 0, 10), false), true, std::chrono::hours(48));
  EXPECT_FALSE(blocked.allowed);
  EXPECT_FALSE(blocked.can_force) << "Blocked cannot be promoted, not even forced";
  EXPECT_EQ(blocked.blockers[0].code, "blocked");

  auto unknown = promote_check(evaluate(of(0, 0, 0), false), true, std::chrono::hours(48));
  EXPECT_FALSE(unknown.allowed);
  EXPECT_TRUE(unknown.can_force);
  ASSERT_EQ(unknown.blockers.size(), 2u);
  EXPECT_EQ(unknown.blockers[0].code, "not_healthy:unknown");
  EXPECT_EQ(unknown.blockers[1].code, "too_few_attempts");

  auto critical = promote_check(evaluate(of(80, 20, 0), false), true, std::chrono::hours(48));
  ASSERT_EQ(critical.blockers.size(), 1u);
  EXPECT_EQ(critical.blockers[0].code, "not_healthy:critical");
  EXPECT_TRUE(critical.can_force);

  // Admin-blocked (rolled back) with perfect numbers: still Blocked, never forceable.
  auto rolled_back = promote_check(evaluate(of(100, 0, 0), true), true, std::chrono::hours(48));
  EXPECT_FALSE(rolled_back.can_force);
  ASSERT_EQ(rolled_back.blockers.size(), 1u);
  EXPECT_EQ(rolled_back.blockers[0].code, "blocked");

  // Every blocker is reported at once, not just the first.
  Thresholds strict;
  strict.min_soak = std::chrono::hours(1);
  auto all = promote_check(evaluate(of(1, 0, 1), false), false, std::chrono::seconds(5), strict);
  std::vector<std::string> codes;
  for (const auto& b : all.blockers) codes.push_back(b.code);
  EXPECT_EQ(codes,
            (std::vector<std::string>{"not_beta", "blocked", "too_few_attempts", "soak_not_met"}));
}

TEST(Health, MinAttemptsBoundary) {
  const auto five = evaluate(of(5, 0, 0), false);
  EXPECT_TRUE(promote_check(five, true, std::chrono::seconds(0)).allowed) << "5 of min 5";
  Thresholds t;
  t.min_attempts = 6;
  EXPECT_FALSE(promote_check(five, true, std::chrono::seconds(0), t).allowed);
  t.min_soak = std::chrono::seconds(60);
  t.min_attempts = 5;
  EXPECT_TRUE(promote_check(five, true, std::chrono::seconds(60), t).allowed) << "soak inclusive";
  EXPECT_FALSE(promote_check(five, true, std::chrono::seconds(59), t).allowed);
}

// Configured thresholds are exact too: 97.5 % is compared as 9750 bp, not as a double.
TEST(Health, ConfiguredThresholdsAreExact) {
  Thresholds t;
  t.healthy_success_bp = 9750;
  t.warning_success_bp = 9250;
  t.healthy_failure_bp = 250;
  t.block_crash_bp = 300;
  EXPECT_EQ(evaluate(of(3900, 100, 0), false, t).status, HealthStatus::warning)
      << "97.50 % success but failure 2.50 % reaches the configured 2.50 %";
  EXPECT_EQ(evaluate(of(3900, 99, 1), false, t).status, HealthStatus::healthy)
      << "97.50 % success, failure 2.475 %, crash 0.025 %";
  EXPECT_EQ(evaluate(of(3899, 100, 1), false, t).status, HealthStatus::warning) << "97.475 %";
  EXPECT_EQ(evaluate(of(9700, 0, 300), false, t).status, HealthStatus::blocked) << "crash 3.00 %";
  EXPECT_EQ(evaluate(of(9701, 0, 299), false, t).status, HealthStatus::critical) << "crash 2.99 %";
}

// Rates that cannot be written exactly in binary (1/3, 1/7) and counts near 2^64 / 10^4 do not
// upset the integer comparisons.
TEST(Health, NoRoundingOrOverflowAtExtremes) {
  EXPECT_EQ(evaluate(of(2, 1, 0), false).status, HealthStatus::critical) << "1/3 failed";
  EXPECT_EQ(evaluate(of(133, 7, 0), false).status, HealthStatus::warning) << "5 % failed (7/140)";
  const std::uint64_t big = 4'000'000'000'000'000'000ULL;  // * 10 000 overflows 64 bits
  const auto h = evaluate(of(big / 100 * 95, big / 100 * 5, 0), false);
  EXPECT_EQ(h.status, HealthStatus::warning) << "failure exactly 5 %";
  EXPECT_EQ(h.success_color, "green");
  EXPECT_EQ(evaluate(of(big, 0, 0), false).status, HealthStatus::healthy);
}

}  // namespace
}  // namespace rollout::server
