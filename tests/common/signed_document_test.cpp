#include "common/signed_document.hpp"

#include <gtest/gtest.h>

#include <boost/json.hpp>

#include "common/release.hpp"

namespace rollout {
namespace {

struct Keys {
  crypto::PrivateKey release = crypto::PrivateKey::generate().value();
  crypto::PrivateKey release2 = crypto::PrivateKey::generate().value();
  crypto::PrivateKey directive = crypto::PrivateKey::generate().value();
  KeyRing release_ring() const {
    KeyRing r;
    r.add(release.public_key());
    return r;
  }
  KeyRing directive_ring() const {
    KeyRing r;
    r.add(directive.public_key());
    return r;
  }
};

ReleaseManifest sample_manifest() {
  ReleaseManifest m;
  m.version = SemVer::parse("1.4.2").value();
  m.os = "linux";
  m.arch = "x86_64";
  m.size = 1234;
  m.sha256 = std::string(64, 'a');
  m.security_version = 3;
  m.created_at = parse_rfc3339("2026-11-24T10:00:00Z").value();
  return m;
}

Envelope signed_release(const crypto::PrivateKey& key, const std::string& payload) {
  return sign_envelope(std::string(kReleasePayloadType), payload, {key}).value();
}

TEST(SignedDocument, ReleaseRoundTrip) {
  Keys k;
  const auto m = sample_manifest();
  const std::string json = serialize_envelope(signed_release(k.release, m.to_payload()));
  auto v = verify_release(json, k.release_ring());
  ASSERT_TRUE(v.ok()) << v.error().message;
  EXPECT_EQ(v->manifest.version.str(), "1.4.2");
  EXPECT_EQ(v->manifest.size, 1234u);
  EXPECT_EQ(v->manifest.security_version, 3u);
  EXPECT_EQ(v->envelope.payload, m.to_payload()) << "payload bytes kept exactly";
}

TEST(SignedDocument, EverySingleByteFlipOfTheEnvelopeFails) {
  Keys k;
  const std::string json =
      serialize_envelope(signed_release(k.release, sample_manifest().to_payload()));
  const auto ring = k.release_ring();
  for (std::size_t i = 0; i < json.size(); ++i) {
    std::string bad = json;
    bad[i] = static_cast<char>(bad[i] ^ 0x01);
    ASSERT_FALSE(verify_release(bad, ring).ok()) << "flip at byte " << i << ": " << bad;
  }
}

TEST(SignedDocument, UnknownKeyWrongKeyAndRotation) {
  Keys k;
  const std::string payload = sample_manifest().to_payload();
  auto by_second = serialize_envelope(signed_release(k.release2, payload));
  auto v = verify_release(by_second, k.release_ring());
  ASSERT_FALSE(v.ok());
  EXPECT_EQ(v.error().code, "invalid_signature");
  KeyRing rotated;
  rotated.add(k.release.public_key());
  rotated.add(k.release2.public_key());
  EXPECT_TRUE(verify_release(by_second, rotated).ok()) << "any listed key may verify";
  // A signature claiming a trusted key id but made by another key.
  auto env = signed_release(k.release2, payload);
  env.signatures[0].keyid = k.release.public_key().id();
  EXPECT_EQ(verify_release(env, k.release_ring()).error().code, "invalid_signature");
  // A directive key is not a release key.
  EXPECT_FALSE(
      verify_release(serialize_envelope(signed_release(k.directive, payload)), k.release_ring())
          .ok());
}

TEST(SignedDocument, SignatureOverDifferentBytesFails) {
  Keys k;
  auto env = signed_release(k.release, sample_manifest().to_payload());
  auto other = sample_manifest();
  other.version = SemVer::parse("9.9.9").value();
  env.payload = other.to_payload();  // valid manifest, signature over the old bytes
  EXPECT_EQ(verify_release(env, k.release_ring()).error().code, "invalid_signature");
}

TEST(SignedDocument, PayloadTypeAndInnerTypeMustAgree) {
  Keys k;
  const std::string payload = sample_manifest().to_payload();
  auto env = sign_envelope(std::string(kDirectivePayloadType), payload, {k.release}).value();
  EXPECT_EQ(verify_release(env, k.release_ring()).error().code, "invalid_document");
  // A release payload wrapped as a directive must not pass as a directive either.
  auto as_directive =
      sign_envelope(std::string(kDirectivePayloadType), payload, {k.directive}).value();
  auto d = verify_directive(as_directive, k.directive_ring(), k.release_ring());
  ASSERT_FALSE(d.ok());
  EXPECT_NE(d.error().message.find("type"), std::string::npos) << d.error().message;
}

TEST(SignedDocument, OversizedAndMalformedEnvelopes) {
  Keys k;
  EXPECT_EQ(parse_envelope(std::string(kMaxEnvelopeBytes + 1, ' ')).error().code,
            "invalid_document");
  for (const char* bad :
       {"", "[]", "{}", "null", "{\"payload_type\":1}",
        R"({"payload_type":"x","payload":"!!!!","signatures":[]})",
        R"({"payload_type":"x","payload":"e30=","signatures":[]})",
        R"({"payload_type":"x","payload":"e30=","signatures":[{"keyid":"a","sig":"AA=="}]})",
        R"({"payload_type":"x","payload":"e30=","signatures":[1]})",
        R"({"payload_type":"x","payload":"e30=","signatures":[],"extra":1})"}) {
    EXPECT_FALSE(parse_envelope(bad).ok()) << bad;
  }
  std::string many = R"({"payload_type":"x","payload":"e30=","signatures":[)";
  for (int i = 0; i < 9; ++i) many += std::string(i ? "," : "") + R"({"keyid":"a","sig":"AA=="})";
  EXPECT_FALSE(parse_envelope(many + "]}").ok());
}

// Builds a manifest payload from a base manifest with one field replaced or removed.
std::string mutated(const std::string& key, const char* json_value) {
  auto obj = boost::json::parse(sample_manifest().to_payload()).as_object();
  if (json_value == nullptr) {
    obj.erase(key);
  } else {
    obj[key] = boost::json::parse(json_value);
  }
  return boost::json::serialize(obj);
}

TEST(SignedDocument, ManifestFieldsAreStrict) {
  const std::pair<const char*, const char*> cases[] = {
      {"version", "\"../1.0.0\""},
      {"version", "\"1.2\""},
      {"version", "7"},
      {"os", "\"macos\""},
      {"arch", "\"i386\""},
      {"size", "0"},
      {"size", "-1"},
      {"size", "\"12\""},
      {"sha256", "\"ABC\""},
      {"sha256",
       "\""
       "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"
       "\""},
      {"security_version", "-3"},
      {"created_at", "\"yesterday\""},
      {"product", "\"../x\""},
      {"type", "\"directive\""},
      {"extra", "1"},
  };
  for (auto [key, value] : cases) {
    auto r = parse_release_payload(mutated(key, value));
    ASSERT_FALSE(r.ok()) << key << "=" << value;
    EXPECT_NE(r.error().message.find(key), std::string::npos) << r.error().message;
  }
  for (const char* key : {"type", "product", "version", "os", "arch", "size", "sha256",
                          "security_version", "created_at"}) {
    auto r = parse_release_payload(mutated(key, nullptr));
    ASSERT_FALSE(r.ok()) << key;
    EXPECT_NE(r.error().message.find(std::string("'") + key + "' is required"), std::string::npos)
        << r.error().message;
  }
}

Directive sample_directive(const Envelope& release) {
  Directive d;
  d.agent_id = "agent-1";
  d.channel = "stable";
  d.action = DirectiveAction::install;
  d.release = release;
  d.sequence = 7;
  d.issued_at = parse_rfc3339("2026-11-24T10:00:00Z").value();
  d.expires_at = parse_rfc3339("2026-11-24T11:00:00Z").value();
  d.reason = "promoted";
  return d;
}

TEST(SignedDocument, DirectiveVerifiesBothSignatures) {
  Keys k;
  const auto rel = signed_release(k.release, sample_manifest().to_payload());
  const auto env = sign_envelope(std::string(kDirectivePayloadType),
                                 sample_directive(rel).to_payload(), {k.directive})
                       .value();
  auto v = verify_directive(serialize_envelope(env), k.directive_ring(), k.release_ring());
  ASSERT_TRUE(v.ok()) << v.error().message;
  EXPECT_EQ(v->directive.agent_id, "agent-1");
  EXPECT_EQ(v->directive.sequence, 7u);
  ASSERT_TRUE(v->release.has_value());
  EXPECT_EQ(v->release->manifest.version.str(), "1.4.2");

  // Directive signed by a release key, or its release signed by the directive key: refused.
  auto wrong_outer = sign_envelope(std::string(kDirectivePayloadType),
                                   sample_directive(rel).to_payload(), {k.release})
                         .value();
  auto outer = verify_directive(wrong_outer, k.directive_ring(), k.release_ring());
  ASSERT_FALSE(outer.ok());
  EXPECT_EQ(outer.error().code, "invalid_signature");
  const auto bad_rel = signed_release(k.directive, sample_manifest().to_payload());
  auto wrong_inner = sign_envelope(std::string(kDirectivePayloadType),
                                   sample_directive(bad_rel).to_payload(), {k.directive})
                         .value();
  auto r = verify_directive(wrong_inner, k.directive_ring(), k.release_ring());
  ASSERT_FALSE(r.ok());
  // The code says which document failed, so a refusal cannot be mistaken for the other one.
  EXPECT_EQ(r.error().code, "release_invalid_signature");
  Envelope unsigned_rel = rel;
  unsigned_rel.signatures.clear();
  auto u =
      verify_directive(sign_envelope(std::string(kDirectivePayloadType),
                                     sample_directive(unsigned_rel).to_payload(), {k.directive})
                           .value(),
                       k.directive_ring(), k.release_ring());
  ASSERT_FALSE(u.ok());
  EXPECT_EQ(u.error().code, "release_invalid_document");
}

TEST(SignedDocument, ADirectivesDigestIsItsSignedPayload) {
  Keys k;
  const auto rel = signed_release(k.release, sample_manifest().to_payload());
  const std::string payload = sample_directive(rel).to_payload();
  const auto once = sign_envelope(std::string(kDirectivePayloadType), payload, {k.directive});
  auto v = verify_directive(once.value(), k.directive_ring(), k.release_ring());
  ASSERT_TRUE(v.ok()) << v.error().message;
  EXPECT_EQ(v->digest, crypto::sha256_hex(payload));
  // Signed again (another signature, same bytes): the same directive.
  auto twice = once.value();
  twice.signatures.push_back(twice.signatures.front());
  EXPECT_EQ(verify_directive(twice, k.directive_ring(), k.release_ring())->digest, v->digest);
  // Any change of the signed bytes is another directive.
  Directive other = sample_directive(rel);
  other.reason = "promoted again";
  auto w = verify_directive(
      sign_envelope(std::string(kDirectivePayloadType), other.to_payload(), {k.directive}).value(),
      k.directive_ring(), k.release_ring());
  ASSERT_TRUE(w.ok());
  EXPECT_NE(w->digest, v->digest);
}

TEST(SignedDocument, DirectiveFieldsAreStrict) {
  Keys k;
  const auto rel = signed_release(k.release, sample_manifest().to_payload());
  auto sign = [&](const Directive& d) {
    return sign_envelope(std::string(kDirectivePayloadType), d.to_payload(), {k.directive}).value();
  };
  auto d = sample_directive(rel);
  d.sequence = 0;
  EXPECT_FALSE(verify_directive(sign(d), k.directive_ring(), k.release_ring()).ok());
  d = sample_directive(rel);
  d.expires_at = d.issued_at;
  EXPECT_FALSE(verify_directive(sign(d), k.directive_ring(), k.release_ring()).ok());
  d = sample_directive(rel);
  d.channel = "alpha";
  EXPECT_FALSE(verify_directive(sign(d), k.directive_ring(), k.release_ring()).ok());
  d = sample_directive(rel);
  d.release.reset();
  EXPECT_FALSE(verify_directive(sign(d), k.directive_ring(), k.release_ring()).ok());
  d.action = DirectiveAction::none;
  EXPECT_TRUE(verify_directive(sign(d), k.directive_ring(), k.release_ring()).ok())
      << "'none' needs no release";
}

}  // namespace
}  // namespace rollout
