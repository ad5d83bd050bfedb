// Named fault-injection points for crash-safety tests. ROLLOUT_CRASH_POINT("after_stage")
// compiles to nothing unless ROLLOUT_FAULT_INJECTION is defined (test builds only). When it is,
// the process kills itself as kill -9 would — no destructors, no flushing — if the environment
// variable ROLLOUT_CRASH_AT names the point: "after_stage" for its first hit, "after_stage#3"
// for its third (points on a shared path such as a journal write are hit several times per
// update). Tests may also observe every point passed (set_crash_point_observer) to enumerate
// the points a flow reaches and then crash at each in turn.
//
// Thread-safe: hit counters are guarded by a mutex. Points used by the installer and journal:
//   journal_before_write, journal_after_write, mid_stage, after_stage, before_switch,
//   after_switch, before_revert, after_revert, before_commit, after_commit.
#pragma once

#include <functional>
#include <string_view>

namespace rollout::agent {

using CrashPointObserver = std::function<void(std::string_view name)>;

// Called on every point passed (before the crash decision). Pass an empty function to stop.
void set_crash_point_observer(CrashPointObserver observer);
// Forgets how often each point was hit (so "name#N" counts from now).
void reset_crash_point_counts();

namespace detail {
void crash_point(std::string_view name);
}  // namespace detail

}  // namespace rollout::agent

#if defined(ROLLOUT_FAULT_INJECTION)
#define ROLLOUT_CRASH_POINT(name) ::rollout::agent::detail::crash_point(name)
#else
#define ROLLOUT_CRASH_POINT(name) \
  do {                            \
  } while (false)
#endif
