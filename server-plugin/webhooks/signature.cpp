// Event filters, the HMAC signature header and the event body.
#include <boost/json.hpp>

#include "common/crypto.hpp"
#include "common/encoding.hpp"
#include "common/time.hpp"
#include "server-plugin/webhooks.hpp"

namespace rollout::server::webhooks {
namespace {

std::string mac_hex(std::string_view secret, std::int64_t t, std::string_view body) {
  std::string signed_bytes = std::to_string(t);
  signed_bytes += '.';
  signed_bytes += body;
  return encoding::hex(crypto::hmac_sha256(secret, signed_bytes));
}

}  // namespace

bool known_event(std::string_view type) {
  for (auto t : kEventTypes) {
    if (t == type) return true;
  }
  return false;
}

Status validate_filter(const std::vector<std::string>& filter) {
  if (filter.empty()) {
    return Error{"invalid_argument", "webhook events: list at least one event type, or \"*\""};
  }
  for (const auto& f : filter) {
    if (f != "*" && !known_event(f)) {
      return Error{"invalid_argument", "webhook events: unknown event type '" + f.substr(0, 64) +
                                           "' (known: release.promoted, release.rolled_back, "
                                           "release.critical, release.blocked, rollout.paused, "
                                           "rollout.resumed, rollout.advanced, "
                                           "rollout.completed, stable.behind_beta, or *)"};
    }
  }
  return {};
}

bool wants(const std::vector<std::string>& filter, std::string_view type) {
  for (const auto& f : filter) {
    if (f == "*" || f == type) return true;
  }
  return false;
}

std::string signature_header(std::string_view secret, std::int64_t timestamp,
                             std::string_view body) {
  return "t=" + std::to_string(timestamp) + ",v1=" + mac_hex(secret, timestamp, body);
}

Status verify_signature(std::string_view header, std::string_view secret, std::string_view body,
                        std::int64_t now, std::chrono::seconds tolerance) {
  if (header.size() > 1024) return Error{"bad_signature_header", "signature header too long"};
  std::optional<std::int64_t> t;
  std::vector<std::string_view> macs;
  while (!header.empty()) {
    const auto comma = header.find(',');
    const std::string_view part = header.substr(0, comma);
    header = comma == std::string_view::npos ? std::string_view{} : header.substr(comma + 1);
    const auto eq = part.find('=');
    if (eq == std::string_view::npos) {
      return Error{"bad_signature_header", "expected t=<seconds>,v1=<hex>"};
    }
    const auto key = part.substr(0, eq), value = part.substr(eq + 1);
    if (key == "t") {
      if (value.empty() || value.size() > 12 ||
          value.find_first_not_of("0123456789") != std::string_view::npos) {
        return Error{"bad_signature_header", "t must be Unix seconds"};
      }
      t = std::stoll(std::string(value));
    } else if (key == "v1") {
      macs.push_back(value);
    }
  }
  if (!t || macs.empty()) return Error{"bad_signature_header", "expected t=<seconds>,v1=<hex>"};
  if (*t < now - tolerance.count() || *t > now + tolerance.count()) {
    return Error{"stale_signature", "signature timestamp is outside the tolerance"};
  }
  const std::string want = mac_hex(secret, *t, body);
  bool ok = false;
  for (auto m : macs) ok = crypto::constant_time_equal(m, want) || ok;
  if (!ok) return Error{"bad_signature", "no signature matches the body"};
  return {};
}

std::chrono::seconds retry_delay(std::uint32_t attempt, std::uint32_t jitter_permille) {
  static constexpr std::int64_t kSteps[] = {10, 30, 60, 300, 900};
  const std::int64_t base = attempt == 0   ? 0
                            : attempt <= 5 ? kSteps[attempt - 1]
                                           : static_cast<std::int64_t>(3600);
  const std::int64_t jitter = base * static_cast<std::int64_t>(jitter_permille % 1000) / 5000;
  return std::chrono::seconds(base + jitter);
}

std::string body(const Event& e) {
  boost::json::object o{
      {"id", e.id},
      {"type", e.type},
      {"occurred_at", format_rfc3339(SysTime(std::chrono::seconds(e.occurred_at)))},
      {"release", boost::json::object{{"version", e.version}, {"os", e.os}, {"arch", e.arch}}},
      {"health",
       boost::json::object{{"status", e.health.status},
                           {"success", e.health.success},
                           {"failure", e.health.failure},
                           {"crash", e.health.crash},
                           {"total", e.health.success + e.health.failure + e.health.crash}}},
      {"actor", e.actor},
      {"reason", e.reason},
  };
  if (e.rule) o["rule"] = *e.rule;
  if (e.wave) o["wave"] = *e.wave;
  if (e.audit_id != 0) o["audit_id"] = e.audit_id;
  if (!e.detail_json.empty()) {
    boost::json::error_code ec;
    auto detail = boost::json::parse(e.detail_json, ec);
    if (!ec && detail.is_object() && !detail.as_object().empty()) o["detail"] = detail;
  }
  return boost::json::serialize(o);
}

}  // namespace rollout::server::webhooks
