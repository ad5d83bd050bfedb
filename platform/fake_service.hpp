// A ServiceNotifier for tests: records every notification (ready, status, watchdog, stopping)
// with the virtual time of the clock it is given, and answers watchdog_interval() with what the
// test configured (none by default), so "READY once, STATUS on every change, a keep-alive at
// least every half of WatchdogSec, STOPPING last" can be asserted exactly on a FakeClock.
// Thread-safe: the records are guarded by a mutex. The clock must outlive it.
#pragma once

#include <chrono>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "platform/clock.hpp"
#include "platform/service.hpp"

namespace rollout::platform {

class FakeServiceNotifier final : public ServiceNotifier {
 public:
  enum class Kind { ready, status, stopping, watchdog };
  struct Call {
    Kind kind;
    std::string text;  // the status line; empty for the others
    std::chrono::steady_clock::time_point at;
    std::chrono::system_clock::time_point wall;
  };

  explicit FakeServiceNotifier(const Clock& clock,
                               std::optional<std::chrono::microseconds> watchdog = std::nullopt)
      : clock_(clock), watchdog_(watchdog) {}

  void notify_ready() override { record(Kind::ready, {}); }
  void notify_status(std::string_view text) override { record(Kind::status, std::string(text)); }
  void notify_stopping() override { record(Kind::stopping, {}); }
  void notify_watchdog() override { record(Kind::watchdog, {}); }
  std::optional<std::chrono::microseconds> watchdog_interval() override;

  void set_watchdog_interval(std::optional<std::chrono::microseconds> interval);

  std::vector<Call> calls() const;
  std::size_t count(Kind kind) const;
  // The status lines in order.
  std::vector<std::string> statuses() const;
  // The longest stretch without a keep-alive from the first READY until `until` (the end of the
  // test): what a service manager's watchdog would measure. nullopt before READY.
  std::optional<std::chrono::nanoseconds> longest_watchdog_gap(
      std::chrono::steady_clock::time_point until) const;

 private:
  void record(Kind kind, std::string text);

  const Clock& clock_;
  mutable std::mutex mu_;
  std::optional<std::chrono::microseconds> watchdog_;  // guarded by mu_
  std::vector<Call> calls_;                            // guarded by mu_
};

}  // namespace rollout::platform
