// Chooses the backend from database_url. Outside either backend's folder: the factory is the one
// place that knows them all.
#include "server-plugin/store.hpp"
#include "server-plugin/store/postgres/pg_store.hpp"
#include "server-plugin/store/sqlite/sqlite_store.hpp"

namespace rollout::server {

Expected<std::unique_ptr<Store>> open_store(const std::string& url) {
  if (url.rfind("sqlite:", 0) == 0) return sqlite::SqliteStore::open(url.substr(7));
  if (url.rfind("postgresql://", 0) == 0 || url.rfind("postgres://", 0) == 0) {
    return pg::PgStore::open(url);
  }
  return make_error("invalid_config",
                    "database_url must look like sqlite:/var/lib/rollout/rollout.db or "
                    "postgresql://user@host/db");
}

}  // namespace rollout::server
