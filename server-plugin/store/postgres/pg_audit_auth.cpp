// The audit trail (append-only, ids in commit order: pg_migrations.cpp), the login records
// (users, sessions, API tokens), policies and the server log table.
#include "server-plugin/store/postgres/pg_store.hpp"
#include "server-plugin/store/postgres/pg_store_rows.hpp"

namespace rollout::server::pg {

Event read_event(Row& x) {
  return Event{x.i(0), x.i(1), x.s(2), x.s(3), x.s(4), x.s(5),
               x.s(6), x.s(7), x.b(8), x.s(9), x.s(10)};
}

Expected<std::int64_t> PgOps::append_event(const Event& e) {
  auto r = q("append_event",
             "INSERT INTO rollout_events (at, \"user\", action, version, os, arch, reason, force, "
             "health, detail) VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10) RETURNING id",
             Params(e.at, e.user, e.action, e.version, e.os, e.arch, e.reason, e.force,
                    e.health_json.empty() ? std::string("{}") : e.health_json,
                    e.detail_json.empty() ? std::string("{}") : e.detail_json));
  if (!r) return r.error();
  return r->i64(0, 0);
}

Expected<std::vector<Event>> PgOps::list_events(std::int64_t before_id, std::size_t limit,
                                                const std::optional<ReleaseKey>& key) {
  auto r = q("list_events",
             "SELECT " PG_EVENT_COLUMNS
             " FROM rollout_events WHERE ($1::bigint = 0 OR id < $1::bigint) AND "
             "(NOT $2::boolean OR (version = $3 AND os = $4 AND arch = $5)) "
             "ORDER BY id DESC LIMIT $6",
             Params(before_id, key.has_value(), key ? key->version : std::string(),
                    key ? key->os : std::string(), key ? key->arch : std::string(),
                    static_cast<std::int64_t>(limit)));
  if (!r) return r.error();
  return rows<Event>(*r, read_event);
}

Status PgOps::insert_user(const User& u) {
  auto r = q("insert_user",
             "INSERT INTO users (username, password_hash, role, created_at) "
             "VALUES ($1, $2, $3, EXTRACT(EPOCH FROM now())::bigint)",
             Params(u.username, u.password_hash, u.role));
  if (r) return {};
  if (r.error().code == "unique_violation" || r.error().code == "constraint") {
    return make_error("duplicate_user", "user '" + u.username + "' exists or the role is invalid");
  }
  return r.error();
}

Expected<std::optional<User>> PgOps::get_user(const std::string& username) {
  auto r = q("get_user", "SELECT username, password_hash, role FROM users WHERE username = $1",
             Params(username));
  if (!r) return r.error();
  return first_row<User>(*r, [](Row& x) { return User{x.s(0), x.s(1), x.s(2)}; });
}

Expected<std::size_t> PgOps::user_count() {
  auto r = q("user_count", "SELECT COUNT(*) FROM users");
  if (!r) return r.error();
  auto v = r->i64(0, 0);
  if (!v) return v.error();
  return static_cast<std::size_t>(*v);
}

Status PgOps::insert_session(const Session& s) {
  return run("insert_session",
             "INSERT INTO sessions (token_hash, username, csrf_token, expires_at) "
             "VALUES ($1,$2,$3,$4)",
             Params(s.token_hash, s.username, s.csrf_token, s.expires_at));
}

Expected<std::optional<Session>> PgOps::get_session(const std::string& token_hash) {
  auto r = q("get_session",
             "SELECT token_hash, username, csrf_token, expires_at FROM sessions "
             "WHERE token_hash = $1",
             Params(token_hash));
  if (!r) return r.error();
  return first_row<Session>(*r, [](Row& x) { return Session{x.s(0), x.s(1), x.s(2), x.i(3)}; });
}

Status PgOps::delete_session(const std::string& token_hash) {
  return run("delete_session", "DELETE FROM sessions WHERE token_hash = $1", Params(token_hash));
}

Status PgOps::insert_api_token(const ApiToken& t) {
  return run("insert_api_token",
             "INSERT INTO api_tokens (token_hash, username, name, created_at) VALUES ($1,$2,$3,$4)",
             Params(t.token_hash, t.username, t.name, t.created_at));
}

Expected<std::optional<ApiToken>> PgOps::get_api_token(const std::string& token_hash) {
  auto r = q("get_api_token",
             "SELECT token_hash, username, name, created_at FROM api_tokens WHERE token_hash = $1",
             Params(token_hash));
  if (!r) return r.error();
  return first_row<ApiToken>(*r, [](Row& x) { return ApiToken{x.s(0), x.s(1), x.s(2), x.i(3)}; });
}

Status PgOps::put_policy(const Policy& p) {
  return atomic([&]() -> Status {
    auto st = run(
        "put_policy",
        "INSERT INTO policies (scope, scope_id, channel, window_start, window_end, rollout, "
        "waves) VALUES ($1,$2,$3,$4,$5,$6,$7) "
        "ON CONFLICT (scope, scope_id) DO UPDATE SET channel = excluded.channel, "
        "window_start = excluded.window_start, window_end = excluded.window_end, "
        "rollout = excluded.rollout, waves = excluded.waves",
        Params(p.scope, p.scope_id, p.channel, p.window_start, p.window_end, p.rollout, p.waves));
    return st ? notify_targets() : st;
  });
}

Expected<std::vector<Policy>> PgOps::list_policies() {
  auto r = q("list_policies",
             "SELECT scope, scope_id, channel, window_start, window_end, rollout, waves "
             "FROM policies ORDER BY scope COLLATE \"C\", scope_id COLLATE \"C\"");
  if (!r) return r.error();
  return rows<Policy>(*r, [](Row& x) {
    return Policy{x.s(0), x.s(1), x.os(2), x.os(3), x.os(4), x.os(5), x.os(6)};
  });
}

Status PgOps::append_log(const LogEntry& e) {
  return run("append_log",
             "INSERT INTO logs (at, level, component, message, fields) VALUES ($1,$2,$3,$4,$5)",
             Params(e.at, e.level, e.component, e.message,
                    e.fields_json.empty() ? std::string("{}") : e.fields_json));
}

Status PgOps::trim_logs(std::uint64_t keep) {
  // The newest `keep` rows by id; a row being inserted meanwhile is newer than all of them.
  return run("trim_logs", "DELETE FROM logs WHERE id <= (SELECT max(id) FROM logs) - $1::bigint",
             Params(i64(keep)));
}

Expected<std::vector<LogEntry>> PgOps::query_logs(const std::string& text,
                                                  const std::string& min_level, std::size_t limit) {
  // strpos() rather than LIKE: the user's text is matched literally, '%' and '_' included.
  auto r = q("query_logs",
             "SELECT id, at, level, component, message, fields FROM logs "
             "WHERE ($1::text = '' OR strpos(lower(message || ' ' || component || ' ' || fields), "
             "lower($1::text)) > 0) "
             "AND (CASE level WHEN 'debug' THEN 0 WHEN 'info' THEN 1 WHEN 'warn' THEN 2 ELSE 3 "
             "END) >= (CASE $2::text WHEN 'info' THEN 1 WHEN 'warn' THEN 2 WHEN 'error' THEN 3 "
             "ELSE 0 END) ORDER BY id DESC LIMIT $3",
             Params(text, min_level, static_cast<std::int64_t>(limit)));
  if (!r) return r.error();
  return rows<LogEntry>(
      *r, [](Row& x) { return LogEntry{x.i(0), x.i(1), x.s(2), x.s(3), x.s(4), x.s(5)}; });
}

}  // namespace rollout::server::pg
