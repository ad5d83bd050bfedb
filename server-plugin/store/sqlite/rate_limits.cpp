// The login rate limit in the database (issue #14): N servers on one database give an attacker
// the same attempts as one. Each key's bucket is one integer, its "theoretical arrival time"
// (GCRA): tokens refill at one per `interval`, and a take is allowed while the bucket's time is
// at most capacity intervals ahead of now. Spending is then one conditional upsert, atomic
// however many servers write, and a row whose time has passed is a full bucket that says nothing.
#include <algorithm>

#include "server-plugin/store/rate_limit_rules.hpp"
#include "server-plugin/store/sqlite/sqlite_store.hpp"

namespace rollout::server::sqlite {

Expected<RateDecision> SqliteOps::take_rate_token(const std::string& key, std::int64_t now,
                                                  std::uint32_t capacity,
                                                  double refill_per_second) {
  if (auto st = check_rate_key(key); !st) return st.error();
  auto interval = rate_interval_us(refill_per_second);
  if (!interval) return interval.error();
  if (auto st = check_rate_capacity(capacity); !st) return st.error();
  const std::int64_t now_us = now * 1'000'000;
  const std::int64_t window = static_cast<std::int64_t>(capacity) * *interval;
  RateDecision out;
  auto st = transaction([&]() -> Status {
    auto take = db_.prepare(
        "INSERT INTO rate_limits (key, tat_us) VALUES (?1, ?2 + ?3) "
        "ON CONFLICT (key) DO UPDATE SET tat_us = MAX(rate_limits.tat_us, ?2) + ?3 "
        "WHERE MAX(rate_limits.tat_us, ?2) + ?3 - ?2 <= ?4");
    if (!take) return take.error();
    take->bind(1, key).bind(2, now_us).bind(3, *interval).bind(4, window);
    if (auto r = take->run(); !r) return r;
    if (db_.changes() == 0) {
      auto tat = db_.prepare("SELECT tat_us FROM rate_limits WHERE key = ?");
      if (!tat) return tat.error();
      tat->bind(1, key);
      if (!tat->step()) return make_error("storage", "rate limit row vanished");
      out = {false, rate_retry_after(tat->i64(0), *interval, window, now_us)};
    }
    // Full buckets carry no information; past the cap the fullest (earliest time) go first, so
    // the keys being limited hardest are the last to be forgotten.
    auto expired = db_.prepare("DELETE FROM rate_limits WHERE tat_us <= ?");
    if (!expired) return expired.error();
    expired->bind(1, now_us);
    if (auto r = expired->run(); !r) return r;
    auto cap = db_.prepare(
        "DELETE FROM rate_limits WHERE key IN (SELECT key FROM rate_limits ORDER BY tat_us "
        "LIMIT MAX(0, (SELECT COUNT(*) FROM rate_limits) - ?))");
    if (!cap) return cap.error();
    cap->bind(1, static_cast<std::int64_t>(kRateRowsMax));
    return cap->run();
  });
  if (!st) return st.error();
  return out;
}

Status SqliteOps::return_rate_token(const std::string& key, double refill_per_second) {
  if (auto st = check_rate_key(key); !st) return st;
  auto interval = rate_interval_us(refill_per_second);
  if (!interval) return interval.error();
  std::lock_guard lock(mu_);
  // Never above capacity: a time at or before now is already a full bucket, whatever its value.
  auto s = db_.prepare("UPDATE rate_limits SET tat_us = tat_us - ? WHERE key = ?");
  if (!s) return s.error();
  s->bind(1, *interval).bind(2, key);
  return s->run();
}

}  // namespace rollout::server::sqlite
