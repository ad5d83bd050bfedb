// What wave_rollouts.cpp (the gate's side) and wave_control.cpp (manual control and the
// table's view) share: applying one change to a rollout exactly once, the audit row of a
// transition, and the rows both read. Internal to server-plugin/app.
#pragma once

#include <optional>
#include <vector>

#include "server-plugin/app/rollback.hpp"
#include "server-plugin/app/wave_rollouts.hpp"

namespace rollout::server::wave_rollouts::detail {

// One applied change: the new row (rev + 1) and the audit row to write with it, if any.
struct Change {
  Live next;
  std::optional<Event> event;
  std::optional<RollbackRequest> rollback;
};

// Writes `c` if the stored rollout is still at `expected_rev`, with its audit row and rollback,
// in one transaction (retried on a store conflict). False when another writer got there first
// (nothing written).
Expected<bool> apply(AppState& s, const Change& c, std::uint64_t expected_rev);

// The audit row of a rollout transition (wave, waves merged into `detail`).
Event rollout_event(AppState& s, const Live& l, const std::string& action, const std::string& actor,
                    const std::string& reason, const Health& h, boost::json::object detail);

struct Loaded {
  std::vector<Release> releases;
  std::vector<Agent> agents;
  std::vector<Policy> policies;
};
Expected<Loaded> load(AppState& s);
const Release* find(const std::vector<Release>& releases, const ReleaseKey& key);

}  // namespace rollout::server::wave_rollouts::detail
