// Moving up from SQLite to PostgreSQL (sqlite_to_pg.hpp): the copy, the counters and sequences,
// the verification, and the artifact step.
#include "server-plugin/migrate/sqlite_to_pg.hpp"

#include <algorithm>
#include <map>

#include "server-plugin/artifacts/artifact_store.hpp"
#include "server-plugin/artifacts/local_artifacts.hpp"
#include "server-plugin/migrate/tables.hpp"
#include "server-plugin/store/postgres/pg_artifacts.hpp"
#include "server-plugin/store/postgres/pg_conn.hpp"
#include "server-plugin/store/postgres/pg_migrations.hpp"
#include "server-plugin/store/postgres/pg_pool.hpp"
#include "server-plugin/store/postgres/pg_store.hpp"
#include "server-plugin/store/sqlite/db.hpp"
#include "server-plugin/store/sqlite/sqlite_store.hpp"

namespace rollout::server::migrate {
namespace {

namespace fs = std::filesystem;

// Rows per INSERT: a few thousand parameters per statement, far below PostgreSQL's 65535.
constexpr int kBatchRows = 200;

std::string column_list(const TableSpec& t) {
  std::string out;
  for (const auto& c : t.columns) out += (out.empty() ? "" : ", ") + quoted(c.name);
  return out;
}

std::string insert_sql(const TableSpec& t, int rows) {
  std::string sql = "INSERT INTO " + quoted(t.name) + " (" + column_list(t) + ")" +
                    (t.generated_always ? " OVERRIDING SYSTEM VALUE" : "") + " VALUES ";
  int n = 1;
  for (int r = 0; r < rows; ++r) {
    sql += r ? ", (" : "(";
    for (std::size_t c = 0; c < t.columns.size(); ++c) {
      sql += (c ? ", $" : "$") + std::to_string(n++);
    }
    sql += ")";
  }
  return sql;
}

Expected<std::int64_t> sqlite_count(sqlite::Db& db, const std::string& table) {
  auto q = db.prepare("SELECT COUNT(*) FROM " + quoted(table));
  if (!q) return q.error();
  if (!q->step()) {
    if (auto st = q->status(); !st) return st.error();
    return make_error("storage", "no count for " + table);
  }
  return q->i64(0);
}

Expected<std::int64_t> pg_count(pg::Conn& conn, const std::string& table) {
  auto r = conn.query("SELECT COUNT(*) FROM " + quoted(table));
  if (!r) return r.error();
  return r->i64(0, 0);
}

// Copies every row of `t`, in key order, in batches.
Expected<std::int64_t> copy_table(sqlite::Db& src, pg::Conn& dst, const TableSpec& t) {
  auto q = src.prepare("SELECT " + column_list(t) + " FROM " + quoted(t.name) + " ORDER BY " +
                       t.order_by);
  if (!q) return q.error().context("reading " + t.name);
  const std::string full = insert_sql(t, kBatchRows);
  pg::Params p;
  int pending = 0;
  std::int64_t copied = 0;
  auto flush = [&]() -> Status {
    if (pending == 0) return {};
    auto r = pending == kBatchRows ? dst.prepared("migrate_" + t.name, full, p)
                                   : dst.query(insert_sql(t, pending), p);
    if (!r) return r.error().context("copying " + t.name);
    p = pg::Params();
    pending = 0;
    return {};
  };
  while (q->step()) {
    for (std::size_t i = 0; i < t.columns.size(); ++i) {
      const int col = static_cast<int>(i);
      if (q->is_null(col)) {
        p.add(std::nullopt);
        continue;
      }
      switch (t.columns[i].kind) {
        case ColumnKind::integer:
          p.add(q->i64(col));
          break;
        case ColumnKind::text:
          p.add(q->text(col));
          break;
        case ColumnKind::boolean:
          p.add(q->i64(col) != 0);
          break;
      }
    }
    ++copied;
    if (++pending == kBatchRows) {
      if (auto st = flush(); !st) return st.error();
    }
  }
  if (auto st = q->status(); !st) return st.error().context("reading " + t.name);
  if (auto st = flush(); !st) return st.error();
  return copied;
}

// Any data row in any table of the target (bookkeeping and the migrations' seed rows aside).
Status check_target_empty(pg::Conn& conn) {
  auto names = conn.query(
      "SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema() "
      "AND table_type = 'BASE TABLE' AND table_name <> 'schema_migrations' ORDER BY table_name");
  if (!names) return names.error().context("target");
  std::string holding;
  for (int i = 0; i < names->rows(); ++i) {
    const std::string table = names->text(i, 0);
    if (is_artifact_table(table)) continue;  // bytes without a release row are no data
    std::string where;
    if (table == "counters") where = " WHERE value <> 0";
    if (table == "notify_lease") {
      where = " WHERE NOT (name = 'webhooks' AND holder = '' AND expires_at = 0)";
    }
    auto r = conn.query("SELECT EXISTS (SELECT 1 FROM " + quoted(table) + where + ")");
    if (!r) return r.error().context("target " + table);
    auto any = r->boolean(0, 0);
    if (!any) return any.error();
    if (*any) holding += (holding.empty() ? "" : ", ") + table;
  }
  if (!holding.empty()) {
    return make_error("target_not_empty",
                      "the target database " + conn.where() + " already holds data (" + holding +
                          "); migrate only into a new, empty database. Nothing was written");
  }
  return {};
}

// SQLite's counters rows, each PostgreSQL's row of the same name: promotion_seq; attempts, which
// on both keys the last-24h counts cache and on SQLite also numbers update_attempts.seq, an
// identity on PostgreSQL (so it is returned as the floor for it too).
Expected<std::int64_t> copy_counters(sqlite::Db& src, pg::Conn& dst, std::int64_t& rows) {
  auto q = src.prepare("SELECT name, value FROM counters ORDER BY name");
  if (!q) return q.error().context("reading counters");
  std::int64_t attempts_floor = 0;
  rows = 0;
  while (q->step()) {
    const std::string name = q->text(0);
    const std::int64_t value = q->i64(1);
    ++rows;
    if (name == "attempts") attempts_floor = value;
    if (name == "attempts" || name == "promotion_seq") {
      auto r = dst.query(
          "INSERT INTO counters (name, value) VALUES ($1, $2) "
          "ON CONFLICT (name) DO UPDATE SET value = excluded.value",
          pg::Params(name, value));
      if (!r) return r.error().context("copying counters");
    } else {
      return make_error("schema_mismatch",
                        "counter '" + name +
                            "' is unknown to the migration (server-plugin/migrate/"
                            "sqlite_to_pg.cpp copy_counters)");
    }
  }
  if (auto st = q->status(); !st) return st.error().context("reading counters");
  return attempts_floor;
}

// Moves the sequence behind `t.serial_column` past the largest copied value and `floor`.
Status set_serial(pg::Conn& dst, const TableSpec& t, std::int64_t floor) {
  const std::string col = quoted(t.serial_column);
  const std::string top = "GREATEST(COALESCE(MAX(" + col + "), 0), $3::BIGINT)";
  auto r = dst.query("SELECT setval(pg_get_serial_sequence($1, $2), GREATEST(" + top + ", 1), " +
                         top + " > 0) FROM " + quoted(t.name),
                     pg::Params(t.name, t.serial_column, floor));
  if (!r) return r.error().context("sequence of " + t.name + "." + t.serial_column);
  return {};
}

Status verify_view(StoreOps& source, StoreOps& target, std::int64_t now) {
  auto a = rollouts_view(source, now);
  if (!a) return a.error().context("reading the rollouts view from SQLite");
  auto b = rollouts_view(target, now);
  if (!b) return b.error().context("reading the rollouts view from PostgreSQL");
  if (*a == *b) return {};
  const auto [ia, ib] = std::mismatch(a->begin(), a->end(), b->begin(), b->end());
  auto shown = [](const std::vector<std::string>& v, std::vector<std::string>::const_iterator it) {
    return it == v.end() ? std::string("(nothing)") : it->substr(0, 200);
  };
  return make_error("verify_failed", "the rollouts view differs after copying: SQLite has " +
                                         shown(*a, ia) + ", PostgreSQL " + shown(*b, ib));
}

// Copies every copied table and the counters into the open transaction, then moves the
// sequences past what was copied; fills the report's rows.
Status copy_rows(sqlite::Db& src, pg::Conn& dst, Report& report) {
  std::int64_t attempts_floor = 0;
  for (const auto& t : tables()) {
    if (t.how == Disposition::copy) {
      auto n = copy_table(src, dst, t);
      if (!n) return n.error();
      report.copied.push_back({t.name, *n, ""});
    } else if (t.how == Disposition::counters) {
      std::int64_t rows = 0;
      auto floor = copy_counters(src, dst, rows);
      if (!floor) return floor.error();
      attempts_floor = *floor;
      report.copied.push_back({t.name, rows, "translated"});
    } else if (t.how == Disposition::transient) {
      auto n = sqlite_count(src, t.name);
      if (!n) return n.error().context("reading " + t.name);
      report.left_out.push_back({t.name, *n, t.why});
    }
  }
  for (const auto& t : tables()) {
    if (t.how != Disposition::copy || t.serial_column.empty()) continue;
    if (auto st = set_serial(dst, t, t.name == "update_attempts" ? attempts_floor : 0); !st) {
      return st;
    }
  }
  return {};
}

// Before COMMIT: per-table row counts, the counters, and the rollouts view read through both
// stores (the target's through a PgOps on the migration's own connection, so inside the
// transaction).
Status verify_copy(sqlite::Db& src, Tx& stx, pg::Conn& dst, const Report& report,
                   std::int64_t now) {
  for (const auto& t : tables()) {
    if (t.how != Disposition::copy) continue;
    auto it = std::find_if(report.copied.begin(), report.copied.end(),
                           [&](const TableRows& r) { return r.table == t.name; });
    const std::int64_t copied = it == report.copied.end() ? -1 : it->rows;
    auto s = sqlite_count(src, t.name);
    if (!s) return s.error().context("verifying " + t.name);
    auto p = pg_count(dst, t.name);
    if (!p) return p.error().context("verifying " + t.name);
    if (*s != *p || *p != copied) {
      return make_error("verify_failed", t.name + ": SQLite has " + std::to_string(*s) +
                                             " rows, PostgreSQL " + std::to_string(*p) +
                                             " after copying " + std::to_string(copied));
    }
  }
  auto sc = src.prepare("SELECT name, value FROM counters ORDER BY name");
  if (!sc) return sc.error().context("verifying counters");
  while (sc->step()) {
    const std::string name = sc->text(0);
    auto r = dst.query("SELECT value FROM counters WHERE name = $1", pg::Params(name));
    if (!r) return r.error().context("verifying counters");
    auto v = r->rows() == 1 ? r->i64(0, 0) : Expected<std::int64_t>(std::int64_t{-1});
    if (!v) return v.error();
    if (*v != sc->i64(1)) {
      return make_error("verify_failed", "counter " + name + ": SQLite has " +
                                             std::to_string(sc->i64(1)) + ", PostgreSQL " +
                                             std::to_string(*v));
    }
  }
  if (auto st = sc->status(); !st) return st.error().context("verifying counters");
  if (report.artifacts_in_database) {
    auto releases = stx.list_releases();
    if (!releases) return releases.error().context("verifying artifacts");
    for (const auto& r : *releases) {
      auto q = dst.query("SELECT size FROM artifacts WHERE sha256 = $1", pg::Params(r.sha256));
      if (!q) return q.error().context("verifying artifacts");
      const bool ok =
          q->rows() == 1 && q->i64(0, 0).ok() && *q->i64(0, 0) == static_cast<std::int64_t>(r.size);
      if (!ok) {
        return make_error("verify_failed", "the artifact of " + r.key.version + " " + r.key.os +
                                               "/" + r.key.arch + " is not in the target");
      }
    }
  }
  WindowCountsCache no_cache;  // a fresh one: the view is read, never remembered
  pg::PgOps target(dst, no_cache);
  return verify_view(stx, target, now);
}

// Everything after both databases are open: the source's snapshot `src`, its store's Tx `stx`
// (the write lock), and the target connection.
Expected<Report> copy_all(const Options& o, Tx& stx, sqlite::Db& src, pg::Conn& dst,
                          artifacts::ArtifactStore* target_artifacts) {
  if (auto st = check_coverage(src, dst); !st) return st.error();
  // Refused before any artifact is copied (and again under the lock below).
  if (auto st = check_target_empty(dst); !st) return st.error();
  auto releases = stx.list_releases();
  if (!releases) return releases.error().context("source");
  Report report;
  report.target = dst.where();
  report.artifacts_in_database = target_artifacts != nullptr;
  auto artifacts =
      migrate_artifacts(*releases, o.data_dir, target_artifacts, report.artifacts_copied);
  if (!artifacts) return artifacts.error();
  report.artifacts = *artifacts;

  if (auto st = dst.exec("BEGIN"); !st) return st.error().context("target");
  auto body = [&]() -> Status {
    // Another migrate run (or a server migrating the schema) waits here, then sees this one's
    // rows and is refused.
    if (auto r = dst.query("SELECT pg_advisory_xact_lock($1)", pg::Params(pg::kMigrationLock));
        !r) {
      return r.error().context("target");
    }
    if (auto st = check_target_empty(dst); !st) return st;
    if (auto st = copy_rows(src, dst, report); !st) return st;
    return verify_copy(src, stx, dst, report, o.now);
  };
  if (auto st = body(); !st) {
    if (dst.usable()) (void)dst.exec("ROLLBACK");
    return st.error();
  }
  if (auto st = dst.exec("COMMIT"); !st) return st.error().context("target: commit");
  return report;
}

}  // namespace

Expected<std::int64_t> migrate_artifacts(const std::vector<Release>& releases,
                                         const fs::path& data_dir, artifacts::ArtifactStore* target,
                                         std::int64_t& copied) {
  const fs::path dir = data_dir / "artifacts";
  std::vector<std::string> missing;
  for (const auto& r : releases) {
    const bool hex =
        r.sha256.size() == 64 && std::all_of(r.sha256.begin(), r.sha256.end(), [](char ch) {
          return (ch >= '0' && ch <= '9') || (ch >= 'a' && ch <= 'f');
        });
    std::error_code ec;
    const fs::path file = dir / r.sha256;
    const bool present = hex && fs::is_regular_file(file, ec) && fs::file_size(file, ec) == r.size;
    if (!present || ec) {
      missing.push_back(r.key.version + " " + r.key.os + "/" + r.key.arch + " (" + r.sha256 + ")");
    }
  }
  if (!missing.empty()) {
    std::string first;
    for (std::size_t i = 0; i < missing.size() && i < 3; ++i) first += (i ? ", " : "") + missing[i];
    return make_error("artifact_missing",
                      std::to_string(missing.size()) +
                          " release artifact(s) missing or of the "
                          "wrong size in " +
                          dir.string() + ": " + first +
                          "; pass the source server's data_dir with --from-data-dir");
  }
  copied = 0;
  if (!target) return static_cast<std::int64_t>(releases.size());
  artifacts::LocalArtifactStore source(dir.string());
  for (const auto& r : releases) {
    const std::string what = "the artifact of " + r.key.version + " " + r.key.os + "/" + r.key.arch;
    auto there = target->published_size(r.sha256);
    if (!there) return there.error().context(what);
    if (*there == r.size) continue;  // published by an earlier run or another release
    auto in = source.read(r.sha256, 0, r.size);
    if (!in) return in.error().context(what);
    auto up = target->begin(r.sha256, r.size);
    if (!up) return up.error().context(what);
    for (;;) {
      auto piece = (*in)->read(1 << 20);
      if (!piece) return piece.error().context(what);
      if (piece->empty()) break;
      (*up)->write(*piece);
    }
    if (auto st = (*up)->commit(); !st) {
      auto e = st.error();
      if (e.code == "artifact_mismatch") {
        e.message =
            (dir / r.sha256).string() + " does not hash to the release's SHA-256: " + e.message;
      }
      return e.context(what);
    }
    ++copied;
  }
  return static_cast<std::int64_t>(releases.size());
}

Expected<std::vector<std::string>> rollouts_view(StoreOps& s, std::int64_t now) {
  auto releases = s.list_releases();
  if (!releases) return releases.error();
  auto all = s.release_counts(std::nullopt);
  if (!all) return all.error();
  auto recent = s.release_counts((now - 86400) / 60 * 60);  // as list_rollouts asks
  if (!recent) return recent.error();
  auto groups = s.agent_population();
  if (!groups) return groups.error();
  auto policies = s.list_policies();
  if (!policies) return policies.error();
  auto rollouts = s.list_rollout_records();
  if (!rollouts) return rollouts.error();

  const auto join = [](std::initializer_list<std::string> fields) {
    std::string out;
    for (const auto& f : fields) out += f + "|";
    return out;
  };
  const auto opt = [](const auto& v) {
    if (!v) return std::string("null");
    if constexpr (std::is_same_v<std::decay_t<decltype(*v)>, std::string>) {
      return "'" + *v + "'";
    } else {
      return std::to_string(*v);
    }
  };
  const auto key = [](const ReleaseKey& k) { return k.version + " " + k.os + " " + k.arch; };
  using std::to_string;
  std::vector<std::string> lines;
  for (const auto& r : *releases) {
    lines.push_back(join({"release", key(r.key), r.product, to_string(r.size), r.sha256,
                          to_string(r.security_version), r.manifest, to_string(r.created_at),
                          r.published_by, opt(r.promoted_at), to_string(r.promotion_seq),
                          r.blocked ? "blocked" : "open", r.blocked_reason}));
  }
  for (const auto& [name, counts] :
       {std::pair{"counts", &*all}, std::pair{"counts_24h", &*recent}}) {
    for (const auto& [k, c] : *counts) {
      lines.push_back(
          join({name, key(k), to_string(c.success), to_string(c.failure), to_string(c.crash)}));
    }
  }
  for (const auto& g : *groups) {
    lines.push_back(join({"agents", g.version, g.os, g.arch, g.client, g.site, g.channel_hint,
                          g.agent_id, to_string(g.count)}));
  }
  for (const auto& p : *policies) {
    lines.push_back(join({"policy", p.scope, p.scope_id, opt(p.channel), opt(p.window_start),
                          opt(p.window_end), opt(p.rollout), opt(p.waves)}));
  }
  for (const auto& r : *rollouts) {
    lines.push_back(join({"rollout", key(r.key), r.group, r.previous_version, r.plan_json,
                          r.thresholds_json, r.memory_json, r.state, r.rule, r.reason,
                          to_string(r.rev), to_string(r.started_at), to_string(r.updated_at)}));
  }
  std::sort(lines.begin(), lines.end());
  return lines;
}

Expected<Report> sqlite_to_pg(const Options& o) {
  if (o.sqlite_path.empty() || o.sqlite_path == ":memory:") {
    return make_error("invalid_argument", "--from needs the path of a SQLite database file");
  }
  std::error_code ec;
  if (!fs::is_regular_file(o.sqlite_path, ec)) {
    return make_error("not_found", "no SQLite database at " + o.sqlite_path +
                                       " (--from sqlite:PATH names the server's database file)");
  }
  auto url = pg::parse_store_url(o.pg_url);
  if (!url) return url.error().context("--to");
  auto dst = pg::Conn::open(url->url);
  if (!dst) return dst.error().context("target");
  if (auto v = pg::migrate(*dst); !v) return v.error().context("target");
  // The target's artifact store on one more connection (the copy's own holds the target's
  // transaction while the artifacts are written before it); the schema is migrated above.
  std::unique_ptr<artifacts::ArtifactStore> target_artifacts;
  if (o.artifacts_to_database) {
    pg::PoolOptions one;
    one.url = url->url;
    one.max_connections = 1;
    auto pool = pg::Pool::open(one);
    if (!pool) return pool.error().context("target");
    auto ta = pg::PgArtifactStore::open(std::shared_ptr<pg::Pool>(std::move(*pool)));
    if (!ta) return ta.error().context("target: artifact_store");
    target_artifacts = std::move(*ta);
  }
  // As the server opens it: an older schema is upgraded first, a newer one refused.
  auto source = sqlite::SqliteStore::open(o.sqlite_path);
  if (!source) return source.error().context("source " + o.sqlite_path);

  Expected<Report> result = make_error("internal", "the migration did not run");
  // The source's write lock for the whole copy; the body writes nothing, so nothing commits.
  bool began = false;
  auto st = (*source)->transaction([&](Tx& stx) -> Status {
    began = true;
    auto src = sqlite::Db::open(o.sqlite_path);
    if (!src) return src.error().context("source");
    // One snapshot for every read of the copy (WAL: the store's transaction writes nothing).
    if (auto b = src->exec("PRAGMA busy_timeout=10000; BEGIN"); !b) return b.error();
    result = copy_all(o, stx, *src, *dst, target_artifacts.get());
    (void)src->exec("ROLLBACK");
    return result ? Status() : Status(result.error());
  });
  if (!st) {
    auto e = st.error();
    if (!began && e.code == kConflict) {
      e.context("source " + o.sqlite_path + " is busy (stop its server first)");
    }
    return e;
  }
  return result;
}

}  // namespace rollout::server::migrate
