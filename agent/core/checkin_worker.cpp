#include "agent/checkin_worker.hpp"

namespace rollout::agent {

CheckinWorker::CheckinWorker(net::Transport& transport, net::Request request,
                             std::function<void()> finished) {
  request.cancelled = [this] { return cancel_.load(); };
  thread_ =
      std::thread([this, &transport, request = std::move(request), finished = std::move(finished)] {
        auto got = transport.send(request);
        {
          const std::lock_guard lock(mu_);
          result_.emplace(std::move(got));
        }
        if (finished) finished();
      });
}

CheckinWorker::~CheckinWorker() {
  cancel();
  if (thread_.joinable()) thread_.join();
}

std::optional<Expected<net::JsonResult>> CheckinWorker::take_result() {
  const std::lock_guard lock(mu_);
  auto out = std::move(result_);
  result_.reset();
  return out;
}

}  // namespace rollout::agent
