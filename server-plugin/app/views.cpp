#include "server-plugin/app/views.hpp"
#include "common/time.hpp"

#include "common/json.hpp"
#include "common/log.hpp"
#include "common/time.hpp"

namespace rollout::server {

namespace bj = boost::json;

bj::object health_json(const Health& h) {
  return bj::object{
      {"status", to_string(h.status)},
      {"total", h.counts.total()},
      {"success", h.counts.success},
      {"failure", h.counts.failure},
      {"crash", h.counts.crash},
      {"success_rate", h.success_rate},
      {"failure_rate", h.failure_rate},
      {"crash_rate", h.crash_rate},
      {"success_interval", bj::array{h.success_interval.first, h.success_interval.second}},
      {"success_color", h.success_color}};
}

bj::object event_json(const Event& e) {
  bj::object o{{"id", e.id},           {"at", format_rfc3339(SysTime(std::chrono::seconds(e.at)))},
               {"user", e.user},       {"action", e.action},
               {"version", e.version}, {"os", e.os},
               {"arch", e.arch},       {"reason", e.reason},
               {"force", e.force}};
  bj::error_code ec;
  auto health = bj::parse(e.health_json, ec);
  o["health"] = ec ? bj::value(bj::object{}) : health;
  auto detail = bj::parse(e.detail_json, ec);
  o["detail"] = ec ? bj::value(bj::object{}) : detail;
  return o;
}

bj::object attempt_json(const Attempt& a) {
  bj::object o{{"id", a.id},
               {"version", a.release.version},
               {"os", a.release.os},
               {"arch", a.release.arch},
               {"from_version", a.from_version},
               {"outcome", a.outcome},
               {"stage", a.stage},
               {"error_code", a.error_code},
               {"message", a.message},
               {"stderr_tail", a.stderr_tail},
               {"occurred_at", a.occurred_at},
               {"received_at", format_rfc3339(SysTime(std::chrono::seconds(a.received_at)))}};
  if (a.exit_code) o["exit_code"] = *a.exit_code;
  if (a.signal) o["signal"] = *a.signal;
  return o;
}

http::Response json_ok(const bj::value& v, unsigned status) {
  return http::json_response(status, bj::serialize(v));
}

http::Response bad_request(const std::string& code, const std::string& message) {
  return http::error_response(400, code, message);
}

http::Response internal_error(const Error& e) {
  if (e.code == kConflict) {
    log::Logger("app").warn("request gave up on a busy database", {{"message", e.message}});
    auto r = http::error_response(503, "busy",
                                  "the database stayed busy with other changes; nothing was "
                                  "changed, try again: " +
                                      e.message);
    r.set_header("Retry-After", "1");
    return r;
  }
  log::Logger("app").error("request failed", {{"code", e.code}, {"message", e.message}});
  return http::error_response(500, "internal", e.message);
}

Status audit(AppState& s, StoreOps& tx, const Event& e) {
  auto id = tx.append_event(e);
  if (!id) return id.error();
  s.notify_webhooks();  // the worker reads the trail once this transaction has committed
  return {};
}

std::optional<Release> find_release(StoreOps& db, const ReleaseKey& key, http::Response& answer) {
  auto rel = db.get_release(key);
  if (!rel) {
    answer = internal_error(rel.error());
    return std::nullopt;
  }
  if (!*rel) {
    answer = http::error_response(404, "not_found",
                                  "no release " + key.version + " " + key.os + "/" + key.arch);
    return std::nullopt;
  }
  return std::move(rel->value());
}

std::optional<bj::object> json_body(const Ctx& ctx, std::size_t cap, http::Response& error) {
  auto o = json::parse_object(ctx.req.body, "request body", {cap, 16});
  if (!o) {
    error = o.error().code == "too_large"
                ? http::error_response(413, "too_large", o.error().message)
                : bad_request("invalid_json", o.error().message);
    return std::nullopt;
  }
  return std::move(o.value());
}

}  // namespace rollout::server
