// Audit events as webhook events: which actions notify, and the body's fields.
#include <boost/json.hpp>

#include "common/crypto.hpp"
#include "server-plugin/notifier.hpp"

namespace rollout::server::notify {
namespace {

namespace bj = boost::json;

// The stored snapshots are the server's own JSON; anything unexpected reads as absent.
std::optional<bj::object> object_of(const std::string& text) {
  if (text.empty() || text.size() > 64 * 1024) return std::nullopt;
  bj::error_code ec;
  auto v = bj::parse(text, ec);
  if (ec || !v.is_object()) return std::nullopt;
  return std::move(v.as_object());
}

std::uint64_t count_of(const bj::object& o, const char* key) {
  const auto* v = o.if_contains(key);
  if (v && v->is_uint64()) return v->as_uint64();
  if (v && v->is_int64() && v->as_int64() >= 0) return static_cast<std::uint64_t>(v->as_int64());
  return 0;
}

std::string capitalised(std::string s) {
  if (!s.empty() && s[0] >= 'a' && s[0] <= 'z') s[0] = static_cast<char>(s[0] - 'a' + 'A');
  return s;
}

}  // namespace

std::optional<std::string> event_type(const Event& e) {
  static const std::pair<std::string_view, std::string_view> kMap[] = {
      {"promote", "release.promoted"},
      {"rollback", "release.rolled_back"},
      {"rollout_paused", "rollout.paused"},
      {"rollout_resumed", "rollout.resumed"},
      {"rollout_advanced", "rollout.advanced"},
      {"rollout_completed", "rollout.completed"},
      {"release_critical", "release.critical"},
      {"release_blocked", "release.blocked"},
      {"stable_behind_beta", "stable.behind_beta"},
  };
  for (const auto& [action, type] : kMap) {
    if (e.action == action) return std::string(type);
  }
  return std::nullopt;
}

webhooks::Event webhook_event(const Event& e, std::string type) {
  webhooks::Event w;
  w.id = "evt_" + std::to_string(e.id);
  w.audit_id = e.id;
  w.type = std::move(type);
  w.occurred_at = e.at;
  w.version = e.version;
  w.os = e.os;
  w.arch = e.arch;
  w.actor = e.user;
  w.reason = e.reason;
  w.health.status = "Unknown";
  if (auto h = object_of(e.health_json)) {
    if (const auto* st = h->if_contains("status"); st && st->is_string())
      w.health.status = capitalised(std::string(st->as_string()));
    w.health.success = count_of(*h, "success");
    w.health.failure = count_of(*h, "failure");
    w.health.crash = count_of(*h, "crash");
  }
  if (auto d = object_of(e.detail_json)) {
    if (const auto* rule = d->if_contains("rule"); rule && rule->is_string())
      w.rule = std::string(rule->as_string());
    if (const auto* wave = d->if_contains("wave"); wave && wave->is_uint64()) {
      w.wave = wave->as_uint64();
    } else if (wave && wave->is_int64() && wave->as_int64() >= 0) {
      w.wave = static_cast<std::uint64_t>(wave->as_int64());
    }
    w.detail_json = bj::serialize(*d);
  }
  return w;
}

std::string body(const Event& e, const std::string& type) {
  return webhooks::body(webhook_event(e, type));
}

std::string config_webhook_id(const std::string& url) {
  return "cfg_" + crypto::sha256_hex(url).substr(0, 16);
}

}  // namespace rollout::server::notify
