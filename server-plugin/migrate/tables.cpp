// The table list of moving up (tables.hpp) and the check that it covers both schemas.
#include "server-plugin/migrate/tables.hpp"

#include <map>
#include <set>

namespace rollout::server::migrate {
namespace {

constexpr auto I = ColumnKind::integer;
constexpr auto T = ColumnKind::text;
constexpr auto B = ColumnKind::boolean;

std::vector<TableSpec> make_tables() {
  std::vector<TableSpec> t;
  auto copy = [&](std::string name, std::string why, std::vector<Column> cols, std::string order_by,
                  std::string serial = "", bool generated = false) {
    t.push_back(TableSpec{std::move(name), Disposition::copy, std::move(why), std::move(cols),
                          std::move(order_by), std::move(serial), generated});
  };
  auto other = [&](std::string name, Disposition how, std::string why) {
    t.push_back(TableSpec{std::move(name), how, std::move(why), {}, "", "", false});
  };
  copy("releases", "the published releases, promotions and blocks",
       {{"version", T},
        {"os", T},
        {"arch", T},
        {"product", T},
        {"size", I},
        {"sha256", T},
        {"security_version", I},
        {"manifest", T},
        {"created_at", I},
        {"published_by", T},
        {"promoted_at", I},
        {"promotion_seq", I},
        {"blocked", B},
        {"blocked_reason", T}},
       "version, os, arch");
  copy("agents", "enrolled endpoints with their credentials, floors and last directives",
       {{"id", T},
        {"token_hash", T},
        {"hostname", T},
        {"machine_id", T},
        {"os", T},
        {"arch", T},
        {"current_version", T},
        {"client", T},
        {"site", T},
        {"channel_hint", T},
        {"state", T},
        {"security_floor", I},
        {"last_sequence", I},
        {"enrolled_at", I},
        {"last_checkin_at", I},
        {"directive_version", T},
        {"directive_action", T},
        {"directive_sequence", I},
        {"directive_expires_at", I},
        {"directive_envelope", T}},
       "id");
  copy("agent_releases", "the releases each agent may report on",
       {{"agent_id", T}, {"version", T}, {"os", T}, {"arch", T}, {"how", T}, {"first_at", I}},
       "agent_id, version, os, arch");
  copy("update_attempts", "every report, with its arrival number",
       {{"seq", I},
        {"id", T},
        {"agent_id", T},
        {"version", T},
        {"os", T},
        {"arch", T},
        {"from_version", T},
        {"outcome", T},
        {"stage", T},
        {"error_code", T},
        {"message", T},
        {"exit_code", I},
        {"signal", I},
        {"stderr_tail", T},
        {"occurred_at_us", I},
        {"received_at", I}},
       "seq", "seq", true);
  copy("latest_attempts", "each agent's latest outcome per release, as the counts read it",
       {{"version", T},
        {"os", T},
        {"arch", T},
        {"agent_id", T},
        {"outcome", T},
        {"occurred_at_us", I},
        {"attempt_seq", I}},
       "version, os, arch, agent_id");
  copy("rollout_events", "the audit trail, ids kept (webhook cursors point into it)",
       {{"id", I},
        {"at", I},
        {"user", T},
        {"action", T},
        {"version", T},
        {"os", T},
        {"arch", T},
        {"reason", T},
        {"force", B},
        {"health", T},
        {"detail", T}},
       "id", "id", false);
  copy("users", "operator accounts",
       {{"username", T}, {"password_hash", T}, {"role", T}, {"created_at", I}}, "username");
  copy("api_tokens", "API tokens (hashes), which scripts keep using after the move",
       {{"token_hash", T}, {"username", T}, {"name", T}, {"created_at", I}}, "token_hash");
  copy("policies", "channel, window and wave policies",
       {{"scope", T},
        {"scope_id", T},
        {"channel", T},
        {"window_start", T},
        {"window_end", T},
        {"rollout", T},
        {"waves", T}},
       "scope, scope_id");
  copy("logs", "the server log the Logs page shows (bounded by trim_logs)",
       {{"id", I}, {"at", I}, {"level", T}, {"component", T}, {"message", T}, {"fields", T}}, "id",
       "id", true);
  copy("rollouts", "rollouts in waves: plans, gate memory, states, revisions",
       {{"version", T},
        {"os", T},
        {"arch", T},
        {"group_key", T},
        {"previous_version", T},
        {"plan", T},
        {"thresholds", T},
        {"memory", T},
        {"state", T},
        {"rule", T},
        {"reason", T},
        {"rev", I},
        {"started_at", I},
        {"updated_at", I}},
       "version, os, arch, group_key");
  copy("webhooks", "subscriptions with their cursors (the durable outbox)",
       {{"id", T},
        {"url", T},
        {"secret", T},
        {"events", T},
        {"source", T},
        {"created_by", T},
        {"created_at", I},
        {"cursor", I},
        {"attempts", I},
        {"next_attempt_at", I}},
       "id");
  copy("webhook_deliveries", "the delivery log admins read",
       {{"id", I},
        {"webhook_id", T},
        {"event_id", I},
        {"event_type", T},
        {"attempt", I},
        {"status", I},
        {"outcome", T},
        {"error", T},
        {"at", I},
        {"duration_ms", I}},
       "id", "id", true);
  copy("notify_watch",
       "the health detector's last-seen states: without them every known transition would be "
       "announced again as a new audit event and webhook",
       {{"subject", T}, {"value", T}}, "subject");
  other("counters", Disposition::counters,
        "promotion_seq and attempts kept; attempts is also the floor of update_attempts.seq's "
        "identity");
  other("sessions", Disposition::transient,
        "browser logins expire within hours; operators sign in again on the new database, and "
        "no bearer secrets are carried over needlessly");
  other("rate_limits", Disposition::transient,
        "login token buckets refill within minutes; a full bucket has no row anyway");
  other("notify_lease", Disposition::transient,
        "which server delivers webhooks, until when: no server runs during the move, and the "
        "target keeps its own free lease row");
  other("schema_migrations", Disposition::bookkeeping, "each database's own schema history");
  for (const char* name : {"artifacts", "artifact_chunks", "artifact_uploads"}) {
    other(name, Disposition::artifacts,
          "PostgreSQL's artifact store (artifact_store: database): the artifact step streams "
          "each release's file from the source's data_dir into it");
  }
  return t;
}

using Schema = std::map<std::string, std::set<std::string>>;  // table -> columns

Expected<Schema> sqlite_schema(sqlite::Db& db) {
  auto q = db.prepare(
      "SELECT m.name, p.name FROM sqlite_master m, pragma_table_info(m.name) p "
      "WHERE m.type = 'table' AND m.name NOT LIKE 'sqlite\\_%' ESCAPE '\\'");
  if (!q) return q.error();
  Schema out;
  while (q->step()) out[q->text(0)].insert(q->text(1));
  if (auto st = q->status(); !st) return st.error();
  return out;
}

Expected<Schema> pg_schema(pg::Conn& conn) {
  auto r = conn.query(
      "SELECT c.table_name, c.column_name FROM information_schema.columns c "
      "JOIN information_schema.tables t USING (table_schema, table_name) "
      "WHERE c.table_schema = current_schema() AND t.table_type = 'BASE TABLE'");
  if (!r) return r.error();
  Schema out;
  for (int i = 0; i < r->rows(); ++i) out[r->text(i, 0)].insert(r->text(i, 1));
  return out;
}

Status compare(const Schema& schema, const std::string& side, bool sqlite) {
  const auto fail = [&](const std::string& what) -> Status {
    return make_error("schema_mismatch",
                      side + " " + what +
                          ": the migration's table list (server-plugin/migrate/tables.cpp) must "
                          "cover every table and column");
  };
  std::set<std::string> listed;
  for (const auto& t : tables()) {
    if (sqlite && t.how == Disposition::artifacts) continue;  // SQLite keeps artifacts as files
    listed.insert(t.name);
    auto it = schema.find(t.name);
    if (it == schema.end()) return fail("has no table " + t.name);
    if (t.how != Disposition::copy) continue;
    std::set<std::string> cols;
    for (const auto& c : t.columns) cols.insert(c.name);
    for (const auto& c : it->second) {
      if (!cols.count(c)) return fail("column " + t.name + "." + c + " is not in the list");
    }
    for (const auto& c : cols) {
      if (!it->second.count(c)) return fail("has no column " + t.name + "." + c);
    }
  }
  for (const auto& [name, cols] : schema) {
    if (!listed.count(name)) return fail("table " + name + " is not in the list");
  }
  return {};
}

}  // namespace

const std::vector<TableSpec>& tables() {
  static const std::vector<TableSpec> t = make_tables();
  return t;
}

bool is_artifact_table(const std::string& name) {
  for (const auto& t : tables()) {
    if (t.name == name) return t.how == Disposition::artifacts;
  }
  return false;
}

std::string quoted(const std::string& identifier) {
  return "\"" + identifier + "\"";
}

Status check_coverage(sqlite::Db& source, pg::Conn& target) {
  auto s = sqlite_schema(source);
  if (!s) return s.error().context("source schema");
  if (auto st = compare(*s, "the SQLite database", true); !st) return st;
  auto p = pg_schema(target);
  if (!p) return p.error().context("target schema");
  return compare(*p, "the PostgreSQL database", false);
}

}  // namespace rollout::server::migrate
