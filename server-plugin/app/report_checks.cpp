#include "server-plugin/app/report_checks.hpp"

namespace rollout::server {

namespace {

Expected<std::optional<ReportRefusal>> refuse(const Attempt& report, std::string reason,
                                              std::string message) {
  return std::optional<ReportRefusal>(
      ReportRefusal{report.id, std::move(reason), std::move(message)});
}

}  // namespace

Expected<std::optional<ReportRefusal>> check_report(StoreOps& store, const Agent& agent,
                                                    const Attempt& report) {
  const ReleaseKey& key = report.release;
  const std::string what = key.version + " " + key.os + "/" + key.arch;
  if (key.os != agent.os || key.arch != agent.arch) {
    return refuse(report, "other_platform",
                  "report " + report.id + " is for " + what + " but this agent enrolled as " +
                      agent.os + "/" + agent.arch + "; an agent reports only on its own " +
                      "platform's releases");
  }
  auto release = store.get_release(key);
  if (!release) return release.error();
  if (!*release) {
    return refuse(report, "unknown_release",
                  "report " + report.id + " is for " + what +
                      ", which is not a published release; it will not count even if " +
                      "that release is published later");
  }
  auto known = store.get_agent_release(agent.id, key);
  if (!known) return known.error();
  if (!*known) {
    return refuse(report, "not_offered",
                  "report " + report.id + " is for " + what +
                      ", which the server never directed this agent to and never saw it " +
                      "running at a check-in");
  }
  return std::optional<ReportRefusal>{};
}

Status note_running_version(StoreOps& store, const Agent& agent,
                            const std::vector<Release>& releases, std::int64_t now) {
  const ReleaseKey key{agent.current_version, agent.os, agent.arch};
  bool published = false;
  for (const auto& r : releases) published = published || r.key == key;
  if (!published) return {};
  // A read first: a steady fleet's check-ins then write nothing here.
  auto known = store.get_agent_release(agent.id, key);
  if (!known) return known.error();
  if (*known) return {};
  return store.add_agent_release(AgentRelease{agent.id, key, "running", now});
}

Status note_directed_release(StoreOps& store, const Agent& agent, const ReleaseKey& release,
                             const std::string& action, std::int64_t now) {
  return store.add_agent_release(AgentRelease{agent.id, release, action, now});
}

}  // namespace rollout::server
