// LISTEN on one PostgreSQL channel, on a connection of its own (never one of the pool's, which
// serve requests and drop whatever notifications they see): PgStore's watch_targets
// (pg_store.hpp). A thread waits in poll() on the connection's socket and on an eventfd the
// destructor signals, reads what arrived and calls the callback once per batch of notifications
// on the channel. PostgreSQL delivers a NOTIFY at its transaction's commit, never for one that
// rolled back, and folds identical ones of one transaction into one.
//
// When the connection is lost (the server restarted, pg_terminate_backend, a dead network seen by
// TCP keepalives after about a minute), the thread connects again with backoff (100 ms doubling to
// 5 s), LISTENs again and then calls the callback once: whatever was notified meanwhile is lost,
// so the watcher must read again. Connecting is bounded by 10 s and never blocks the stop, except
// for the host name's resolution, which libpq does synchronously.
//
// Thread-safe: set_callback from any thread; the callback runs on the listener's thread under
// the listener's mutex. The destructor stops and joins the thread.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>

#include "common/error.hpp"

struct pg_conn;

namespace rollout::server::pg {

class Listener {
 public:
  // Connects to `url` (libpq's URL, as the pool's), LISTENs on `channel` and only then returns,
  // so a commit after start() returns is seen; an error when either fails.
  static Expected<std::unique_ptr<Listener>> start(const std::string& url, std::string channel,
                                                   std::function<void()> callback);

  Listener(const Listener&) = delete;
  Listener& operator=(const Listener&) = delete;
  ~Listener();

  // Replaces the callback. Once this returns the previous one is not running and is never called
  // again.
  void set_callback(std::function<void()> callback);

 private:
  enum class Wake { ready, timed_out, stop };
  using Clock = std::chrono::steady_clock;

  Listener(std::string url, std::string channel, std::function<void()> callback, int stop_fd)
      : url_(std::move(url)),
        channel_(std::move(channel)),
        stop_fd_(stop_fd),
        callback_(std::move(callback)) {}

  // Opens conn_ and LISTENs; on failure conn_ stays null.
  Status connect();
  void run();
  // Waits until `fd` (ignored when < 0) is ready for `events`, the deadline passes or the stop is
  // signalled (then stopped_ is set, for good).
  Wake wait(int fd, short events, std::optional<Clock::time_point> deadline);
  void drop_connection();
  void call_back();

  const std::string url_;
  const std::string channel_;
  const int stop_fd_;               // eventfd, written once by the destructor
  pg_conn* conn_ = nullptr;         // the listener thread's alone once it runs
  bool stopped_ = false;            // the listener thread's alone once it runs
  std::mutex mu_;                   // held while the callback runs
  std::function<void()> callback_;  // guarded by mu_
  std::thread thread_;
};

}  // namespace rollout::server::pg
