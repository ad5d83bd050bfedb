// Webhook notifications (issue #13): the event body a receiver gets, the `X-Rollout-Signature`
// header that proves it came from this server, which targets a webhook may point at (no SSRF
// into the server's own admin port or the cloud metadata range), which events a subscription
// wants, and when a failed delivery is tried again. Pure functions; thread-safe. Delivery itself
// (the durable outbox, the HTTP client) builds on these.
//
// Signature: `X-Rollout-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<body>")>`.
// A receiver recomputes the HMAC over the timestamp, a dot and the raw body bytes, compares in
// constant time, and refuses a timestamp outside its tolerance (replays).
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/error.hpp"

namespace rollout::server::webhooks {

// Event types a subscription can ask for; "*" in a filter means all of them.
inline constexpr std::string_view kEventTypes[] = {
    "release.promoted", "release.rolled_back", "release.critical",
    "release.blocked",  "rollout.paused",      "rollout.resumed",
    "rollout.advanced", "rollout.completed",   "stable.behind_beta",
};

bool known_event(std::string_view type);
// Every entry must be a known type or "*"; an empty filter is refused (say "*" for all).
Status validate_filter(const std::vector<std::string>& filter);
bool wants(const std::vector<std::string>& filter, std::string_view type);

std::string signature_header(std::string_view secret, std::int64_t timestamp,
                             std::string_view body);
// Error codes: bad_signature_header (unparsable), stale_signature (outside tolerance),
// bad_signature (no v1 matches). Several v1= entries are accepted (secret rotation).
Status verify_signature(std::string_view header, std::string_view secret, std::string_view body,
                        std::int64_t now, std::chrono::seconds tolerance = std::chrono::minutes(5));

// Where a webhook may deliver to.
struct TargetPolicy {
  bool allow_http = false;  // plain http:// targets (tests, an internal relay)
  // Loopback targets: refused on the server's own listen port by default (its admin API is there),
  // or refused altogether, or allowed.
  enum class Loopback { refuse_own_port, refuse, allow } loopback = Loopback::refuse_own_port;
  std::uint16_t own_port = 0;
};

struct Target {
  std::string scheme;  // https | http
  std::string host;    // name or address, without brackets
  std::uint16_t port = 0;
  std::string target;  // path and query, at least "/"
};

// Parses and checks a URL as configured (error code invalid_webhook_url, the reason in the
// message): scheme, no user info, a host, a port in range, at most 2 KiB.
Expected<Target> parse_target(std::string_view url, const TargetPolicy& policy);
// Checks an address the host resolved to, at delivery time (so DNS cannot point a checked name
// at the admin port later): refuses unspecified, multicast and link-local addresses (169.254/16
// holds cloud metadata services), IPv4-mapped forms of those, and loopback per the policy.
// Error code forbidden_webhook_target.
Status check_address(std::string_view address, std::uint16_t port, const TargetPolicy& policy);

// Delay before attempt `attempt` (1 = the first retry): 10 s, 30 s, 1 min, 5 min, 15 min, then
// hourly; `jitter_permille` in [0, 1000) spreads retries of many deliveries by up to +20 %.
std::chrono::seconds retry_delay(std::uint32_t attempt, std::uint32_t jitter_permille = 0);
// A delivery is abandoned (and marked failed in the log) after this many attempts (~24 h).
inline constexpr std::uint32_t kMaxAttempts = 30;

struct HealthSnapshot {
  std::string status;  // Healthy | Warning | Critical | Blocked | Unknown
  std::uint64_t success = 0, failure = 0, crash = 0;
};

struct Event {
  std::string id;    // UUID, also the idempotency key a receiver de-duplicates on
  std::string type;  // one of kEventTypes
  std::int64_t occurred_at = 0;
  std::string version, os, arch;
  HealthSnapshot health;
  std::string actor;                  // a user name, or "system" for an automatic decision
  std::string reason;                 // the admin's reason, or the rule's message
  std::optional<std::string> rule;    // the gate rule that fired (automatic decisions)
  std::optional<std::uint64_t> wave;  // 1-based, for rollout events
  std::int64_t audit_id = 0;          // the audit event's id ("audit_id"; left out when 0)
  std::string detail_json;            // the audit event's detail object ("detail"), if any
};

// The JSON body, serialised once: the signature is over exactly these bytes.
std::string body(const Event& e);

}  // namespace rollout::server::webhooks
