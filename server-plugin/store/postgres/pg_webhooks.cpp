// Webhooks: subscriptions with their cursor over the audit trail, the bounded delivery log, the
// delivery lease and the health detector's last-seen states.
#include "server-plugin/store/config_webhooks.hpp"
#include "server-plugin/store/postgres/pg_store.hpp"
#include "server-plugin/store/postgres/pg_store_rows.hpp"
#include "server-plugin/store/webhook_events.hpp"

namespace rollout::server::pg {
namespace {

#define WEBHOOK_COLUMNS \
  "id, url, secret, events, source, created_by, created_at, cursor, attempts, next_attempt_at"

Webhook read_webhook(Row& x) {
  return Webhook{x.s(0), x.s(1), x.s(2), webhook_events_of(x.s(3)),          x.s(4),
                 x.s(5), x.i(6), x.i(7), static_cast<std::uint32_t>(x.i(8)), x.i(9)};
}

}  // namespace

Expected<std::vector<Event>> PgOps::events_after(std::int64_t after_id, std::size_t limit) {
  auto r = q("events_after",
             "SELECT " PG_EVENT_COLUMNS " FROM rollout_events WHERE id > $1 ORDER BY id LIMIT $2",
             Params(after_id, static_cast<std::int64_t>(limit)));
  if (!r) return r.error();
  return rows<Event>(*r, read_event);
}

Status PgOps::insert_webhook(const Webhook& w) {
  auto r = q("insert_webhook",
             "INSERT INTO webhooks (id, url, secret, events, source, created_by, created_at, "
             "cursor) VALUES ($1,$2,$3,$4,$5,$6,$7, "
             "(SELECT COALESCE(MAX(id), 0) FROM rollout_events))",
             Params(w.id, w.url, w.secret, webhook_events_text(w.events), w.source, w.created_by,
                    w.created_at));
  if (r) return {};
  if (r.error().code == "unique_violation" || r.error().code == "constraint") {
    return make_error("duplicate_webhook", "webhook " + w.id + " exists");
  }
  return r.error();
}

Status PgOps::sync_config_webhooks(const std::vector<Webhook>& hooks) {
  return atomic([&]() -> Status {
    return sync_config_webhooks_on(*this, hooks, [&](const Webhook& h) -> Expected<bool> {
      auto r = q("sync_config_webhook",
                 "UPDATE webhooks SET url = $1, events = $2 WHERE id = $3 AND source = 'config'",
                 Params(h.url, webhook_events_text(h.events), h.id));
      if (!r) return r.error();
      return r->affected() > 0;
    });
  });
}

Expected<std::vector<Webhook>> PgOps::list_webhooks() {
  auto r = q("list_webhooks",
             "SELECT " WEBHOOK_COLUMNS " FROM webhooks ORDER BY created_at, id COLLATE \"C\"");
  if (!r) return r.error();
  return rows<Webhook>(*r, read_webhook);
}

Expected<std::optional<Webhook>> PgOps::get_webhook(const std::string& id) {
  auto r = q("get_webhook", "SELECT " WEBHOOK_COLUMNS " FROM webhooks WHERE id = $1", Params(id));
  if (!r) return r.error();
  return first_row<Webhook>(*r, read_webhook);
}

Expected<bool> PgOps::delete_webhook(const std::string& id) {
  bool existed = false;
  auto st = atomic([&]() -> Status {
    auto r = q("delete_webhook", "DELETE FROM webhooks WHERE id = $1", Params(id));
    if (!r) return r.error();
    existed = r->affected() > 0;
    return run("delete_webhook_deliveries", "DELETE FROM webhook_deliveries WHERE webhook_id = $1",
               Params(id));
  });
  if (!st) return st.error();
  return existed;
}

Expected<bool> PgOps::update_webhook_cursor(const std::string& id, std::int64_t expected_cursor,
                                            std::int64_t cursor, std::uint32_t attempts,
                                            std::int64_t next_attempt_at) {
  auto r =
      q("update_webhook_cursor",
        "UPDATE webhooks SET cursor = $1, attempts = $2, next_attempt_at = $3 "
        "WHERE id = $4 AND cursor = $5",
        Params(cursor, static_cast<std::int64_t>(attempts), next_attempt_at, id, expected_cursor));
  if (!r) return r.error();
  return r->affected() == 1;
}

Status PgOps::add_webhook_delivery(const WebhookDelivery& d, std::size_t keep) {
  return atomic([&]() -> Status {
    Params p(d.webhook_id, d.event_id, d.event_type, static_cast<std::int64_t>(d.attempt), d.status,
             d.outcome, d.error.substr(0, 1024), d.at, d.duration_ms);
    if (auto st = run("add_webhook_delivery",
                      "INSERT INTO webhook_deliveries (webhook_id, event_id, event_type, attempt, "
                      "status, outcome, error, at, duration_ms) "
                      "VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9)",
                      p);
        !st) {
      return st;
    }
    return run("trim_webhook_deliveries",
               "DELETE FROM webhook_deliveries WHERE webhook_id = $1 AND id <= (SELECT id FROM "
               "webhook_deliveries WHERE webhook_id = $1 ORDER BY id DESC LIMIT 1 OFFSET $2)",
               Params(d.webhook_id, static_cast<std::int64_t>(keep)));
  });
}

Expected<std::vector<WebhookDelivery>> PgOps::list_webhook_deliveries(const std::string& id,
                                                                      std::size_t limit) {
  auto r = q("list_webhook_deliveries",
             "SELECT id, webhook_id, event_id, event_type, attempt, status, outcome, error, at, "
             "duration_ms FROM webhook_deliveries WHERE webhook_id = $1 ORDER BY id DESC LIMIT $2",
             Params(id, static_cast<std::int64_t>(limit)));
  if (!r) return r.error();
  return rows<WebhookDelivery>(*r, [](Row& x) {
    return WebhookDelivery{x.i(0), x.s(1), x.i(2), x.s(3), static_cast<std::uint32_t>(x.i(4)),
                           x.i(5), x.s(6), x.s(7), x.i(8), x.i(9)};
  });
}

Expected<bool> PgOps::take_lease(const std::string& name, const std::string& holder,
                                 std::int64_t now, std::int64_t expires_at) {
  auto r = q("take_lease",
             "UPDATE notify_lease SET holder = $1, expires_at = $2 "
             "WHERE name = $3 AND (holder = $1 OR expires_at <= $4)",
             Params(holder, expires_at, name, now));
  if (!r) return r.error();
  return r->affected() == 1;
}

Expected<std::optional<std::string>> PgOps::get_watch(const std::string& subject) {
  auto r = q("get_watch", "SELECT value FROM notify_watch WHERE subject = $1", Params(subject));
  if (!r) return r.error();
  return first_row<std::string>(*r, [](Row& x) { return x.s(0); });
}

Expected<bool> PgOps::swap_watch(const std::string& subject,
                                 const std::optional<std::string>& expected,
                                 const std::string& value) {
  auto r = expected ? q("swap_watch",
                        "UPDATE notify_watch SET value = $1 WHERE subject = $2 AND value = $3",
                        Params(value, subject, *expected))
                    : q("create_watch",
                        "INSERT INTO notify_watch (value, subject) VALUES ($1, $2) "
                        "ON CONFLICT (subject) DO NOTHING",
                        Params(value, subject));
  if (!r) return r.error();
  return r->affected() == 1;
}

}  // namespace rollout::server::pg
