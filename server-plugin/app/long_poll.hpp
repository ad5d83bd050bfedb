// Long-poll check-ins (issue #15). An agent that asks with `Prefer: wait=N` (RFC 7240) and has
// nothing to do is held open up to min(N, long_poll_limit) instead of being answered at once.
// Each committed change that may alter what check-ins decide (Store::watch_targets: a release
// published, promoted or blocked, a rollout row, a policy; on any server of the database) makes
// every held check-in be decided again, many to a transaction (one commit, one fsync, for a
// batch of agents), and those that now get a directive are answered at once; the others stay
// held. No thread per held check-in: the host waits on a timer for the http::Deferred; one
// thread here decides the batches. At most max_held are held; beyond that a check-in is answered
// at once without Preference-Applied, so the agent polls.
//
// A check-in is decided again only for changes counted after its own decision began (its
// epoch), so no change can slip between a decision and its hold.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "common/protocol.hpp"
#include "server-plugin/http/message.hpp"
#include "server-plugin/model.hpp"
#include "server-plugin/store.hpp"

namespace rollout::server {

class HeldCheckins {
 public:
  struct Entry {
    std::string agent_id;  // decided again from the stored agent, as at its check-in
    protocol::CheckinRequest request;
    std::uint32_t wait_s = 0;  // granted: sent as Preference-Applied
    std::shared_ptr<http::Deferred> reply;
    std::uint64_t epoch = 0;  // the change count its last decision began after
  };
  // One held check-in decided again, on the batch's transaction: the answer to send now, or
  // nullopt to keep holding it. Must leave nothing half-done when the transaction fails.
  using Decide = std::function<Expected<std::optional<http::Response>>(Tx&, const Entry&)>;
  // Errors of a batch (the held check-ins are answered at their limit instead).
  using Report = std::function<void(const Error&)>;

  // How many held check-ins are decided in one transaction.
  static constexpr std::size_t kBatch = 256;

  HeldCheckins(Store& store, std::size_t max_held, Decide decide, Report report);
  ~HeldCheckins();  // stops the thread; held check-ins are answered by the host at their limit
  HeldCheckins(const HeldCheckins&) = delete;
  HeldCheckins& operator=(const HeldCheckins&) = delete;

  // The changes counted so far: read before deciding a check-in that may be held.
  std::uint64_t epoch() const { return epoch_.load(); }
  // A change was committed: every held check-in is decided again.
  void changed();
  // Holds a check-in whose decision began at `e.epoch`, answered with `at_limit` unless a change
  // decides otherwise: the Deferred for the host, or nullptr when max_held are held already.
  std::shared_ptr<http::Deferred> hold(Entry e, std::chrono::milliseconds limit,
                                       http::Response at_limit);
  std::size_t held() const { return held_.load(); }
  // Check-ins answered early (a change gave them something), and refused a hold at the cap.
  std::uint64_t answered_early() const { return answered_early_.load(); }
  std::uint64_t refused_at_cap() const { return refused_at_cap_.load(); }

 private:
  void run();
  void decide_batch(std::vector<std::shared_ptr<Entry>>& batch, std::uint64_t epoch);

  Store& store_;
  const std::size_t max_held_;
  const Decide decide_;
  const Report report_;
  std::atomic<std::uint64_t> epoch_{1};
  // Shared with every Deferred's close hook, which may run after this object is gone.
  std::shared_ptr<std::atomic<std::size_t>> held_count_ =
      std::make_shared<std::atomic<std::size_t>>(0);
  std::atomic<std::size_t>& held_ = *held_count_;
  std::atomic<std::uint64_t> answered_early_{0}, refused_at_cap_{0};

  std::mutex mu_;  // guards entries_, dirty_, stop_
  std::condition_variable cv_;
  std::vector<std::shared_ptr<Entry>> entries_;
  bool dirty_ = false;  // an entry's epoch is behind epoch_
  bool stop_ = false;
  std::thread thread_;
};

}  // namespace rollout::server
