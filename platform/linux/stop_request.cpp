// SIGTERM / SIGINT set the flag (see stop_request.hpp).
#include <signal.h>

#include "platform/stop_request.hpp"

namespace rollout::platform {

namespace {

std::atomic<bool>* g_flag = nullptr;

extern "C" void on_stop_signal(int) {
  if (g_flag != nullptr) g_flag->store(true);
}

}  // namespace

void watch_stop_requests(std::atomic<bool>& flag) {
  g_flag = &flag;
  ::signal(SIGXFSZ, SIG_IGN);
  ::signal(SIGPIPE, SIG_IGN);
  struct sigaction sa {};
  sa.sa_handler = on_stop_signal;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGTERM, &sa, nullptr);
  sigaction(SIGINT, &sa, nullptr);
}

void ignore_stop_requests() {
  ::signal(SIGTERM, SIG_IGN);
  ::signal(SIGINT, SIG_IGN);
}

}  // namespace rollout::platform
