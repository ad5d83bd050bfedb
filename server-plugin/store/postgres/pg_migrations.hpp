// Versioned schema for the PostgreSQL store. Each migration runs once, in its own transaction,
// and is recorded in schema_migrations; the whole run (version check included) holds the
// session advisory lock kMigrationLock, so several servers starting at once on one database
// apply each migration once: the first migrates, the others wait for the lock and then find
// nothing to do. A failed migration rolls back alone and stops the run (the ones before it
// stay). A database whose schema is newer than this binary is refused rather than misread.
// Append new migrations; never edit a released one.
#pragma once

#include <cstdint>
#include <span>
#include <string_view>

#include "common/error.hpp"
#include "server-plugin/store/postgres/pg_conn.hpp"

namespace rollout::server::pg {

// pg_advisory_lock key of the migration run: "rollout1" as ASCII, unlikely to collide with
// another application's lock on a shared database server.
inline constexpr std::int64_t kMigrationLock = 0x726f6c6c6f757431;

int latest_schema_version();
// Applies the missing migrations; returns the schema version now in effect.
Expected<int> migrate(Conn& conn);
// The same with the given steps in place of the schema's (tests: a step that fails).
Expected<int> migrate(Conn& conn, std::span<const std::string_view> steps);

}  // namespace rollout::server::pg
