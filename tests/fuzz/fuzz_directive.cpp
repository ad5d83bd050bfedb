// The directive payload parser behind a valid signature: the fuzzer holds the directive key, signs
// whatever it is given as a directive payload and verifies it, so the parser of directive fields
// and of the release envelope nested inside runs on hostile bytes (the signed-document fuzzer
// cannot get past the signature check). Nothing may crash; a release signed by nobody may never
// come out verified.
#include <cstdint>
#include <cstdlib>
#include <string>

#include "common/release.hpp"

namespace {
struct Keys {
  rollout::crypto::PrivateKey directive = rollout::crypto::PrivateKey::generate().value();
  rollout::KeyRing directive_ring, release_ring;
  Keys() {
    directive_ring.add(directive.public_key());
    release_ring.add(rollout::crypto::PrivateKey::generate().value().public_key());
  }
};
const Keys& keys() {
  static const Keys k;
  return k;
}
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string payload(reinterpret_cast<const char*>(data), size);
  auto env = rollout::sign_envelope(std::string(rollout::kDirectivePayloadType), payload,
                                    {keys().directive});
  if (!env) return 0;
  auto v = rollout::verify_directive(*env, keys().directive_ring, keys().release_ring);
  if (v && v->release) std::abort();  // a release no key signed must never verify
  return 0;
}
