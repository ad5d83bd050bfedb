// One check-in request on its own thread, so a check-in the server holds open (long-poll: up to
// a few minutes) never delays the controller's loop: supervision of the managed agent, the
// watchdog and a stop are served every tick while it waits. Like the DownloadWorker it only runs
// the request: the loop builds it, and takes the answer (once, under a mutex) to act on it.
// cancel() ends the request within about a second (the transport polls the cancel check at least
// once a second). The destructor cancels and joins. Methods are called from the owning thread.
#pragma once

#include <atomic>
#include <functional>
#include <mutex>
#include <optional>
#include <thread>

#include "common/http/client.hpp"

namespace rollout::agent {

class CheckinWorker {
 public:
  // `finished` (may be empty) is called on the worker thread once the answer is there, so a
  // loop waiting for its next deadline can wake up early. The request's cancel check is the
  // worker's own.
  CheckinWorker(net::Transport& transport, net::Request request,
                std::function<void()> finished = {});
  ~CheckinWorker();
  CheckinWorker(const CheckinWorker&) = delete;
  CheckinWorker& operator=(const CheckinWorker&) = delete;

  // The answer once the request has ended (handed out once), else nullopt.
  std::optional<Expected<net::JsonResult>> take_result();
  void cancel() { cancel_.store(true); }
  bool cancelled() const { return cancel_.load(); }

 private:
  std::atomic<bool> cancel_{false};
  std::mutex mu_;
  std::optional<Expected<net::JsonResult>> result_;  // guarded by mu_
  std::thread thread_;
};

}  // namespace rollout::agent
