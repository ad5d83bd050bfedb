// The two signed document types of DESIGN.md §2. A ReleaseManifest (signed offline by a release
// key) describes one artifact: product, version, os, arch, size, sha256, security_version,
// created_at. A Directive (signed online by a directive key) tells one agent to install or
// downgrade to a release, carrying that release's signed manifest inside it. Parsing is strict:
// every field required and typed, unknown fields refused, enumerations checked, the payload's own
// "type" matching its envelope (domain separation, since payload_type itself is not signed).
// Agent-side policy (sequence, expiry, version rule, security floor) is not checked here.
#pragma once

#include <optional>
#include <string>

#include "common/semver.hpp"
#include "common/signed_document.hpp"
#include "common/time.hpp"

namespace rollout {

inline constexpr std::string_view kReleasePayloadType = "application/vnd.rollout.release+json";
inline constexpr std::string_view kDirectivePayloadType = "application/vnd.rollout.directive+json";
inline constexpr std::uint64_t kMaxArtifactSize = 8ull << 30;

// "linux" | "windows", "x86_64" | "aarch64".
bool valid_os(std::string_view os);
bool valid_arch(std::string_view arch);
// A manifest's product name: 1 to 64 of [a-z0-9._-].
bool valid_product(std::string_view product);

struct ReleaseManifest {
  std::string product = "rollout-agent";
  SemVer version;
  std::string os;
  std::string arch;
  std::uint64_t size = 0;
  std::string sha256;  // lower-case hex
  std::uint64_t security_version = 0;
  SysTime created_at;

  std::string to_payload() const;  // canonical JSON bytes to sign
};

Expected<ReleaseManifest> parse_release_payload(std::string_view payload);

struct VerifiedRelease {
  ReleaseManifest manifest;
  Envelope envelope;
};

// Signature (release key ring) first, then the payload.
Expected<VerifiedRelease> verify_release(const Envelope& envelope, const KeyRing& release_keys);
Expected<VerifiedRelease> verify_release(std::string_view envelope_json,
                                         const KeyRing& release_keys);

enum class DirectiveAction { install, downgrade, none };
std::string_view to_string(DirectiveAction action);

struct Directive {
  std::string agent_id;
  std::string channel;  // beta | stable
  DirectiveAction action = DirectiveAction::none;
  std::optional<Envelope> release;  // required unless action is none
  std::uint64_t sequence = 0;
  SysTime issued_at;
  SysTime expires_at;
  std::string reason;

  std::string to_payload() const;
};

struct VerifiedDirective {
  Directive directive;
  std::optional<VerifiedRelease> release;
  // SHA-256 (lower-case hex) of the signed payload bytes as received: the directive's identity.
  // Signatures are not part of it, so the same directive signed again (key rotation) is the same.
  std::string digest;
};

// Both signatures: the directive by a directive key, its release by a release key. A failure of
// the embedded release carries its code prefixed with "release_" (release_invalid_signature,
// release_invalid_document), so a refusal names which of the two documents was at fault.
Expected<VerifiedDirective> verify_directive(const Envelope& envelope,
                                             const KeyRing& directive_keys,
                                             const KeyRing& release_keys);
Expected<VerifiedDirective> verify_directive(std::string_view envelope_json,
                                             const KeyRing& directive_keys,
                                             const KeyRing& release_keys);

}  // namespace rollout
