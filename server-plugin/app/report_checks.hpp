// Which outcome reports an enrolled endpoint may make count (DESIGN.md §4 Health: every endpoint
// is untrusted). A report counts only for a published release of the reporting agent's own
// os/arch that the server directed that agent to (an install or downgrade directive it signed)
// or that the agent said it was running at a check-in while that release was published. The
// server remembers those releases per agent (Store::add_agent_release), written in the same
// transaction as the directive or the check-in; nothing else makes a release reportable, so a
// report refused now stays refused after a later publish. A rollback or block never takes a
// release away: reports about a release that went bad keep counting for it.
// Plain functions over the store; callers run them on the Tx of a Store transaction.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "common/error.hpp"
#include "server-plugin/model.hpp"
#include "server-plugin/store.hpp"

namespace rollout::server {

// Why a report was refused: a stable code (also the /metrics label) and a sentence for a human.
struct ReportRefusal {
  std::string id;      // the report's UUID
  std::string reason;  // other_platform | unknown_release | not_offered
  std::string message;
};

// The refusal of one report, or nullopt when it may count.
Expected<std::optional<ReportRefusal>> check_report(StoreOps& store, const Agent& agent,
                                                    const Attempt& report);

// Remembers that the agent ran `version` at a check-in, when that is a published release of its
// own os/arch (`releases` as the check-in transaction read them). Writes only the first time.
Status note_running_version(StoreOps& store, const Agent& agent,
                            const std::vector<Release>& releases, std::int64_t now);

// Remembers the release a directive just signed for the agent sends it to.
Status note_directed_release(StoreOps& store, const Agent& agent, const ReleaseKey& release,
                             const std::string& action, std::int64_t now);

}  // namespace rollout::server
