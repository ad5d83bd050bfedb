// The login rate limiter: a token bucket per key (login: remote address and user name) holding
// `attempts` tokens, refilled over `window`, kept in the store so that every server on one
// database shares it and a restart does not reset it (issue #14; Store::take_rate_token).
// take() spends one or says how long to wait; give_back() returns a token that take() spent
// (login: an attempt spends before the slow password check, so that concurrent guesses cannot
// all pass a check made while the first are hashing; a right password gives its token back).
// Time comes from the caller (Unix seconds), so tests need no clock. Thread-safe as the store is.
#pragma once

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <string>

#include "server-plugin/store.hpp"

namespace rollout::auth {

class RateLimiter {
 public:
  RateLimiter(server::Store& store, std::uint32_t attempts, std::chrono::milliseconds window)
      : store_(store),
        capacity_(attempts),
        per_second_(static_cast<double>(attempts) * 1000.0 /
                    static_cast<double>(std::max<std::int64_t>(1, window.count()))) {}

  using Decision = server::RateDecision;
  Expected<Decision> take(const std::string& key, std::int64_t now) {
    return store_.take_rate_token(key, now, capacity_, per_second_);
  }
  Status give_back(const std::string& key) { return store_.return_rate_token(key, per_second_); }

 private:
  server::Store& store_;
  const std::uint32_t capacity_;
  const double per_second_;
};

}  // namespace rollout::auth
