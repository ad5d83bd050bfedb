// Rolling a release back: the one implementation behind the manual rollback (POST .../rollback),
// a wave rollout's abort and the gate's automatic rollback. The release becomes Blocked, the
// previous stable release becomes the target again (channel_targets), every agent on it gets a
// downgrade directive at its next check-in, a rollout of it in progress ends rolled_back, and the
// audit row is written. Runs on the Tx of the caller's Store::transaction, so a failure of any step
// (or of the caller's own step after it) leaves everything as it was. It takes the release row's
// lock first (Tx::lock_release): two servers rolling back, or one promoting while another rolls
// back, decide one after the other on what the first committed.
#pragma once

#include <boost/json.hpp>
#include <optional>
#include <string>

#include "server-plugin/app/state.hpp"

namespace rollout::server {

struct RollbackRequest {
  ReleaseKey key;
  std::string actor;   // the user, or "system" for the gate
  std::string reason;  // required, non-blank
  // The rollout's rule ("manual" for a person) kept on the rollout row.
  std::string rule = "manual";
  // The health snapshot for the audit row; the release's whole health when empty.
  std::string health_json;
  boost::json::object extra_detail;  // merged into the audit row's detail
};

struct RollbackResult {
  enum class Kind { done, not_found, already_blocked, no_fallback } kind = Kind::done;
  std::string fallback_version;
  std::uint64_t downgraded_agents = 0;
  std::string message;  // for the refusals
};

Expected<RollbackResult> roll_back(AppState& s, Tx& tx, const RollbackRequest& req);

// The HTTP answer to a refused rollback (404 not_found, 409 already_blocked or
// no_fallback_version with its message); nothing for a done one.
std::optional<http::Response> refusal_response(const RollbackResult& r);

}  // namespace rollout::server
