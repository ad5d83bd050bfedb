#include "server-plugin/store/sqlite/db.hpp"

#include <sqlite3.h>

#include "server-plugin/store.hpp"

namespace rollout::server::sqlite {

namespace {

// BUSY: another connection (another server on the same file) kept the write lock past the busy
// timeout; a retryable conflict (store.hpp), not a broken database.
std::string error_code(int rc) {
  if ((rc & 0xff) == SQLITE_CONSTRAINT) return "constraint";
  if ((rc & 0xff) == SQLITE_BUSY) return kConflict;
  return "storage";
}

}  // namespace

Stmt::~Stmt() {
  if (stmt_) sqlite3_finalize(stmt_);
}

Stmt& Stmt::bind(int i, std::string_view v) {
  sqlite3_bind_text(stmt_, i, v.data(), static_cast<int>(v.size()), SQLITE_TRANSIENT);
  return *this;
}

Stmt& Stmt::bind(int i, std::int64_t v) {
  sqlite3_bind_int64(stmt_, i, v);
  return *this;
}

Stmt& Stmt::bind_null(int i) {
  sqlite3_bind_null(stmt_, i);
  return *this;
}

bool Stmt::step() {
  code_ = sqlite3_step(stmt_);
  if (code_ == SQLITE_ROW) return true;
  if (code_ != SQLITE_DONE && !error_) {
    error_ = make_error(error_code(code_), std::string("database: ") + sqlite3_errmsg(db_));
  }
  return false;
}

Status Stmt::run() {
  while (step()) {
  }
  return status();
}

std::string Stmt::text(int col) const {
  const auto* p = sqlite3_column_text(stmt_, col);
  const int n = sqlite3_column_bytes(stmt_, col);
  return p ? std::string(reinterpret_cast<const char*>(p), static_cast<std::size_t>(n))
           : std::string();
}

std::int64_t Stmt::i64(int col) const {
  return sqlite3_column_int64(stmt_, col);
}

bool Stmt::is_null(int col) const {
  return sqlite3_column_type(stmt_, col) == SQLITE_NULL;
}

std::optional<std::int64_t> Stmt::opt_i64(int col) const {
  if (is_null(col)) return std::nullopt;
  return i64(col);
}

std::optional<std::string> Stmt::opt_text(int col) const {
  if (is_null(col)) return std::nullopt;
  return text(col);
}

Expected<Db> Db::open(const std::string& path) {
  sqlite3* raw = nullptr;
  const int rc =
      sqlite3_open_v2(path.c_str(), &raw,
                      SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_FULLMUTEX, nullptr);
  if (rc != SQLITE_OK) {
    std::string msg = raw ? sqlite3_errmsg(raw) : "out of memory";
    sqlite3_close(raw);
    return make_error("storage", "cannot open database " + path + ": " + msg);
  }
  sqlite3_extended_result_codes(raw, 1);
  return Db(raw);
}

Db::~Db() {
  if (db_) sqlite3_close(db_);
}

Expected<Stmt> Db::prepare(std::string_view sql) {
  sqlite3_stmt* stmt = nullptr;
  if (sqlite3_prepare_v2(db_, sql.data(), static_cast<int>(sql.size()), &stmt, nullptr) !=
      SQLITE_OK) {
    return make_error("storage",
                      std::string("database: cannot prepare statement: ") + sqlite3_errmsg(db_));
  }
  return Stmt(db_, stmt);
}

Status Db::exec(std::string_view sql) {
  char* err = nullptr;
  const std::string s(sql);
  if (const int rc = sqlite3_exec(db_, s.c_str(), nullptr, nullptr, &err); rc != SQLITE_OK) {
    std::string msg = err ? err : sqlite3_errmsg(db_);
    sqlite3_free(err);
    return make_error(error_code(rc), "database: " + msg);
  }
  return {};
}

int Db::changes() const {
  return sqlite3_changes(db_);
}

}  // namespace rollout::server::sqlite
