#include "common/signed_document.hpp"

#include <boost/json.hpp>

#include "common/encoding.hpp"
#include "common/json.hpp"

namespace rollout {

const crypto::PublicKey* KeyRing::find(std::string_view id) const {
  for (const auto& k : keys_) {
    if (k.id() == id) return &k;
  }
  return nullptr;
}

Expected<KeyRing> KeyRing::load(const std::vector<std::string>& paths) {
  KeyRing ring;
  for (const auto& p : paths) {
    auto key = crypto::load_public_key(p);
    if (!key) return key.error();
    ring.add(std::move(key.value()));
  }
  return ring;
}

Expected<Envelope> envelope_from_json(const boost::json::object& obj) {
  json::Reader r(obj, "signed document");
  Envelope env;
  env.payload_type = r.string("payload_type", 128);
  const std::string payload_b64 = r.string("payload", kMaxEnvelopeBytes);
  const auto* sigs = r.array("signatures", kMaxSignatures);
  r.no_unknown_keys();
  if (!r.ok()) return make_error("invalid_document", r.error().message);
  auto payload = encoding::unbase64(payload_b64);
  if (!payload)
    return make_error("invalid_document", "signed document: 'payload' is not valid base64");
  env.payload = std::move(payload.value());
  if (sigs->empty())
    return make_error("invalid_document", "signed document: 'signatures' is empty");
  for (const auto& item : *sigs) {
    if (!item.is_object())
      return make_error("invalid_document", "signed document: a signature is not an object");
    json::Reader sr(item.get_object(), "signature");
    Signature s;
    s.keyid = sr.string("keyid", 64);
    const std::string sig_b64 = sr.string("sig", 128);
    sr.no_unknown_keys();
    if (!sr.ok()) return make_error("invalid_document", sr.error().message);
    auto sig = encoding::unbase64(sig_b64);
    if (!sig || sig->size() != crypto::kSignatureSize) {
      return make_error("invalid_document", "signature: 'sig' must be 64 bytes of base64");
    }
    s.sig = std::move(sig.value());
    env.signatures.push_back(std::move(s));
  }
  return env;
}

Expected<Envelope> parse_envelope(std::string_view text) {
  auto obj = json::parse_object(text, "signed document", {kMaxEnvelopeBytes, 8});
  if (!obj) return make_error("invalid_document", obj.error().message);
  return envelope_from_json(*obj);
}

boost::json::object envelope_to_json(const Envelope& env) {
  boost::json::object o;
  o["payload_type"] = env.payload_type;
  o["payload"] = encoding::base64(env.payload);
  boost::json::array sigs;
  for (const auto& s : env.signatures) {
    sigs.push_back(boost::json::object{{"keyid", s.keyid}, {"sig", encoding::base64(s.sig)}});
  }
  o["signatures"] = std::move(sigs);
  return o;
}

std::string serialize_envelope(const Envelope& env) {
  return boost::json::serialize(envelope_to_json(env));
}

Expected<Envelope> sign_envelope(std::string payload_type, std::string payload,
                                 const std::vector<crypto::PrivateKey>& keys) {
  if (keys.empty() || keys.size() > kMaxSignatures) {
    return make_error("invalid_argument", "a signed document needs 1 to 8 keys");
  }
  Envelope env{std::move(payload_type), std::move(payload), {}};
  for (const auto& k : keys) {
    auto sig = k.sign(env.payload);
    if (!sig) return sig.error();
    env.signatures.push_back({k.public_key().id(), std::move(sig.value())});
  }
  return env;
}

Expected<std::string> verify_envelope(const Envelope& env, std::string_view payload_type,
                                      const KeyRing& ring) {
  if (env.payload_type != payload_type) {
    return make_error("invalid_document", "signed document has payload type '" +
                                              env.payload_type.substr(0, 64) + "', expected '" +
                                              std::string(payload_type) + "'");
  }
  if (env.payload.size() > kMaxEnvelopeBytes) {
    return make_error("invalid_document", "signed payload is too large");
  }
  for (const auto& s : env.signatures) {
    const crypto::PublicKey* key = ring.find(s.keyid);
    if (key != nullptr && crypto::verify(*key, env.payload, s.sig)) return env.payload;
  }
  return make_error("invalid_signature", "no signature by a trusted key verifies this " +
                                             std::string(payload_type) + " document");
}

}  // namespace rollout
