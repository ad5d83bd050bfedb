// Update attempts (outcome reports): idempotent recording and the health counts.
#include "common/time.hpp"
#include "server-plugin/store/sqlite/sqlite_store.hpp"

namespace rollout::server::sqlite {

Expected<std::vector<std::string>> SqliteOps::record_attempts(
    const std::vector<Attempt>& attempts) {
  std::vector<std::string> stored;
  auto st = transaction([&]() -> Status {
    if (attempts.empty()) return {};
    // The batch's arrival numbers, taken from the 'attempts' counter in this transaction: the
    // counter row stays locked until commit on any backend, so numbers never repeat, and a
    // changed counter tells every server that attempts were added (the window counts cache).
    auto bump = db_.prepare("UPDATE counters SET value = value + ? WHERE name = 'attempts'");
    if (!bump) return bump.error();
    bump->bind(1, static_cast<std::int64_t>(attempts.size()));
    if (auto r = bump->run(); !r) return r;
    auto top = db_.prepare("SELECT value FROM counters WHERE name = 'attempts'");
    if (!top) return top.error();
    if (!top->step()) return make_error("storage", "counters has no 'attempts' row");
    std::int64_t seq = top->i64(0) - static_cast<std::int64_t>(attempts.size());
    for (const auto& a : attempts) {
      ++seq;
      auto occurred = parse_rfc3339_us(a.occurred_at);
      if (!occurred) return occurred.error().context("occurred_at");
      auto ins = db_.prepare(
          "INSERT INTO update_attempts (id, seq, agent_id, version, os, arch, from_version, "
          "outcome, stage, error_code, message, exit_code, signal, stderr_tail, occurred_at_us, "
          "received_at) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?) ON CONFLICT(id) DO NOTHING");
      if (!ins) return ins.error();
      ins->bind(1, a.id).bind(2, seq).bind(3, a.agent_id).bind(4, a.release.version);
      ins->bind(5, a.release.os).bind(6, a.release.arch).bind(7, a.from_version);
      ins->bind(8, a.outcome).bind(9, a.stage).bind(10, a.error_code).bind(11, a.message);
      ins->bind(12, a.exit_code).bind(13, a.signal).bind(14, a.stderr_tail).bind(15, *occurred);
      ins->bind(16, a.received_at);
      if (auto r = ins->run(); !r) return r;
      stored.push_back(a.id);
      if (db_.changes() == 0) continue;  // a replay: its first report already counts
      // Becomes the agent's latest outcome for the release unless a later one is already there:
      // the latest by the agent's clock, arrival order for equal times.
      auto latest = db_.prepare(
          "INSERT INTO latest_attempts (version, os, arch, agent_id, outcome, occurred_at_us, "
          "attempt_seq) VALUES (?, ?, ?, ?, ?, ?, ?) "
          "ON CONFLICT (version, os, arch, agent_id) DO UPDATE SET outcome = excluded.outcome, "
          "occurred_at_us = excluded.occurred_at_us, attempt_seq = excluded.attempt_seq "
          "WHERE (excluded.occurred_at_us, excluded.attempt_seq) > "
          "(latest_attempts.occurred_at_us, latest_attempts.attempt_seq)");
      if (!latest) return latest.error();
      latest->bind(1, a.release.version).bind(2, a.release.os).bind(3, a.release.arch);
      latest->bind(4, a.agent_id).bind(5, a.outcome).bind(6, *occurred).bind(7, seq);
      if (auto r = latest->run(); !r) return r;
    }
    return {};
  });
  if (!st) return st.error();
  return stored;
}

Expected<CountsByRelease> SqliteOps::release_counts(std::optional<std::int64_t> since) {
  std::lock_guard lock(mu_);
  std::int64_t version = 0;
  const bool cacheable = since && in_tx_ == 0;
  if (cacheable) {
    // Read before the counts (store/window_counts_cache.hpp says why).
    auto m = db_.prepare("SELECT value FROM counters WHERE name = 'attempts'");
    if (!m) return m.error();
    if (m->step()) version = m->i64(0);
    if (auto st = m->status(); !st) return st.error();
    if (auto kept = window_cache_.find(*since, version)) return std::move(*kept);
  }
  // Each agent counts once per release: its latest final outcome by the agent's clock
  // (occurred_at_us), then arrival order (seq) for ties.
  // All time: latest_attempts holds exactly that ranking's winners (kept by record_attempts).
  // A window: rank the attempts that arrived in it (attempts_received bounds the scan).
  auto s = since ? db_.prepare(
                       "SELECT version, os, arch, outcome, COUNT(*) FROM ("
                       "  SELECT version, os, arch, outcome, ROW_NUMBER() OVER ("
                       "    PARTITION BY version, os, arch, agent_id "
                       "    ORDER BY occurred_at_us DESC, seq DESC) AS rn"
                       "  FROM update_attempts WHERE received_at >= ?) ranked"
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
  if (cacheable) window_cache_.keep(*since, version, out);
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
  // Evidence: the newest message and stderr of each group (the last to arrive).
  auto samples = db_.prepare(
      "SELECT outcome, stage, error_code, message, stderr_tail FROM ("
      "  SELECT outcome, stage, error_code, message, stderr_tail, ROW_NUMBER() OVER ("
      "    PARTITION BY outcome, stage, error_code ORDER BY seq DESC) AS rn"
      "  FROM update_attempts WHERE version = ? AND os = ? AND arch = ? AND outcome != 'success'"
      ") newest WHERE rn = 1");
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
      "exit_code, signal, stderr_tail, occurred_at_us, received_at FROM update_attempts "
      "WHERE agent_id = ? ORDER BY received_at DESC, seq DESC LIMIT ?");
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
    a.occurred_at = format_rfc3339_us(s->i64(13));
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
