// Agents: enrollment, check-in state and the directive last issued to each.
#include "server-plugin/store/sqlite/sqlite_store.hpp"

namespace rollout::server::sqlite {
namespace {

constexpr const char* kAgentColumns =
    "id, token_hash, hostname, machine_id, os, arch, current_version, client, site, channel_hint, "
    "state, security_floor, last_sequence, enrolled_at, last_checkin_at, directive_version, "
    "directive_action, directive_sequence, directive_expires_at, directive_envelope";

Agent read_agent(const Stmt& s) {
  Agent a;
  a.id = s.text(0);
  a.token_hash = s.text(1);
  a.hostname = s.text(2);
  a.machine_id = s.text(3);
  a.os = s.text(4);
  a.arch = s.text(5);
  a.current_version = s.text(6);
  a.client = s.text(7);
  a.site = s.text(8);
  a.channel_hint = s.text(9);
  a.state = s.text(10);
  a.security_floor = s.u64(11);
  a.last_sequence = s.u64(12);
  a.enrolled_at = s.i64(13);
  a.last_checkin_at = s.i64(14);
  if (!s.is_null(15)) {
    a.directive = DirectiveRecord{s.text(15), s.text(16), s.u64(17), s.i64(18), s.text(19)};
  }
  return a;
}

}  // namespace

Status SqliteOps::insert_agent(const Agent& a) {
  std::lock_guard lock(mu_);
  auto s = db_.prepare(
      "INSERT INTO agents (id, token_hash, hostname, machine_id, os, arch, current_version, "
      "client, "
      "site, channel_hint, state, security_floor, last_sequence, enrolled_at, last_checkin_at) "
      "VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)");
  if (!s) return s.error();
  s->bind(1, a.id).bind(2, a.token_hash).bind(3, a.hostname).bind(4, a.machine_id).bind(5, a.os);
  s->bind(6, a.arch).bind(7, a.current_version).bind(8, a.client).bind(9, a.site);
  s->bind(10, a.channel_hint)
      .bind(11, a.state)
      .bind(12, a.security_floor)
      .bind(13, a.last_sequence);
  s->bind(14, a.enrolled_at).bind(15, a.last_checkin_at);
  return s->run();
}

Expected<std::optional<Agent>> SqliteOps::agent_where(std::string_view where,
                                                      const std::string& value) {
  std::lock_guard lock(mu_);
  auto s = db_.prepare(std::string("SELECT ") + kAgentColumns + " FROM agents WHERE " +
                       std::string(where) + " = ? LIMIT 1");
  if (!s) return s.error();
  s->bind(1, value);
  if (s->step()) return std::optional<Agent>(read_agent(*s));
  if (auto st = s->status(); !st) return st.error();
  return std::optional<Agent>();
}

Expected<std::optional<Agent>> SqliteOps::get_agent(const std::string& id) {
  return agent_where("id", id);
}

Expected<std::optional<Agent>> SqliteOps::find_agent_by_token_hash(const std::string& hash) {
  return agent_where("token_hash", hash);
}

Expected<std::optional<Agent>> SqliteOps::find_agent_by_machine_id(const std::string& machine_id) {
  return agent_where("machine_id", machine_id);
}

Expected<std::vector<Agent>> SqliteOps::list_agents() {
  std::lock_guard lock(mu_);
  auto s = db_.prepare(std::string("SELECT ") + kAgentColumns + " FROM agents ORDER BY id");
  if (!s) return s.error();
  std::vector<Agent> out;
  while (s->step()) out.push_back(read_agent(*s));
  if (auto st = s->status(); !st) return st.error();
  return out;
}

Expected<std::vector<AgentGroup>> SqliteOps::agent_population() {
  std::lock_guard lock(mu_);
  auto s = db_.prepare(
      "SELECT current_version, os, arch, client, site, channel_hint, "
      "CASE WHEN id IN (SELECT scope_id FROM policies WHERE scope = 'agent') THEN id ELSE '' END, "
      "COUNT(*) FROM agents GROUP BY 1, 2, 3, 4, 5, 6, 7");
  if (!s) return s.error();
  std::vector<AgentGroup> out;
  while (s->step()) {
    out.push_back(AgentGroup{s->text(0), s->text(1), s->text(2), s->text(3), s->text(4), s->text(5),
                             s->text(6), s->u64(7)});
  }
  if (auto st = s->status(); !st) return st.error();
  return out;
}

Status SqliteOps::update_agent_checkin(const Agent& a) {
  std::lock_guard lock(mu_);
  auto s = db_.prepare(
      "UPDATE agents SET current_version = ?, state = ?, security_floor = MAX(security_floor, ?), "
      "last_checkin_at = ? WHERE id = ?");
  if (!s) return s.error();
  s->bind(1, a.current_version)
      .bind(2, a.state)
      .bind(3, a.security_floor)
      .bind(4, a.last_checkin_at);
  s->bind(5, a.id);
  return s->run();
}

Status SqliteOps::set_agent_token(const std::string& id, const std::string& token_hash) {
  std::lock_guard lock(mu_);
  auto s = db_.prepare("UPDATE agents SET token_hash = ? WHERE id = ?");
  if (!s) return s.error();
  s->bind(1, token_hash).bind(2, id);
  return s->run();
}

Expected<std::uint64_t> SqliteOps::next_directive_sequence(const std::string& agent_id) {
  std::lock_guard lock(mu_);
  // One statement, not a read and an add: two servers signing for one agent at once never issue
  // the same sequence.
  auto s = db_.prepare(
      "UPDATE agents SET last_sequence = last_sequence + 1 WHERE id = ? RETURNING last_sequence");
  if (!s) return s.error();
  s->bind(1, agent_id);
  if (s->step()) return s->u64(0);
  if (auto st = s->status(); !st) return st.error();
  return make_error("not_found", "no agent " + agent_id);
}

Status SqliteOps::set_agent_directive(const std::string& id, const DirectiveRecord& d) {
  std::lock_guard lock(mu_);
  auto s = db_.prepare(
      "UPDATE agents SET directive_version = ?, directive_action = ?, directive_sequence = ?, "
      "directive_expires_at = ?, directive_envelope = ?, last_sequence = MAX(last_sequence, ?) "
      "WHERE id = ?");
  if (!s) return s.error();
  s->bind(1, d.version).bind(2, d.action).bind(3, d.sequence).bind(4, d.expires_at);
  s->bind(5, d.envelope).bind(6, d.sequence).bind(7, id);
  return s->run();
}

}  // namespace rollout::server::sqlite
