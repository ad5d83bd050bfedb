// Token-bucket rate limiter keyed by a string (login: remote address and user name). Each key
// holds `burst` tokens refilled at `per_minute`; take() spends one or says how long to wait,
// check() only looks, give_back() returns a token that take() spent (login: an attempt spends
// before the slow password check, so that concurrent guesses cannot all pass a check made while
// the first are hashing; a right password gives its token back).
// The table is bounded: when it is full, buckets that have refilled completely are dropped (they
// carry no information), then the oldest. Time comes from the caller, so tests need no clock.
// Thread-safe (one mutex).
#pragma once

#include <chrono>
#include <cstddef>
#include <mutex>
#include <string>
#include <unordered_map>

namespace rollout::auth {

class RateLimiter {
 public:
  using Clock = std::chrono::steady_clock;
  RateLimiter(double burst, double per_minute, std::size_t max_keys = 10000)
      : burst_(burst), per_second_(per_minute / 60.0), max_keys_(max_keys) {}

  struct Decision {
    bool allowed = true;
    std::chrono::seconds retry_after{0};
  };
  Decision take(const std::string& key, Clock::time_point now);
  // The same answer take() would give, without spending a token (login: only failures spend).
  Decision check(const std::string& key, Clock::time_point now);
  // Returns one token to `key` (never above burst); nothing when the key is unknown.
  void give_back(const std::string& key);
  std::size_t size() {
    std::lock_guard lock(mu_);
    return buckets_.size();
  }

 private:
  struct Bucket {
    double tokens;
    Clock::time_point updated;
  };
  void refill(Bucket& b, Clock::time_point now) const;
  void evict(Clock::time_point now);

  const double burst_;
  const double per_second_;
  const std::size_t max_keys_;
  std::mutex mu_;  // guards buckets_
  std::unordered_map<std::string, Bucket> buckets_;
};

}  // namespace rollout::auth
