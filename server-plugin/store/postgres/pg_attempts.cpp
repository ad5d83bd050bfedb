// Update attempts (outcome reports): idempotent recording, the health counts, and the reads
// behind the report checks.
#include "server-plugin/store/postgres/pg_store.hpp"
#include "server-plugin/store/postgres/pg_store_rows.hpp"

namespace rollout::server::pg {

Expected<std::vector<std::string>> PgOps::record_attempts(const std::vector<Attempt>& attempts) {
  std::vector<std::string> stored;
  auto st = atomic([&]() -> Status {
    std::int64_t added = 0;
    for (const auto& a : attempts) {
      auto us = rfc3339_to_us(a.occurred_at);
      if (!us) return us.error().context("attempt " + a.id + ": occurred_at");
      Params p(a.id, a.agent_id, a.release.version, a.release.os, a.release.arch, a.from_version,
               a.outcome, a.stage, a.error_code, a.message);
      p.add(a.exit_code).add(a.signal).add(a.stderr_tail).add(*us).add(a.received_at);
      // A replay (another server's too: ON CONFLICT waits for its insert to commit) returns no
      // row, and its first report already counts.
      auto ins = q("record_attempt",
                   "INSERT INTO update_attempts (id, agent_id, version, os, arch, from_version, "
                   "outcome, stage, error_code, message, exit_code, signal, stderr_tail, "
                   "occurred_at_us, received_at) "
                   "VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12,$13,$14,$15) "
                   "ON CONFLICT (id) DO NOTHING RETURNING seq",
                   p);
      if (!ins) {
        Error e = ins.error();
        if (e.code == "unique_violation") e.code = "constraint";
        return e;
      }
      stored.push_back(a.id);
      if (ins->rows() == 0) continue;
      ++added;
      auto seq = ins->i64(0, 0);
      if (!seq) return seq.error();
      // Becomes the agent's latest outcome for the release unless a later one is already there.
      auto latest = q("record_latest_attempt",
                      "INSERT INTO latest_attempts (version, os, arch, agent_id, outcome, "
                      "occurred_at_us, attempt_seq) VALUES ($1,$2,$3,$4,$5,$6,$7) "
                      "ON CONFLICT (version, os, arch, agent_id) DO UPDATE SET "
                      "outcome = excluded.outcome, occurred_at_us = excluded.occurred_at_us, "
                      "attempt_seq = excluded.attempt_seq "
                      "WHERE (excluded.occurred_at_us, excluded.attempt_seq) > "
                      "(latest_attempts.occurred_at_us, latest_attempts.attempt_seq)",
                      Params(a.release.version, a.release.os, a.release.arch, a.agent_id, a.outcome,
                             *us, *seq));
      if (!latest) return latest.error();
    }
    // The counts cache's key (store/window_counts_cache.hpp): every batch that added attempts
    // raises the 'attempts' counter in its own transaction, so the change becomes visible to
    // every server exactly when its rows do. Last, so its row lock (which serialises the batches
    // of all servers) is held only until the commit that follows; a batch of replays only adds
    // nothing and takes no lock.
    if (added == 0) return {};
    return run("bump_attempts_counter",
               "UPDATE counters SET value = value + $1 WHERE name = 'attempts'", Params(added));
  });
  if (!st) return st.error();
  return stored;
}

Expected<CountsByRelease> PgOps::release_counts(std::optional<std::int64_t> since) {
  // Each agent counts once per release: its latest final outcome by the agent's clock, then
  // arrival order (seq) for ties. All time: latest_attempts holds that ranking's winners. A
  // window: rank the attempts that arrived in it (attempts_received bounds the scan). The window
  // is cached outside transactions, keyed on the 'attempts' counter read first
  // (store/window_counts_cache.hpp); never on MAX(seq): identities are not commit-ordered.
  const bool cacheable = since && !c_.in_transaction();
  std::int64_t counter = 0;
  if (cacheable) {
    auto m = q("attempts_counter", "SELECT value FROM counters WHERE name = 'attempts'");
    if (!m) return m.error();
    if (m->rows() != 1) return make_error("storage", "counters has no 'attempts' row");
    auto v = m->i64(0, 0);
    if (!v) return v.error();
    counter = *v;
    if (auto kept = window_cache_.find(*since, counter)) return std::move(*kept);
  }
  auto r = since ? q("release_counts_since",
                     "SELECT version, os, arch, outcome, COUNT(*) FROM ("
                     "  SELECT version, os, arch, outcome, ROW_NUMBER() OVER ("
                     "    PARTITION BY version, os, arch, agent_id "
                     "    ORDER BY occurred_at_us DESC, seq DESC) AS rn"
                     "  FROM update_attempts WHERE received_at >= $1) ranked"
                     " WHERE rn = 1 GROUP BY version, os, arch, outcome",
                     Params(*since))
                 : q("release_counts",
                     "SELECT version, os, arch, outcome, COUNT(*) FROM latest_attempts "
                     "GROUP BY version, os, arch, outcome");
  if (!r) return r.error();
  CountsByRelease out;
  for (int i = 0; i < r->rows(); ++i) {
    Row x(*r, i);
    Counts& c = out[ReleaseKey{x.s(0), x.s(1), x.s(2)}];
    const std::string outcome = x.s(3);
    const std::uint64_t n = x.u(4);
    if (x.err()) return *x.err();
    if (outcome == "success") c.success = n;
    if (outcome == "failure") c.failure = n;
    if (outcome == "crash") c.crash = n;
  }
  if (cacheable) window_cache_.keep(*since, counter, out);
  return out;
}

Expected<std::vector<FailurePattern>> PgOps::failure_patterns(const ReleaseKey& key,
                                                              std::int64_t since_24h) {
  // The newest message and stderr of each group as its evidence (DISTINCT ON keeps the first
  // row of each group in the ORDER BY: the newest arrival).
  auto r = q("failure_patterns",
             "SELECT g.outcome, g.stage, g.error_code, g.n, g.n24, g.first_seen, g.last_seen, "
             "s.message, s.stderr_tail FROM ("
             "  SELECT outcome, stage, error_code, COUNT(*) AS n, "
             "  COUNT(*) FILTER (WHERE received_at >= $1) AS n24, MIN(received_at) AS first_seen, "
             "  MAX(received_at) AS last_seen FROM update_attempts "
             "  WHERE version = $2 AND os = $3 AND arch = $4 AND outcome <> 'success' "
             "  GROUP BY outcome, stage, error_code) g "
             "JOIN (SELECT DISTINCT ON (outcome, stage, error_code) outcome, stage, error_code, "
             "  message, stderr_tail FROM update_attempts "
             "  WHERE version = $2 AND os = $3 AND arch = $4 AND outcome <> 'success' "
             "  ORDER BY outcome, stage, error_code, seq DESC) s "
             "USING (outcome, stage, error_code) ORDER BY g.n DESC",
             Params(since_24h, key.version, key.os, key.arch));
  if (!r) return r.error();
  return rows<FailurePattern>(*r, [](Row& x) {
    FailurePattern p;
    p.outcome = x.s(0);
    p.stage = x.s(1);
    p.error_code = x.s(2);
    p.count = x.u(3);
    p.count_24h = x.u(4);
    p.first_seen = x.i(5);
    p.last_seen = x.i(6);
    p.sample_message = x.s(7);
    p.sample_stderr = x.s(8);
    return p;
  });
}

Expected<std::vector<Attempt>> PgOps::agent_attempts(const std::string& agent_id,
                                                     std::size_t limit) {
  auto r = q("agent_attempts",
             "SELECT id, agent_id, version, os, arch, from_version, outcome, stage, error_code, "
             "message, exit_code, signal, stderr_tail, occurred_at_us, received_at "
             "FROM update_attempts WHERE agent_id = $1 ORDER BY received_at DESC, seq DESC "
             "LIMIT $2",
             Params(agent_id, static_cast<std::int64_t>(limit)));
  if (!r) return r.error();
  return rows<Attempt>(*r, [](Row& x) {
    Attempt a;
    a.id = x.s(0);
    a.agent_id = x.s(1);
    a.release = {x.s(2), x.s(3), x.s(4)};
    a.from_version = x.s(5);
    a.outcome = x.s(6);
    a.stage = x.s(7);
    a.error_code = x.s(8);
    a.message = x.s(9);
    a.exit_code = x.oi(10);
    a.signal = x.oi(11);
    a.stderr_tail = x.s(12);
    a.occurred_at = us_to_rfc3339(x.i(13));
    a.received_at = x.i(14);
    return a;
  });
}

Expected<std::uint64_t> PgOps::attempt_count() {
  auto r = q("attempt_count", "SELECT COUNT(*) FROM update_attempts");
  if (!r) return r.error();
  auto v = r->i64(0, 0);
  if (!v) return v.error();
  return static_cast<std::uint64_t>(*v);
}

Expected<bool> PgOps::has_attempt(const std::string& id) {
  auto r = q("has_attempt", "SELECT 1 FROM update_attempts WHERE id = $1", Params(id));
  if (!r) return r.error();
  return r->rows() > 0;
}

Expected<AttemptWindow> PgOps::agent_attempt_window(const std::string& agent_id,
                                                    std::int64_t since) {
  // attempts_agent (agent_id, received_at) bounds this to the agent's recent rows.
  auto r = q("agent_attempt_window",
             "SELECT COUNT(*), COALESCE(MIN(received_at), 0) FROM update_attempts "
             "WHERE agent_id = $1 AND received_at >= $2",
             Params(agent_id, since));
  if (!r) return r.error();
  auto w = first_row<AttemptWindow>(*r, [](Row& x) { return AttemptWindow{x.u(0), x.i(1)}; });
  if (!w) return w.error();
  return w->value_or(AttemptWindow{});
}

}  // namespace rollout::server::pg
