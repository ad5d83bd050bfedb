// A thin, typed layer over libpq, PostgreSQL's C client library: one connection (RAII PGconn)
// opened from a postgresql:// URL that libpq parses itself, so sslmode, sslrootcert,
// connect_timeout and the rest mean exactly what PostgreSQL's documentation says (sslmode=
// verify-full gives TLS to the database with the server's name checked); statements with text
// parameters only (user data is never spliced into SQL); named statements prepared once per
// connection; typed access to results; every failure an Error value naming the statement:
//   SQLSTATE 40001 serialization failure, 40P01 deadlock      -> "conflict" (retry the transaction)
//   SQLSTATE 23505 unique violation                           -> "unique_violation"
//   other class 23 (not null, check, foreign key)              -> "constraint" (as on SQLite)
//   connection lost (class 08, 57P01..03 shutdown, socket gone) -> "storage", "... connection lost"
//   anything else                                               -> "storage", the server's message
//
// Why libpq and not libpqxx: libpq is the one C API every PostgreSQL client is built on, shipped
// by Debian as libpq-dev with a stable ABI (libpq.so.5 since 2008), while libpqxx reports every
// failure with exceptions (pqxx::sql_error, broken_connection, ...) that each call here would
// catch again to become an Expected<>, and its major versions (6 in Debian 12, 7 after) differ
// in API. What the store needs from it (parameters, prepared statements, results, SQLSTATE) is
// this file.
//
// Not thread-safe: one thread uses a connection at a time (pg::Pool hands out leases).
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "common/error.hpp"

struct pg_conn;
struct pg_result;

namespace rollout::server::pg {

// The longest database_url accepted (libpq has no limit of its own).
inline constexpr std::size_t kMaxUrlLength = 4096;

// Checks a database_url before any connection: a postgresql:// (or postgres://) URL of at most
// kMaxUrlLength bytes that libpq can parse. The error (code "invalid_url") names the field and
// never repeats a password.
Status check_url(std::string_view url);

// Statement parameters, all sent as text ($1, $2, ... in the SQL); PostgreSQL converts them to
// the column types. A null is SQL NULL.
class Params {
 public:
  Params() = default;
  template <class... A>
  explicit Params(const A&... a) {
    (add(a), ...);
  }
  Params& add(std::string_view v) {
    values_.emplace_back(std::string(v));
    return *this;
  }
  Params& add(const std::string& v) { return add(std::string_view(v)); }
  Params& add(const char* v) { return add(std::string_view(v)); }
  Params& add(std::int64_t v) {
    values_.emplace_back(std::to_string(v));
    return *this;
  }
  Params& add(int v) { return add(static_cast<std::int64_t>(v)); }
  Params& add(bool v) { return add(std::string_view(v ? "true" : "false")); }
  Params& add(std::nullopt_t) {
    values_.emplace_back(std::nullopt);
    return *this;
  }
  template <class T>
  Params& add(const std::optional<T>& v) {
    return v ? add(*v) : add(std::nullopt);
  }
  const std::vector<std::optional<std::string>>& values() const { return values_; }

 private:
  std::vector<std::optional<std::string>> values_;
};

// The rows of one statement. Cells are text as PostgreSQL prints them; the typed getters parse
// them and name the column when a cell is not what the caller expected.
class Result {
 public:
  explicit Result(pg_result* res);
  int rows() const;
  int columns() const;
  // Rows changed by an INSERT/UPDATE/DELETE (0 for other statements).
  std::int64_t affected() const;
  // The column's index, or -1 when the result has no such column.
  int column(std::string_view name) const;

  bool is_null(int row, int col) const;
  std::string text(int row, int col) const;
  std::optional<std::string> opt_text(int row, int col) const;
  Expected<std::int64_t> i64(int row, int col) const;
  Expected<std::optional<std::int64_t>> opt_i64(int row, int col) const;
  Expected<bool> boolean(int row, int col) const;

 private:
  std::string where(int row, int col) const;
  std::shared_ptr<pg_result> res_;
};

class Conn {
 public:
  // Connects (blocking, at most connect_timeout, 10 s unless the URL says otherwise).
  static Expected<Conn> open(const std::string& url);

  Conn(Conn&& o) noexcept;
  Conn& operator=(Conn&& o) noexcept;
  Conn(const Conn&) = delete;
  Conn& operator=(const Conn&) = delete;
  ~Conn();

  // One or more statements without parameters (migrations, BEGIN, COMMIT); the last one's rows.
  Expected<Result> exec(const std::string& sql);
  // One statement with parameters, parsed by the server on every call.
  Expected<Result> query(const std::string& sql, const Params& params = Params());
  // The statement called `name`, prepared on this connection the first time it is used; a name
  // always stands for one SQL text (a second text for a known name is an "internal" error).
  Expected<Result> prepared(const std::string& name, const std::string& sql,
                            const Params& params = Params());

  // False once the connection is known to be unusable (lost, or the server said it is closing
  // it). Cheap, no round trip.
  bool usable() const;
  // For a connection sitting idle: reads whatever the server sent meanwhile (a closing
  // connection's FATAL message, the end of the stream) without waiting, then usable().
  bool probe();
  // Inside a transaction block (BEGIN without COMMIT/ROLLBACK yet), or one that failed.
  bool in_transaction() const;
  // The server process serving this connection (pg_stat_activity.pid).
  int backend_pid() const;
  // "host:port/database" for messages; never the password.
  const std::string& where() const { return where_; }

 private:
  Conn(pg_conn* conn, std::string where);
  Expected<Result> finish(pg_result* res, std::string_view what);
  static void on_notice(void* self, const pg_result* res);

  pg_conn* conn_ = nullptr;
  std::string where_;
  // Name -> SQL of the statements prepared on this connection.
  std::unordered_map<std::string, std::string> prepared_;
  // Set by on_notice when the server announces the connection's end while it sits idle (libpq
  // hands such a FATAL to the notice receiver). Heap-held so a moved Conn keeps its address.
  std::unique_ptr<bool> closing_ = std::make_unique<bool>(false);
};

}  // namespace rollout::server::pg
