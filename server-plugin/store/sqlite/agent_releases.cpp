// The releases each agent may report on, and the reads behind the report checks: is a report id
// stored already, and how many rows has one agent added lately.
#include "server-plugin/store/sqlite/sqlite_store.hpp"

namespace rollout::server::sqlite {

Status SqliteOps::add_agent_release(const AgentRelease& r) {
  std::lock_guard lock(mu_);
  // The first row wins: how an agent first came to a release is what its reports rest on.
  auto s = db_.prepare(
      "INSERT INTO agent_releases (agent_id, version, os, arch, how, first_at) "
      "VALUES (?,?,?,?,?,?) ON CONFLICT (agent_id, version, os, arch) DO NOTHING");
  if (!s) return s.error();
  s->bind(1, r.agent_id).bind(2, r.release.version).bind(3, r.release.os);
  s->bind(4, r.release.arch).bind(5, r.how).bind(6, r.first_at);
  return s->run();
}

Expected<std::optional<AgentRelease>> SqliteOps::get_agent_release(const std::string& agent_id,
                                                                   const ReleaseKey& key) {
  std::lock_guard lock(mu_);
  auto s = db_.prepare(
      "SELECT how, first_at FROM agent_releases "
      "WHERE agent_id = ? AND version = ? AND os = ? AND arch = ?");
  if (!s) return s.error();
  s->bind(1, agent_id).bind(2, key.version).bind(3, key.os).bind(4, key.arch);
  std::optional<AgentRelease> out;
  if (s->step()) out = AgentRelease{agent_id, key, s->text(0), s->i64(1)};
  if (auto st = s->status(); !st) return st.error();
  return out;
}

Expected<std::vector<AgentRelease>> SqliteOps::list_agent_releases(const std::string& agent_id) {
  std::lock_guard lock(mu_);
  auto s = db_.prepare(
      "SELECT version, os, arch, how, first_at FROM agent_releases WHERE agent_id = ? "
      "ORDER BY first_at, version, os, arch");
  if (!s) return s.error();
  s->bind(1, agent_id);
  std::vector<AgentRelease> out;
  while (s->step()) {
    out.push_back(
        AgentRelease{agent_id, {s->text(0), s->text(1), s->text(2)}, s->text(3), s->i64(4)});
  }
  if (auto st = s->status(); !st) return st.error();
  return out;
}

Expected<bool> SqliteOps::has_attempt(const std::string& id) {
  std::lock_guard lock(mu_);
  auto s = db_.prepare("SELECT 1 FROM update_attempts WHERE id = ?");
  if (!s) return s.error();
  s->bind(1, id);
  const bool found = s->step();
  if (auto st = s->status(); !st) return st.error();
  return found;
}

Expected<AttemptWindow> SqliteOps::agent_attempt_window(const std::string& agent_id,
                                                        std::int64_t since) {
  std::lock_guard lock(mu_);
  // attempts_agent (agent_id, received_at) bounds this to the agent's recent rows.
  auto s = db_.prepare(
      "SELECT COUNT(*), COALESCE(MIN(received_at), 0) FROM update_attempts "
      "WHERE agent_id = ? AND received_at >= ?");
  if (!s) return s.error();
  s->bind(1, agent_id).bind(2, since);
  AttemptWindow w;
  if (s->step()) w = AttemptWindow{s->u64(0), s->i64(1)};
  if (auto st = s->status(); !st) return st.error();
  return w;
}

}  // namespace rollout::server::sqlite
