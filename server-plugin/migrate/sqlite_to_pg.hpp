// Moving up (issue #14): `rollout-server migrate --from sqlite:PATH --to postgresql://...` copies
// an embedded SQLite database into an empty PostgreSQL one, for an MSP that outgrows one machine.
//
// What it does, in order (each failure stops it with nothing written to the target's data):
// 1. The target: connects and runs the PostgreSQL migrations, so its schema is current (as a
//    server does on start). The source: must be an existing file; opened as the server opens it,
//    which upgrades an older schema to the current one first (and refuses a newer one).
// 2. Holds the source's write lock (a SQLite transaction) until the end, so a server still
//    running on it cannot change it meanwhile (its writes wait and then fail as "busy"); reads
//    one consistent snapshot of it.
// 3. Checks that the table list (tables.hpp) covers both schemas and that the target holds no
//    data, then that every release's artifact is in the source data dir and, by default, streams
//    each into the target's database artifact store, published only if it hashes to the
//    release's SHA-256 (migrate_artifacts below).
// 4. In ONE PostgreSQL transaction: takes the migration advisory lock, refuses a target with any
//    data row (code "target_not_empty", naming the tables; the rows the PostgreSQL migrations
//    seed, counters at 0 and the free webhook lease, do not count), copies every copied table in
//    key order with every column and every id as it is, translates the counters, sets every
//    sequence past the copied maximum (update_attempts.seq, logs.id, webhook_deliveries.id,
//    rollout_events.id), then verifies before COMMIT: per-table row counts equal on both sides
//    and the rollouts view (rollouts_view below, read through the SQLite Store and through a
//    PgOps on the migration's own connection, so inside the transaction) identical. A mismatch
//    is "verify_failed" and rolls everything back.
//
// The audit trail: PostgreSQL's rollout_events is append-only and its ids come from a BEFORE
// INSERT trigger that takes the audit advisory lock and keeps an explicit id. The copy inserts
// the historical rows with their SQLite ids (oldest first, in the migration's transaction, so the
// trigger's lock is held to COMMIT as for any writer: no event of another writer can slip in
// between), then moves rollout_events_id_seq past the largest id, so the next event gets the
// next id and webhook cursors (copied with their webhooks) keep pointing at the same events.
// Timestamps are integers on both sides (seconds; attempts' occurred_at_us microseconds since
// SQLite's migration 8) and are copied as the same integers, exactly.
//
// Thread-safety: call from one thread; it uses its own connections. No exceptions.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "common/error.hpp"
#include "server-plugin/store.hpp"

namespace rollout::server::migrate {

struct Options {
  std::string sqlite_path;         // the source file (without "sqlite:")
  std::string pg_url;              // postgresql://... (pool_size=N allowed and ignored)
  std::filesystem::path data_dir;  // the source server's data_dir: artifacts/<sha256>
  std::int64_t now = 0;            // Unix seconds: the last-24h window the view compares
  // Where the new servers keep artifacts: true (the default, `artifact_store: auto` on
  // PostgreSQL) copies them into the target database; false leaves the files in data_dir for
  // servers that share it (`artifact_store: local`).
  bool artifacts_to_database = true;
};

struct TableRows {
  std::string table;
  std::int64_t rows = 0;
  std::string note;  // "translated", or why a table was left out
};

struct Report {
  std::string target;             // host:port/database, never the password
  std::vector<TableRows> copied;  // copied tables and counters, in copy order
  std::vector<TableRows> left_out;
  std::int64_t artifacts = 0;         // release artifacts checked in data_dir/artifacts
  std::int64_t artifacts_copied = 0;  // of them, put into the target database by this run
  bool artifacts_in_database = false;
};

Expected<Report> sqlite_to_pg(const Options& options);

// The artifact step: every release's artifact must be data_dir/artifacts/<sha256>, a file of
// the release's size (code "artifact_missing" otherwise, naming the first ones). With `target`
// (the target database's ArtifactStore) each one not yet published there is streamed into it
// and published only when its bytes hash to the release's SHA-256 ("artifact_mismatch" names a
// corrupt file); artifacts are content-addressed, so one left by an earlier, failed run is
// reused, never duplicated, and counts as no data of the target. Without `target` the files stay
// where they are. Runs before the rows' transaction: an artifact is only reachable through a
// release row, so until that commits the copied bytes are invisible. Returns how many releases
// were checked and, in `copied`, how many artifacts were put into `target`.
Expected<std::int64_t> migrate_artifacts(const std::vector<Release>& releases,
                                         const std::filesystem::path& data_dir,
                                         artifacts::ArtifactStore* target, std::int64_t& copied);

// What the Updates page reads from the store (app/rollouts_api.cpp list_rollouts): releases,
// all-time and last-24h counts, the agent population, policies and rollout records, as sorted
// lines, so two stores holding the same data give equal lines. `now` in Unix seconds.
Expected<std::vector<std::string>> rollouts_view(StoreOps& store, std::int64_t now);

}  // namespace rollout::server::migrate
