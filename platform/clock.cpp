// Waiting on a Clock, and the fake clock's virtual time; portable (no OS headers).
#include "platform/clock.hpp"

#include <cstdio>
#include <cstdlib>

namespace rollout::platform {

void Wake::notify() {
  Listener l;
  {
    std::lock_guard lock(mu_);
    pending_ = true;
    l = listener_;
  }
  cv_.notify_all();
  if (l.mu != nullptr) {
    // Taking the listener's mutex orders this after its check of pending_ or after it sleeps.
    std::lock_guard lock(*l.mu);
    l.cv->notify_all();
  }
}

void Wake::expect() {
  std::lock_guard lock(mu_);
  ++expected_;
}

void Wake::fulfil() {
  {
    std::lock_guard lock(mu_);
    if (expected_ > 0) --expected_;
  }
  notify();
}

bool Wake::expecting() const {
  std::lock_guard lock(mu_);
  return expected_ > 0;
}

bool Wake::consume() {
  std::lock_guard lock(mu_);
  const bool was = pending_;
  pending_ = false;
  return was;
}

bool Wake::pending() const {
  std::lock_guard lock(mu_);
  return pending_;
}

bool Clock::wait_until(std::chrono::steady_clock::time_point deadline, Wake& wake) const {
  const auto left = deadline - steady_now();
  std::unique_lock lock(wake.mu_);
  auto woken = [&wake] { return wake.pending_; };
  if (deadline == std::chrono::steady_clock::time_point::max()) {
    wake.cv_.wait(lock, woken);
  } else if (left > std::chrono::steady_clock::duration::zero()) {
    (void)wake.cv_.wait_until(lock, std::chrono::steady_clock::now() + left, woken);
  }
  const bool was = wake.pending_;
  wake.pending_ = false;
  return was;
}

void FakeClock::set_auto_advance(bool on) {
  std::lock_guard lock(mu_);
  auto_advance_ = on;
}

void FakeClock::advance(std::chrono::nanoseconds d) {
  advance_to(steady_now() + std::chrono::duration_cast<Steady::duration>(d));
}

void FakeClock::advance_to(Steady target) const {
  std::unique_lock lock(mu_);
  for (;;) {
    const auto now = steady_.load();
    auto next = events_.begin();
    const bool event_due = next != events_.end() && next->first <= target;
    const Steady to = event_due ? std::max(next->first, now) : std::max(target, now);
    wall_.store(wall_.load() + std::chrono::duration_cast<Wall::duration>(to - now));
    steady_.store(to);
    if (!event_due) break;
    auto fn = std::move(next->second);
    events_.erase(next);
    ++events_run_;
    lock.unlock();
    if (fn) fn();
    lock.lock();
  }
  lock.unlock();
  cv_.notify_all();
}

void FakeClock::at(Steady at, std::function<void()> fn) {
  {
    std::lock_guard lock(mu_);
    events_.emplace(at, std::move(fn));
  }
  cv_.notify_all();  // a manual-mode wait returns for an event already due
}

bool FakeClock::wait_until(Steady deadline, Wake& wake) const {
  std::unique_lock lock(mu_);
  ++waits_;
  const bool jump = auto_advance_ && !wake.expecting();
  if (jump) {
    const bool has_event = !events_.empty();
    if (deadline == Steady::max() && !has_event) {
      std::fprintf(stderr,
                   "FakeClock: a wait without a deadline and nothing scheduled can never end\n");
      std::abort();
    }
    const bool event_first = has_event && events_.begin()->first < deadline;
    const Steady target = event_first ? events_.begin()->first : deadline;
    lock.unlock();
    if (wake.consume()) return true;
    advance_to(target);
    return wake.consume();
  }
  {
    std::lock_guard wl(wake.mu_);
    wake.listener_ = Wake::Listener{&mu_, &cv_};
  }
  ++waiters_;
  cv_.notify_all();  // await_waiters
  const std::uint64_t events_seen = events_run_;
  bool woken = false;
  for (;;) {
    if ((woken = wake.consume())) break;
    if (steady_.load() >= deadline || events_run_ != events_seen) break;
    if (!events_.empty() && events_.begin()->first <= steady_.load()) {
      lock.unlock();
      advance_to(steady_.load());  // run what is already due, then return
      lock.lock();
      break;
    }
    if (!auto_advance_) {
      cv_.wait(lock);
    } else if (!wake.expecting()) {
      break;  // the work ended (its fulfil() was consumed or is about to be): jump again
    } else if (cv_.wait_for(lock, std::chrono::seconds(30)) == std::cv_status::timeout) {
      std::fprintf(stderr,
                   "FakeClock: work on another thread (Wake::expect) did not end in 30 s\n");
      std::abort();
    }
  }
  --waiters_;
  {
    std::lock_guard wl(wake.mu_);
    wake.listener_ = {};
  }
  lock.unlock();
  return woken || wake.consume();
}

std::size_t FakeClock::waiters() const {
  std::lock_guard lock(mu_);
  return waiters_;
}

bool FakeClock::await_waiters(std::size_t n, std::chrono::milliseconds real_timeout) const {
  std::unique_lock lock(mu_);
  return cv_.wait_for(lock, real_timeout, [&] { return waiters_ >= n; });
}

std::uint64_t FakeClock::waits() const {
  std::lock_guard lock(mu_);
  return waits_;
}

}  // namespace rollout::platform
