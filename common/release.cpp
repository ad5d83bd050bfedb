#include "common/release.hpp"

#include <boost/json.hpp>

#include "common/json.hpp"

namespace rollout {
namespace {

constexpr std::size_t kMaxPayload = 32 * 1024;

bool valid_sha256_hex(std::string_view h) {
  if (h.size() != 64) return false;
  for (char c : h) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  }
  return true;
}

Error invalid(const std::string& what) {
  return make_error("invalid_document", what);
}

// Reads a time field through the Reader, recording a parse failure against the field.
SysTime read_time(json::Reader& r, std::string_view key) {
  const std::string text = r.string(key, 40);
  if (!r.ok()) return {};
  auto t = parse_rfc3339(text);
  if (!t) {
    r.fail(key, "must be an RFC 3339 UTC time like 2026-11-24T19:57:00Z");
    return {};
  }
  return *t;
}

}  // namespace

bool valid_os(std::string_view os) {
  return os == "linux" || os == "windows";
}
bool valid_arch(std::string_view arch) {
  return arch == "x86_64" || arch == "aarch64";
}
bool valid_product(std::string_view p) {
  if (p.empty() || p.size() > 64) return false;
  for (char c : p) {
    const bool ok =
        (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-';
    if (!ok) return false;
  }
  return true;
}

std::string ReleaseManifest::to_payload() const {
  boost::json::object o;
  o["type"] = "release";
  o["product"] = product;
  o["version"] = version.str();
  o["os"] = os;
  o["arch"] = arch;
  o["size"] = size;
  o["sha256"] = sha256;
  o["security_version"] = security_version;
  o["created_at"] = format_rfc3339(created_at);
  return boost::json::serialize(o);
}

Expected<ReleaseManifest> parse_release_payload(std::string_view payload) {
  auto obj = json::parse_object(payload, "release manifest", {kMaxPayload, 4});
  if (!obj) return invalid(obj.error().message);
  json::Reader r(*obj, "release manifest");
  ReleaseManifest m;
  if (r.string("type", 16) != "release" && r.ok()) r.fail("type", "must be \"release\"");
  m.product = r.string("product", 64);
  if (r.ok() && !valid_product(m.product)) r.fail("product", "may contain only [a-z0-9._-]");
  const std::string version = r.string("version", SemVer::kMaxLength);
  if (r.ok()) {
    auto v = SemVer::parse(version);
    if (!v) {
      r.fail("version", "is not SemVer: " + v.error().message);
    } else {
      m.version = *v;
    }
  }
  m.os = r.string("os", 16);
  if (r.ok() && !valid_os(m.os)) r.fail("os", "must be linux or windows");
  m.arch = r.string("arch", 16);
  if (r.ok() && !valid_arch(m.arch)) r.fail("arch", "must be x86_64 or aarch64");
  m.size = r.uint("size", kMaxArtifactSize);
  if (r.ok() && m.size == 0) r.fail("size", "must be at least 1");
  m.sha256 = r.string("sha256", 64);
  if (r.ok() && !valid_sha256_hex(m.sha256)) r.fail("sha256", "must be 64 lower-case hex digits");
  m.security_version = r.uint("security_version", 1u << 30);
  m.created_at = read_time(r, "created_at");
  r.no_unknown_keys();
  if (!r.ok()) return invalid(r.error().message);
  return m;
}

Expected<VerifiedRelease> verify_release(const Envelope& envelope, const KeyRing& release_keys) {
  auto payload = verify_envelope(envelope, kReleasePayloadType, release_keys);
  if (!payload) return payload.error();
  auto m = parse_release_payload(*payload);
  if (!m) return m.error();
  return VerifiedRelease{std::move(m.value()), envelope};
}

Expected<VerifiedRelease> verify_release(std::string_view envelope_json,
                                         const KeyRing& release_keys) {
  auto env = parse_envelope(envelope_json);
  if (!env) return env.error();
  return verify_release(*env, release_keys);
}

std::string_view to_string(DirectiveAction action) {
  switch (action) {
    case DirectiveAction::install:
      return "install";
    case DirectiveAction::downgrade:
      return "downgrade";
    case DirectiveAction::none:
      return "none";
  }
  return "none";
}

std::string Directive::to_payload() const {
  boost::json::object o;
  o["type"] = "directive";
  o["agent_id"] = agent_id;
  o["channel"] = channel;
  o["action"] = to_string(action);
  if (release) o["release"] = envelope_to_json(*release);
  o["sequence"] = sequence;
  o["issued_at"] = format_rfc3339(issued_at);
  o["expires_at"] = format_rfc3339(expires_at);
  o["reason"] = reason;
  return boost::json::serialize(o);
}

Expected<VerifiedDirective> verify_directive(const Envelope& envelope,
                                             const KeyRing& directive_keys,
                                             const KeyRing& release_keys) {
  auto payload = verify_envelope(envelope, kDirectivePayloadType, directive_keys);
  if (!payload) return payload.error();
  auto obj = json::parse_object(*payload, "directive", {kMaxEnvelopeBytes, 8});
  if (!obj) return invalid(obj.error().message);
  json::Reader r(*obj, "directive");
  Directive d;
  if (r.string("type", 16) != "directive" && r.ok()) r.fail("type", "must be \"directive\"");
  d.agent_id = r.string("agent_id", 128);
  d.channel = r.string("channel", 16);
  if (r.ok() && d.channel != "beta" && d.channel != "stable")
    r.fail("channel", "must be beta or stable");
  const std::string action = r.string("action", 16);
  if (action == "install") {
    d.action = DirectiveAction::install;
  } else if (action == "downgrade") {
    d.action = DirectiveAction::downgrade;
  } else if (action == "none") {
    d.action = DirectiveAction::none;
  } else if (r.ok()) {
    r.fail("action", "must be install, downgrade or none");
  }
  const auto* release = r.opt_object("release");
  d.sequence = r.uint("sequence");
  if (r.ok() && d.sequence == 0) r.fail("sequence", "must be at least 1");
  d.issued_at = read_time(r, "issued_at");
  d.expires_at = read_time(r, "expires_at");
  if (r.ok() && d.expires_at <= d.issued_at) r.fail("expires_at", "must be after issued_at");
  d.reason = r.string("reason", 1024, true);
  r.no_unknown_keys();
  if (!r.ok()) return invalid(r.error().message);
  if (d.action != DirectiveAction::none && release == nullptr) {
    return invalid("directive: 'release' is required for " + action);
  }
  VerifiedDirective out;
  if (release != nullptr) {
    auto in_release = [](Error e) {
      e.code = "release_" + e.code;
      return e.context("directive release");
    };
    auto env = envelope_from_json(*release);
    if (!env) return in_release(env.error());
    auto vr = verify_release(*env, release_keys);
    if (!vr) return in_release(vr.error());
    d.release = *env;
    out.release = std::move(vr.value());
  }
  out.directive = std::move(d);
  out.digest = crypto::sha256_hex(*payload);
  return out;
}

Expected<VerifiedDirective> verify_directive(std::string_view envelope_json,
                                             const KeyRing& directive_keys,
                                             const KeyRing& release_keys) {
  auto env = parse_envelope(envelope_json);
  if (!env) return env.error();
  return verify_directive(*env, directive_keys, release_keys);
}

}  // namespace rollout
