#include "server-plugin/store/sqlite/migrations.hpp"

#include <algorithm>
#include <ctime>
#include <set>
#include <string_view>

namespace rollout::server::sqlite {
namespace {

constexpr std::string_view kMigrations[] = {
    // 1: the initial schema.
    R"sql(
CREATE TABLE releases (
  version TEXT NOT NULL, os TEXT NOT NULL, arch TEXT NOT NULL,
  product TEXT NOT NULL, size INTEGER NOT NULL, sha256 TEXT NOT NULL,
  security_version INTEGER NOT NULL, manifest TEXT NOT NULL,
  created_at INTEGER NOT NULL, published_by TEXT NOT NULL,
  promoted_at INTEGER, promotion_seq INTEGER NOT NULL DEFAULT 0,
  blocked INTEGER NOT NULL DEFAULT 0, blocked_reason TEXT NOT NULL DEFAULT '',
  PRIMARY KEY (version, os, arch));
CREATE INDEX releases_sha256 ON releases(sha256);

CREATE TABLE agents (
  id TEXT PRIMARY KEY, token_hash TEXT NOT NULL UNIQUE, hostname TEXT NOT NULL,
  machine_id TEXT NOT NULL, os TEXT NOT NULL, arch TEXT NOT NULL,
  current_version TEXT NOT NULL, client TEXT NOT NULL DEFAULT '', site TEXT NOT NULL DEFAULT '',
  channel_hint TEXT NOT NULL DEFAULT '', state TEXT NOT NULL DEFAULT 'idle',
  security_floor INTEGER NOT NULL DEFAULT 0, last_sequence INTEGER NOT NULL DEFAULT 0,
  enrolled_at INTEGER NOT NULL, last_checkin_at INTEGER NOT NULL DEFAULT 0,
  directive_version TEXT, directive_action TEXT, directive_sequence INTEGER,
  directive_expires_at INTEGER, directive_envelope TEXT);
CREATE INDEX agents_machine ON agents(machine_id);

CREATE TABLE update_attempts (
  id TEXT PRIMARY KEY, agent_id TEXT NOT NULL, version TEXT NOT NULL, os TEXT NOT NULL,
  arch TEXT NOT NULL, from_version TEXT NOT NULL DEFAULT '', outcome TEXT NOT NULL
  CHECK (outcome IN ('success', 'failure', 'crash')),
  stage TEXT NOT NULL DEFAULT '', error_code TEXT NOT NULL DEFAULT '', message TEXT NOT NULL DEFAULT '',
  exit_code INTEGER, signal INTEGER, stderr_tail TEXT NOT NULL DEFAULT '',
  occurred_at TEXT NOT NULL, received_at INTEGER NOT NULL);
CREATE INDEX attempts_release ON update_attempts(version, os, arch, agent_id, occurred_at);
CREATE INDEX attempts_agent ON update_attempts(agent_id, received_at);

CREATE TABLE rollout_events (
  id INTEGER PRIMARY KEY AUTOINCREMENT, at INTEGER NOT NULL, user TEXT NOT NULL,
  action TEXT NOT NULL, version TEXT NOT NULL DEFAULT '', os TEXT NOT NULL DEFAULT '',
  arch TEXT NOT NULL DEFAULT '', reason TEXT NOT NULL DEFAULT '', force INTEGER NOT NULL DEFAULT 0,
  health TEXT NOT NULL DEFAULT '{}', detail TEXT NOT NULL DEFAULT '{}');
CREATE INDEX events_release ON rollout_events(version, os, arch, id);
CREATE TRIGGER rollout_events_no_update BEFORE UPDATE ON rollout_events
  BEGIN SELECT RAISE(ABORT, 'rollout_events is append-only'); END;
CREATE TRIGGER rollout_events_no_delete BEFORE DELETE ON rollout_events
  BEGIN SELECT RAISE(ABORT, 'rollout_events is append-only'); END;

CREATE TABLE users (username TEXT PRIMARY KEY, password_hash TEXT NOT NULL,
  role TEXT NOT NULL CHECK (role IN ('viewer', 'operator', 'admin')), created_at INTEGER NOT NULL);
CREATE TABLE sessions (token_hash TEXT PRIMARY KEY, username TEXT NOT NULL REFERENCES users(username),
  csrf_token TEXT NOT NULL, expires_at INTEGER NOT NULL);
CREATE TABLE api_tokens (token_hash TEXT PRIMARY KEY, username TEXT NOT NULL REFERENCES users(username),
  name TEXT NOT NULL, created_at INTEGER NOT NULL);
CREATE TABLE policies (scope TEXT NOT NULL CHECK (scope IN ('default', 'client', 'site', 'agent')),
  scope_id TEXT NOT NULL, channel TEXT, window_start TEXT, window_end TEXT,
  PRIMARY KEY (scope, scope_id));
CREATE TABLE logs (id INTEGER PRIMARY KEY AUTOINCREMENT, at INTEGER NOT NULL, level TEXT NOT NULL,
  component TEXT NOT NULL, message TEXT NOT NULL, fields TEXT NOT NULL DEFAULT '{}');
)sql",
    // 2: the health counts without re-ranking every attempt on each page refresh. One row per
    // (release, agent): its latest outcome, kept current by record_attempts in the same
    // transaction, ordered exactly as the ranking query orders (whole seconds of occurred_at,
    // then its fraction, then arrival). The last-24h counts rank only recent arrivals.
    R"sql(
CREATE TABLE latest_attempts (
  version TEXT NOT NULL, os TEXT NOT NULL, arch TEXT NOT NULL, agent_id TEXT NOT NULL,
  outcome TEXT NOT NULL, occurred_s TEXT NOT NULL, occurred_frac REAL NOT NULL,
  attempt_rowid INTEGER NOT NULL,
  PRIMARY KEY (version, os, arch, agent_id)) WITHOUT ROWID;
CREATE INDEX latest_attempts_outcome ON latest_attempts(version, os, arch, outcome);
CREATE INDEX attempts_received ON update_attempts(received_at);
INSERT INTO latest_attempts
  SELECT version, os, arch, agent_id, outcome, occurred_s, occurred_frac, rid FROM (
    SELECT version, os, arch, agent_id, outcome, substr(occurred_at, 1, 19) AS occurred_s,
      CAST('0' || substr(occurred_at, 20, length(occurred_at) - 20) AS REAL) AS occurred_frac,
      rowid AS rid, ROW_NUMBER() OVER (
        PARTITION BY version, os, arch, agent_id ORDER BY substr(occurred_at, 1, 19) DESC,
        CAST('0' || substr(occurred_at, 20, length(occurred_at) - 20) AS REAL) DESC,
        rowid DESC) AS rn
    FROM update_attempts)
  WHERE rn = 1;
)sql",
    // 3: the releases each agent may report on (an enrolled endpoint is untrusted: a report
    // counts only for a release the server directed it to or saw it running). Filled from what
    // an older server already knew: each agent's last directive and the version it last said it
    // ran, when either is a published release of the agent's own os/arch. Attempts stored
    // before this step are kept as they were. Portable SQL: PostgreSQL runs the same statements.
    R"sql(
CREATE TABLE agent_releases (
  agent_id TEXT NOT NULL, version TEXT NOT NULL, os TEXT NOT NULL, arch TEXT NOT NULL,
  how TEXT NOT NULL CHECK (how IN ('install', 'downgrade', 'running')),
  first_at INTEGER NOT NULL,
  PRIMARY KEY (agent_id, version, os, arch));
INSERT INTO agent_releases (agent_id, version, os, arch, how, first_at)
  SELECT a.id, a.directive_version, a.os, a.arch, a.directive_action, a.last_checkin_at
  FROM agents a JOIN releases r
    ON r.version = a.directive_version AND r.os = a.os AND r.arch = a.arch
  WHERE a.directive_action IN ('install', 'downgrade');
INSERT INTO agent_releases (agent_id, version, os, arch, how, first_at)
  SELECT a.id, a.current_version, a.os, a.arch, 'running', a.last_checkin_at
  FROM agents a JOIN releases r
    ON r.version = a.current_version AND r.os = a.os AND r.arch = a.arch
  WHERE NOT EXISTS (SELECT 1 FROM agent_releases x WHERE x.agent_id = a.id
    AND x.version = a.current_version AND x.os = a.os AND x.arch = a.arch);
)sql",
    // 4: stable rollouts in waves (issue #13): one row per promoted release rolling out, its plan
    // and thresholds as fixed at the start, the gate's memory, the state and a revision number
    // every update is conditional on (one decision even with several servers on one database).
    R"sql(
