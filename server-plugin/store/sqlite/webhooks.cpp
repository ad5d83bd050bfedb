// Webhooks (migration 5): subscriptions with their cursor over the audit trail, the bounded
// delivery log, the delivery lease and the health detector's last-seen states.
#include "server-plugin/store/config_webhooks.hpp"
#include "server-plugin/store/sqlite/sqlite_store.hpp"
#include "server-plugin/store/webhook_events.hpp"

namespace rollout::server::sqlite {
namespace {

constexpr std::string_view kWebhookColumns =
    "id, url, secret, events, source, created_by, created_at, cursor, attempts, next_attempt_at";

Webhook webhook_row(const Stmt& s) {
  return Webhook{s.text(0), s.text(1), s.text(2), webhook_events_of(s.text(3)),         s.text(4),
                 s.text(5), s.i64(6),  s.i64(7),  static_cast<std::uint32_t>(s.i64(8)), s.i64(9)};
}

}  // namespace

Expected<std::vector<Event>> SqliteOps::events_after(std::int64_t after_id, std::size_t limit) {
  std::lock_guard lock(mu_);
  auto s = db_.prepare(std::string("SELECT ") + kEventColumns +
                       " FROM rollout_events WHERE id > ? ORDER BY id LIMIT ?");
  if (!s) return s.error();
  s->bind(1, after_id).bind(2, static_cast<std::int64_t>(limit));
  return read_events(*s);
}

Status SqliteOps::insert_webhook(const Webhook& w) {
  std::lock_guard lock(mu_);
  auto s = db_.prepare(
      "INSERT INTO webhooks (id, url, secret, events, source, created_by, created_at, cursor) "
      "VALUES (?, ?, ?, ?, ?, ?, ?, (SELECT COALESCE(MAX(id), 0) FROM rollout_events))");
  if (!s) return s.error();
  s->bind(1, w.id).bind(2, w.url).bind(3, w.secret).bind(4, webhook_events_text(w.events));
  s->bind(5, w.source).bind(6, w.created_by).bind(7, w.created_at);
  auto st = s->run();
  if (!st && st.error().code == "constraint") {
    return make_error("duplicate_webhook", "webhook " + w.id + " exists");
  }
  return st;
}

Status SqliteOps::sync_config_webhooks(const std::vector<Webhook>& hooks) {
  return transaction([&]() -> Status {
    return sync_config_webhooks_on(*this, hooks, [&](const Webhook& h) -> Expected<bool> {
      auto s = db_.prepare("UPDATE webhooks SET url = ?, events = ? WHERE id = ? AND source = ?");
      if (!s) return s.error();
      s->bind(1, h.url).bind(2, webhook_events_text(h.events)).bind(3, h.id).bind(4, "config");
      if (auto st = s->run(); !st) return st.error();
      return db_.changes() > 0;
    });
  });
}

Expected<std::vector<Webhook>> SqliteOps::list_webhooks() {
  std::lock_guard lock(mu_);
  auto s = db_.prepare("SELECT " + std::string(kWebhookColumns) +
                       " FROM webhooks ORDER BY created_at, id");
  if (!s) return s.error();
  std::vector<Webhook> out;
  while (s->step()) out.push_back(webhook_row(*s));
  if (auto st = s->status(); !st) return st.error();
  return out;
}

Expected<std::optional<Webhook>> SqliteOps::get_webhook(const std::string& id) {
  std::lock_guard lock(mu_);
  auto s = db_.prepare("SELECT " + std::string(kWebhookColumns) + " FROM webhooks WHERE id = ?");
  if (!s) return s.error();
  s->bind(1, id);
  if (s->step()) return std::optional<Webhook>(webhook_row(*s));
  if (auto st = s->status(); !st) return st.error();
  return std::optional<Webhook>();
}

Expected<bool> SqliteOps::delete_webhook(const std::string& id) {
  bool existed = false;
  auto st = transaction([&]() -> Status {
    auto s = db_.prepare("DELETE FROM webhooks WHERE id = ?");
    if (!s) return s.error();
    if (auto r = s->bind(1, id).run(); !r) return r;
    existed = db_.changes() > 0;
    auto d = db_.prepare("DELETE FROM webhook_deliveries WHERE webhook_id = ?");
    if (!d) return d.error();
    return d->bind(1, id).run();
  });
  if (!st) return st.error();
  return existed;
}

Expected<bool> SqliteOps::update_webhook_cursor(const std::string& id, std::int64_t expected_cursor,
                                                std::int64_t cursor, std::uint32_t attempts,
                                                std::int64_t next_attempt_at) {
  std::lock_guard lock(mu_);
  auto s = db_.prepare(
      "UPDATE webhooks SET cursor = ?, attempts = ?, next_attempt_at = ? "
      "WHERE id = ? AND cursor = ?");
  if (!s) return s.error();
  s->bind(1, cursor).bind(2, static_cast<std::int64_t>(attempts)).bind(3, next_attempt_at);
  s->bind(4, id).bind(5, expected_cursor);
  if (auto st = s->run(); !st) return st.error();
  return db_.changes() == 1;
}

Status SqliteOps::add_webhook_delivery(const WebhookDelivery& d, std::size_t keep) {
  return transaction([&]() -> Status {
    auto s = db_.prepare(
        "INSERT INTO webhook_deliveries (webhook_id, event_id, event_type, attempt, status, "
        "outcome, error, at, duration_ms) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)");
    if (!s) return s.error();
    s->bind(1, d.webhook_id).bind(2, d.event_id).bind(3, d.event_type);
    s->bind(4, static_cast<std::int64_t>(d.attempt)).bind(5, d.status).bind(6, d.outcome);
    s->bind(7, d.error.substr(0, 1024)).bind(8, d.at).bind(9, d.duration_ms);
    if (auto st = s->run(); !st) return st;
    auto trim = db_.prepare(
        "DELETE FROM webhook_deliveries WHERE webhook_id = ? AND id <= (SELECT id FROM "
        "webhook_deliveries WHERE webhook_id = ? ORDER BY id DESC LIMIT 1 OFFSET ?)");
    if (!trim) return trim.error();
    trim->bind(1, d.webhook_id).bind(2, d.webhook_id).bind(3, static_cast<std::int64_t>(keep));
    return trim->run();
  });
}

Expected<std::vector<WebhookDelivery>> SqliteOps::list_webhook_deliveries(const std::string& id,
                                                                          std::size_t limit) {
  std::lock_guard lock(mu_);
  auto s = db_.prepare(
      "SELECT id, webhook_id, event_id, event_type, attempt, status, outcome, error, at, "
      "duration_ms FROM webhook_deliveries WHERE webhook_id = ? ORDER BY id DESC LIMIT ?");
  if (!s) return s.error();
  s->bind(1, id).bind(2, static_cast<std::int64_t>(limit));
  std::vector<WebhookDelivery> out;
  while (s->step()) {
    out.push_back(WebhookDelivery{s->i64(0), s->text(1), s->i64(2), s->text(3),
                                  static_cast<std::uint32_t>(s->i64(4)), s->i64(5), s->text(6),
                                  s->text(7), s->i64(8), s->i64(9)});
  }
  if (auto st = s->status(); !st) return st.error();
  return out;
}

Expected<bool> SqliteOps::take_lease(const std::string& name, const std::string& holder,
                                     std::int64_t now, std::int64_t expires_at) {
  std::lock_guard lock(mu_);
  auto s = db_.prepare(
      "UPDATE notify_lease SET holder = ?, expires_at = ? "
      "WHERE name = ? AND (holder = ? OR expires_at <= ?)");
  if (!s) return s.error();
  s->bind(1, holder).bind(2, expires_at).bind(3, name).bind(4, holder).bind(5, now);
  if (auto st = s->run(); !st) return st.error();
  return db_.changes() == 1;
}

Expected<std::optional<std::string>> SqliteOps::get_watch(const std::string& subject) {
  std::lock_guard lock(mu_);
  auto s = db_.prepare("SELECT value FROM notify_watch WHERE subject = ?");
  if (!s) return s.error();
  s->bind(1, subject);
  if (s->step()) return std::optional<std::string>(s->text(0));
  if (auto st = s->status(); !st) return st.error();
  return std::optional<std::string>();
}

Expected<bool> SqliteOps::swap_watch(const std::string& subject,
                                     const std::optional<std::string>& expected,
                                     const std::string& value) {
  std::lock_guard lock(mu_);
  auto s = expected
               ? db_.prepare("UPDATE notify_watch SET value = ? WHERE subject = ? AND value = ?")
               : db_.prepare("INSERT OR IGNORE INTO notify_watch (value, subject) VALUES (?, ?)");
  if (!s) return s.error();
  s->bind(1, value).bind(2, subject);
  if (expected) s->bind(3, *expected);
  if (auto st = s->run(); !st) return st.error();
  return db_.changes() == 1;
}

}  // namespace rollout::server::sqlite
