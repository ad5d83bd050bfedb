// The audit trail (append-only) and the login records: users, sessions, API tokens.
#include "server-plugin/store/sqlite/sqlite_store.hpp"

namespace rollout::server::sqlite {

Expected<std::vector<Event>> read_events(Stmt& s) {
  std::vector<Event> out;
  while (s.step()) {
    out.push_back(Event{s.i64(0), s.i64(1), s.text(2), s.text(3), s.text(4), s.text(5), s.text(6),
                        s.text(7), s.i64(8) != 0, s.text(9), s.text(10)});
  }
  if (auto st = s.status(); !st) return st.error();
  return out;
}

Expected<std::int64_t> SqliteOps::append_event(const Event& e) {
  std::lock_guard lock(mu_);
  auto s = db_.prepare(
      "INSERT INTO rollout_events (at, user, action, version, os, arch, reason, force, health, "
      "detail) "
      "VALUES (?,?,?,?,?,?,?,?,?,?) RETURNING id");
  if (!s) return s.error();
  s->bind(1, e.at)
      .bind(2, e.user)
      .bind(3, e.action)
      .bind(4, e.version)
      .bind(5, e.os)
      .bind(6, e.arch);
  s->bind(7, e.reason).bind(8, e.force).bind(9, e.health_json.empty() ? "{}" : e.health_json);
  s->bind(10, e.detail_json.empty() ? "{}" : e.detail_json);
  // The id SQLite gives (max + 1 under its one writer) grows in commit order, which webhook
  // cursors rely on (SCHEMA.md).
  const std::int64_t id = s->step() ? s->i64(0) : 0;
  if (auto st = s->run(); !st) return st.error();
  return id;
}

Expected<std::vector<Event>> SqliteOps::list_events(std::int64_t before_id, std::size_t limit,
                                                    const std::optional<ReleaseKey>& key) {
  std::lock_guard lock(mu_);
  auto s =
      db_.prepare(std::string("SELECT ") + kEventColumns +
                  " FROM rollout_events "
                  "WHERE (? = 0 OR id < ?) AND (? = 0 OR (version = ? AND os = ? AND arch = ?)) "
                  "ORDER BY id DESC LIMIT ?");
  if (!s) return s.error();
  s->bind(1, before_id).bind(2, before_id).bind(3, key.has_value());
  s->bind(4, key ? key->version : "").bind(5, key ? key->os : "").bind(6, key ? key->arch : "");
  s->bind(7, static_cast<std::int64_t>(limit));
  return read_events(*s);
}

Status SqliteOps::insert_user(const User& u) {
  std::lock_guard lock(mu_);
  auto s = db_.prepare(
      "INSERT INTO users (username, password_hash, role, created_at) VALUES (?, ?, ?, "
      "strftime('%s','now'))");
  if (!s) return s.error();
  s->bind(1, u.username).bind(2, u.password_hash).bind(3, u.role);
  auto st = s->run();
  if (!st && st.error().code == "constraint") {
    return make_error("duplicate_user", "user '" + u.username + "' exists or the role is invalid");
  }
  return st;
}

Expected<std::optional<User>> SqliteOps::get_user(const std::string& username) {
  std::lock_guard lock(mu_);
  auto s = db_.prepare("SELECT username, password_hash, role FROM users WHERE username = ?");
  if (!s) return s.error();
  s->bind(1, username);
  if (s->step()) return std::optional<User>(User{s->text(0), s->text(1), s->text(2)});
  if (auto st = s->status(); !st) return st.error();
  return std::optional<User>();
}

Expected<std::size_t> SqliteOps::user_count() {
  std::lock_guard lock(mu_);
  auto s = db_.prepare("SELECT COUNT(*) FROM users");
  if (!s) return s.error();
  if (s->step()) return static_cast<std::size_t>(s->i64(0));
  return std::size_t{0};
}

Status SqliteOps::insert_session(const Session& x) {
  std::lock_guard lock(mu_);
  auto s = db_.prepare(
      "INSERT INTO sessions (token_hash, username, csrf_token, expires_at) VALUES (?,?,?,?)");
  if (!s) return s.error();
  s->bind(1, x.token_hash).bind(2, x.username).bind(3, x.csrf_token).bind(4, x.expires_at);
  return s->run();
}

Expected<std::optional<Session>> SqliteOps::get_session(const std::string& token_hash) {
  std::lock_guard lock(mu_);
  auto s = db_.prepare(
      "SELECT token_hash, username, csrf_token, expires_at FROM sessions WHERE token_hash = ?");
  if (!s) return s.error();
  s->bind(1, token_hash);
  if (s->step())
    return std::optional<Session>(Session{s->text(0), s->text(1), s->text(2), s->i64(3)});
  if (auto st = s->status(); !st) return st.error();
  return std::optional<Session>();
}

Status SqliteOps::delete_session(const std::string& token_hash) {
  std::lock_guard lock(mu_);
  auto s = db_.prepare("DELETE FROM sessions WHERE token_hash = ?");
  if (!s) return s.error();
  s->bind(1, token_hash);
  return s->run();
}

Status SqliteOps::insert_api_token(const ApiToken& t) {
  std::lock_guard lock(mu_);
  auto s = db_.prepare(
      "INSERT INTO api_tokens (token_hash, username, name, created_at) VALUES (?,?,?,?)");
  if (!s) return s.error();
  s->bind(1, t.token_hash).bind(2, t.username).bind(3, t.name).bind(4, t.created_at);
  return s->run();
}

Expected<std::optional<ApiToken>> SqliteOps::get_api_token(const std::string& token_hash) {
  std::lock_guard lock(mu_);
  auto s = db_.prepare(
      "SELECT token_hash, username, name, created_at FROM api_tokens WHERE token_hash = ?");
  if (!s) return s.error();
  s->bind(1, token_hash);
  if (s->step())
    return std::optional<ApiToken>(ApiToken{s->text(0), s->text(1), s->text(2), s->i64(3)});
  if (auto st = s->status(); !st) return st.error();
  return std::optional<ApiToken>();
}

}  // namespace rollout::server::sqlite
