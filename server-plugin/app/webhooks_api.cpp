// Webhooks through the API (admin only): list (never the secrets), add, delete, delivery log.
// Adding and deleting are audited like every other admin action.
#include <boost/json.hpp>

#include "common/crypto.hpp"
#include "common/encoding.hpp"
#include "common/json.hpp"
#include "common/time.hpp"
#include "server-plugin/app/handlers.hpp"
#include "server-plugin/app/views.hpp"

namespace rollout::server::handlers {
namespace {

namespace bj = boost::json;

std::string rfc3339(std::int64_t t) {
  return format_rfc3339(SysTime(std::chrono::seconds(t)));
}

bj::object webhook_json(const Webhook& w) {
  bj::array events;
  for (const auto& e : w.events) events.emplace_back(e);
  bj::object o{{"id", w.id},
               {"url", w.url},
               {"events", std::move(events)},
               {"source", w.source},
               {"created_by", w.created_by},
               {"created_at", rfc3339(w.created_at)},
               {"last_event_id", w.cursor},
               {"failed_attempts", w.attempts}};
  o["next_attempt_at"] = w.attempts > 0 ? bj::value(rfc3339(w.next_attempt_at)) : nullptr;
  return o;
}

std::string user_of(const Ctx& c) {
  return c.user ? c.user->user : "?";
}

}  // namespace

http::Response list_webhooks(AppState& s, Ctx&) {
  auto hooks = s.store->list_webhooks();
  if (!hooks) return internal_error(hooks.error());
  bj::array out;
  for (const auto& w : *hooks) out.push_back(webhook_json(w));
  return json_ok(bj::object{{"webhooks", std::move(out)}});
}

http::Response add_webhook(AppState& s, Ctx& c) {
  http::Response err;
  auto body = json_body(c, s.cfg.body_limit, err);
  if (!body) return err;
  json::Reader r(*body, "webhook");
  const std::string url = r.string("url", 2048);
  std::optional<std::string> secret = r.opt_string("secret", 1024);
  std::vector<std::string> events;
  if (const auto* list = r.array("events", 16)) {
    for (const auto& e : *list) {
      if (!e.is_string() || e.as_string().size() > 64) {
        r.fail("events", "must be a list of event types");
        break;
      }
      events.emplace_back(e.as_string());
    }
  }
  r.no_unknown_keys();
  if (!r.ok()) return bad_request("invalid_body", r.error().message);
  if (auto t = webhooks::parse_target(url, s.webhook_policy); !t)
    return bad_request(t.error().code, t.error().message);
  if (auto st = webhooks::validate_filter(events); !st)
    return bad_request("invalid_events", st.error().message);
  if (secret && secret->size() < 16)
    return bad_request("weak_secret", "secret: at least 16 bytes, or leave it out to get one");
  // A secret made here is shown once, in this answer; GET never returns it.
  const bool generated = !secret;
  if (generated) secret = encoding::hex(crypto::random_bytes(32));
  Webhook w;
  w.id = "wh_" + encoding::hex(crypto::random_bytes(8));
  w.url = url;
  w.secret = *secret;
  w.events = events;
  w.source = "api";
  w.created_by = user_of(c);
  w.created_at = s.now();
  auto st = with_conflict_retry(kConflictAttempts, [&] {
    return s.store->transaction([&](Tx& tx) -> Status {
      if (auto ins = tx.insert_webhook(w); !ins) return ins;
      Event e{0,
              s.now(),
              user_of(c),
              "webhook_add",
              "",
              "",
              "",
              "",
              false,
              "{}",
              bj::serialize(bj::object{{"webhook", w.id}, {"url", w.url}})};
      return audit(s, tx, e);
    });
  });
  if (!st) return internal_error(st.error());
  auto stored = s.store->get_webhook(w.id);
  if (!stored || !*stored)
    return internal_error(stored ? Error{"storage", "webhook vanished"} : stored.error());
  s.log("info", "webhooks", "webhook " + w.id + " added for " + url, {{"user", user_of(c)}});
  bj::object out = webhook_json(**stored);
  if (generated) out["secret"] = *secret;
  return json_ok(out, 201);
}

http::Response delete_webhook(AppState& s, Ctx& c) {
  const std::string id = c.params.at("id");
  auto hook = s.store->get_webhook(id);
  if (!hook) return internal_error(hook.error());
  if (!*hook) return http::error_response(404, "not_found", "no webhook " + id);
  if ((*hook)->source == "config") {
    return http::error_response(409, "configured_webhook",
                                "webhook " + id + " comes from the config; remove it there");
  }
  auto st = with_conflict_retry(kConflictAttempts, [&] {
    return s.store->transaction([&](Tx& tx) -> Status {
      auto gone = tx.delete_webhook(id);
      if (!gone) return gone.error();
      Event e{0,
              s.now(),
              user_of(c),
              "webhook_delete",
              "",
              "",
              "",
              "",
              false,
              "{}",
              bj::serialize(bj::object{{"webhook", id}, {"url", (*hook)->url}})};
      return audit(s, tx, e);
    });
  });
  if (!st) return internal_error(st.error());
  s.log("info", "webhooks", "webhook " + id + " deleted", {{"user", user_of(c)}});
  return json_ok(bj::object{{"deleted", id}});
}

http::Response webhook_deliveries(AppState& s, Ctx& c) {
  const std::string id = c.params.at("id");
  std::size_t limit = 100;
  if (auto it = c.target.query.find("limit"); it != c.target.query.end()) {
    const auto& v = it->second;
    if (v.empty() || v.size() > 4 || v.find_first_not_of("0123456789") != std::string::npos)
      return bad_request("invalid_argument", "limit must be a number from 1 to 1000");
    limit = std::clamp<std::size_t>(std::stoul(v), 1, 1000);
  }
  auto hook = s.store->get_webhook(id);
  if (!hook) return internal_error(hook.error());
  if (!*hook) return http::error_response(404, "not_found", "no webhook " + id);
  auto rows = s.store->list_webhook_deliveries(id, limit);
  if (!rows) return internal_error(rows.error());
  bj::array out;
  for (const auto& d : *rows) {
    out.push_back(bj::object{{"event_id", d.event_id},
                             {"event_type", d.event_type},
                             {"attempt", d.attempt},
                             {"status", d.status},
                             {"outcome", d.outcome},
                             {"error", d.error},
                             {"at", rfc3339(d.at)},
                             {"duration_ms", d.duration_ms}});
  }
  return json_ok(bj::object{{"webhook", webhook_json(**hook)}, {"deliveries", std::move(out)}});
}

}  // namespace rollout::server::handlers
