// The last-24h counts cache every backend keeps in front of release_counts(since) (the Updates
// refresh): the last windowed answer, valid for the same window start while no attempt has been
// added since, by this or any other server on the database. The key is the 'attempts' row of
// `counters` (SCHEMA.md), which every committed batch that adds attempts changes in its own
// transaction; the window start is part of the key, so the cache expires as the window slides.
//
// How a backend uses it: outside a transaction only (a batch rolled back after a read inside it
// would let a later batch reuse the counter value the cache holds), read the counter first, then
// count: a batch committed in between makes the counts newer than the key, never older, and the
// next call, seeing a changed counter, counts again.
//
// Thread-safe (its own mutex): a PostgreSQL store shares one between its pooled connections.
// It cannot fail.
#pragma once

#include <cstdint>
#include <mutex>
#include <optional>

#include "server-plugin/model.hpp"

namespace rollout::server {

class WindowCountsCache {
 public:
  // The counts stored for this window start and counter value, if they are the last ones kept.
  std::optional<CountsByRelease> find(std::int64_t since, std::int64_t attempts_counter) const {
    std::lock_guard lock(mu_);
    if (entry_ && entry_->since == since && entry_->attempts_counter == attempts_counter) {
      return entry_->counts;
    }
    return std::nullopt;
  }

  // Keeps `counts`, counted after reading `attempts_counter`, for window start `since`.
  void keep(std::int64_t since, std::int64_t attempts_counter, CountsByRelease counts) {
    std::lock_guard lock(mu_);
    entry_ = Entry{since, attempts_counter, std::move(counts)};
  }

 private:
  struct Entry {
    std::int64_t since = 0;
    std::int64_t attempts_counter = 0;
    CountsByRelease counts;
  };
  mutable std::mutex mu_;
  std::optional<Entry> entry_;
};

}  // namespace rollout::server
