// A policy's own wave plan (issue #13): what PUT /api/policies accepts under "waves", its stored
// form (the policies table's `waves` column, migration 6) and an agent's rollout group.
//
//   "waves": {"steps": ["10%", "100%"], "soak": "30m", "hysteresis": "5m", "updated": "80%",
//             "max_wait": "24h", "min_first_wave": 5, "on_critical": "pause"}
//
// Every field is optional (at least one is needed; leave "waves" out for none) and unset fields
// are inherited, agent <- site <- client <- default <- the server's `waves:`. The fields are
// checked with waves::validate over the server's plan, the same rules as the config's.
//
// Groups: the agents whose chain of plan-carrying policies is the same form one rollout group,
// named by those policies nearest first ("site:lab", "client:acme", "site:lab,client:acme"),
// with its own waves from its own buckets, its own soak and gate. Naming the whole chain makes a
// group's merged plan one plan (two agents of site lab under different clients with plans of
// their own are two groups). Every agent with no plan-carrying policy but the default one is in
// the group "default" (the server's plan under the default policy's fields). Pure functions;
// thread-safe.
#pragma once

#include <boost/json.hpp>
#include <string>
#include <string_view>

#include "common/error.hpp"
#include "server-plugin/app/targets.hpp"
#include "server-plugin/waves.hpp"

namespace rollout::server::policy_plan {

// The API object; errors (code invalid_field) name "policy.waves" and the field.
Expected<waves::PlanFields> parse(const boost::json::object& o, const waves::Plan& server);

// The stored form: canonical JSON with basis points and seconds.
std::string to_json(const waves::PlanFields& f);
Expected<waves::PlanFields> from_json(std::string_view text);

// The API spelling again (steps and updated as percentages, durations in seconds), for GET.
boost::json::object to_api(const waves::PlanFields& f);

struct Group {
  std::string key = "default";
  waves::Plan plan;
};
// The agent's group and plan from its resolved policy chain (resolve_policy's plan_fields).
Expected<Group> group_of(const Resolved& r, const waves::Plan& server);

// "default" → "default rollout group"; "site:lab,client:acme" → "site lab, client acme".
std::string label(std::string_view key);

}  // namespace rollout::server::policy_plan
