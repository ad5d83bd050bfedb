// Benchmark (not a test): the blast radius of a bad build — how many stable agents ever ran it —
// when it is promoted with waves (the default plan) against all at once, on the same simulated
// fleet. The rollout is decided by the real waves:: membership, thresholds and gate and the real
// health engine; only the fleet and the clock are simulated (a discrete clock in whole seconds,
// so hours of rollout take milliseconds and every run with a seed is the same).
//
// Each agent checks in at its poll interval (a random phase); once its wave is open and the
// release is not rolled back, the check-in installs it (the agent has now "run" it). An install
// crashes with probability CRASH (reported `crash` after a random time within the probation),
// otherwise it reports `success` when the probation ends. The server evaluates the gate every
// GATE_EVERY seconds on the outcomes of the agents let in so far; a rollback stops further
// installs. "all at once, no gate" is what the product did before waves: every agent installs
// at its next check-in and nobody rolls back within the simulated time.
//
// usage: blast_radius_bench [AGENTS] [CRASH] [SEEDS]   (defaults: 10000 0.30 5)
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <queue>
#include <random>
#include <string>
#include <vector>

#include "server-plugin/health.hpp"
#include "server-plugin/waves.hpp"

namespace {

using rollout::server::Counts;
using rollout::server::ReleaseKey;
using rollout::server::Thresholds;
namespace waves = rollout::server::waves;

constexpr std::int64_t kPoll = 60;            // agents' poll interval, s
constexpr std::int64_t kProbation = 600;      // the agent's probation, s
constexpr std::int64_t kGateEvery = 30;       // the server's evaluation timer, s
constexpr std::int64_t kHorizon = 6 * 86400;  // simulated time, s

struct Agent {
  std::string id;
  std::int64_t phase = 0;  // first check-in, s
  std::size_t wave = 0;    // under the rollout's thresholds
  bool installed = false;  // ran the bad build
  bool crashes = false;
};

struct Result {
  std::uint64_t ran = 0;         // agents that ever ran the bad build
  std::uint64_t crashed = 0;     // of them, crashed
  std::int64_t stopped_at = -1;  // when the rollout was rolled back (or paused), s
  std::string rule;
};

Result simulate(const waves::Plan& plan, bool gate, std::size_t n, double crash_rate,
                std::uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::uniform_int_distribution<std::int64_t> phase(0, kPoll - 1);
  std::uniform_int_distribution<std::int64_t> crash_after(5, kProbation - 1);
  std::bernoulli_distribution crash(crash_rate);
  const ReleaseKey release{"2.0.0", "linux", "x86_64"};
  std::vector<Agent> fleet(n);
  std::vector<std::uint32_t> buckets;
  for (std::size_t i = 0; i < n; ++i) {
    fleet[i].id = "agent-" + std::to_string(seed) + "-" + std::to_string(i);
    fleet[i].phase = phase(rng);
    buckets.push_back(waves::bucket(fleet[i].id, release));
  }
  const auto thresholds = waves::thresholds(plan, buckets);
  for (std::size_t i = 0; i < n; ++i) fleet[i].wave = waves::wave_of(buckets[i], thresholds);
  const Thresholds health;
  // Agents by check-in phase (each second only one phase checks in), reports by arrival time,
  // and the agents let in by waves 0..k (the gate's observation) counted once.
  std::vector<std::vector<std::size_t>> by_phase(kPoll);
  for (std::size_t i = 0; i < n; ++i)
    by_phase[static_cast<std::size_t>(fleet[i].phase)].push_back(i);
  std::vector<std::uint64_t> upto(thresholds.size() + 1, 0);
  for (const auto& a : fleet) ++upto[std::min(a.wave, thresholds.size() - 1)];
  for (std::size_t k = 1; k < upto.size(); ++k) upto[k] += upto[k - 1];
  using Report = std::pair<std::int64_t, bool>;  // arrival, crashed
  std::priority_queue<Report, std::vector<Report>, std::greater<>> reports;
  waves::Memory memory;
  std::size_t open = 0;  // waves 0..open may install
  bool stopped = false;
  Result out;
  Counts counts;
  for (std::int64_t now = 0; now < kHorizon && !stopped; ++now) {
    while (!reports.empty() && reports.top().first <= now) {
      (reports.top().second ? counts.crash : counts.success)++;
      reports.pop();
    }
    for (std::size_t i : by_phase[static_cast<std::size_t>(now % kPoll)]) {
      Agent& a = fleet[i];
      if (a.installed || a.wave > open) continue;
      a.installed = true;
      a.crashes = crash(rng);
      reports.emplace(now + (a.crashes ? crash_after(rng) : kProbation), a.crashes);
      ++out.ran;
      if (a.crashes) ++out.crashed;
    }
    if (!gate) {
      if (out.ran == n && reports.empty()) break;  // nothing more can happen
      continue;
    }
    if (now % kGateEvery != 0) continue;
    waves::Observation seen;
    seen.agents = upto[std::min(memory.wave, thresholds.size() - 1)];
    seen.reported = counts.total();
    seen.health = rollout::server::evaluate(counts, false, health);
    const auto d = waves::evaluate(plan, memory, seen, health.min_attempts, now);
    memory = d.next;
    open = std::max(open, memory.wave);
    if (d.action == waves::Action::rollback || d.action == waves::Action::pause) {
      stopped = true;
      out.stopped_at = now;
      out.rule = d.rule;
    } else if (d.action == waves::Action::complete) {
      open = SIZE_MAX;
    }
  }
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  const std::size_t agents = argc > 1 ? std::strtoul(argv[1], nullptr, 10) : 10000;
  const double crash_rate = argc > 2 ? std::strtod(argv[2], nullptr) : 0.30;
  const std::uint64_t seeds = argc > 3 ? std::strtoull(argv[3], nullptr, 10) : 5;
  if (agents == 0 || crash_rate < 0 || crash_rate > 1 || seeds == 0) {
    std::fprintf(stderr, "usage: blast_radius_bench [AGENTS] [CRASH 0..1] [SEEDS]\n");
    return 2;
  }
  const waves::Plan defaults;  // 1 % → 10 % → 50 % → 100 %, soak 1 h, hysteresis 5 min
  waves::Plan at_once = defaults;
  at_once.cumulative_bp = {10000};
  struct Mode {
    const char* name;
    const waves::Plan* plan;
    bool gate;
  } modes[] = {{"waves (default plan), automatic rollback", &defaults, true},
               {"all at once, same automatic rollback", &at_once, true},
               {"all at once, no gate (before waves)", &at_once, false}};
  std::printf(
      "fleet: %zu stable agents, crash rate %.0f %%, poll %llds, probation %llds, "
      "gate every %llds, %llu seeds\n\n",
      agents, crash_rate * 100, static_cast<long long>(kPoll), static_cast<long long>(kProbation),
      static_cast<long long>(kGateEvery), static_cast<unsigned long long>(seeds));
  std::printf(
      "| mode | agents that ran it (mean, min–max) | share of fleet | of them crashed | "
      "rolled back after | sim. time |\n|---|---|---|---|---|---|\n");
  for (const auto& m : modes) {
    std::uint64_t sum = 0, lo = UINT64_MAX, hi = 0, crashed = 0;
    std::int64_t stop_sum = 0;
    int stops = 0;
    const auto t0 = std::chrono::steady_clock::now();
    for (std::uint64_t s = 1; s <= seeds; ++s) {
      const Result r = simulate(*m.plan, m.gate, agents, crash_rate, s);
      sum += r.ran;
      lo = std::min(lo, r.ran);
      hi = std::max(hi, r.ran);
      crashed += r.crashed;
      if (r.stopped_at >= 0) {
        stop_sum += r.stopped_at;
        ++stops;
      }
    }
    const double ms =
        std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
    const double mean = static_cast<double>(sum) / static_cast<double>(seeds);
    char stopped[64] = "never";
    if (stops > 0)
      std::snprintf(stopped, sizeof stopped, "%.1f min (%d/%llu runs)",
                    static_cast<double>(stop_sum) / stops / 60.0, stops,
                    static_cast<unsigned long long>(seeds));
    std::printf("| %s | %.1f (%llu–%llu) | %.2f %% | %.1f | %s | %.0f ms |\n", m.name, mean,
                static_cast<unsigned long long>(lo), static_cast<unsigned long long>(hi),
                100.0 * mean / static_cast<double>(agents),
                static_cast<double>(crashed) / static_cast<double>(seeds), stopped, ms);
  }
  return 0;
}
