// What every backend's take_rate_token checks before it touches its table (store.hpp): the key's
// size, and the refill rate as one token's interval in microseconds (GCRA: a bucket is one
// "theoretical arrival time"; see store/sqlite/rate_limits.cpp).
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <string>

#include "server-plugin/store.hpp"

namespace rollout::server {

inline Status check_rate_key(const std::string& key) {
  if (key.empty() || key.size() > Store::kRateKeyMax) {
    return make_error("invalid_argument",
                      "rate limit key: 1 to " + std::to_string(Store::kRateKeyMax) + " bytes");
  }
  return {};
}

inline Status check_rate_capacity(std::uint32_t capacity) {
  if (capacity == 0 || capacity > 1'000'000) {
    return make_error("invalid_argument", "rate limit capacity: must be 1 to 1000000");
  }
  return {};
}

// One token's refill time in microseconds; Expected so that a bad rate is an error, not a bucket
// that never refills or divides by zero.
inline Expected<std::int64_t> rate_interval_us(double refill_per_second) {
  if (!(refill_per_second > 0) || !std::isfinite(refill_per_second) || refill_per_second > 1e6) {
    return make_error("invalid_argument", "rate limit refill_per_second: must be in (0, 1e6]");
  }
  return std::max<std::int64_t>(1, std::llround(1e6 / refill_per_second));
}

// Seconds until a refused take would be allowed: once now >= tat + interval - window.
inline std::int64_t rate_retry_after(std::int64_t tat_us, std::int64_t interval_us,
                                     std::int64_t window_us, std::int64_t now_us) {
  const std::int64_t wait_us = tat_us + interval_us - window_us - now_us;
  return std::max<std::int64_t>(1, (wait_us + 999'999) / 1'000'000);
}

}  // namespace rollout::server
