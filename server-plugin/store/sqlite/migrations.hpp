// Versioned schema for the SQLite store. Each migration runs once and is recorded in
// schema_migrations; the version check and all pending migrations share one BEGIN IMMEDIATE
// transaction, so concurrent openers of one file apply them once and a failure leaves the schema
// untouched. A database with a newer schema than this binary knows is refused rather than
// misread. Append new migrations; never edit a released one. A step not yet recorded runs even
// when a later one is (branches that each added one), so steps must not depend on their order
// beyond what each one's own SQL checks.
#pragma once

#include "common/error.hpp"
#include "server-plugin/store/sqlite/db.hpp"

namespace rollout::server::sqlite {

int latest_schema_version();
// Applies the missing migrations (those numbered up to `up_to`, all by default; tests build an
// older schema with it); returns the schema version now in effect.
Expected<int> migrate(Db& db, int up_to = -1);

}  // namespace rollout::server::sqlite
