// The login rate limit in the database (issue #14): N servers on one database give an attacker
// the same attempts as one. Each key's bucket is one integer, its "theoretical arrival time"
// (GCRA): tokens refill at one per `interval`, and a take is allowed while the bucket's time is
// at most capacity intervals ahead of now. Spending is then one conditional upsert, atomic
// however many servers write, and a row whose time has passed is a full bucket that says nothing.
#include <algorithm>
#include <cmath>

#include "server-plugin/store/sqlite/sqlite_store.hpp"

namespace rollout::server::sqlite {
namespace {

Status check_key(const std::string& key) {
  if (key.empty() || key.size() > Store::kRateKeyMax) {
    return make_error("invalid_argument",
                      "rate limit key: 1 to " + std::to_string(Store::kRateKeyMax) + " bytes");
  }
  return {};
}

// One token's refill time in microseconds; Expected so that a bad rate is an error, not a bucket
// that never refills or divides by zero.
Expected<std::int64_t> interval_us(double refill_per_second) {
  if (!(refill_per_second > 0) || !std::isfinite(refill_per_second) || refill_per_second > 1e6) {
    return make_error("invalid_argument", "rate limit refill_per_second: must be in (0, 1e6]");
  }
  return std::max<std::int64_t>(1, std::llround(1e6 / refill_per_second));
}

}  // namespace

Expected<RateDecision> SqliteOps::take_rate_token(const std::string& key, std::int64_t now,
                                                    std::uint32_t capacity,
                                                    double refill_per_second) {
  if (auto st = check_key(key); !st) return st.error();
  auto interval = interval_us(refill_per_second);
  if (!interval) return interval.error();
  if (capacity == 0 || capacity > 1'000'000) {
    return make_error("invalid_argument", "rate limit capacity: must be 1 to 1000000");
  }
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
      // Allowed again once now >= tat + interval - window.
      const std::int64_t wait_us = tat->i64(0) + *interval - window - now_us;
      out = {false, std::max<std::int64_t>(1, (wait_us + 999'999) / 1'000'000)};
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
  if (auto st = check_key(key); !st) return st;
  auto interval = interval_us(refill_per_second);
  if (!interval) return interval.error();
  std::lock_guard lock(mu_);
  // Never above capacity: a time at or before now is already a full bucket, whatever its value.
  auto s = db_.prepare("UPDATE rate_limits SET tat_us = tat_us - ? WHERE key = ?");
  if (!s) return s.error();
  s->bind(1, *interval).bind(2, key);
  return s->run();
}

}  // namespace rollout::server::sqlite