CREATE TABLE rollouts (
  version TEXT NOT NULL, os TEXT NOT NULL, arch TEXT NOT NULL,
  previous_version TEXT NOT NULL DEFAULT '',
  plan TEXT NOT NULL, thresholds TEXT NOT NULL, memory TEXT NOT NULL,
  state TEXT NOT NULL CHECK (state IN ('rolling_out', 'paused', 'complete', 'rolled_back')),
  rule TEXT NOT NULL DEFAULT '', reason TEXT NOT NULL DEFAULT '',
  rev INTEGER NOT NULL, started_at INTEGER NOT NULL, updated_at INTEGER NOT NULL,
  PRIMARY KEY (version, os, arch));
ALTER TABLE policies ADD COLUMN rollout TEXT CHECK (rollout IN ('waves', 'all_at_once'));
)sql",
    // 5: webhook notifications (issue #13), new tables only. Each webhook's cursor over the audit
    // trail is its durable outbox: the id of the last event delivered (or given up), with the
    // failed attempts of the next one and when to try it again. A config webhook's secret stays
    // in the config (secret = ''). The delivery log is trimmed to the newest rows per webhook.
    // notify_watch holds the last state the health detector saw per subject (a release's health,
    // an (os, arch)'s stable lag), changed only by a conditional update, so a transition becomes
    // one audit event even with several servers. notify_lease: which server delivers, until when.
    R"sql(
