// Stable rollouts in waves, wired into the server (issue #13): starting one at promotion, which
// release a stable agent gets at check-in while one is in progress, what the gate sees (the
// stable agents of the release's (os, arch) in the waves let in so far and their latest outcomes
// for it), and applying decisions, automatic or manual, exactly once: every change is a
// conditional update on the rollout's revision, made in one transaction with its audit row and
// (for a rollback) the rollback itself. State lives in the store, so a restarted server resumes
// where it was. Functions over AppState; thread-safe as the Store is.
#pragma once

#include <boost/json.hpp>
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

Expected<Live> decode(const RolloutRecord& rec);
// Writes plan, thresholds and memory back into rec's JSON columns.
void encode(Live& live);

// Called inside the promotion's transaction, right after set_promoted: starts a rollout of `rel`
// with the configured plan, thresholds fixed from the stable agents of its (os, arch) now. No
// rollout (every stable agent moves at once) when the plan is all at once or there is no
// previous stable release to hold the others on. Any other rollout of that (os, arch) still in
// progress is superseded (complete, rule "superseded").
Status start(AppState& s, const Release& rel, const std::optional<Release>& previous,
             const std::string& actor, const std::string& health_json);

// The release a stable agent should run. `held` when a rollout of the stable target is in
// progress and the agent's wave is not open yet: then `target` is the previous stable (or none),
// and the caller never downgrades an agent on account of it.
struct StableTarget {
  std::optional<Release> target;
  bool held = false;
};
// `pol` is the agent's resolved policy: rollout "all_at_once" lets it in with wave 1.
Expected<StableTarget> stable_target(Store& store, const Agent& agent, const Resolved& pol,
                                     const Targets& t, const std::vector<Release>& releases);

// What the gate sees of one rollout, and each wave's own counts for the page.
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
                       const std::vector<Agent>& agents, const std::vector<Policy>& policies);

// Evaluates every rollout in progress (or only those of `only`) at s.now() and applies what the
// gate decides. The number of transitions made (waits that only update the memory not counted).
Expected<std::size_t> evaluate(AppState& s, const std::optional<std::set<ReleaseKey>>& only = {});

// Manual control from the API: pause, resume, advance (the next wave now), all (everyone now),
// abort (a rollback). The HTTP answer to send.
enum class Manual { pause, resume, advance, all, abort };
http::Response manual(AppState& s, const ReleaseKey& key, Manual what, const std::string& user,
                      const std::string& reason);

// The "waves" object of a row of GET /api/updates/rollouts: with the counts for a rollout in
// progress, or only the end state (state, rule, reason, wave, waves) for a finished one.
boost::json::object end_state_json(const Live& live);
boost::json::object progress_json(AppState& s, const Live& live, const Seen& seen,
                                  const Release& rel);

}  // namespace rollout::server::wave_rollouts
