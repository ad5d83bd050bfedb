#include "server-plugin/store/postgres/pg_conn.hpp"

#include <libpq-fe.h>
#include <poll.h>

#include <charconv>
#include <cstring>
#include <utility>

namespace rollout::server::pg {
namespace {

std::string trimmed(const char* s) {
  std::string out = s ? s : "";
  while (!out.empty() && (out.back() == '\n' || out.back() == ' ')) out.pop_back();
  return out.empty() ? "no message from libpq" : out;
}

using ConninfoPtr = std::unique_ptr<PQconninfoOption, void (*)(PQconninfoOption*)>;

// "host:port/database" from the parsed URL, for messages (the password stays out).
std::string describe(const PQconninfoOption* opts) {
  std::string host, port, db;
  for (const auto* o = opts; o && o->keyword; ++o) {
    if (!o->val) continue;
    if (std::strcmp(o->keyword, "host") == 0) host = o->val;
    if (std::strcmp(o->keyword, "hostaddr") == 0 && host.empty()) host = o->val;
    if (std::strcmp(o->keyword, "port") == 0) port = o->val;
    if (std::strcmp(o->keyword, "dbname") == 0) db = o->val;
  }
  return (host.empty() ? "localhost" : host) + ":" + (port.empty() ? "5432" : port) + "/" + db;
}

bool lost_sqlstate(std::string_view s) {
  return s.substr(0, 2) == "08" || s == "57P01" || s == "57P02" || s == "57P03";
}

}  // namespace

Status check_url(std::string_view url) {
  if (url.size() > kMaxUrlLength) {
    return make_error("invalid_url",
                      "database_url: longer than " + std::to_string(kMaxUrlLength) + " bytes");
  }
  if (url.rfind("postgresql://", 0) != 0 && url.rfind("postgres://", 0) != 0) {
    return make_error("invalid_url", "database_url: must start with postgresql://");
  }
  for (char ch : url) {
    const auto c = static_cast<unsigned char>(ch);
    if (c < 0x20 || c == 0x7f) {
      return make_error("invalid_url", "database_url: contains a control character");
    }
  }
  char* err = nullptr;
  ConninfoPtr opts(PQconninfoParse(std::string(url).c_str(), &err), PQconninfoFree);
  if (!opts) {
    // libpq's message quotes the offending part of the URL, which may be the password.
    std::string why = err ? "not a valid PostgreSQL connection URL" : "out of memory";
    if (err) PQfreemem(err);
    return make_error("invalid_url", "database_url: " + why +
                                         " (postgresql://user:password@host:port/database"
                                         "?sslmode=verify-full)");
  }
  return {};
}

// ---------------------------------------------------------------------------------------------
// Result

Result::Result(pg_result* res) : res_(res, PQclear) {}

int Result::rows() const {
  return PQntuples(res_.get());
}
int Result::columns() const {
  return PQnfields(res_.get());
}

std::int64_t Result::affected() const {
  const char* n = PQcmdTuples(res_.get());
  std::int64_t v = 0;
  if (n && *n) std::from_chars(n, n + std::strlen(n), v);
  return v;
}

int Result::column(std::string_view name) const {
  for (int c = 0; c < columns(); ++c) {
    if (name == PQfname(res_.get(), c)) return c;
  }
  return -1;
}

std::string Result::where(int row, int col) const {
  const char* name = PQfname(res_.get(), col);
  return "column '" + std::string(name ? name : "?") + "' of row " + std::to_string(row);
}

bool Result::is_null(int row, int col) const {
  return PQgetisnull(res_.get(), row, col) != 0;
}

std::string Result::text(int row, int col) const {
  return std::string(PQgetvalue(res_.get(), row, col),
                     static_cast<std::size_t>(PQgetlength(res_.get(), row, col)));
}

std::optional<std::string> Result::opt_text(int row, int col) const {
  if (is_null(row, col)) return std::nullopt;
  return text(row, col);
}

Expected<std::int64_t> Result::i64(int row, int col) const {
  if (row < 0 || row >= rows() || col < 0 || col >= columns()) {
    return make_error("internal",
                      "no cell at row " + std::to_string(row) + ", column " + std::to_string(col));
  }
  if (is_null(row, col)) return make_error("storage", where(row, col) + " is NULL");
  const std::string s = text(row, col);
  std::int64_t v = 0;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || end != s.data() + s.size()) {
    return make_error("storage", where(row, col) + " is not a 64-bit integer");
  }
  return v;
}

