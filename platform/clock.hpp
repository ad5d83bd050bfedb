// Time as an interface so tests control it: wall-clock time (timestamps in the journal and in
// reports, directive expiry), monotonic time (probation windows, backoff, timeouts), and waiting
// for a monotonic deadline. A loop waits with wait_until(earliest deadline, wake) instead of
// sleeping, and anything that should end the wait early (a stop request forwarded by a thread,
// a child's exit, download progress) calls wake.notify().
//
// SystemClock is stateless and thread-safe; its waits take real time. FakeClock starts at a fixed
// instant and moves only when a test advances it or, in auto-advance mode (the default), when a
// wait jumps straight to its deadline, so a single-threaded simulation of hours takes
// milliseconds and is the same on every run. Its scheduled events (at()) stop a jumping wait at
// their instant and run there. FakeClock is thread-safe: instants are atomics, the rest is
// guarded by a mutex.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <mutex>

namespace rollout::platform {

// A wake-up for a Clock::wait_until. notify() is remembered until a wait consumes it, so a
// notification that arrives just before the wait starts is not lost. Thread-safe, but not
// async-signal-safe: a signal handler sets a flag and a thread (sigwait) forwards it. One thread
// waits on a given Wake at a time.
class Wake {
 public:
  void notify();
  // Work started on another thread will end with fulfil() (a notify() that settles this). A real
  // clock waits as before; a FakeClock lets no virtual time pass while a fulfil() is outstanding
  // unless some thread moves it (advance()), so the work takes no virtual time of its own: a
  // request answered at once is answered at the instant it was sent.
  void expect();
  void fulfil();
  bool expecting() const;
  // Consumes a pending notification; true if there was one.
  bool consume();
  bool pending() const;

 private:
  friend class Clock;
  friend class FakeClock;
  struct Listener {
    std::mutex* mu = nullptr;
    std::condition_variable* cv = nullptr;
  };

  mutable std::mutex mu_;
  std::condition_variable cv_;
  bool pending_ = false;  // guarded by mu_
  int expected_ = 0;      // guarded by mu_
  Listener listener_;     // guarded by mu_; a FakeClock waiting in manual mode
};

class Clock {
 public:
  virtual ~Clock() = default;
  virtual std::chrono::system_clock::time_point now() const = 0;
  virtual std::chrono::steady_clock::time_point steady_now() const = 0;
  // Blocks until steady_now() >= deadline or `wake` is notified (a pending notification counts
  // and is consumed). True when woken by `wake`; false at the deadline, or earlier when the clock
  // has an event of its own (a FakeClock event): callers re-check their state after every
  // return. The default waits in real time for (deadline - steady_now()).
  virtual bool wait_until(std::chrono::steady_clock::time_point deadline, Wake& wake) const;
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
  using Steady = std::chrono::steady_clock::time_point;
  using Wall = std::chrono::system_clock::time_point;

  // 2026-01-01T00:00:00Z by default.
  explicit FakeClock(Wall start = Wall(std::chrono::seconds(1767225600))) : wall_(start) {}

  Wall now() const override { return wall_.load(); }
  Steady steady_now() const override { return steady_.load(); }

  // Auto-advance (default): the waiting thread moves time itself, to its deadline or to the
  // first scheduled event before it, whichever comes first, and returns at once. A wait with no
  // deadline (time_point::max()) and nothing scheduled could never end: it aborts with a message.
  // Manual: the waiting thread blocks until another thread advance()s past its deadline, an event
  // runs, or its Wake is notified. A wait on a Wake that expects a fulfil() (Wake::expect) waits
  // as in manual mode, also in auto-advance mode, for at most 30 s of real time (then it aborts
  // with a message: the work on the other thread never ended).
  void set_auto_advance(bool on);

  // Moves both clocks forward, running the events due on the way (each at its own instant, on
  // this thread), and wakes waits whose deadline has come.
  void advance(std::chrono::nanoseconds d);
  // Moves only the wall clock (an NTP step, a skewed endpoint); may go backwards.
  void set_wall(Wall t) { wall_.store(t); }

  // Runs `fn` when steady time reaches `at` (at once on the next advance or wait if `at` has
  // passed); a wait in progress returns after it ran. An empty `fn` only marks the instant, so a
  // jumping wait stops there (a fake child's exit). `fn` may use the clock.
  void at(Steady at, std::function<void()> fn = {});
  void after(std::chrono::nanoseconds d, std::function<void()> fn = {}) {
    at(steady_now() + std::chrono::duration_cast<Steady::duration>(d), std::move(fn));
  }

  bool wait_until(Steady deadline, Wake& wake) const override;

  // Manual mode helpers: threads blocked in wait_until now, and a bounded real-time wait until
  // at least `n` are (so a test advances only once the loop is parked). False on timeout.
  std::size_t waiters() const;
  bool await_waiters(std::size_t n,
                     std::chrono::milliseconds real_timeout = std::chrono::seconds(10)) const;
  // Every wait_until call so far: a loop that spins instead of waiting shows here.
  std::uint64_t waits() const;

 private:
  // Moves time to `target`, running due events in order; mu_ is not held while one runs.
  void advance_to(Steady target) const;

  // The clock's instants move inside const waits, as a real clock's do.
  mutable std::atomic<Wall> wall_;
  mutable std::atomic<Steady> steady_{};
  mutable std::mutex mu_;
  mutable std::condition_variable cv_;                           // time moved, event ran, woken
  mutable std::multimap<Steady, std::function<void()>> events_;  // guarded by mu_
  mutable std::uint64_t events_run_ = 0;                         // guarded by mu_
  mutable std::size_t waiters_ = 0;                              // guarded by mu_
  mutable std::uint64_t waits_ = 0;                              // guarded by mu_
  bool auto_advance_ = true;                                     // guarded by mu_
};

}  // namespace rollout::platform
