// Stable rollouts in waves, wired into the server (issue #13): starting one at promotion, which
// release a stable agent gets at check-in while one is in progress, what the gate sees (the
// stable agents of the release's (os, arch) in the waves let in so far and their latest outcomes
// for it), and applying decisions, automatic or manual, exactly once: every change is a
// conditional update on the rollout's revision, made in one transaction with its audit row and
// (for a rollback) the rollback itself. State lives in the store, so a restarted server resumes
// where it was. Functions over AppState; thread-safe as the Store is.
//
// Rollout groups (per-policy plans): a release's rollout is one row per group, "default" (the
// server's `waves:` under the default policy's fields) and one per chain of plan-carrying
// policies its stable agents had when it started (Resolved::plan_group). Each group has its own
// plan, thresholds from its own agents' buckets, gate, state and revision; a group's rollback
// rolls the whole release back, a pause pauses only that group. An agent whose group has no row
// (its policy got a plan after the start) follows the default group; an agent moved between
// groups keeps its bucket (the hash of agent and release) and is judged by its new group's
// thresholds and open wave. The rows of one rollout share `started_at`; rows of an earlier
// rollout of the same release (promoted again) that the new one did not write are ignored.
#pragma once

#include <boost/json.hpp>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "server-plugin/app/state.hpp"
#include "server-plugin/app/targets.hpp"
#include "server-plugin/waves.hpp"

namespace rollout::server::wave_rollouts {

// A stored rollout, decoded.
struct Live {
  RolloutRecord rec;
  waves::Plan plan;
  std::vector<std::uint32_t> thresholds;
  waves::Memory memory;
  bool in_progress() const { return rec.state == "rolling_out" || rec.state == "paused"; }
  std::size_t wave_count() const { return plan.cumulative_bp.size(); }
};
// A release's current rows (see above), default group first.
std::vector<Live> current(std::vector<Live> rows);
Expected<std::vector<Live>> rows_of(StoreOps& store, const ReleaseKey& key);
std::set<std::string> group_keys(const std::vector<Live>& rows);

Expected<Live> decode(const RolloutRecord& rec);
// Writes plan, thresholds and memory back into rec's JSON columns.
void encode(Live& live);

// Called on the promotion's Tx, right after set_promoted: starts a rollout of `rel`
// with a row per group, each with its plan and thresholds fixed from its stable agents of the
// (os, arch) now. No rollout (every stable agent moves at once) when every group's plan is all at
// once or there is no previous stable release to hold the others on. Any other rollout of that (os,
// arch) still in progress is superseded (complete, rule "superseded").
Status start(AppState& s, Tx& tx, const Release& rel, const std::optional<Release>& previous,
             const std::string& actor, const std::string& health_json);

// The release a stable agent should run. `held` when a rollout of the stable target is in
// progress and the agent's wave is not open yet: then `target` is the previous stable (or none),
// and the caller never downgrades an agent on account of it.
struct StableTarget {
  std::optional<Release> target;
  bool held = false;
};
// `pol` is the agent's resolved policy: rollout "all_at_once" lets it in with wave 1.
Expected<StableTarget> stable_target(StoreOps& store, const Agent& agent, const Resolved& pol,
                                     const Targets& t, const std::vector<Release>& releases);

// What the gate sees of one group's rollout, and each wave's own counts for the page. `groups`
// are the release's current group keys (an agent whose group has none counts as default's).
struct WaveCounts {
  std::uint64_t agents = 0, on_release = 0, success = 0, failure = 0, crash = 0;
};
struct Seen {
  waves::Observation observation;  // waves 0..open
  std::vector<WaveCounts> per_wave;
  std::uint64_t stable_agents = 0;  // of the (os, arch), all waves
  std::uint64_t on_release = 0;     // of those, running the release now
};
Expected<Seen> observe(AppState& s, const Live& live, const Release& rel,
                       const std::vector<Agent>& agents, const std::vector<Policy>& policies,
                       const std::set<std::string>& groups);

// Evaluates every rollout in progress (or only those of `only`) at s.now() and applies what the
// gate decides. The number of transitions made (waits that only update the memory not counted).
Expected<std::size_t> evaluate(AppState& s, const std::optional<std::set<ReleaseKey>>& only = {});

// Manual control from the API: pause, resume, advance (the next wave now), all (everyone now),
// abort (a rollback, always of the whole release). Every group of the release that can take the
// step takes it (one audit row each), or only `group`. The HTTP answer to send.
enum class Manual { pause, resume, advance, all, abort };
http::Response manual(AppState& s, const ReleaseKey& key, Manual what, const std::string& user,
                      const std::string& reason, const std::optional<std::string>& group = {});

// The "waves" object of each row of GET /api/updates/rollouts, by release: the default group's
// view (with the counts for a group in progress, or only the end state — state, rule, reason,
// wave, waves — for a finished one), and with more than one group every group's view in
// "groups". Loads the agents only when a group is in progress.
Expected<std::map<ReleaseKey, boost::json::object>> table_view(AppState& s,
                                                               const std::vector<Release>& releases,
                                                               const std::vector<Policy>& policies);

}  // namespace rollout::server::wave_rollouts
