// A thin RAII layer over the SQLite C API: one connection, prepared statements with bound
// parameters only (user data is never spliced into SQL), errors as values naming the statement.
// Not thread-safe by itself; SqliteStore serialises access with its mutex.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "common/error.hpp"

struct sqlite3;
struct sqlite3_stmt;

namespace rollout::server::sqlite {

class Stmt {
 public:
  Stmt(sqlite3* db, sqlite3_stmt* stmt) : db_(db), stmt_(stmt) {}
  Stmt(Stmt&& o) noexcept : db_(o.db_), stmt_(o.stmt_) { o.stmt_ = nullptr; }
  Stmt(const Stmt&) = delete;
  Stmt& operator=(const Stmt&) = delete;
  ~Stmt();

  Stmt& bind(int i, std::string_view v);
  Stmt& bind(int i, std::int64_t v);
  Stmt& bind(int i, std::uint64_t v) { return bind(i, static_cast<std::int64_t>(v)); }
  Stmt& bind(int i, int v) { return bind(i, static_cast<std::int64_t>(v)); }
  Stmt& bind(int i, bool v) { return bind(i, static_cast<std::int64_t>(v ? 1 : 0)); }
  Stmt& bind(int i, const char* v) { return bind(i, std::string_view(v)); }
  Stmt& bind(int i, const std::string& v) { return bind(i, std::string_view(v)); }
  Stmt& bind_null(int i);
  template <class T>
  Stmt& bind(int i, const std::optional<T>& v) {
    return v ? bind(i, *v) : bind_null(i);
  }

  // True while a row is available; an error ends iteration and is kept for status().
  bool step();
  // Runs to completion; the statement's error or ok.
  Status run();
  // The constraint/other error of the last step, if any.
  Status status() const { return error_ ? Status(*error_) : Status(); }
  int last_code() const { return code_; }

  std::string text(int col) const;
  std::int64_t i64(int col) const;
  std::uint64_t u64(int col) const { return static_cast<std::uint64_t>(i64(col)); }
  bool is_null(int col) const;
  std::optional<std::int64_t> opt_i64(int col) const;
  std::optional<std::string> opt_text(int col) const;

 private:
  sqlite3* db_;
  sqlite3_stmt* stmt_;
  int code_ = 0;
  std::optional<Error> error_;
};

class Db {
 public:
  static Expected<Db> open(const std::string& path);
  Db(Db&& o) noexcept : db_(o.db_) { o.db_ = nullptr; }
  Db(const Db&) = delete;
  Db& operator=(const Db&) = delete;
  ~Db();

  // Statements are compiled per call; SQLite's own cache keeps this cheap enough here.
  Expected<Stmt> prepare(std::string_view sql);
  Status exec(std::string_view sql);  // several statements, no parameters (schema, pragmas)
  int changes() const;
  sqlite3* raw() const { return db_; }

 private:
  explicit Db(sqlite3* db) : db_(db) {}
  sqlite3* db_;
};

}  // namespace rollout::server::sqlite
