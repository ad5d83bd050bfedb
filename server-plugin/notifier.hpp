// Webhook delivery (issue #13). Every notification is an audit event (`rollout_events`, append-
// only): promote, rollback (actor "system" for an automatic one), the waves' rollout_* events, and
// the health transitions the detector below records. Each webhook's cursor over that trail is its
// durable outbox: the Outbox reads the events after the cursor, skips what the webhook's filter
// does not want, delivers the rest in order with the `X-Rollout-Signature` header, retries a
// failure on webhooks::retry_delay's schedule, and moves the cursor in the store only after a 2xx
// (or after giving up after webhooks::kMaxAttempts, logged). A restart resumes at the cursor; of
// several servers on one database the one holding the lease (a conditional update with an expiry)
// delivers. Every attempt lands in the delivery log (bounded per webhook).
//
// The SSRF rule holds at the socket: the curl Sender checks the address libcurl actually
// connects to (webhooks::check_address), so a name that later resolves elsewhere is refused.
//
// Outbox::tick is one pass and takes its time from `now` (tests drive it on a FakeClock); the
// Worker runs ticks on a thread, waiting on a platform::Clock between them, woken early by
// notify(); stopping it gives the lease up. Outbox is used from one thread at a time;
// Worker::notify is thread-safe.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <thread>

#include "common/error.hpp"
#include "platform/clock.hpp"
#include "server-plugin/config.hpp"
#include "server-plugin/model.hpp"
#include "server-plugin/store.hpp"
#include "server-plugin/webhooks.hpp"

namespace rollout::server::notify {

// The webhook event type of an audit event, or nullopt when it is not a notification.
//   promote → release.promoted            rollback → release.rolled_back
//   rollout_paused / _resumed / _advanced / _completed → rollout.paused / … / rollout.completed
//   release_critical / release_blocked / stable_behind_beta (the detector's) → release.critical,
//   release.blocked, stable.behind_beta
std::optional<std::string> event_type(const Event& e);
// The body's fields from an audit event: health snapshot, actor, reason, and the rule and wave
// from its detail when it has them. The id is "evt_<audit id>" (the same on every retry).
webhooks::Event webhook_event(const Event& e, std::string type);
// The body a receiver gets for `e`: webhooks::body plus the audit event's id ("audit_id").
std::string body(const Event& e, const std::string& type);

// The config webhook's stable id: "cfg_" + 16 hex digits of the URL's SHA-256.
std::string config_webhook_id(const std::string& url);

// Records health transitions as audit events (actor "system"), each exactly once even when
// several servers run this at once: a release (not rolled back) turning Critical or Blocked from
// a better state (release_critical / release_blocked, with the health snapshot), and an (os,
// arch)'s stable falling behind a beta older than `stale_after` (stable_behind_beta, once per
// beta version). The last state seen is kept in the store and changed by a conditional update
// in the same transaction as the event. Returns the number of events recorded.
Expected<std::size_t> detect_transitions(Store& store, const Thresholds& thresholds,
                                         std::chrono::seconds stale_after, std::int64_t now);

struct SendResult {
  std::int64_t status = 0;  // HTTP status; 0 when the request failed before an answer
  std::string error;        // empty on a 2xx
};

// Posts one signed body. Implementations must be safe to call from the worker thread.
class Sender {
 public:
  virtual ~Sender() = default;
  virtual SendResult post(const std::string& url, const std::string& body,
                          const std::string& signature) = 0;
};

// libcurl (common/http): TLS verified, no redirects, no proxy, the answer capped at 64 KiB, every
// connected address checked against `policy` first.
std::unique_ptr<Sender> make_curl_sender(const webhooks::TargetPolicy& policy,
                                         std::chrono::milliseconds timeout,
                                         const std::string& ca_file);

struct OutboxOptions {
  std::string instance;  // this server's lease holder name (unique per process)
  std::chrono::seconds lease{60};
  std::size_t keep_deliveries = 200;
  std::size_t max_per_tick = 100;  // deliveries per webhook per tick
  Thresholds thresholds;
  std::chrono::seconds stale_after{7 * 86400};
  // The secrets of config webhooks by id (they never reach the store).
  std::map<std::string, std::string> config_secrets;
};

struct TickResult {
  bool leader = false;
  std::size_t delivered = 0, failed = 0, gave_up = 0, skipped = 0, detected = 0;
  std::optional<std::int64_t> next_retry_at;  // the earliest retry due, Unix seconds
};

class Outbox {
 public:
  Outbox(Store& store, Sender& sender, OutboxOptions options, std::function<std::int64_t()> now);
  // One pass over every webhook (nothing at all while there is none). Errors are the store's.
  Expected<TickResult> tick();
  // Gives the lease up (a clean stop), so that another server, or this one restarted, delivers
  // at once instead of after the lease runs out.
  void release();

 private:
  Status deliver(const Webhook& hook, const std::string& secret, TickResult& result);
  void log_attempt(const Webhook& hook, const Event& e, const std::string& type,
                   std::uint32_t attempt, const SendResult& r, const std::string& outcome,
                   std::int64_t ms);

  Store& store_;
  Sender& sender_;
  OutboxOptions options_;
  std::function<std::int64_t()> now_;
};

// Runs outbox.tick() on its own thread: at start, after every `interval`, and at once after
// notify(); never earlier than a retry needs. stop() (and the destructor) ends it.
class Worker {
 public:
  Worker(Outbox& outbox, const platform::Clock& clock, std::chrono::milliseconds interval);
  ~Worker();
  void start();
  void stop();
  void notify() { wake_.notify(); }
  std::uint64_t ticks() const { return ticks_.load(); }

 private:
  void run();

  Outbox& outbox_;
  const platform::Clock& clock_;
  std::chrono::milliseconds interval_;
  platform::Wake wake_;
  std::atomic<bool> stopping_{false};
  std::atomic<std::uint64_t> ticks_{0};
  std::thread thread_;
};

}  // namespace rollout::server::notify
