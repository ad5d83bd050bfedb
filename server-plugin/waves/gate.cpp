// The gate between waves. Order matters: a bad release is acted on before anything else, a soak
// is never cut short, and a decision to advance needs both a full soak and an adequate sample.
#include <algorithm>

#include "common/text.hpp"
#include "server-plugin/waves.hpp"

namespace rollout::server::waves {
namespace {

std::string span(std::int64_t seconds) {
  if (seconds >= 3600 && seconds % 3600 == 0) return text::counted(seconds / 3600, "h", "h");
  if (seconds >= 60 && seconds % 60 == 0) return text::counted(seconds / 60, "min", "min");
  return text::counted(seconds, "s", "s");
}

std::string count(std::uint64_t n, std::string_view singular, std::string_view plural = {}) {
  return text::counted(static_cast<std::int64_t>(n), singular, plural);
}

std::string waves_text(std::size_t wave) {
  return wave == 0 ? "wave 1" : "waves 1–" + std::to_string(wave + 1);
}

Decision wait(Memory next, std::string rule, std::string message) {
  return Decision{Action::wait, std::move(rule), std::move(message), std::move(next)};
}

}  // namespace

std::string_view to_string(Action a) {
  switch (a) {
    case Action::wait:
      return "wait";
    case Action::advance:
      return "advance";
    case Action::complete:
      return "complete";
    case Action::pause:
      return "pause";
    case Action::rollback:
      return "rollback";
  }
  return "wait";
}

Memory opened_next(const Memory& memory, std::uint64_t agents, std::int64_t now) {
  Memory m;
  m.wave = memory.wave + 1;
  m.wave_opened_at = now;
  m.prior_agents = agents;
  return m;
}

Memory resumed(const Memory& memory, std::int64_t now) {
  Memory m;
  m.wave = memory.wave;
  m.wave_opened_at = now;
  m.prior_agents = memory.prior_agents;
  return m;
}

Decision evaluate(const Plan& plan, const Memory& memory, const Observation& seen,
                  std::uint64_t min_attempts, std::int64_t now) {
  Memory next = memory;
  const Health& h = seen.health;
  const std::int64_t hold = plan.hysteresis.count();
  const bool last = memory.wave + 1 >= plan.cumulative_bp.size();

  const bool bad = h.status == HealthStatus::critical || h.status == HealthStatus::blocked;
  if (bad) {
    if (!next.bad_since) next.bad_since = now;
    next.warn_since.reset();
    const std::string status(to_string(h.status));
    const std::int64_t held = now - *next.bad_since;
    if (held >= hold) {
      const bool rollback = plan.on_critical == OnBad::rollback;
      return Decision{rollback ? Action::rollback : Action::pause,
                      h.status == HealthStatus::blocked ? "blocked" : "critical",
                      "health of " + waves_text(memory.wave) + " is " + status + " (held " +
                          span(held) + ", " + count(h.counts.crash, "crash", "crashes") + " and " +
                          count(h.counts.failure, "failure") + " in " +
                          count(h.counts.total(), "result") + ")" +
                          (rollback ? ": rolled back automatically" : ": paused"),
                      next};
    }
    return wait(
        next, "holding_bad",
        "health is " + status + " for " + span(held) + "; acting once it holds for " + span(hold));
  }
  next.bad_since.reset();

  if (h.status == HealthStatus::warning) {
    if (!next.warn_since) next.warn_since = now;
    const std::int64_t held = now - *next.warn_since;
    if (held >= hold) {
      return Decision{Action::pause, "warning",
                      "health of " + waves_text(memory.wave) + " is Warning (held " + span(held) +
                          "): paused until someone looks",
                      next};
    }
    return wait(
        next, "holding_warning",
        "health is Warning for " + span(held) + "; pausing once it holds for " + span(hold));
  }
  next.warn_since.reset();

  if (memory.wave > 0 && seen.agents <= memory.prior_agents) {
    return Decision{
        last ? Action::complete : Action::advance, "no_new_agents",
        "wave " + std::to_string(memory.wave + 1) + " lets in no agent beyond the waves before it",
        last ? next : opened_next(memory, seen.agents, now)};
  }

  const std::uint64_t need_updated =
      std::max<std::uint64_t>(1, (seen.agents * plan.updated_bp + kBuckets - 1) / kBuckets);
  if (!next.updated_at && seen.agents > 0 && seen.reported >= need_updated) next.updated_at = now;
  if (!next.updated_at) {
    const std::int64_t waited = now - memory.wave_opened_at;
    if (seen.agents == 0 && !last) {
      return Decision{Action::advance, "no_new_agents", "wave 1 has no agent yet",
                      opened_next(memory, 0, now)};
    }
    if (seen.agents == 0) {
      return Decision{Action::complete, "no_new_agents", "no stable agent to update", next};
    }
    if (waited >= plan.max_wait.count()) {
      return Decision{Action::pause, "inconclusive_not_updated",
                      "only " + std::to_string(seen.reported) + " of " +
                          count(seen.agents, "agent") + " in " + waves_text(memory.wave) +
                          " have a result after " + span(waited) + ": paused, too few to judge",
                      next};
    }
    return wait(next, "updating",
                std::to_string(seen.reported) + " of " + count(seen.agents, "agent") + " in " +
                    waves_text(memory.wave) + " have a result; the soak starts at " +
                    std::to_string(need_updated));
  }

  const std::int64_t soaked = now - *next.updated_at;
  if (soaked < plan.soak.count()) {
    return wait(next, "soaking",
                "soaking: " + span(plan.soak.count() - soaked) + " of " + span(plan.soak.count()) +
                    " left");
  }
  const std::uint64_t need_sample = std::max<std::uint64_t>(1, std::min(min_attempts, seen.agents));
  if (h.counts.total() < need_sample) {
    return Decision{Action::pause, "inconclusive_sample",
                    "only " + count(h.counts.total(), "result") + " after the soak; " +
                        std::to_string(need_sample) + " needed to judge: paused",
                    next};
  }
  if (last) {
    return Decision{Action::complete, "last_wave_soaked",
                    "the last wave stayed Healthy for " + span(plan.soak.count()), next};
  }
  return Decision{Action::advance, "healthy_soaked",
                  waves_text(memory.wave) + " stayed Healthy for " + span(plan.soak.count()) +
                      "; wave " + std::to_string(memory.wave + 2) + " opens",
                  opened_next(memory, seen.agents, now)};
}

}  // namespace rollout::server::waves
