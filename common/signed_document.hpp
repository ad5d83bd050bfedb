// Signed documents: a JSON envelope carrying the exact payload bytes (base64) and detached
// Ed25519 signatures, each naming its key by id:
//   {"payload_type": "...", "payload": "<base64>", "signatures": [{"keyid": "<hex>", "sig":
//   "<b64>"}]}
// Signatures cover the raw payload bytes, so `openssl pkeyutl -sign -rawin` over the payload file
// makes a valid one. Verification returns the payload bytes exactly as received, and only then
// may they be parsed: nothing is re-serialised before it is checked. A KeyRing lists the trusted
// keys of one role; any listed key may verify (key rotation). Values; thread-compatible.
#pragma once

#include <boost/json/object.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "common/crypto.hpp"
#include "common/error.hpp"

namespace rollout {

inline constexpr std::size_t kMaxEnvelopeBytes = 64 * 1024;
inline constexpr std::size_t kMaxSignatures = 8;

class KeyRing {
 public:
  void add(crypto::PublicKey key) { keys_.push_back(std::move(key)); }
  const crypto::PublicKey* find(std::string_view id) const;
  bool empty() const { return keys_.empty(); }
  const std::vector<crypto::PublicKey>& keys() const { return keys_; }
  // Loads every PEM file; the first bad one is an error naming it.
  static Expected<KeyRing> load(const std::vector<std::string>& paths);

 private:
  std::vector<crypto::PublicKey> keys_;
};

struct Signature {
  std::string keyid;
  std::string sig;  // raw 64 bytes
};

struct Envelope {
  std::string payload_type;
  std::string payload;  // raw bytes
  std::vector<Signature> signatures;
};

// Structure only (no signature check). Error code "invalid_document".
Expected<Envelope> parse_envelope(std::string_view json);
Expected<Envelope> envelope_from_json(const boost::json::object& obj);
boost::json::object envelope_to_json(const Envelope& envelope);
std::string serialize_envelope(const Envelope& envelope);

Expected<Envelope> sign_envelope(std::string payload_type, std::string payload,
                                 const std::vector<crypto::PrivateKey>& keys);

// The payload bytes when payload_type matches and at least one signature by a key in `ring`
// verifies; otherwise "invalid_signature" (or "invalid_document" for a wrong payload type).
Expected<std::string> verify_envelope(const Envelope& envelope, std::string_view payload_type,
                                      const KeyRing& ring);

}  // namespace rollout
