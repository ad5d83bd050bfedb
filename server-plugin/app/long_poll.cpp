#include "server-plugin/app/long_poll.hpp"

#include <algorithm>

namespace rollout::server {

HeldCheckins::HeldCheckins(Store& store, std::size_t max_held, Decide decide, Report report)
    : store_(store),
      max_held_(max_held),
      decide_(std::move(decide)),
      report_(std::move(report)),
      thread_([this] { run(); }) {}

HeldCheckins::~HeldCheckins() {
  {
    const std::lock_guard lock(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  thread_.join();
}

void HeldCheckins::changed() {
  epoch_.fetch_add(1);
  {
    const std::lock_guard lock(mu_);
    dirty_ = true;
  }
  cv_.notify_all();
}

std::shared_ptr<http::Deferred> HeldCheckins::hold(Entry e, std::chrono::milliseconds limit,
                                                   http::Response at_limit) {
  // Counted before the check, so two at once cannot both pass the last place.
  if (held_.fetch_add(1) >= max_held_) {
    held_.fetch_sub(1);
    refused_at_cap_.fetch_add(1);
    return nullptr;
  }
  auto count = held_count_;
  auto reply = std::make_shared<http::Deferred>(limit, std::move(at_limit),
                                                [count] { count->fetch_sub(1); });
  auto entry = std::make_shared<Entry>(std::move(e));
  entry->reply = reply;
  bool stale = false;
  {
    const std::lock_guard lock(mu_);
    // Ended holds go here too, so the list stays near the number held between changes.
    if (entries_.size() >= 64 && entries_.size() > 2 * held_.load()) {
      std::erase_if(entries_, [](const auto& x) { return !x->reply->open(); });
    }
    stale = entry->epoch < epoch_.load();
    entries_.push_back(std::move(entry));
    if (stale) dirty_ = true;
  }
  if (stale) cv_.notify_all();
  return reply;
}

void HeldCheckins::run() {
  std::unique_lock lock(mu_);
  for (;;) {
    cv_.wait(lock, [this] { return stop_ || dirty_; });
    if (stop_) return;
    dirty_ = false;
    const std::uint64_t epoch = epoch_.load();
    std::erase_if(entries_, [](const auto& x) { return !x->reply->open(); });
    std::vector<std::shared_ptr<Entry>> todo;
    for (const auto& x : entries_)
      if (x->epoch < epoch) todo.push_back(x);
    lock.unlock();
    for (std::size_t at = 0; at < todo.size(); at += kBatch) {
      std::vector<std::shared_ptr<Entry>> batch(
          todo.begin() + static_cast<std::ptrdiff_t>(at),
          todo.begin() + static_cast<std::ptrdiff_t>(std::min(todo.size(), at + kBatch)));
      decide_batch(batch, epoch);
    }
    lock.lock();
  }
}

void HeldCheckins::decide_batch(std::vector<std::shared_ptr<Entry>>& batch, std::uint64_t epoch) {
  std::erase_if(batch, [](const auto& x) { return !x->reply->open(); });
  if (batch.empty()) return;
  std::vector<std::optional<http::Response>> answers;
  auto st = with_conflict_retry(kConflictAttempts, [&] {
    return store_.transaction([&](Tx& tx) -> Status {
      answers.assign(batch.size(), std::nullopt);  // a retried attempt decides afresh
      for (std::size_t i = 0; i < batch.size(); ++i) {
        auto a = decide_(tx, *batch[i]);
        if (!a) return a.error();
        answers[i] = std::move(*a);
      }
      return {};
    });
  });
  // Decided at `epoch` either way: a failed batch is not retried until the next change (its
  // check-ins are answered at their limit and the agents check in again).
  for (auto& x : batch) x->epoch = epoch;
  if (!st) {
    if (report_) report_(st.error());
    return;
  }
  for (std::size_t i = 0; i < batch.size(); ++i) {
    if (answers[i] && batch[i]->reply->answer(std::move(*answers[i]))) answered_early_.fetch_add(1);
  }
}

}  // namespace rollout::server
