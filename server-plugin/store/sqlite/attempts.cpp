// Update attempts (outcome reports): idempotent recording and the health counts.
#include "server-plugin/store/sqlite/sqlite_store.hpp"

namespace rollout::server::sqlite {

Expected<std::vector<std::string>> SqliteOps::record_attempts(
    const std::vector<Attempt>& attempts) {
  std::vector<std::string> stored;
  auto st = transaction([&]() -> Status {
    for (const auto& a : attempts) {
      auto ins = db_.prepare(
          "INSERT INTO update_attempts (id, agent_id, version, os, arch, from_version, outcome, "
          "stage, error_code, message, exit_code, signal, stderr_tail, occurred_at, received_at) "
          "VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?) ON CONFLICT(id) DO NOTHING");
      if (!ins) return ins.error();
      ins->bind(1, a.id).bind(2, a.agent_id).bind(3, a.release.version).bind(4, a.release.os);
      ins->bind(5, a.release.arch).bind(6, a.from_version).bind(7, a.outcome).bind(8, a.stage);
      ins->bind(9, a.error_code).bind(10, a.message).bind(11, a.exit_code).bind(12, a.signal);
      ins->bind(13, a.stderr_tail).bind(14, a.occurred_at).bind(15, a.received_at);
      if (auto r = ins->run(); !r) return r;
      stored.push_back(a.id);
      if (db_.changes() == 0) continue;  // a replay: its first report already counts
      // Becomes the agent's latest outcome for the release unless a later one is already there.
      auto latest = db_.prepare(
          "INSERT INTO latest_attempts (version, os, arch, agent_id, outcome, occurred_s, "
          "occurred_frac, attempt_rowid) VALUES (?1, ?2, ?3, ?4, ?5, substr(?6, 1, 19), "
          "CAST('0' || substr(?6, 20, length(?6) - 20) AS REAL), ?7) "
          "ON CONFLICT (version, os, arch, agent_id) DO UPDATE SET outcome = excluded.outcome, "
          "occurred_s = excluded.occurred_s, occurred_frac = excluded.occurred_frac, "
          "attempt_rowid = excluded.attempt_rowid "
          "WHERE (excluded.occurred_s, excluded.occurred_frac, excluded.attempt_rowid) > "
          "(latest_attempts.occurred_s, latest_attempts.occurred_frac, "
          "latest_attempts.attempt_rowid)");
      if (!latest) return latest.error();
      latest->bind(1, a.release.version).bind(2, a.release.os).bind(3, a.release.arch);
      latest->bind(4, a.agent_id).bind(5, a.outcome).bind(6, a.occurred_at);
      latest->bind(7, db_.last_insert_rowid());
      if (auto r = latest->run(); !r) return r;
    }
    return {};
  });
  if (!st) return st.error();
  return stored;
}

Expected<CountsByRelease> SqliteOps::release_counts(std::optional<std::int64_t> since) {
  std::lock_guard lock(mu_);
  std::int64_t max_rowid = 0;
  const bool cacheable = since && in_tx_ == 0;
  if (cacheable) {
    auto m = db_.prepare("SELECT COALESCE(MAX(rowid), 0) FROM update_attempts");
    if (!m) return m.error();
    if (m->step()) max_rowid = m->i64(0);
    if (auto st = m->status(); !st) return st.error();
    if (window_cache_ && window_cache_->since == *since && window_cache_->max_rowid == max_rowid)
      return window_cache_->counts;
  }
  // Each agent counts once per release: its latest final outcome by the agent's clock, then
  // arrival order for ties. occurred_at is RFC 3339 UTC ("...:SSZ" or "...:SS.fffZ"); compared as
  // text, "10:00:00Z" would sort after "10:00:00.5Z" ('Z' > '.'), so the whole seconds and the
  // fraction are ordered separately.
  // All time: latest_attempts holds exactly that ranking's winners (kept by record_attempts).
  // A window: rank the attempts that arrived in it (attempts_received bounds the scan).
  auto s = since ? db_.prepare(
                       "SELECT version, os, arch, outcome, COUNT(*) FROM ("
                       "  SELECT version, os, arch, outcome, ROW_NUMBER() OVER ("
                       "    PARTITION BY version, os, arch, agent_id ORDER BY "
                       "    substr(occurred_at, 1, 19) DESC,"
                       "    CAST('0' || substr(occurred_at, 20, length(occurred_at) - 20) AS REAL) "
                       "    DESC, rowid DESC) AS rn"
                       "  FROM update_attempts WHERE received_at >= ?)"
                       " WHERE rn = 1 GROUP BY version, os, arch, outcome")
                 : db_.prepare(
                       "SELECT version, os, arch, outcome, COUNT(*) FROM latest_attempts "
                       "GROUP BY version, os, arch, outcome");
  if (!s) return s.error();
  if (since) s->bind(1, *since);
  CountsByRelease out;
  while (s->step()) {
    Counts& c = out[ReleaseKey{s->text(0), s->text(1), s->text(2)}];
    const std::string outcome = s->text(3);
    const std::uint64_t n = s->u64(4);
    if (outcome == "success") c.success = n;
    if (outcome == "failure") c.failure = n;
    if (outcome == "crash") c.crash = n;
  }
  if (auto st = s->status(); !st) return st.error();
  if (cacheable) window_cache_ = WindowCounts{*since, max_rowid, out};
  return out;
}

Expected<std::vector<FailurePattern>> SqliteOps::failure_patterns(const ReleaseKey& key,
                                                                  std::int64_t since_24h) {
  std::lock_guard lock(mu_);
  auto s = db_.prepare(
      "SELECT outcome, stage, error_code, COUNT(*), SUM(received_at >= ?), MIN(received_at), "
      "MAX(received_at) FROM update_attempts WHERE version = ? AND os = ? AND arch = ? AND "
      "outcome != 'success' GROUP BY outcome, stage, error_code ORDER BY COUNT(*) DESC");
  if (!s) return s.error();
  s->bind(1, since_24h).bind(2, key.version).bind(3, key.os).bind(4, key.arch);
  std::vector<FailurePattern> out;
  while (s->step()) {
    FailurePattern p;
    p.outcome = s->text(0);
    p.stage = s->text(1);
    p.error_code = s->text(2);
    p.count = s->u64(3);
    p.count_24h = s->u64(4);
    p.first_seen = s->i64(5);
    p.last_seen = s->i64(6);
    out.push_back(std::move(p));
  }
  if (auto st = s->status(); !st) return st.error();
  // Evidence: the newest message and stderr of each group (a lone MAX() makes SQLite take the
  // other columns from that row).
  auto samples = db_.prepare(
      "SELECT outcome, stage, error_code, message, stderr_tail, MAX(rowid) FROM update_attempts "
      "WHERE version = ? AND os = ? AND arch = ? AND outcome != 'success' "
      "GROUP BY outcome, stage, error_code");
  if (!samples) return samples.error();
  samples->bind(1, key.version).bind(2, key.os).bind(3, key.arch);
  while (samples->step()) {
    for (auto& p : out) {
      if (p.outcome == samples->text(0) && p.stage == samples->text(1) &&
          p.error_code == samples->text(2)) {
        p.sample_message = samples->text(3);
        p.sample_stderr = samples->text(4);
      }
    }
  }
  if (auto st = samples->status(); !st) return st.error();
  return out;
}

Expected<std::vector<Attempt>> SqliteOps::agent_attempts(const std::string& agent_id,
                                                         std::size_t limit) {
  std::lock_guard lock(mu_);
  auto s = db_.prepare(
      "SELECT id, agent_id, version, os, arch, from_version, outcome, stage, error_code, message, "
      "exit_code, signal, stderr_tail, occurred_at, received_at FROM update_attempts "
      "WHERE agent_id = ? ORDER BY received_at DESC, rowid DESC LIMIT ?");
  if (!s) return s.error();
  s->bind(1, agent_id).bind(2, static_cast<std::int64_t>(limit));
  std::vector<Attempt> out;
  while (s->step()) {
    Attempt a;
    a.id = s->text(0);
    a.agent_id = s->text(1);
    a.release = {s->text(2), s->text(3), s->text(4)};
    a.from_version = s->text(5);
    a.outcome = s->text(6);
    a.stage = s->text(7);
    a.error_code = s->text(8);
    a.message = s->text(9);
    a.exit_code = s->opt_i64(10);
    a.signal = s->opt_i64(11);
    a.stderr_tail = s->text(12);
    a.occurred_at = s->text(13);
    a.received_at = s->i64(14);
    out.push_back(std::move(a));
  }
  if (auto st = s->status(); !st) return st.error();
  return out;
}

Expected<std::uint64_t> SqliteOps::attempt_count() {
  std::lock_guard lock(mu_);
  auto s = db_.prepare("SELECT COUNT(*) FROM update_attempts");
  if (!s) return s.error();
  if (s->step()) return s->u64(0);
  return std::uint64_t{0};
}

}  // namespace rollout::server::sqlite
