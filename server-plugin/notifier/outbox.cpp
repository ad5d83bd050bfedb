// The per-webhook cursor over the audit trail, delivered in order under a lease.
#include <algorithm>
#include <chrono>

#include "common/crypto.hpp"
#include "common/log.hpp"
#include "server-plugin/notifier.hpp"

namespace rollout::server::notify {
namespace {

// A cursor move is the decision that an event was delivered (or given up): retried through a
// busy database rather than sending the event again on the next tick.
Expected<bool> move_cursor(Store& store, const std::string& id, std::int64_t expected_cursor,
                           std::int64_t cursor, std::uint32_t attempts,
                           std::int64_t next_attempt_at) {
  bool moved = false;
  auto st = with_conflict_retry(kConflictAttempts, [&]() -> Status {
    auto m = store.update_webhook_cursor(id, expected_cursor, cursor, attempts, next_attempt_at);
    if (!m) return m.error();
    moved = *m;
    return {};
  });
  if (!st) return st.error();
  return moved;
}

// A stable spread for the retries of one (webhook, event): many webhooks failing at once do not
// come back in step, and a restart keeps the same schedule.
std::uint32_t jitter_of(const std::string& hook, std::int64_t event_id) {
  const std::string h = crypto::sha256_hex(hook + "/" + std::to_string(event_id));
  return static_cast<std::uint32_t>(std::stoul(h.substr(0, 6), nullptr, 16) % 1000);
}

bool is_2xx(std::int64_t status) {
  return status >= 200 && status < 300;
}

}  // namespace

Outbox::Outbox(Store& store, Sender& sender, OutboxOptions options,
               std::function<std::int64_t()> now)
    : store_(store), sender_(sender), options_(std::move(options)), now_(std::move(now)) {}

Expected<TickResult> Outbox::tick() {
  TickResult result;
  auto hooks = store_.list_webhooks();
  if (!hooks) return hooks.error();
  if (hooks->empty()) return result;
  const std::int64_t now = now_();
  auto leader = store_.take_lease("webhooks", options_.instance, now, now + options_.lease.count());
  if (!leader) return leader.error();
  if (!*leader) return result;
  result.leader = true;
  auto detected = detect_transitions(store_, options_.thresholds, options_.stale_after, now);
  if (!detected) {
    log::Logger("webhooks").warn("health detector failed", {{"error", detected.error().message}});
  } else {
    result.detected = *detected;
  }
  for (const auto& hook : *hooks) {
    std::string secret = hook.secret;
    if (hook.source == "config") {
      auto it = options_.config_secrets.find(hook.id);
      if (it == options_.config_secrets.end()) continue;  // another server's config lists it
      secret = it->second;
    }
    if (hook.next_attempt_at > now) {
      result.next_retry_at =
          std::min(result.next_retry_at.value_or(hook.next_attempt_at), hook.next_attempt_at);
      continue;
    }
    if (auto st = deliver(hook, secret, result); !st) return st.error();
  }
  return result;
}

void Outbox::release() {
  // An expiry of 0 has passed for everyone; only a holder's own lease moves (or a free one).
  (void)store_.take_lease("webhooks", options_.instance, now_(), 0);
}

Status Outbox::deliver(const Webhook& hook, const std::string& secret, TickResult& result) {
  std::int64_t cursor = hook.cursor;  // as stored: every move is conditional on it
  std::uint32_t attempts = hook.attempts;
  std::size_t sent = 0;
  while (sent < options_.max_per_tick) {
    auto events = store_.events_after(cursor, 200);
    if (!events) return events.error();
    if (events->empty()) return {};
    std::int64_t skip_to = cursor;
    const Event* next = nullptr;
    std::string type;
    for (const auto& e : *events) {
      auto t = event_type(e);
      if (t && webhooks::wants(hook.events, *t)) {
        next = &e;
        type = *t;
        break;
      }
      skip_to = e.id;
      ++result.skipped;
    }
    if (skip_to != cursor) {
      auto moved = move_cursor(store_, hook.id, cursor, skip_to, 0, 0);
      if (!moved) return moved.error();
      if (!*moved) return {};  // deleted, or another server moved it
      cursor = skip_to;
      attempts = 0;
    }
    if (!next) continue;
    // The lease is renewed before each delivery; a server that lost it stops here.
    const std::int64_t now = now_();
    auto still =
        store_.take_lease("webhooks", options_.instance, now, now + options_.lease.count());
    if (!still) return still.error();
    if (!*still) return {};
    const std::string payload = body(*next, type);
    const auto t0 = std::chrono::steady_clock::now();
    const SendResult r =
        sender_.post(hook.url, payload, webhooks::signature_header(secret, now, payload));
    const auto ms =
        std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - t0)
            .count();
    ++sent;
    const std::uint32_t attempt = attempts + 1;
    if (is_2xx(r.status)) {
      auto moved = move_cursor(store_, hook.id, cursor, next->id, 0, 0);
      if (!moved) return moved.error();
      log_attempt(hook, *next, type, attempt, r, "delivered", ms);
      ++result.delivered;
      if (!*moved) return {};
      cursor = next->id;
      attempts = 0;
      continue;
    }
    ++result.failed;
    if (attempt >= webhooks::kMaxAttempts) {
      auto moved = move_cursor(store_, hook.id, cursor, next->id, 0, 0);
      if (!moved) return moved.error();
      log_attempt(hook, *next, type, attempt, r, "gave_up", ms);
      ++result.gave_up;
      log::Logger("webhooks")
          .warn("webhook delivery given up", {{"webhook", hook.id},
                                              {"event", std::to_string(next->id)},
                                              {"attempts", std::to_string(attempt)},
                                              {"error", r.error}});
      if (!*moved) return {};
      cursor = next->id;
      attempts = 0;
      continue;
    }
    const std::int64_t due =
        now + webhooks::retry_delay(attempt, jitter_of(hook.id, next->id)).count();
    auto moved = move_cursor(store_, hook.id, cursor, cursor, attempt, due);
    if (!moved) return moved.error();
    log_attempt(hook, *next, type, attempt, r, "failed", ms);
    result.next_retry_at = std::min(result.next_retry_at.value_or(due), due);
    return {};
  }
  return {};
}

void Outbox::log_attempt(const Webhook& hook, const Event& e, const std::string& type,
                         std::uint32_t attempt, const SendResult& r, const std::string& outcome,
                         std::int64_t ms) {
  WebhookDelivery d{0, hook.id, e.id, type, attempt, r.status, outcome, r.error, now_(), ms};
  if (auto st = store_.add_webhook_delivery(d, options_.keep_deliveries); !st) {
    log::Logger("webhooks").warn("delivery log write failed", {{"error", st.error().message}});
  }
}

Worker::Worker(Outbox& outbox, const platform::Clock& clock, std::chrono::milliseconds interval)
    : outbox_(outbox), clock_(clock), interval_(interval) {}

Worker::~Worker() {
  stop();
}

void Worker::start() {
  if (thread_.joinable()) return;
  stopping_ = false;
  thread_ = std::thread([this] { run(); });
}

void Worker::stop() {
  stopping_ = true;
  wake_.notify();
  if (thread_.joinable()) {
    thread_.join();
    outbox_.release();
  }
}

void Worker::run() {
  log::Logger logger("webhooks");
  while (!stopping_) {
    auto r = outbox_.tick();
    ++ticks_;
    if (!r) logger.warn("webhook delivery pass failed", {{"error", r.error().message}});
    if (stopping_) break;
    (void)clock_.wait_until(clock_.steady_now() + interval_, wake_);
  }
}

}  // namespace rollout::server::notify
