// What the PostgreSQL store's files share: reading a row's cells while remembering the first
// cell that was not what the row type expects, and the attempts' microsecond timestamps.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "common/error.hpp"
#include "server-plugin/model.hpp"
#include "server-plugin/store/postgres/pg_conn.hpp"

namespace rollout::server::pg {

// Reads one row; the first bad cell is kept in err() and later reads return zero values.
class Row {
 public:
  Row(const Result& r, int row) : r_(r), row_(row) {}
  std::string s(int col) const { return r_.text(row_, col); }
  std::optional<std::string> os(int col) const { return r_.opt_text(row_, col); }
  bool null(int col) const { return r_.is_null(row_, col); }
  std::int64_t i(int col) {
    auto v = r_.i64(row_, col);
    if (!v) keep(v.error());
    return v ? *v : 0;
  }
  std::uint64_t u(int col) { return static_cast<std::uint64_t>(i(col)); }
  std::optional<std::int64_t> oi(int col) {
    auto v = r_.opt_i64(row_, col);
    if (!v) keep(v.error());
    return v ? *v : std::nullopt;
  }
  bool b(int col) {
    auto v = r_.boolean(row_, col);
    if (!v) keep(v.error());
    return v && *v;
  }
  const std::optional<Error>& err() const { return err_; }

 private:
  void keep(const Error& e) {
    if (!err_) err_ = e;
  }
  const Result& r_;
  int row_;
  std::optional<Error> err_;
};

// Every row of `r` through `read(Row&)`; the first bad cell is the error.
template <class T, class F>
Expected<std::vector<T>> rows(const Result& r, F&& read) {
  std::vector<T> out;
  for (int i = 0; i < r.rows(); ++i) {
    Row row(r, i);
    out.push_back(read(row));
    if (row.err()) return *row.err();
  }
  return out;
}

// The first row of `r` through `read`, or nullopt without one.
template <class T, class F>
Expected<std::optional<T>> first_row(const Result& r, F&& read) {
  if (r.rows() == 0) return std::optional<T>();
  Row row(r, 0);
  T v = read(row);
  if (row.err()) return *row.err();
  return std::optional<T>(std::move(v));
}

inline std::int64_t i64(std::uint64_t v) {
  return static_cast<std::int64_t>(v);
}

// RFC 3339 UTC ("...:SSZ" or "...:SS.fffZ", common/time.hpp) to microseconds since the epoch,
// and back, a fraction written only as long as it needs (so "10:00:00.5Z" comes back as such).
Expected<std::int64_t> rfc3339_to_us(const std::string& text);
std::string us_to_rfc3339(std::int64_t us);

}  // namespace rollout::server::pg

namespace rollout::server::pg {
// The audit trail's rows as list_events and events_after select them, and their reader.
#define PG_EVENT_COLUMNS \
  "id, at, \"user\", action, version, os, arch, reason, force, health, detail"
Event read_event(Row& x);
}  // namespace rollout::server::pg