CREATE TABLE webhooks (
  id TEXT PRIMARY KEY, url TEXT NOT NULL, secret TEXT NOT NULL DEFAULT '',
  events TEXT NOT NULL, source TEXT NOT NULL CHECK (source IN ('config', 'api')),
  created_by TEXT NOT NULL DEFAULT '', created_at INTEGER NOT NULL,
  cursor INTEGER NOT NULL, attempts INTEGER NOT NULL DEFAULT 0,
  next_attempt_at INTEGER NOT NULL DEFAULT 0);
CREATE TABLE webhook_deliveries (
  id INTEGER PRIMARY KEY AUTOINCREMENT, webhook_id TEXT NOT NULL, event_id INTEGER NOT NULL,
  event_type TEXT NOT NULL, attempt INTEGER NOT NULL, status INTEGER NOT NULL,
  outcome TEXT NOT NULL CHECK (outcome IN ('delivered', 'failed', 'gave_up')),
  error TEXT NOT NULL DEFAULT '', at INTEGER NOT NULL, duration_ms INTEGER NOT NULL DEFAULT 0);
CREATE INDEX webhook_deliveries_hook ON webhook_deliveries(webhook_id, id);
CREATE TABLE notify_watch (subject TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE notify_lease (name TEXT PRIMARY KEY, holder TEXT NOT NULL, expires_at INTEGER NOT NULL);
INSERT INTO notify_lease (name, holder, expires_at) VALUES ('webhooks', '', 0);
)sql",
    // 6: per-policy wave plans (issue #13). A policy's own plan (steps, soak, on_critical, ...)
    // as canonical JSON text (app/policy_plan.hpp), NULL inherits; and a rollout row per rollout
    // group of a release ('default' for the server's plan, 'site:lab' for a policy's), each
    // gated and conditionally updated on its own revision. Older rows become the default group.
    R"sql(
