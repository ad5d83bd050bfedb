// Versioned schema for the SQLite store. Each migration runs once, inside a transaction, and is
// recorded in schema_migrations; a database with a newer schema than this binary knows is refused
// rather than misread.
#pragma once

#include "common/error.hpp"
#include "server-plugin/store/sqlite/db.hpp"

namespace rollout::server::sqlite {

int latest_schema_version();
// Applies the missing migrations; returns the schema version now in effect.
Expected<int> migrate(Db& db);

}  // namespace rollout::server::sqlite
