#include "server-plugin/app/ticker.hpp"

namespace rollout::server {

Ticker::Ticker(platform::Clock& clock, std::chrono::milliseconds interval, std::function<void()> fn)
    : clock_(clock), interval_(interval), fn_(std::move(fn)), thread_([this] { run(); }) {}

Ticker::~Ticker() {
  stop_ = true;
  wake_.notify();
  if (thread_.joinable()) thread_.join();
}

void Ticker::run() {
  auto next = clock_.steady_now() + interval_;
  while (!stop_) {
    clock_.wait_until(next, wake_);
    if (stop_) break;
    if (clock_.steady_now() < next) continue;  // an early return: wait again for the deadline
    fn_();
    next += interval_;
    // Behind (a slow evaluation, a suspended machine): the next tick is one interval from now.
    if (next <= clock_.steady_now()) next = clock_.steady_now() + interval_;
  }
}

}  // namespace rollout::server