ALTER TABLE policies ADD COLUMN waves TEXT;
CREATE TABLE rollouts_by_group (
  version TEXT NOT NULL, os TEXT NOT NULL, arch TEXT NOT NULL,
  group_key TEXT NOT NULL DEFAULT 'default',
  previous_version TEXT NOT NULL DEFAULT '',
  plan TEXT NOT NULL, thresholds TEXT NOT NULL, memory TEXT NOT NULL,
  state TEXT NOT NULL CHECK (state IN ('rolling_out', 'paused', 'complete', 'rolled_back')),
  rule TEXT NOT NULL DEFAULT '', reason TEXT NOT NULL DEFAULT '',
  rev INTEGER NOT NULL, started_at INTEGER NOT NULL, updated_at INTEGER NOT NULL,
  PRIMARY KEY (version, os, arch, group_key));
INSERT INTO rollouts_by_group (version, os, arch, group_key, previous_version, plan, thresholds,
  memory, state, rule, reason, rev, started_at, updated_at)
  SELECT version, os, arch, 'default', previous_version, plan, thresholds, memory, state, rule,
  reason, rev, started_at, updated_at FROM rollouts;
DROP TABLE rollouts;
ALTER TABLE rollouts_by_group RENAME TO rollouts;
)sql",
    // 7: the promotion sequence owned by the store (issue #14). `counters` holds the last value
    // handed out (next_promotion_seq: one UPDATE ... RETURNING), and promotion_seq is UNIQUE among
    // promoted releases. Before, a promotion read MAX()+1, so two servers could store the same
    // value: such ties are renumbered first, keeping the order (ties by promotion time, then key).
    R"sql(
UPDATE releases SET promotion_seq = ranked.n FROM (
  SELECT version AS v, os AS o, arch AS a, ROW_NUMBER() OVER (
    ORDER BY promotion_seq, COALESCE(promoted_at, 0), version, os, arch) AS n
  FROM releases WHERE promotion_seq > 0) AS ranked
  WHERE releases.version = ranked.v AND releases.os = ranked.o AND releases.arch = ranked.a
  AND EXISTS (SELECT 1 FROM releases r GROUP BY r.promotion_seq
              HAVING r.promotion_seq > 0 AND COUNT(*) > 1);
CREATE UNIQUE INDEX releases_promotion_seq ON releases(promotion_seq) WHERE promotion_seq > 0;
CREATE TABLE counters (name TEXT PRIMARY KEY, value INTEGER NOT NULL);
INSERT INTO counters (name, value)
  SELECT 'promotion_seq', COALESCE(MAX(promotion_seq), 0) FROM releases;
)sql",
    // 8: no SQL dialect in the schema (issue #14; server-plugin/store/SCHEMA.md). occurred_at
    // becomes occurred_at_us, integer microseconds since the Unix epoch UTC, converted exactly
    // from the RFC 3339 text (whole seconds through strftime, the fraction's first six digits
    // padded with zeros), so the latest-outcome ordering is one integer comparison on every
    // backend. Each attempt gets `seq`, an arrival number the store assigns from the 'attempts'
    // counter in the same transaction (ties between equal times, and the key of the last-24h
    // counts cache: it changes with every committed batch, from any server). Existing rows keep
    // their old rowid as seq: the one place the old arrival order is read, and latest_attempts'
    // attempt_rowid already names those rows, so its winners carry over as they were.
    // latest_attempts, rollout_events, logs and webhook_deliveries are rebuilt as plain tables:
    // ids stay monotonic without AUTOINCREMENT because SQLite gives max(id) + 1 under its single
    // writer and the rows that matter are never deleted from the top (the audit trail is
    // append-only, and webhook cursors rely on its ids growing in commit order); logs and
    // deliveries are trimmed oldest first. rate_limits: the login limiter's buckets, shared by
    // every server on the database (auth/rate_limit.hpp).
    R"sql(

