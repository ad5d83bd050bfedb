// The login rate limit on PostgreSQL: the same bucket as SQLite's (store/sqlite/rate_limits.cpp,
// GCRA, one integer per key), spent by one conditional upsert, so servers on one database share
// one limit. Keys are stored hex-encoded: a key is any bytes, and PostgreSQL's text holds
// neither NUL nor invalid UTF-8.
#include "common/encoding.hpp"
#include "server-plugin/store/postgres/pg_store.hpp"
#include "server-plugin/store/rate_limit_rules.hpp"

namespace rollout::server::pg {

Expected<RateDecision> PgOps::take_rate_token(const std::string& key, std::int64_t now,
                                              std::uint32_t capacity, double refill_per_second) {
  if (auto st = check_rate_key(key); !st) return st.error();
  auto interval = rate_interval_us(refill_per_second);
  if (!interval) return interval.error();
  if (auto st = check_rate_capacity(capacity); !st) return st.error();
  const std::int64_t now_us = now * 1'000'000;
  const std::int64_t window = static_cast<std::int64_t>(capacity) * *interval;
  const std::string k = encoding::hex(key);
  RateDecision out;
  auto st = atomic([&]() -> Status {
    auto take = q("take_rate_token",
                  "INSERT INTO rate_limits AS r (key, tat_us) VALUES ($1, $2::bigint + $3) "
                  "ON CONFLICT (key) DO UPDATE SET tat_us = GREATEST(r.tat_us, $2) + $3 "
                  "WHERE GREATEST(r.tat_us, $2) + $3 - $2 <= $4 RETURNING tat_us",
                  Params(k, now_us, *interval, window));
    if (!take) return take.error();
    if (take->rows() == 0) {
      auto tat = q("rate_token_tat", "SELECT tat_us FROM rate_limits WHERE key = $1", Params(k));
      if (!tat) return tat.error();
      if (tat->rows() == 0) return make_error("storage", "rate limit row vanished");
      auto t = tat->i64(0, 0);
      if (!t) return t.error();
      out = {false, rate_retry_after(*t, *interval, window, now_us)};
    }
    // Full buckets carry no information; past the cap the fullest (earliest time) go first.
    if (auto r =
            run("rate_tokens_expire", "DELETE FROM rate_limits WHERE tat_us <= $1", Params(now_us));
        !r) {
      return r;
    }
    return run("rate_tokens_cap",
               "DELETE FROM rate_limits WHERE key IN (SELECT key FROM rate_limits ORDER BY tat_us "
               "LIMIT GREATEST(0, (SELECT COUNT(*) FROM rate_limits) - $1))",
               Params(static_cast<std::int64_t>(Store::kRateRowsMax)));
  });
  if (!st) return st.error();
  return out;
}

Status PgOps::return_rate_token(const std::string& key, double refill_per_second) {
  if (auto st = check_rate_key(key); !st) return st;
  auto interval = rate_interval_us(refill_per_second);
  if (!interval) return interval.error();
  return run("return_rate_token", "UPDATE rate_limits SET tat_us = tat_us - $1 WHERE key = $2",
             Params(*interval, encoding::hex(key)));
}

}  // namespace rollout::server::pg
