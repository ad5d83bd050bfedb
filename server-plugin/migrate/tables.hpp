// The table list of `rollout-server migrate` (sqlite_to_pg.hpp): every table of the SQLite and
// PostgreSQL schemas, what moving up does with it, and for each copied table every column, in
// the one order both sides read and write them. This is the single place that knows the
// columns; check_coverage() refuses a schema with a table or column the list does not name, so
// a future migration that adds one fails the migration (and pg_tests' coverage test) until it is
// listed here.
//
// What is copied and what is not (the reasons are in tables.cpp, one per table):
// - copied: releases, agents, agent_releases, update_attempts, latest_attempts, rollout_events,
//   users, api_tokens, policies, logs, rollouts, webhooks, webhook_deliveries, notify_watch;
// - counters: translated, not copied row by row (promotion_seq and attempts kept; SQLite's
//   'attempts' counter is also the floor of PostgreSQL's update_attempts.seq identity, which is
//   what numbers attempts there);
// - transient, left out: sessions, rate_limits, notify_lease;
// - artifacts (PostgreSQL only: artifacts, artifact_chunks, artifact_uploads): filled by the
//   artifact step from the source's data_dir through the target's ArtifactStore, not row by row;
// - bookkeeping, each database's own: schema_migrations.
//
// Plain constant data; thread-safe. check_coverage() reads both schemas and changes nothing.
#pragma once

#include <string>
#include <vector>

#include "common/error.hpp"
#include "server-plugin/store/postgres/pg_conn.hpp"
#include "server-plugin/store/sqlite/db.hpp"

namespace rollout::server::migrate {

enum class ColumnKind {
  integer,  // INTEGER / BIGINT (timestamps are integers on both since SQLite's migration 8)
  text,     // TEXT
  boolean,  // SQLite INTEGER 0/1, PostgreSQL BOOLEAN
};

struct Column {
  std::string name;
  ColumnKind kind;
};

enum class Disposition {
  copy,         // every row, every column
  counters,     // translated (see above)
  transient,    // not copied
  bookkeeping,  // each database's own (schema_migrations)
  artifacts,    // PostgreSQL only: the artifact step fills them (migrate_artifacts)
};

struct TableSpec {
  std::string name;
  Disposition how;
  std::string why;              // one line: why this table is copied or left out
  std::vector<Column> columns;  // copy only: all of them, in this order
  std::string order_by;         // copy only: the key order rows are copied in
  // copy only: the column PostgreSQL numbers from a sequence (an identity, or rollout_events'
  // owned sequence), set past the copied maximum afterwards; empty when none.
  std::string serial_column;
  // copy only: the serial column is GENERATED ALWAYS (INSERT needs OVERRIDING SYSTEM VALUE).
  bool generated_always = false;
};

// Every table, copied ones in the order they are copied (users before the tables that refer to
// them).
const std::vector<TableSpec>& tables();

// True for a table of Disposition::artifacts: content-addressed bytes that are no data until a
// release row names them (the emptiness check of the target ignores them).
bool is_artifact_table(const std::string& name);

// The table's SQL name quoted for either database ("user" is reserved in PostgreSQL).
std::string quoted(const std::string& identifier);

// Refuses (code "schema_mismatch", naming the table or column and this file) when either
// schema has a table not in tables(), lacks one that is, or a copied table's columns differ from
// its list on either side.
Status check_coverage(sqlite::Db& source, pg::Conn& target);

}  // namespace rollout::server::migrate