CREATE TABLE update_attempts_v8 (
  id TEXT PRIMARY KEY, seq INTEGER NOT NULL UNIQUE, agent_id TEXT NOT NULL, version TEXT NOT NULL,
  os TEXT NOT NULL, arch TEXT NOT NULL, from_version TEXT NOT NULL DEFAULT '', outcome TEXT NOT NULL
  CHECK (outcome IN ('success', 'failure', 'crash')),
  stage TEXT NOT NULL DEFAULT '', error_code TEXT NOT NULL DEFAULT '', message TEXT NOT NULL DEFAULT '',
  exit_code INTEGER, signal INTEGER, stderr_tail TEXT NOT NULL DEFAULT '',
  occurred_at_us INTEGER NOT NULL, received_at INTEGER NOT NULL);
INSERT INTO update_attempts_v8 (id, seq, agent_id, version, os, arch, from_version, outcome, stage,
  error_code, message, exit_code, signal, stderr_tail, occurred_at_us, received_at)
  SELECT id, rowid, agent_id, version, os, arch, from_version, outcome, stage, error_code, message,
    exit_code, signal, stderr_tail,
    CAST(strftime('%s', substr(occurred_at, 1, 19)) AS INTEGER) * 1000000 +
      CAST(substr(substr(occurred_at, 21, length(occurred_at) - 21) || '000000', 1, 6) AS INTEGER),
    received_at
  FROM update_attempts;
DROP TABLE update_attempts;
ALTER TABLE update_attempts_v8 RENAME TO update_attempts;
CREATE INDEX attempts_release ON update_attempts(version, os, arch, agent_id, occurred_at_us);
CREATE INDEX attempts_agent ON update_attempts(agent_id, received_at, seq);
CREATE INDEX attempts_received ON update_attempts(received_at);
INSERT INTO counters (name, value)
  SELECT 'attempts', COALESCE(MAX(seq), 0) FROM update_attempts;

CREATE TABLE latest_attempts_v8 (
  version TEXT NOT NULL, os TEXT NOT NULL, arch TEXT NOT NULL, agent_id TEXT NOT NULL,
  outcome TEXT NOT NULL, occurred_at_us INTEGER NOT NULL, attempt_seq INTEGER NOT NULL,
  PRIMARY KEY (version, os, arch, agent_id));
INSERT INTO latest_attempts_v8 (version, os, arch, agent_id, outcome, occurred_at_us, attempt_seq)
  SELECT l.version, l.os, l.arch, l.agent_id, l.outcome, a.occurred_at_us, a.seq
  FROM latest_attempts l JOIN update_attempts a ON a.seq = l.attempt_rowid;
DROP TABLE latest_attempts;
ALTER TABLE latest_attempts_v8 RENAME TO latest_attempts;
CREATE INDEX latest_attempts_outcome ON latest_attempts(version, os, arch, outcome);

CREATE TABLE rollout_events_v8 (
  id INTEGER PRIMARY KEY, at INTEGER NOT NULL, user TEXT NOT NULL,
  action TEXT NOT NULL, version TEXT NOT NULL DEFAULT '', os TEXT NOT NULL DEFAULT '',
  arch TEXT NOT NULL DEFAULT '', reason TEXT NOT NULL DEFAULT '', force INTEGER NOT NULL DEFAULT 0,
  health TEXT NOT NULL DEFAULT '{}', detail TEXT NOT NULL DEFAULT '{}');
INSERT INTO rollout_events_v8 SELECT id, at, user, action, version, os, arch, reason, force, health,
  detail FROM rollout_events;
DROP TABLE rollout_events;
ALTER TABLE rollout_events_v8 RENAME TO rollout_events;
CREATE INDEX events_release ON rollout_events(version, os, arch, id);
CREATE TRIGGER rollout_events_no_update BEFORE UPDATE ON rollout_events
  BEGIN SELECT RAISE(ABORT, 'rollout_events is append-only'); END;
CREATE TRIGGER rollout_events_no_delete BEFORE DELETE ON rollout_events
  BEGIN SELECT RAISE(ABORT, 'rollout_events is append-only'); END;

CREATE TABLE logs_v8 (id INTEGER PRIMARY KEY, at INTEGER NOT NULL, level TEXT NOT NULL,
  component TEXT NOT NULL, message TEXT NOT NULL, fields TEXT NOT NULL DEFAULT '{}');
