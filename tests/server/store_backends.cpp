// server_tests runs the store suites (suites/) and the App tests against SQLite; pg_tests runs
// them against PostgreSQL (postgres/pg_store_backends.cpp). And raw SQL behind the store's back
// with sqlite3 itself.
#include "tests/server/store_backends.hpp"

#include <sqlite3.h>

namespace rollout::testing {

std::vector<Backend> store_backends() {
  return {Backend{"sqlite", [](const std::filesystem::path& d) {
                    return "sqlite:" + (d / "rollout.db").string();
                  }}};
}

namespace {
std::string sqlite_path(const std::string& url) {
  return url.substr(7);  // "sqlite:"
}
}  // namespace

Status run_sql(const std::string& url, const std::string& statements) {
  sqlite3* db = nullptr;
  if (sqlite3_open(sqlite_path(url).c_str(), &db) != SQLITE_OK) {
    sqlite3_close(db);
    return make_error("storage", "cannot open " + url);
  }
  sqlite3_busy_timeout(db, 10'000);
  char* err = nullptr;
  const int rc = sqlite3_exec(db, statements.c_str(), nullptr, nullptr, &err);
  const std::string message = err ? err : "";
  sqlite3_free(err);
  sqlite3_close(db);
  if (rc != SQLITE_OK) return make_error("storage", message);
  return {};
}

std::int64_t count_rows(const std::string& url, const std::string& table) {
  sqlite3* db = nullptr;
  EXPECT_EQ(sqlite3_open(sqlite_path(url).c_str(), &db), SQLITE_OK);
  sqlite3_stmt* st = nullptr;
  sqlite3_prepare_v2(db, ("SELECT count(*) FROM " + table).c_str(), -1, &st, nullptr);
  std::int64_t n = -1;
  if (sqlite3_step(st) == SQLITE_ROW) n = sqlite3_column_int64(st, 0);
  EXPECT_GE(n, 0) << "count of " << table << ": " << sqlite3_errmsg(db);
  sqlite3_finalize(st);
  sqlite3_close(db);
  return n;
}

std::string refuse_inserts_sql(const std::string& table, const std::string& message) {
  return "CREATE TRIGGER test_refuse_" + table + " BEFORE INSERT ON " + table +
         " BEGIN SELECT RAISE(ABORT, '" + message + "'); END;";
}

}  // namespace rollout::testing
