#include "server-plugin/store/postgres/pg_migrations.hpp"

#include <string>

namespace rollout::server::pg {
namespace {

constexpr std::string_view kMigrations[] = {
    // 1: the end state of the SQLite schema (store/sqlite/migrations.cpp, all of its steps),
    // with the portable rules: every timestamp BIGINT unix seconds, except an attempt's
    // occurred_at_us (microseconds, so reports order exactly without parsing text); flags
    // BOOLEAN; JSON kept as the TEXT the store wrote (jsonb would reorder keys and change the
    // canonical text that revisions compare); ids the store assigns BIGINT identity; the
    // latest-attempt-per-agent table keyed on the attempt's own seq column instead of a rowid.
    // No data steps: a PostgreSQL database starts empty (moving up copies rows into it).
    // "user" is reserved in PostgreSQL and quoted (standard SQL; SQLite accepts it too).
    //
    // Identity and sequence values are handed out when a row is inserted, not when its
    // transaction commits: with two writers, id 8 can be visible while id 7 is still to come,
    // and a reader of "events after id N" (a webhook cursor) that saw 8 would skip 7 for good.
    // So the audit trail's ids are assigned by a BEFORE INSERT trigger under a transaction-level
    // advisory lock (key 0x726f6c6c6576656e, "rolleven"): the next writer gets its id only
    // after the previous one has committed or rolled back, so ids become visible in order.
    // Writers of audit events serialise for the rest of their transaction; the store inserts
    // its event last. A NULL id takes the next value; an explicit one (copying rows from SQLite)
    // is kept. The other identities (update_attempts.seq, logs, webhook_deliveries) only order
    // rows and break ties; nothing may read "rows after N" or MAX() of them as a change marker
    // (as SQLite's last-24h counts cache does with MAX(rowid)): on PostgreSQL that misses rows.
    R"sql(
CREATE TABLE releases (
  version TEXT NOT NULL, os TEXT NOT NULL, arch TEXT NOT NULL,
  product TEXT NOT NULL, size BIGINT NOT NULL, sha256 TEXT NOT NULL,
  security_version BIGINT NOT NULL, manifest TEXT NOT NULL,
  created_at BIGINT NOT NULL, published_by TEXT NOT NULL,
  promoted_at BIGINT, promotion_seq BIGINT NOT NULL DEFAULT 0,
  blocked BOOLEAN NOT NULL DEFAULT false, blocked_reason TEXT NOT NULL DEFAULT '',
  PRIMARY KEY (version, os, arch));
CREATE INDEX releases_sha256 ON releases(sha256);

CREATE TABLE agents (
  id TEXT PRIMARY KEY, token_hash TEXT NOT NULL UNIQUE, hostname TEXT NOT NULL,
  machine_id TEXT NOT NULL, os TEXT NOT NULL, arch TEXT NOT NULL,
  current_version TEXT NOT NULL, client TEXT NOT NULL DEFAULT '', site TEXT NOT NULL DEFAULT '',
  channel_hint TEXT NOT NULL DEFAULT '', state TEXT NOT NULL DEFAULT 'idle',
  security_floor BIGINT NOT NULL DEFAULT 0, last_sequence BIGINT NOT NULL DEFAULT 0,
  enrolled_at BIGINT NOT NULL, last_checkin_at BIGINT NOT NULL DEFAULT 0,
  directive_version TEXT, directive_action TEXT, directive_sequence BIGINT,
  directive_expires_at BIGINT, directive_envelope TEXT);
CREATE INDEX agents_machine ON agents(machine_id);

CREATE TABLE update_attempts (
  seq BIGINT GENERATED ALWAYS AS IDENTITY UNIQUE,
  id TEXT PRIMARY KEY, agent_id TEXT NOT NULL, version TEXT NOT NULL, os TEXT NOT NULL,
  arch TEXT NOT NULL, from_version TEXT NOT NULL DEFAULT '', outcome TEXT NOT NULL
  CHECK (outcome IN ('success', 'failure', 'crash')),
  stage TEXT NOT NULL DEFAULT '', error_code TEXT NOT NULL DEFAULT '', message TEXT NOT NULL DEFAULT '',
  exit_code BIGINT, signal BIGINT, stderr_tail TEXT NOT NULL DEFAULT '',
  occurred_at_us BIGINT NOT NULL, received_at BIGINT NOT NULL);
CREATE INDEX attempts_release ON update_attempts(version, os, arch, agent_id, occurred_at_us);
CREATE INDEX attempts_agent ON update_attempts(agent_id, received_at);
CREATE INDEX attempts_received ON update_attempts(received_at);

-- One row per (release, agent): its latest attempt by (occurred_at_us, attempt_seq).
CREATE TABLE latest_attempts (
  version TEXT NOT NULL, os TEXT NOT NULL, arch TEXT NOT NULL, agent_id TEXT NOT NULL,
  outcome TEXT NOT NULL, occurred_at_us BIGINT NOT NULL, attempt_seq BIGINT NOT NULL,
  PRIMARY KEY (version, os, arch, agent_id));
CREATE INDEX latest_attempts_outcome ON latest_attempts(version, os, arch, outcome);

CREATE SEQUENCE rollout_events_id_seq AS BIGINT;
CREATE TABLE rollout_events (
  id BIGINT PRIMARY KEY, at BIGINT NOT NULL, "user" TEXT NOT NULL,
  action TEXT NOT NULL, version TEXT NOT NULL DEFAULT '', os TEXT NOT NULL DEFAULT '',
  arch TEXT NOT NULL DEFAULT '', reason TEXT NOT NULL DEFAULT '', force BOOLEAN NOT NULL DEFAULT false,
  health TEXT NOT NULL DEFAULT '{}', detail TEXT NOT NULL DEFAULT '{}');
ALTER SEQUENCE rollout_events_id_seq OWNED BY rollout_events.id;
CREATE INDEX events_release ON rollout_events(version, os, arch, id);
CREATE FUNCTION rollout_events_commit_ordered_id() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  PERFORM pg_advisory_xact_lock(8245928655553193326);  -- 0x726f6c6c6576656e
  IF NEW.id IS NULL THEN
    NEW.id := nextval('rollout_events_id_seq');
  END IF;
  RETURN NEW;
END $$;
CREATE TRIGGER rollout_events_id BEFORE INSERT ON rollout_events
  FOR EACH ROW EXECUTE FUNCTION rollout_events_commit_ordered_id();
-- Append-only, as on SQLite: the error is a constraint violation (SQLSTATE 23001) there too.
CREATE FUNCTION rollout_events_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION 'rollout_events is append-only' USING ERRCODE = 'restrict_violation';
END $$;
CREATE TRIGGER rollout_events_no_update BEFORE UPDATE OR DELETE ON rollout_events
  FOR EACH ROW EXECUTE FUNCTION rollout_events_append_only();
CREATE TRIGGER rollout_events_no_truncate BEFORE TRUNCATE ON rollout_events
  FOR EACH STATEMENT EXECUTE FUNCTION rollout_events_append_only();

CREATE TABLE users (username TEXT PRIMARY KEY, password_hash TEXT NOT NULL,
  role TEXT NOT NULL CHECK (role IN ('viewer', 'operator', 'admin')), created_at BIGINT NOT NULL);
CREATE TABLE sessions (token_hash TEXT PRIMARY KEY, username TEXT NOT NULL REFERENCES users(username),
  csrf_token TEXT NOT NULL, expires_at BIGINT NOT NULL);
CREATE TABLE api_tokens (token_hash TEXT PRIMARY KEY, username TEXT NOT NULL REFERENCES users(username),
  name TEXT NOT NULL, created_at BIGINT NOT NULL);
CREATE TABLE policies (scope TEXT NOT NULL CHECK (scope IN ('default', 'client', 'site', 'agent')),
  scope_id TEXT NOT NULL, channel TEXT, window_start TEXT, window_end TEXT,
  rollout TEXT CHECK (rollout IN ('waves', 'all_at_once')), waves TEXT,
  PRIMARY KEY (scope, scope_id));
CREATE TABLE logs (id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY, at BIGINT NOT NULL,
  level TEXT NOT NULL, component TEXT NOT NULL, message TEXT NOT NULL,
  fields TEXT NOT NULL DEFAULT '{}');

CREATE TABLE agent_releases (
  agent_id TEXT NOT NULL, version TEXT NOT NULL, os TEXT NOT NULL, arch TEXT NOT NULL,
  how TEXT NOT NULL CHECK (how IN ('install', 'downgrade', 'running')),
  first_at BIGINT NOT NULL,
  PRIMARY KEY (agent_id, version, os, arch));

CREATE TABLE rollouts (
  version TEXT NOT NULL, os TEXT NOT NULL, arch TEXT NOT NULL,
  group_key TEXT NOT NULL DEFAULT 'default',
  previous_version TEXT NOT NULL DEFAULT '',
  plan TEXT NOT NULL, thresholds TEXT NOT NULL, memory TEXT NOT NULL,
  state TEXT NOT NULL CHECK (state IN ('rolling_out', 'paused', 'complete', 'rolled_back')),
  rule TEXT NOT NULL DEFAULT '', reason TEXT NOT NULL DEFAULT '',
  rev BIGINT NOT NULL, started_at BIGINT NOT NULL, updated_at BIGINT NOT NULL,
  PRIMARY KEY (version, os, arch, group_key));

CREATE TABLE webhooks (
  id TEXT PRIMARY KEY, url TEXT NOT NULL, secret TEXT NOT NULL DEFAULT '',
  events TEXT NOT NULL, source TEXT NOT NULL CHECK (source IN ('config', 'api')),
  created_by TEXT NOT NULL DEFAULT '', created_at BIGINT NOT NULL,
  cursor BIGINT NOT NULL, attempts BIGINT NOT NULL DEFAULT 0,
  next_attempt_at BIGINT NOT NULL DEFAULT 0);
CREATE TABLE webhook_deliveries (
  id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY, webhook_id TEXT NOT NULL,
  event_id BIGINT NOT NULL, event_type TEXT NOT NULL, attempt BIGINT NOT NULL, status BIGINT NOT NULL,
  outcome TEXT NOT NULL CHECK (outcome IN ('delivered', 'failed', 'gave_up')),
  error TEXT NOT NULL DEFAULT '', at BIGINT NOT NULL, duration_ms BIGINT NOT NULL DEFAULT 0);
CREATE INDEX webhook_deliveries_hook ON webhook_deliveries(webhook_id, id);
CREATE TABLE notify_watch (subject TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE notify_lease (name TEXT PRIMARY KEY, holder TEXT NOT NULL, expires_at BIGINT NOT NULL);
INSERT INTO notify_lease (name, holder, expires_at) VALUES ('webhooks', '', 0);
)sql",
    // 2: the promotion sequence owned by the store (SQLite's migration 7): `counters` holds the
    // last value handed out (next_promotion_seq: one UPDATE ... RETURNING, rolled back with its
    // transaction, which a SEQUENCE would not be), and promotion_seq is UNIQUE among promoted
    // releases, so two servers can never give two releases one sequence.
    R"sql(
CREATE UNIQUE INDEX releases_promotion_seq ON releases(promotion_seq) WHERE promotion_seq > 0;
CREATE TABLE counters (name TEXT PRIMARY KEY, value BIGINT NOT NULL);
INSERT INTO counters (name, value)
  SELECT 'promotion_seq', COALESCE(MAX(promotion_seq), 0) FROM releases;
)sql",
    // 3: the login rate limit's buckets (SQLite's rate_limits of migration 8), keys hex-encoded.
    R"sql(
CREATE TABLE rate_limits (key TEXT PRIMARY KEY, tat_us BIGINT NOT NULL);
CREATE INDEX rate_limits_tat ON rate_limits(tat_us);
)sql",
    // 4: artifacts in the database (store/postgres/pg_artifacts.hpp, artifact_store: database).
    // An upload in progress has an artifact_uploads row and writes its artifact_chunks as they
    // arrive; publishing deletes the upload row and inserts the artifacts row, which names the
    // upload whose chunks are the artifact's bytes. Chunks are stored uncompressed out of line
    // (EXTERNAL): artifacts are compressed already, and substring() of an EXTERNAL value reads
    // only the slices a Range asks for.
    R"sql(
CREATE TABLE artifact_uploads (
  id TEXT PRIMARY KEY, sha256 TEXT NOT NULL, size BIGINT NOT NULL, started_at BIGINT NOT NULL);
CREATE INDEX artifact_uploads_started ON artifact_uploads(started_at);
CREATE TABLE artifact_chunks (
  upload_id TEXT NOT NULL, idx BIGINT NOT NULL, data BYTEA NOT NULL, PRIMARY KEY (upload_id, idx));
ALTER TABLE artifact_chunks ALTER COLUMN data SET STORAGE EXTERNAL;
CREATE TABLE artifacts (
  sha256 TEXT PRIMARY KEY, size BIGINT NOT NULL, chunk_size BIGINT NOT NULL CHECK (chunk_size > 0),
  upload_id TEXT NOT NULL UNIQUE, published_at BIGINT NOT NULL);
)sql",
    // 5: the 'attempts' counter (SQLite's, of migration 8): raised by every batch that adds
    // attempts, in its transaction, as the key of the last-24h counts cache
    // (store/window_counts_cache.hpp). Its value only has to change; seq stays an identity.
    R"sql(
