#include "agent/download_worker.hpp"

namespace rollout::agent {

DownloadWorker::DownloadWorker(platform::FileSystem& fs, net::Transport& transport, DownloadJob job,
                               std::function<void()> finished) {
  job.cancelled = [this] { return cancel_.load(); };
  job.progress = [this](std::uint64_t n) { done_.store(n); };
  thread_ =
      std::thread([this, &fs, &transport, job = std::move(job), finished = std::move(finished)] {
        auto got = download_artifact(fs, transport, job);
        {
          const std::lock_guard lock(mu_);
          result_.emplace(std::move(got));
        }
        if (finished) finished();
      });
}

DownloadWorker::~DownloadWorker() {
  cancel();
  if (thread_.joinable()) thread_.join();
}

std::optional<Expected<Downloaded>> DownloadWorker::take_result() {
  const std::lock_guard lock(mu_);
  auto out = std::move(result_);
  result_.reset();
  return out;
}

}  // namespace rollout::agent