Expected<std::optional<std::int64_t>> Result::opt_i64(int row, int col) const {
  if (row >= 0 && row < rows() && col >= 0 && col < columns() && is_null(row, col)) {
    return std::optional<std::int64_t>();
  }
  auto v = i64(row, col);
  if (!v) return v.error();
  return std::optional<std::int64_t>(*v);
}

Expected<bool> Result::boolean(int row, int col) const {
  if (row < 0 || row >= rows() || col < 0 || col >= columns()) {
    return make_error("internal",
                      "no cell at row " + std::to_string(row) + ", column " + std::to_string(col));
  }
  const std::string s = is_null(row, col) ? "" : text(row, col);
  if (s == "t") return true;
  if (s == "f") return false;
  return make_error("storage", where(row, col) + " is not a boolean");
}

// ---------------------------------------------------------------------------------------------
// Conn

Expected<Conn> Conn::open(const std::string& url) {
  if (auto st = check_url(url); !st) return st.error();
  char* err = nullptr;
  ConninfoPtr opts(PQconninfoParse(url.c_str(), &err), PQconninfoFree);
  if (err) PQfreemem(err);
  const std::string where = opts ? describe(opts.get()) : "?";
  // Keywords before "dbname" are defaults the URL (expanded in its place) may override.
  const char* keys[] = {"connect_timeout", "application_name", "dbname", nullptr};
  const char* vals[] = {"10", "rollout-server", url.c_str(), nullptr};
  PGconn* raw = PQconnectdbParams(keys, vals, 1);
  if (!raw) return make_error("storage", "database " + where + ": out of memory");
  if (PQstatus(raw) != CONNECTION_OK) {
    std::string msg = trimmed(PQerrorMessage(raw));
    PQfinish(raw);
    return make_error("storage", "database " + where + ": cannot connect: " + msg);
  }
  return Conn(raw, where);
}

Conn::Conn(pg_conn* conn, std::string where) : conn_(conn), where_(std::move(where)) {
  PQsetNoticeReceiver(conn_, &Conn::on_notice, closing_.get());
}

Conn::Conn(Conn&& o) noexcept
    : conn_(std::exchange(o.conn_, nullptr)),
      where_(std::move(o.where_)),
      prepared_(std::move(o.prepared_)),
      closing_(std::move(o.closing_)) {}

Conn& Conn::operator=(Conn&& o) noexcept {
  if (this != &o) {
    if (conn_) PQfinish(conn_);
    conn_ = std::exchange(o.conn_, nullptr);
    where_ = std::move(o.where_);
    prepared_ = std::move(o.prepared_);
    closing_ = std::move(o.closing_);
  }
  return *this;
}

Conn::~Conn() {
  if (conn_) PQfinish(conn_);
}

// Notices are otherwise printed on stderr by libpq ("relation ... already exists, skipping"):
// they say nothing the caller acts on, except the FATAL of a server closing an idle connection
// (pg_terminate_backend, shutdown), which marks this connection as one to drop.
void Conn::on_notice(void* self, const pg_result* res) {
  const char* severity = PQresultErrorField(res, PG_DIAG_SEVERITY_NONLOCALIZED);
  const char* state = PQresultErrorField(res, PG_DIAG_SQLSTATE);
  if ((severity && (std::strcmp(severity, "FATAL") == 0 || std::strcmp(severity, "PANIC") == 0)) ||
      (state && lost_sqlstate(state))) {
    *static_cast<bool*>(self) = true;
  }
}

