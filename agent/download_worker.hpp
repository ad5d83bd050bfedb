// One artifact download on its own thread, so the controller's single-threaded loop keeps
// supervising the managed agent, feeding the watchdog and answering a stop while bytes move.
// The loop owns every piece of state: the worker only runs download_artifact (which writes the
// part file and hashes it) and hands back how many bytes are on disk (an atomic) and, once, its
// result (under a mutex). cancel() ends the transfer within about a second, even when no byte
// arrives (the transport polls the cancel check at least once a second); the part file stays for
// the next attempt. The destructor cancels and joins. Methods are called from the owning thread.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <mutex>
#include <optional>
#include <thread>

#include "agent/download.hpp"

namespace rollout::agent {

class DownloadWorker {
 public:
  // `finished` (may be empty) is called on the worker thread when the transfer has ended, so a
  // loop waiting for its next deadline can wake up early.
  DownloadWorker(platform::FileSystem& fs, net::Transport& transport, DownloadJob job,
                 std::function<void()> finished = {});
  ~DownloadWorker();
  DownloadWorker(const DownloadWorker&) = delete;
  DownloadWorker& operator=(const DownloadWorker&) = delete;

  // Bytes of the artifact on disk and hashed so far (the resumed part included).
  std::uint64_t bytes_done() const { return done_.load(); }
  // The result once the transfer has ended (handed out once), else nullopt.
  std::optional<Expected<Downloaded>> take_result();
  void cancel() { cancel_.store(true); }

 private:
  std::atomic<std::uint64_t> done_{0};
  std::atomic<bool> cancel_{false};
  std::mutex mu_;
  std::optional<Expected<Downloaded>> result_;  // guarded by mu_
  std::thread thread_;
};

}  // namespace rollout::agent
