// A watcher for Store::watch_targets that counts its calls, for the targets feed tests
// (suites/targets_feed_suite.cpp, postgres/pg_targets_feed_test.cpp). Waits are bounded by
// kLiveness, a limit for a broken test, never a speed expectation.
#pragma once

#include <chrono>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>

namespace rollout::testing {

class TargetsWatcher {
 public:
  static constexpr std::chrono::seconds kLiveness{20};

  // What watch_targets is given; the counter outlives the store's calls (shared ownership).
  static std::function<void()> fn(const std::shared_ptr<TargetsWatcher>& w) {
    return [w] { w->called(); };
  }

  int calls() {
    std::lock_guard lock(mu_);
    return calls_;
  }
  // True once there have been at least n calls; false after kLiveness.
  bool reached(int n) {
    std::unique_lock lock(mu_);
    return cv_.wait_for(lock, kLiveness, [&] { return calls_ >= n; });
  }

 private:
  void called() {
    {
      std::lock_guard lock(mu_);
      ++calls_;
    }
    cv_.notify_all();
  }

  std::mutex mu_;
  std::condition_variable cv_;
  int calls_ = 0;  // guarded by mu_
};

}  // namespace rollout::testing
