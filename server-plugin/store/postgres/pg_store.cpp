// Opening, the pool_size URL parameter, transactions on one leased connection, and the
// statement helpers every area file uses.
#include "server-plugin/store/postgres/pg_store.hpp"

#include <charconv>

#include "common/time.hpp"
#include "server-plugin/store/postgres/pg_artifacts.hpp"
#include "server-plugin/store/postgres/pg_migrations.hpp"
#include "server-plugin/store/postgres/pg_store_rows.hpp"

namespace rollout::server::pg {

Expected<PgUrl> parse_store_url(const std::string& url) {
  if (url.size() > kMaxUrlLength) {
    return make_error("invalid_config",
                      "database_url: longer than " + std::to_string(kMaxUrlLength) + " bytes");
  }
  PgUrl out;
  const auto q = url.find('?');
  if (q == std::string::npos) {
    out.url = url;
    return out;
  }
  out.url = url.substr(0, q);
  std::string kept;
  std::size_t at = q + 1;
  while (at <= url.size()) {
    auto end = url.find('&', at);
    if (end == std::string::npos) end = url.size();
    const std::string part = url.substr(at, end - at);
    if (part.rfind("pool_size=", 0) == 0) {
      const std::string v = part.substr(10);
      int n = 0;
      auto [p, ec] = std::from_chars(v.data(), v.data() + v.size(), n);
      if (ec != std::errc() || p != v.data() + v.size() || n < 1 || n > kMaxPoolConnections) {
        return make_error("invalid_config",
                          "database_url: pool_size must be a whole number from "
                          "1 to " +
                              std::to_string(kMaxPoolConnections));
      }
      out.pool_size = n;
    } else if (!part.empty()) {
      kept += (kept.empty() ? "" : "&") + part;
    }
    at = end + 1;
  }
  if (!kept.empty()) out.url += "?" + kept;
  return out;
}

Expected<std::unique_ptr<Store>> PgStore::open(const std::string& url) {
  auto parsed = parse_store_url(url);
  if (!parsed) return parsed.error();
  if (auto st = check_url(parsed->url); !st) return st.error();
  PoolOptions options;
  options.url = parsed->url;
  options.max_connections = parsed->pool_size;
  auto pool = Pool::open(options);
  if (!pool) return pool.error();
  int version = 0;
  {
    auto lease = (*pool)->acquire();
    if (!lease) return lease.error();
    auto v = migrate(**lease);
    if (!v) return v.error();
    version = *v;
  }
  return std::unique_ptr<Store>(
      new PgStore(std::shared_ptr<Pool>(std::move(*pool)), parsed->url, version));
}

Status PgStore::watch_targets(std::function<void()> fn) {
  std::lock_guard lock(watch_mu_);
  if (!fn) {
    listener_.reset();  // joins its thread: fn is not running once this returns
    return {};
  }
  if (listener_) {
    listener_->set_callback(std::move(fn));
    return {};
  }
  auto l = Listener::start(url_, kTargetsChannel, std::move(fn));
  if (!l) return l.error().context("watch_targets");
  listener_ = std::move(*l);
  return {};
}

Status PgOps::notify_targets() {
  auto r = q("notify_targets", "SELECT pg_notify($1, '')", Params(kTargetsChannel));
  if (!r) return r.error();
  return {};
}

Expected<std::unique_ptr<artifacts::ArtifactStore>> PgStore::database_artifacts() {
  auto s = PgArtifactStore::open(pool_);
  if (!s) return s.error().context("artifact_store: database");
  return std::unique_ptr<artifacts::ArtifactStore>(std::move(s.value()));
}

Status PgStore::run_transaction(const std::function<Status(Tx&)>& fn) {
  auto lease = pool_->acquire();
  if (!lease) return lease.error();
  Conn& conn = **lease;
  if (auto st = conn.exec("BEGIN ISOLATION LEVEL READ COMMITTED"); !st) return st.error();
  PgOps ops(conn, window_cache_);
  Status result = fn(ops);
  if (result) {
    if (auto st = conn.exec("COMMIT"); !st) result = st.error();
  }
  // A failed body or COMMIT: nothing of it stays. (A lost connection has rolled back already,
  // and the pool drops it.)
  if (conn.usable() && conn.in_transaction()) (void)conn.exec("ROLLBACK");
  return result;
}

Status PgStore::run_autocommit(const std::function<Status(StoreOps&)>& fn) {
  auto lease = pool_->acquire();
  if (!lease) return lease.error();
  PgOps ops(**lease, window_cache_);
  return fn(ops);
}

Status PgOps::atomic(const std::function<Status()>& fn) {
  if (c_.in_transaction()) return fn();
  if (auto st = c_.exec("BEGIN ISOLATION LEVEL READ COMMITTED"); !st) return st.error();
  Status result = fn();
  if (result) {
    if (auto st = c_.exec("COMMIT"); !st) result = st.error();
  }
  if (c_.usable() && c_.in_transaction()) (void)c_.exec("ROLLBACK");
  return result;
}

Expected<Result> PgOps::q(const char* name, const char* sql, const Params& p) {
  return c_.prepared(name, sql, p);
}

Status PgOps::run(const char* name, const char* sql, const Params& p) {
  auto r = q(name, sql, p);
  if (r) return {};
  Error e = r.error();
  if (e.code == "unique_violation") e.code = "constraint";
  return e;
}

Expected<std::int64_t> rfc3339_to_us(const std::string& text) {
  auto t = parse_rfc3339(text);
  if (!t) return t.error();
  const auto secs = std::chrono::duration_cast<std::chrono::seconds>(t->time_since_epoch()).count();
  std::int64_t frac = 0;
  const auto dot = text.find('.');
  if (dot != std::string::npos) {
    int digits = 0;
    for (std::size_t i = dot + 1; i < text.size() && text[i] >= '0' && text[i] <= '9'; ++i) {
      if (digits < 6) frac = frac * 10 + (text[i] - '0');
      ++digits;
    }
    for (; digits < 6; ++digits) frac *= 10;
  }
  return secs * 1000000 + frac;
}

std::string us_to_rfc3339(std::int64_t us) {
  std::int64_t secs = us / 1000000;
  std::int64_t frac = us % 1000000;
  if (frac < 0) {
    frac += 1000000;
    --secs;
  }
  std::string out = format_rfc3339(SysTime(std::chrono::seconds(secs)));
  if (frac == 0) return out;
  std::string f = std::to_string(frac);
  f.insert(0, 6 - f.size(), '0');
  while (f.back() == '0') f.pop_back();
  out.insert(out.size() - 1, "." + f);  // before the 'Z'
  return out;
}

}  // namespace rollout::server::pg
