// Recorded service notifications for tests; portable (no OS headers).
#include "platform/fake_service.hpp"

#include <algorithm>

namespace rollout::platform {

void FakeServiceNotifier::record(Kind kind, std::string text) {
  Call c{kind, std::move(text), clock_.steady_now(), clock_.now()};
  std::lock_guard lock(mu_);
  calls_.push_back(std::move(c));
}

std::optional<std::chrono::microseconds> FakeServiceNotifier::watchdog_interval() {
  std::lock_guard lock(mu_);
  return watchdog_;
}

void FakeServiceNotifier::set_watchdog_interval(std::optional<std::chrono::microseconds> interval) {
  std::lock_guard lock(mu_);
  watchdog_ = interval;
}

std::vector<FakeServiceNotifier::Call> FakeServiceNotifier::calls() const {
  std::lock_guard lock(mu_);
  return calls_;
}

std::size_t FakeServiceNotifier::count(Kind kind) const {
  std::lock_guard lock(mu_);
  return static_cast<std::size_t>(std::count_if(calls_.begin(), calls_.end(),
                                                [kind](const Call& c) { return c.kind == kind; }));
}

std::vector<std::string> FakeServiceNotifier::statuses() const {
  std::lock_guard lock(mu_);
  std::vector<std::string> out;
  for (const auto& c : calls_) {
    if (c.kind == Kind::status) out.push_back(c.text);
  }
  return out;
}

std::optional<std::chrono::nanoseconds> FakeServiceNotifier::longest_watchdog_gap(
    std::chrono::steady_clock::time_point until) const {
  std::lock_guard lock(mu_);
  std::optional<std::chrono::steady_clock::time_point> last;
  std::chrono::nanoseconds longest{0};
  for (const auto& c : calls_) {
    if (!last) {
      if (c.kind == Kind::ready) last = c.at;
      continue;
    }
    if (c.kind != Kind::watchdog) continue;
    longest = std::max<std::chrono::nanoseconds>(longest, c.at - *last);
    last = c.at;
  }
  if (!last) return std::nullopt;
  return std::max<std::chrono::nanoseconds>(longest, until - *last);
}

}  // namespace rollout::platform