bool Conn::usable() const {
  return conn_ && PQstatus(conn_) == CONNECTION_OK && !*closing_;
}

bool Conn::probe() {
  // A healthy idle connection has nothing to read; whatever is there is read now, a few rounds
  // at most (a FATAL message, then the end of the stream), never waiting.
  for (int round = 0; round < 4 && usable(); ++round) {
    pollfd p{PQsocket(conn_), POLLIN, 0};
    if (::poll(&p, 1, 0) <= 0) break;
    if (PQconsumeInput(conn_) == 0) return false;
    while (PGnotify* n = PQnotifies(conn_)) PQfreemem(n);
  }
  return usable();
}

bool Conn::in_transaction() const {
  const auto s = PQtransactionStatus(conn_);
  return s == PQTRANS_INTRANS || s == PQTRANS_INERROR;
}

int Conn::backend_pid() const {
  return PQbackendPID(conn_);
}

Expected<Result> Conn::finish(pg_result* res, std::string_view what) {
  Result result(res);  // owns res from here, also when it is an error
  const auto status = res ? PQresultStatus(res) : PGRES_FATAL_ERROR;
  if (status == PGRES_COMMAND_OK || status == PGRES_TUPLES_OK || status == PGRES_EMPTY_QUERY) {
    return result;
  }
  const char* state_c = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : nullptr;
  const std::string state = state_c ? state_c : "";
  const std::string msg = trimmed(res ? PQresultErrorMessage(res) : PQerrorMessage(conn_));
  const std::string prefix = std::string(what) + ": ";
  if (PQstatus(conn_) != CONNECTION_OK || lost_sqlstate(state)) {
    *closing_ = true;
    return make_error("storage", prefix + "connection to the database " + where_ + " lost (" + msg +
                                     "); the statement's outcome is unknown");
  }
  if (state == "40001" || state == "40P01") {
    return make_error("conflict", prefix + "the transaction conflicted with another one (" + msg +
                                      "); retry the transaction");
  }
  if (state == "23505") return make_error("unique_violation", prefix + msg);
  if (state.rfind("23", 0) == 0) return make_error("constraint", prefix + msg);
  return make_error("storage", prefix + msg + (state.empty() ? "" : " [SQLSTATE " + state + "]"));
}

Expected<Result> Conn::exec(const std::string& sql) {
  if (!conn_) return make_error("storage", "no database connection");
  return finish(PQexec(conn_, sql.c_str()), "statement");
}

namespace {
struct Raw {
  std::vector<const char*> values;
  explicit Raw(const Params& p) {
    values.reserve(p.values().size());
    for (const auto& v : p.values()) values.push_back(v ? v->c_str() : nullptr);
  }
  int count() const { return static_cast<int>(values.size()); }
};
}  // namespace

Expected<Result> Conn::query(const std::string& sql, const Params& params) {
  if (!conn_) return make_error("storage", "no database connection");
  Raw raw(params);
  return finish(PQexecParams(conn_, sql.c_str(), raw.count(), nullptr, raw.values.data(), nullptr,
                             nullptr, 0),
                "statement");
}

Expected<Result> Conn::prepared(const std::string& name, const std::string& sql,
                                const Params& params) {
  if (!conn_) return make_error("storage", "no database connection");
  const std::string what = "statement '" + name + "'";
  if (auto it = prepared_.find(name); it == prepared_.end()) {
    auto made = finish(PQprepare(conn_, name.c_str(), sql.c_str(), 0, nullptr), what);
    if (!made) return made.error();
    prepared_.emplace(name, sql);
  } else if (it->second != sql) {
    return make_error("internal", what + " is already prepared with another SQL text");
  }
  Raw raw(params);
  return finish(
      PQexecPrepared(conn_, name.c_str(), raw.count(), raw.values.data(), nullptr, nullptr, 0),
      what);
}

}  // namespace rollout::server::pg
