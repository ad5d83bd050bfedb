// Wave membership and the gate between waves (issue #13), every boundary on a fake clock: times
// are plain Unix seconds handed to the pure functions, so nothing here sleeps.
#include "server-plugin/waves.hpp"

#include <gtest/gtest.h>

#include <set>

namespace rollout::server::waves {
namespace {

const ReleaseKey kRel{"1.2.0", "windows", "x86_64"};

Observation seen(std::uint64_t agents, std::uint64_t s, std::uint64_t f = 0, std::uint64_t c = 0,
                 bool blocked = false) {
  Observation o;
  o.agents = agents;
  o.reported = s + f + c;
  o.health = evaluate(Counts{s, f, c}, blocked);
  return o;
}

Plan fast_plan() {
  Plan p;
  p.soak = std::chrono::seconds(600);
  p.hysteresis = std::chrono::seconds(120);
  p.max_wait = std::chrono::seconds(3600);
  return p;
}

TEST(WavesPlan, ValidatesSteps) {
  EXPECT_TRUE(validate(Plan{}));
  Plan all;
  all.cumulative_bp = {10000};
  EXPECT_TRUE(validate(all));
  EXPECT_TRUE(all.all_at_once());
  for (auto steps : std::vector<std::vector<std::uint32_t>>{
           {}, {0, 10000}, {100, 100, 10000}, {5000, 1000, 10000}, {100, 1000}, {100, 10001}}) {
    Plan p;
    p.cumulative_bp = steps;
    auto st = validate(p);
    ASSERT_FALSE(st) << steps.size();
    EXPECT_EQ(st.error().code, "invalid_argument");
  }
  Plan p;
  p.cumulative_bp = {100, 50, 10000};
  EXPECT_NE(validate(p).error().message.find("step 2"), std::string::npos);
}

TEST(WavesPlan, BucketIsStableInRangeAndRotatesBetweenReleases) {
  EXPECT_EQ(bucket("agent-1", kRel), bucket("agent-1", kRel));
  std::size_t moved = 0;
  for (int i = 0; i < 1000; ++i) {
    const std::string id = "agent-" + std::to_string(i);
    const auto a = bucket(id, kRel);
    EXPECT_LT(a, kBuckets);
    if (a != bucket(id, ReleaseKey{"1.3.0", "windows", "x86_64"})) ++moved;
  }
  EXPECT_GT(moved, 990u);  // another release draws another canary set
  // Fields are length-prefixed: shifting a character between fields is another input.
  EXPECT_NE(bucket("ab", ReleaseKey{"c", "x", "y"}), bucket("a", ReleaseKey{"bc", "x", "y"}));
}

std::vector<std::uint32_t> fleet(std::size_t n, const ReleaseKey& rel = kRel) {
  std::vector<std::uint32_t> b;
  for (std::size_t i = 0; i < n; ++i) b.push_back(bucket("agent-" + std::to_string(i), rel));
  return b;
}

std::vector<std::size_t> sizes(const std::vector<std::uint32_t>& buckets,
                               const std::vector<std::uint32_t>& t) {
  std::vector<std::size_t> out(t.size(), 0);
  for (auto b : buckets) {
    for (std::size_t k = wave_of(b, t); k < t.size(); ++k) ++out[k];  // cumulative
  }
  return out;
}

TEST(WavesPlan, ThresholdsGiveAtLeastTheShareAndTheFirstWaveMinimum) {
  const auto big = fleet(10000);
  const auto t = thresholds(Plan{}, big);
  ASSERT_EQ(t.size(), 4u);
  EXPECT_EQ(t.back(), kBuckets);
  const auto s = sizes(big, t);
  EXPECT_GE(s[0], 100u);
  EXPECT_LT(s[0], 200u);
  EXPECT_GE(s[1], 1000u);
  EXPECT_GE(s[2], 5000u);
  EXPECT_EQ(s[3], 10000u);
  for (std::size_t k = 1; k < t.size(); ++k) EXPECT_GE(t[k], t[k - 1]);

  const auto small = fleet(20);  // 1 % of 20 rounds up to 1, the minimum makes it 5
  EXPECT_GE(sizes(small, thresholds(Plan{}, small))[0], 5u);
  const auto tiny = fleet(3);  // fewer agents than the minimum: all of them
  EXPECT_EQ(sizes(tiny, thresholds(Plan{}, tiny))[0], 3u);
  const auto none = thresholds(Plan{}, {});
  EXPECT_EQ(none, (std::vector<std::uint32_t>{100, 1000, 5000, 10000}));
}

TEST(WavesPlan, MembersNeverChangeAndLateAgentsFallIntoTheirBucket) {
  const auto start = fleet(500);
  const auto t = thresholds(Plan{}, start);
  std::vector<std::size_t> before;
  for (auto b : start) before.push_back(wave_of(b, t));
  // 500 more enroll mid-rollout: the thresholds are not recomputed, so nobody moves, and each
  // newcomer's wave is its bucket's.
  for (std::size_t i = 0; i < start.size(); ++i) EXPECT_EQ(wave_of(start[i], t), before[i]);
  std::set<std::size_t> seen_waves;
  for (std::size_t i = 500; i < 1000; ++i) {
    const auto b = bucket("agent-" + std::to_string(i), kRel);
    seen_waves.insert(wave_of(b, t));
    EXPECT_EQ(wave_of(b, t) == 0, b < t[0]);
  }
  EXPECT_GE(seen_waves.size(), 3u);
}

TEST(WavesGate, CriticalActsOnlyOnceItHoldsForTheHysteresis) {
  const Plan p = fast_plan();
  Memory m;
  m.wave_opened_at = 1000;
  auto d = evaluate(p, m, seen(5, 0, 0, 1), 5, 1000);  // one early crash report: Blocked
  EXPECT_EQ(d.action, Action::wait);
  EXPECT_EQ(d.rule, "holding_bad");
  EXPECT_EQ(d.next.bad_since, 1000);
  d = evaluate(p, d.next, seen(5, 1, 0, 1), 5, 1119);
  EXPECT_EQ(d.action, Action::wait);
  d = evaluate(p, d.next, seen(5, 1, 0, 1), 5, 1120);
  EXPECT_EQ(d.action, Action::rollback);
  EXPECT_EQ(d.rule, "blocked");
  EXPECT_NE(d.message.find("rolled back automatically"), std::string::npos) << d.message;

  Plan pause_only = p;
  pause_only.on_critical = OnBad::pause;
  Memory held = m;
  held.bad_since = 1000;
  // 3 successes, 1 failure of 4 = 75 %: Critical, not Blocked (no crash).
  d = evaluate(pause_only, held, seen(50, 3, 1), 5, 1120);
  EXPECT_EQ(d.action, Action::pause);
  EXPECT_EQ(d.rule, "critical");
}

TEST(WavesGate, AFlapResetsTheHold) {
  const Plan p = fast_plan();
  Memory m;
  auto d = evaluate(p, m, seen(100, 0, 0, 1), 5, 0);
  EXPECT_EQ(d.next.bad_since, 0);
  d = evaluate(p, d.next, seen(100, 100, 0, 0), 5, 100);  // recovered
  EXPECT_FALSE(d.next.bad_since);
  d = evaluate(p, d.next, seen(100, 40, 0, 1), 5, 200);  // bad again: the hold starts over
  EXPECT_EQ(d.next.bad_since, 200);
  d = evaluate(p, d.next, seen(100, 40, 0, 1), 5, 319);
  EXPECT_EQ(d.action, Action::wait);
  EXPECT_EQ(evaluate(p, d.next, seen(100, 40, 0, 1), 5, 320).action, Action::rollback);
}

TEST(WavesGate, WarningPausesAfterTheHysteresis) {
  Plan p = fast_plan();
  Memory m;
  // 92 of 100 succeed: Warning.
  auto d = evaluate(p, m, seen(100, 92, 8), 5, 50);
  EXPECT_EQ(d.rule, "holding_warning");
  EXPECT_EQ(evaluate(p, d.next, seen(100, 92, 8), 5, 169).action, Action::wait);
  d = evaluate(p, d.next, seen(100, 92, 8), 5, 170);
  EXPECT_EQ(d.action, Action::pause);
  EXPECT_EQ(d.rule, "warning");
  p.hysteresis = std::chrono::seconds(0);
  EXPECT_EQ(evaluate(p, Memory{}, seen(100, 92, 8), 5, 0).action, Action::pause);
}

TEST(WavesGate, SoakStartsOnlyOnceTheWaveHasUpdated) {
  const Plan p = fast_plan();  // updated at 80 %
  Memory m;
  m.wave_opened_at = 0;
  auto d = evaluate(p, m, seen(10, 7), 5, 10);
  EXPECT_EQ(d.rule, "updating");
  EXPECT_FALSE(d.next.updated_at);
  d = evaluate(p, d.next, seen(10, 8), 5, 20);
  EXPECT_EQ(d.rule, "soaking");
  EXPECT_EQ(d.next.updated_at, 20);
  EXPECT_EQ(evaluate(p, d.next, seen(10, 10), 5, 619).action, Action::wait);
  d = evaluate(p, d.next, seen(10, 10), 5, 620);
  EXPECT_EQ(d.action, Action::advance);
  EXPECT_EQ(d.rule, "healthy_soaked");
  EXPECT_EQ(d.next.wave, 1u);
  EXPECT_EQ(d.next.wave_opened_at, 620);
  EXPECT_EQ(d.next.prior_agents, 10u);
  EXPECT_FALSE(d.next.updated_at);
}

TEST(WavesGate, NotUpdatedAfterMaxWaitIsInconclusive) {
  const Plan p = fast_plan();
  Memory m;
  m.wave_opened_at = 0;
  EXPECT_EQ(evaluate(p, m, seen(10, 2), 5, 3599).action, Action::wait);
  auto d = evaluate(p, m, seen(10, 2), 5, 3600);
  EXPECT_EQ(d.action, Action::pause);
  EXPECT_EQ(d.rule, "inconclusive_not_updated");
  EXPECT_NE(d.message.find("only 2 of 10 agents in wave 1"), std::string::npos) << d.message;
}

TEST(WavesGate, TooFewResultsAfterTheSoakIsInconclusive) {
  Plan p = fast_plan();
  p.updated_bp = 5000;
  Memory m;
  m.updated_at = 0;
  // 8 agents, 4 results: updated at 50 %, soaked, but below the minimum sample of 5.
  auto d = evaluate(p, m, seen(8, 4), 5, 600);
  EXPECT_EQ(d.action, Action::pause);
  EXPECT_EQ(d.rule, "inconclusive_sample");
  EXPECT_EQ(evaluate(p, m, seen(8, 5), 5, 600).action, Action::advance);
  // A wave smaller than the minimum sample needs every agent's result instead.
  EXPECT_EQ(evaluate(p, m, seen(3, 3), 5, 600).action, Action::advance);
  EXPECT_EQ(evaluate(p, m, seen(3, 2), 5, 600).rule, "inconclusive_sample");
}

TEST(WavesGate, LastWaveCompletesAndWavesWithNoNewAgentsPassAtOnce) {
  const Plan p = fast_plan();
  Memory last;
  last.wave = 3;
  last.updated_at = 0;
  last.prior_agents = 50;
  auto d = evaluate(p, last, seen(100, 100), 5, 600);
  EXPECT_EQ(d.action, Action::complete);
  EXPECT_EQ(d.rule, "last_wave_soaked");

  Memory second;
  second.wave = 1;
  second.wave_opened_at = 0;
  second.prior_agents = 5;
  d = evaluate(p, second, seen(5, 5), 5, 1);  // a 5-agent fleet: wave 2 adds nobody
  EXPECT_EQ(d.action, Action::advance);
  EXPECT_EQ(d.rule, "no_new_agents");
  EXPECT_EQ(d.next.wave, 2u);
  // ... but a bad release is still acted on first.
  EXPECT_EQ(evaluate(p, second, seen(5, 4, 0, 1), 5, 1).rule, "holding_bad");

  d = evaluate(p, Memory{}, seen(0, 0), 5, 0);  // no stable agent at all
  EXPECT_EQ(d.action, Action::advance);
  Memory empty_last;
  empty_last.wave = 3;
  EXPECT_EQ(evaluate(p, empty_last, seen(0, 0), 5, 0).action, Action::complete);

  Plan all = p;
  all.cumulative_bp = {10000};
  Memory one;
  one.updated_at = 0;
  EXPECT_EQ(evaluate(all, one, seen(30, 30), 5, 600).action, Action::complete);
}

TEST(WavesGate, ResumeWatchesTheSameWaveAfresh) {
  Memory m;
  m.wave = 2;
  m.wave_opened_at = 5;
  m.updated_at = 10;
  m.warn_since = 20;
  m.prior_agents = 40;
  const Memory r = resumed(m, 100);
  EXPECT_EQ(r.wave, 2u);
  EXPECT_EQ(r.wave_opened_at, 100);
  EXPECT_FALSE(r.updated_at);
  EXPECT_FALSE(r.warn_since);
  EXPECT_EQ(r.prior_agents, 40u);
}

}  // namespace
}  // namespace rollout::server::waves
