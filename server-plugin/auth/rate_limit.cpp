#include "server-plugin/auth/rate_limit.hpp"

#include <algorithm>
#include <cmath>

namespace rollout::auth {

void RateLimiter::refill(Bucket& b, Clock::time_point now) const {
  const double secs = std::chrono::duration<double>(now - b.updated).count();
  if (secs > 0) {
    b.tokens = std::min(burst_, b.tokens + secs * per_second_);
    b.updated = now;
  }
}

void RateLimiter::evict(Clock::time_point now) {
  for (auto it = buckets_.begin(); it != buckets_.end();) {
    refill(it->second, now);
    it = it->second.tokens >= burst_ ? buckets_.erase(it) : std::next(it);
  }
  while (buckets_.size() >= max_keys_) {
    auto oldest = std::min_element(
        buckets_.begin(), buckets_.end(),
        [](const auto& a, const auto& b) { return a.second.updated < b.second.updated; });
    buckets_.erase(oldest);
  }
}

RateLimiter::Decision RateLimiter::take(const std::string& key, Clock::time_point now) {
  std::lock_guard lock(mu_);
  auto it = buckets_.find(key);
  if (it == buckets_.end()) {
    if (buckets_.size() >= max_keys_) evict(now);
    it = buckets_.emplace(key, Bucket{burst_, now}).first;
  }
  Bucket& b = it->second;
  refill(b, now);
  if (b.tokens >= 1.0) {
    b.tokens -= 1.0;
    return {};
  }
  const double wait = per_second_ > 0 ? (1.0 - b.tokens) / per_second_ : 3600.0;
  return {false, std::chrono::seconds(static_cast<long>(std::ceil(wait)))};
}

void RateLimiter::give_back(const std::string& key) {
  std::lock_guard lock(mu_);
  auto it = buckets_.find(key);
  if (it != buckets_.end()) it->second.tokens = std::min(burst_, it->second.tokens + 1.0);
}

RateLimiter::Decision RateLimiter::check(const std::string& key, Clock::time_point now) {
  std::lock_guard lock(mu_);
  auto it = buckets_.find(key);
  if (it == buckets_.end()) return {};
  refill(it->second, now);
  if (it->second.tokens >= 1.0) return {};
  const double wait = per_second_ > 0 ? (1.0 - it->second.tokens) / per_second_ : 3600.0;
  return {false, std::chrono::seconds(static_cast<long>(std::ceil(wait)))};
}

}  // namespace rollout::auth