INSERT INTO counters (name, value) SELECT 'attempts', COALESCE(MAX(seq), 0) FROM update_attempts;
)sql",
};

// Ends the run's hold on the advisory lock however it ends. A lost connection has released it
// already (session locks die with the session).
struct Unlock {
  Conn& conn;
  ~Unlock() {
    if (!conn.usable()) return;
    if (conn.in_transaction()) (void)conn.exec("ROLLBACK");
    (void)conn.query("SELECT pg_advisory_unlock($1)", Params(kMigrationLock));
  }
};

}  // namespace

int latest_schema_version() {
  return static_cast<int>(std::size(kMigrations));
}

Expected<int> migrate(Conn& conn) {
  return migrate(conn, kMigrations);
}

Expected<int> migrate(Conn& conn, std::span<const std::string_view> steps) {
  if (conn.in_transaction()) {
    return make_error("internal", "migrations: the connection is inside a transaction");
  }
  // Waits for a server that is migrating right now; it has finished when the lock comes.
  if (auto locked = conn.query("SELECT pg_advisory_lock($1)", Params(kMigrationLock)); !locked) {
    return locked.error().context("migrations");
  }
  Unlock unlock{conn};
  if (auto st = conn.exec("CREATE TABLE IF NOT EXISTS schema_migrations ("
                          "version INTEGER PRIMARY KEY, applied_at BIGINT NOT NULL)");
      !st) {
    return st.error().context("migrations");
  }
  auto q = conn.exec("SELECT COALESCE(MAX(version), 0) FROM schema_migrations");
  if (!q) return q.error().context("migrations");
  auto current = q->i64(0, 0);
  if (!current) return current.error().context("migrations");
  const auto latest = static_cast<std::int64_t>(steps.size());
  if (*current > latest) {
    return make_error("storage", "database schema version " + std::to_string(*current) +
                                     " is newer than this server understands (" +
                                     std::to_string(latest) + "); upgrade rollout-server");
  }
  for (auto v = *current + 1; v <= latest; ++v) {
    auto step = [&]() -> Status {
      if (auto st = conn.exec("BEGIN"); !st) return st.error();
      if (auto st = conn.exec(std::string(steps[static_cast<std::size_t>(v - 1)])); !st) {
        return st.error();
      }
      auto ins = conn.query(
          "INSERT INTO schema_migrations (version, applied_at) "
          "VALUES ($1, EXTRACT(EPOCH FROM now())::BIGINT)",
          Params(v));
      if (!ins) return ins.error();
      if (auto st = conn.exec("COMMIT"); !st) return st.error();
      return {};
    };
    if (auto st = step(); !st) {
      if (conn.usable() && conn.in_transaction()) (void)conn.exec("ROLLBACK");
      return st.error().context("migration " + std::to_string(v));
    }
  }
  return static_cast<int>(latest);
}

}  // namespace rollout::server::pg
