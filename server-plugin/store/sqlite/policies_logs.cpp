// Channel / update-window policies and the server log table.
#include "server-plugin/store/sqlite/sqlite_store.hpp"

namespace rollout::server::sqlite {

// Through transaction(), setting targets_changed_ once it wrote (sqlite_store.hpp).
Status SqliteOps::put_policy(const Policy& p) {
  return transaction([&]() -> Status {
    auto s = db_.prepare(
        "INSERT INTO policies (scope, scope_id, channel, window_start, window_end, rollout, "
        "waves) VALUES (?,?,?,?,?,?,?) "
        "ON CONFLICT(scope, scope_id) DO UPDATE SET channel = excluded.channel, "
        "window_start = excluded.window_start, window_end = excluded.window_end, "
        "rollout = excluded.rollout, waves = excluded.waves");
    if (!s) return s.error();
    s->bind(1, p.scope)
        .bind(2, p.scope_id)
        .bind(3, p.channel)
        .bind(4, p.window_start)
        .bind(5, p.window_end)
        .bind(6, p.rollout)
        .bind(7, p.waves);
    auto st = s->run();
    if (st) targets_changed_ = true;
    return st;
  });
}

Expected<std::vector<Policy>> SqliteOps::list_policies() {
  std::lock_guard lock(mu_);
  auto s = db_.prepare(
      "SELECT scope, scope_id, channel, window_start, window_end, rollout, waves FROM policies "
      "ORDER BY scope, scope_id");
  if (!s) return s.error();
  std::vector<Policy> out;
  while (s->step())
    out.push_back(Policy{s->text(0), s->text(1), s->opt_text(2), s->opt_text(3), s->opt_text(4),
                         s->opt_text(5), s->opt_text(6)});
  if (auto st = s->status(); !st) return st.error();
  return out;
}

Status SqliteOps::append_log(const LogEntry& e) {
  std::lock_guard lock(mu_);
  auto s =
      db_.prepare("INSERT INTO logs (at, level, component, message, fields) VALUES (?,?,?,?,?)");
  if (!s) return s.error();
  s->bind(1, e.at).bind(2, e.level).bind(3, e.component).bind(4, e.message);
  s->bind(5, e.fields_json.empty() ? "{}" : e.fields_json);
  return s->run();
}

Status SqliteOps::trim_logs(std::uint64_t keep) {
  std::lock_guard lock(mu_);
  // Ids only grow (AUTOINCREMENT) and rows leave only here, oldest first: the newest `keep` rows
  // are the ids above max(id) - keep.
  auto s = db_.prepare("DELETE FROM logs WHERE id <= (SELECT max(id) FROM logs) - ?");
  if (!s) return s.error();
  s->bind(1, static_cast<std::int64_t>(keep));
  return s->run();
}

Expected<std::vector<LogEntry>> SqliteOps::query_logs(const std::string& q,
                                                      const std::string& min_level,
                                                      std::size_t limit) {
  std::lock_guard lock(mu_);
  // instr() rather than LIKE: the user's text is matched literally, '%' and '_' included.
  auto s = db_.prepare(
      "SELECT id, at, level, component, message, fields FROM logs "
      "WHERE (? = '' OR instr(lower(message || ' ' || component || ' ' || fields), lower(?)) > 0) "
      "AND (CASE level WHEN 'debug' THEN 0 WHEN 'info' THEN 1 WHEN 'warn' THEN 2 ELSE 3 END) >= "
      "(CASE ? WHEN 'info' THEN 1 WHEN 'warn' THEN 2 WHEN 'error' THEN 3 ELSE 0 END) "
      "ORDER BY id DESC LIMIT ?");
  if (!s) return s.error();
  s->bind(1, q).bind(2, q).bind(3, min_level).bind(4, static_cast<std::int64_t>(limit));
  std::vector<LogEntry> out;
  while (s->step())
    out.push_back(LogEntry{s->i64(0), s->i64(1), s->text(2), s->text(3), s->text(4), s->text(5)});
  if (auto st = s->status(); !st) return st.error();
  return out;
}

}  // namespace rollout::server::sqlite