INSERT INTO logs_v8 SELECT id, at, level, component, message, fields FROM logs;
DROP TABLE logs;
ALTER TABLE logs_v8 RENAME TO logs;

CREATE TABLE webhook_deliveries_v8 (
  id INTEGER PRIMARY KEY, webhook_id TEXT NOT NULL, event_id INTEGER NOT NULL,
  event_type TEXT NOT NULL, attempt INTEGER NOT NULL, status INTEGER NOT NULL,
  outcome TEXT NOT NULL CHECK (outcome IN ('delivered', 'failed', 'gave_up')),
  error TEXT NOT NULL DEFAULT '', at INTEGER NOT NULL, duration_ms INTEGER NOT NULL DEFAULT 0);
INSERT INTO webhook_deliveries_v8 SELECT id, webhook_id, event_id, event_type, attempt, status,
  outcome, error, at, duration_ms FROM webhook_deliveries;
DROP TABLE webhook_deliveries;
ALTER TABLE webhook_deliveries_v8 RENAME TO webhook_deliveries;
CREATE INDEX webhook_deliveries_hook ON webhook_deliveries(webhook_id, id);

CREATE TABLE rate_limits (key TEXT PRIMARY KEY, tat_us INTEGER NOT NULL);
CREATE INDEX rate_limits_tat ON rate_limits(tat_us);
)sql",
};

}  // namespace

int latest_schema_version() {
  return static_cast<int>(std::size(kMigrations));
}

Expected<int> migrate(Db& db, int up_to) {
  if (up_to < 0 || up_to > latest_schema_version()) up_to = latest_schema_version();
  // One write transaction around the version check and every pending step: two servers starting
  // on a fresh file at once cannot both see version 0 and both run migration 1 (the second waits
  // on busy_timeout, then finds nothing to do), and a failed step leaves the schema as it was.
  if (auto st = db.exec("BEGIN IMMEDIATE"); !st) return st.error().context("migrations");
  auto apply = [&]() -> Expected<int> {
    if (auto st = db.exec("CREATE TABLE IF NOT EXISTS schema_migrations ("
                          "version INTEGER PRIMARY KEY, applied_at INTEGER NOT NULL)");
        !st) {
      return st.error();
    }
    std::set<int> applied;
    {
      // Finalized before the steps run: SQLite refuses a DROP TABLE (migration 6) while any
      // statement of the connection is still pending.
      auto q = db.prepare("SELECT version FROM schema_migrations");
      if (!q) return q.error();
      while (q->step()) applied.insert(static_cast<int>(q->i64(0)));
      if (auto st = q->status(); !st) return st.error();
    }
    const int current = applied.empty() ? 0 : *applied.rbegin();
    if (current > latest_schema_version()) {
      return make_error("storage", "database schema version " + std::to_string(current) +
                                       " is newer than this server understands (" +
                                       std::to_string(latest_schema_version()) +
                                       "); upgrade rollout-server");
    }
    // Every step not recorded yet, in order: a step numbered below the newest one recorded (a
    // branch's migration merged after a later one) still runs once.
    for (int v = 1; v <= up_to; ++v) {
      if (applied.count(v)) continue;
      Status st = db.exec(kMigrations[v - 1]);
      if (st) {
        auto ins = db.prepare("INSERT INTO schema_migrations(version, applied_at) VALUES (?, ?)");
        st = ins ? ins->bind(1, v).bind(2, static_cast<std::int64_t>(std::time(nullptr))).run()
                 : Status(ins.error());
      }
      if (!st) return st.error().context("migration " + std::to_string(v));
    }
    return std::max(current, up_to);
  };
  auto version = apply();
  if (!version) {
    (void)db.exec("ROLLBACK");
    return version.error();
  }
  if (auto st = db.exec("COMMIT"); !st) {
    (void)db.exec("ROLLBACK");
    return st.error().context("migrations");
  }
  return version;
}

}  // namespace rollout::server::sqlite
