// Stable rollouts in waves (issue #13): which stable agents are in which wave of a release's
// rollout, and the gate that decides, on the outcomes of the agents let in so far, whether the
// rollout advances, waits, pauses or rolls back. Pure functions over plain values: the caller owns
// the clock (times are passed in), the store and the decision's side effects, so every boundary
// is tested on a fake clock. Thread-safe.
//
// Membership: an agent's bucket is a stable hash of (agent id, release) in [0, 10000). Wave k
// admits every agent whose bucket is below its threshold; thresholds are computed once when the
// rollout starts (so a wave's members never change while it rolls out) from the plan's cumulative
// shares, raised where needed so that wave 1 holds at least `min_first_wave` agents when the
// fleet has that many. An agent that enrolls mid-rollout falls into the wave its bucket says. The
// hash includes the release, so the canary set rotates between releases.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/error.hpp"
#include "server-plugin/health.hpp"
#include "server-plugin/model.hpp"

namespace rollout::server::waves {

inline constexpr std::uint32_t kBuckets = 10000;  // one bucket per basis point

enum class OnBad { rollback, pause };

struct Plan {
  // Cumulative share of each (os, arch)'s stable agents let in by the end of each wave, in basis
  // points, strictly increasing and ending at 10000. {10000} is "all at once".
  std::vector<std::uint32_t> cumulative_bp{100, 1000, 5000, 10000};
  std::uint64_t min_first_wave = 5;
  // How long a wave must stay Healthy once its agents have updated before the next one opens.
  std::chrono::seconds soak{3600};
  // How long an automatic action's condition must hold before it fires.
  std::chrono::seconds hysteresis{300};
  // A wave counts as updated once this share of its agents has a final outcome.
  std::uint32_t updated_bp = 8000;
  // A wave whose agents have not updated after this long pauses as inconclusive.
  std::chrono::seconds max_wait{86400};
  OnBad on_critical = OnBad::rollback;  // Critical or Blocked: roll back, or only pause
  bool all_at_once() const { return cumulative_bp.size() == 1; }
};

// "steps must increase" style errors, code invalid_argument, naming the offending step.
Status validate(const Plan& plan);

// The part of a plan a policy (client, site, agent or default) may set for its own agents; an
// unset field is inherited: agent <- site <- client <- default <- the server's `waves:`.
struct PlanFields {
  std::optional<std::vector<std::uint32_t>> cumulative_bp;
  std::optional<std::uint64_t> min_first_wave;
  std::optional<std::chrono::seconds> soak, hysteresis, max_wait;
  std::optional<std::uint32_t> updated_bp;
  std::optional<OnBad> on_critical;
  bool empty() const {
    return !cumulative_bp && !min_first_wave && !soak && !hysteresis && !max_wait && !updated_bp &&
           !on_critical;
  }
  friend bool operator==(const PlanFields&, const PlanFields&) = default;
};
// `base` with every field `fields` sets replaced.
Plan merged(Plan base, const PlanFields& fields);

// A share as the config and the API spell it ("10%", "0.5%" or "0.1") in basis points; an error
// (code invalid_value) unless above 0 and at most 100 %.
Expected<std::uint32_t> parse_share(std::string_view text);

std::uint32_t bucket(std::string_view agent_id, const ReleaseKey& release);

// Thresholds (exclusive upper bucket bounds) for each wave, given the buckets of the stable agents
// of the release's (os, arch) at the start of the rollout.
std::vector<std::uint32_t> thresholds(const Plan& plan, std::vector<std::uint32_t> agent_buckets);

// The wave (0-based) an agent with `bucket` belongs to under `thresholds`.
std::size_t wave_of(std::uint32_t bucket, const std::vector<std::uint32_t>& thresholds);

// What the gate remembers between evaluations of one rollout (persisted with the rollout).
struct Memory {
  std::size_t wave = 0;                    // the wave now open
  std::int64_t wave_opened_at = 0;         // Unix seconds
  std::optional<std::int64_t> updated_at;  // when the open wave counted as updated (soak start)
  std::optional<std::int64_t> bad_since;   // Critical/Blocked held since
  std::optional<std::int64_t> warn_since;  // Warning held since
  std::uint64_t prior_agents = 0;          // agents in the waves before the open one
  friend bool operator==(const Memory&, const Memory&) = default;
};

// The open wave as the store sees it now: agents in waves 0..wave, how many of them have a final
// outcome for this release, and the health of those outcomes.
struct Observation {
  std::uint64_t agents = 0;
  std::uint64_t reported = 0;
  Health health;
};

enum class Action { wait, advance, complete, pause, rollback };
std::string_view to_string(Action a);

struct Decision {
  Action action = Action::wait;
  // The rule that fired (or why it waits): healthy_soaked, last_wave_soaked, critical, blocked,
  // warning, inconclusive_sample, inconclusive_not_updated, soaking, updating, holding_bad,
  // holding_warning, no_new_agents.
  std::string rule;
  std::string message;  // a sentence for the page, the audit trail and webhooks
  Memory next;          // memory to persist (for advance: the next wave, freshly opened)
};

// One evaluation at `now`. `min_attempts` is the health engine's minimum sample (a wave smaller
// than that needs all its agents' outcomes instead).
//   Critical or Blocked held for `hysteresis` → rollback (or pause, per plan);
//   Warning held for `hysteresis` → pause;
//   the wave updated and soaked, Healthy now, nothing bad held → advance (complete after the last);
//   soaked but too few outcomes → pause (inconclusive_sample);
//   not updated after max_wait → pause (inconclusive_not_updated);
//   otherwise wait, saying what it waits for.
// A wave that lets in no agent beyond the previous ones (a small fleet) advances at once.
Decision evaluate(const Plan& plan, const Memory& memory, const Observation& seen,
                  std::uint64_t min_attempts, std::int64_t now);

// The memory for the next wave, opened at `now` after a wave of `agents` (automatic or manual).
Memory opened_next(const Memory& memory, std::uint64_t agents, std::int64_t now);
// After a pause, a resume watches the same wave afresh: holds cleared, the soak restarts once the
// wave counts as updated.
Memory resumed(const Memory& memory, std::int64_t now);

}  // namespace rollout::server::waves
