// Which release each channel should run, and which channel (and maintenance window) each agent
// is on. Channel targets per (os, arch): stable = the non-blocked release promoted most recently;
// beta = the newest non-blocked release newer than stable, else stable. An agent's channel comes
// from the first policy that sets one, agent -> site -> client -> default, then its enrollment
// hint, then stable; its window and its rollout style (waves, or all at once) the same way; its
// wave plan group from the policies in its chain that carry a plan.
// Pure functions over loaded rows.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "server-plugin/model.hpp"

namespace rollout::server {

struct Targets {
  std::optional<Release> stable;
  std::optional<Release> beta;
};

Targets channel_targets(const std::vector<Release>& releases, const std::string& os,
                        const std::string& arch);

struct Resolved {
  std::string channel;
  std::string channel_source;  // agent | site | client | default | enrollment | builtin
  std::optional<std::string> window_start;
  std::optional<std::string> window_end;
  std::string rollout = "waves";  // waves | all_at_once (a stable rollout in waves)
  // The rollout group: "default", or "<scope>:<scope_id>" of each policy (default aside) in the
  // chain with its own wave plan, nearest first, joined by ","; and the stored plan fields of
  // every policy in the chain that has some, nearest first (policy_plan::group_of merges them
  // over the server's plan).
  std::string plan_group = "default";
  std::vector<std::string> plan_fields;
};

Resolved resolve_policy(const Agent& agent, const std::vector<Policy>& policies);

// True when `minute_of_day` (UTC) lies in [start, end), windows may wrap past midnight; no
// window means always.
bool in_window(const Resolved& r, int minute_of_day);

}  // namespace rollout::server
