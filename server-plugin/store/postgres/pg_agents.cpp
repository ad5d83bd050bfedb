// Agents (enrollment, check-in state, the directive last issued to each) and the releases each
// agent may report on.
#include "server-plugin/store/postgres/pg_store.hpp"
#include "server-plugin/store/postgres/pg_store_rows.hpp"

namespace rollout::server::pg {
namespace {

#define AGENT_COLUMNS                                                                  \
  "id, token_hash, hostname, machine_id, os, arch, current_version, client, site, "    \
  "channel_hint, state, security_floor, last_sequence, enrolled_at, last_checkin_at, " \
  "directive_version, directive_action, directive_sequence, directive_expires_at, "    \
  "directive_envelope"

Agent read_agent(Row& r) {
  Agent a;
  a.id = r.s(0);
  a.token_hash = r.s(1);
  a.hostname = r.s(2);
  a.machine_id = r.s(3);
  a.os = r.s(4);
  a.arch = r.s(5);
  a.current_version = r.s(6);
  a.client = r.s(7);
  a.site = r.s(8);
  a.channel_hint = r.s(9);
  a.state = r.s(10);
  a.security_floor = r.u(11);
  a.last_sequence = r.u(12);
  a.enrolled_at = r.i(13);
  a.last_checkin_at = r.i(14);
  if (!r.null(15)) {
    a.directive = DirectiveRecord{r.s(15), r.s(16), r.u(17), r.i(18), r.s(19)};
  }
  return a;
}

}  // namespace

Status PgOps::insert_agent(const Agent& a) {
  Params p(a.id, a.token_hash, a.hostname, a.machine_id, a.os, a.arch, a.current_version, a.client,
           a.site, a.channel_hint, a.state);
  p.add(i64(a.security_floor)).add(i64(a.last_sequence)).add(a.enrolled_at).add(a.last_checkin_at);
  return run("insert_agent",
             "INSERT INTO agents (id, token_hash, hostname, machine_id, os, arch, "
             "current_version, client, site, channel_hint, state, security_floor, last_sequence, "
             "enrolled_at, last_checkin_at) "
             "VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12,$13,$14,$15)",
             p);
}

Expected<std::optional<Agent>> PgOps::agent_where(const char* name, const char* sql,
                                                  const std::string& value) {
  auto r = q(name, sql, Params(value));
  if (!r) return r.error();
  return first_row<Agent>(*r, read_agent);
}

Expected<std::optional<Agent>> PgOps::get_agent(const std::string& id) {
  return agent_where("get_agent", "SELECT " AGENT_COLUMNS " FROM agents WHERE id = $1", id);
}

Expected<std::optional<Agent>> PgOps::find_agent_by_token_hash(const std::string& hash) {
  return agent_where("find_agent_by_token_hash",
                     "SELECT " AGENT_COLUMNS " FROM agents WHERE token_hash = $1 LIMIT 1", hash);
}

Expected<std::optional<Agent>> PgOps::find_agent_by_machine_id(const std::string& machine_id) {
  return agent_where("find_agent_by_machine_id",
                     "SELECT " AGENT_COLUMNS " FROM agents WHERE machine_id = $1 LIMIT 1",
                     machine_id);
}

Expected<std::vector<Agent>> PgOps::list_agents() {
  auto r = q("list_agents", "SELECT " AGENT_COLUMNS " FROM agents ORDER BY id COLLATE \"C\"");
  if (!r) return r.error();
  return rows<Agent>(*r, read_agent);
}

Expected<std::vector<AgentGroup>> PgOps::agent_population() {
  auto r = q("agent_population",
             "SELECT current_version, os, arch, client, site, channel_hint, "
             "CASE WHEN id IN (SELECT scope_id FROM policies WHERE scope = 'agent') "
             "THEN id ELSE '' END, COUNT(*) FROM agents GROUP BY 1, 2, 3, 4, 5, 6, 7");
  if (!r) return r.error();
  return rows<AgentGroup>(*r, [](Row& x) {
    return AgentGroup{x.s(0), x.s(1), x.s(2), x.s(3), x.s(4), x.s(5), x.s(6), x.u(7)};
  });
}

Status PgOps::update_agent_checkin(const Agent& a) {
  return run("update_agent_checkin",
             "UPDATE agents SET current_version = $1, state = $2, "
             "security_floor = GREATEST(security_floor, $3::bigint), last_checkin_at = $4 "
             "WHERE id = $5",
             Params(a.current_version, a.state, i64(a.security_floor), a.last_checkin_at, a.id));
}

Status PgOps::set_agent_token(const std::string& id, const std::string& token_hash) {
  return run("set_agent_token", "UPDATE agents SET token_hash = $1 WHERE id = $2",
             Params(token_hash, id));
}

Expected<std::uint64_t> PgOps::next_directive_sequence(const std::string& agent_id) {
  // One statement, not a read and an add: two servers signing for one agent at once never issue
  // the same sequence (the second waits for the first's row lock, then adds to its value).
  auto r = q("next_directive_sequence",
             "UPDATE agents SET last_sequence = last_sequence + 1 WHERE id = $1 "
             "RETURNING last_sequence",
             Params(agent_id));
  if (!r) return r.error();
  if (r->rows() == 0) return make_error("not_found", "no agent " + agent_id);
  auto v = r->i64(0, 0);
  if (!v) return v.error();
  return static_cast<std::uint64_t>(*v);
}

Status PgOps::set_agent_directive(const std::string& id, const DirectiveRecord& d) {
  return run("set_agent_directive",
             "UPDATE agents SET directive_version = $1, directive_action = $2, "
             "directive_sequence = $3, directive_expires_at = $4, directive_envelope = $5, "
             "last_sequence = GREATEST(last_sequence, $3::bigint) WHERE id = $6",
             Params(d.version, d.action, i64(d.sequence), d.expires_at, d.envelope, id));
}

Status PgOps::add_agent_release(const AgentRelease& r) {
  // The first row wins: how an agent first came to a release is what its reports rest on.
  return run(
      "add_agent_release",
      "INSERT INTO agent_releases (agent_id, version, os, arch, how, first_at) "
      "VALUES ($1,$2,$3,$4,$5,$6) ON CONFLICT (agent_id, version, os, arch) DO NOTHING",
      Params(r.agent_id, r.release.version, r.release.os, r.release.arch, r.how, r.first_at));
}

Expected<std::optional<AgentRelease>> PgOps::get_agent_release(const std::string& agent_id,
                                                               const ReleaseKey& key) {
  auto r = q("get_agent_release",
             "SELECT how, first_at FROM agent_releases "
             "WHERE agent_id = $1 AND version = $2 AND os = $3 AND arch = $4",
             Params(agent_id, key.version, key.os, key.arch));
  if (!r) return r.error();
  return first_row<AgentRelease>(*r, [&](Row& x) {
    return AgentRelease{agent_id, key, x.s(0), x.i(1)};
  });
}

Expected<std::vector<AgentRelease>> PgOps::list_agent_releases(const std::string& agent_id) {
  auto r = q("list_agent_releases",
             "SELECT version, os, arch, how, first_at FROM agent_releases WHERE agent_id = $1 "
             "ORDER BY first_at, version COLLATE \"C\", os COLLATE \"C\", arch COLLATE \"C\"",
             Params(agent_id));
  if (!r) return r.error();
  return rows<AgentRelease>(*r, [&](Row& x) {
    return AgentRelease{agent_id, {x.s(0), x.s(1), x.s(2)}, x.s(3), x.i(4)};
  });
}

}  // namespace rollout::server::pg
