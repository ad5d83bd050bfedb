// Versioned schema for the SQLite store. Each migration runs once and is recorded in
// schema_migrations; the version check and all pending migrations share one BEGIN IMMEDIATE
// transaction, so concurrent openers of one file apply them once and a failure leaves the schema
// untouched. A database with a newer schema than this binary knows is refused rather than
// misread. Append new migrations; never edit a released one.
#pragma once

#include "common/error.hpp"
#include "server-plugin/store/sqlite/db.hpp"

namespace rollout::server::sqlite {

int latest_schema_version();
// Applies the missing migrations; returns the schema version now in effect.
Expected<int> migrate(Db& db);

}  // namespace rollout::server::sqlite
