// Time as an interface so tests control it: wall-clock time (timestamps in the journal and in
// reports, directive expiry) and monotonic time (probation windows, backoff, timeouts).
// SystemClock is stateless and thread-safe; FakeClock starts at a fixed instant and moves only
// when a test advances it (thread-safe: its instants are atomics).
#pragma once

#include <atomic>
#include <chrono>

namespace rollout::platform {

class Clock {
 public:
  virtual ~Clock() = default;
  virtual std::chrono::system_clock::time_point now() const = 0;
  virtual std::chrono::steady_clock::time_point steady_now() const = 0;
};

class SystemClock final : public Clock {
 public:
  std::chrono::system_clock::time_point now() const override {
    return std::chrono::system_clock::now();
  }
  std::chrono::steady_clock::time_point steady_now() const override {
    return std::chrono::steady_clock::now();
  }
};

// The process-wide real clock.
inline Clock& system_clock() {
  static SystemClock clock;
  return clock;
}

class FakeClock final : public Clock {
 public:
  // 2026-01-01T00:00:00Z by default.
  explicit FakeClock(std::chrono::system_clock::time_point start =
                         std::chrono::system_clock::time_point(std::chrono::seconds(1767225600)))
      : wall_(start) {}

  std::chrono::system_clock::time_point now() const override { return wall_.load(); }
  std::chrono::steady_clock::time_point steady_now() const override { return steady_.load(); }

  // Moves both clocks forward.
  void advance(std::chrono::nanoseconds d) {
    wall_.store(wall_.load() + std::chrono::duration_cast<std::chrono::system_clock::duration>(d));
    steady_.store(steady_.load() +
                  std::chrono::duration_cast<std::chrono::steady_clock::duration>(d));
  }
  // Moves only the wall clock (an NTP step, a skewed endpoint); may go backwards.
  void set_wall(std::chrono::system_clock::time_point t) { wall_.store(t); }

 private:
  std::atomic<std::chrono::system_clock::time_point> wall_;
  std::atomic<std::chrono::steady_clock::time_point> steady_{};
};

}  // namespace rollout::platform
