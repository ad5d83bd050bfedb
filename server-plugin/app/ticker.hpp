// Runs a function every `interval` on a thread of its own until destroyed: the server's periodic
// work (evaluating rollouts in waves). Time comes from a platform::Clock, so a test drives it
// with a FakeClock. The destructor wakes the thread and joins it; `fn` must not throw.
#pragma once

#include <atomic>
#include <chrono>
#include <functional>
#include <thread>

#include "platform/clock.hpp"

namespace rollout::server {

class Ticker {
 public:
  Ticker(platform::Clock& clock, std::chrono::milliseconds interval, std::function<void()> fn);
  ~Ticker();
  Ticker(const Ticker&) = delete;
  Ticker& operator=(const Ticker&) = delete;

 private:
  void run();

  platform::Clock& clock_;
  std::chrono::milliseconds interval_;
  std::function<void()> fn_;
  platform::Wake wake_;
  std::atomic<bool> stop_{false};
  std::thread thread_;  // last: started once everything above is set
};

}  // namespace rollout::server
