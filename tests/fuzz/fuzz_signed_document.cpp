// Signed documents from a hostile server: the input is tried as a release manifest envelope and
// as a directive envelope against fixed key rings. Nothing may crash, and nothing may verify
// (the fuzzer holds no private key).
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "common/release.hpp"

namespace {
const rollout::KeyRing& ring() {
  static const rollout::KeyRing r = [] {
    rollout::KeyRing k;
    k.add(rollout::crypto::PrivateKey::generate().value().public_key());
    return k;
  }();
  return r;
}
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  if (rollout::verify_release(text, ring()).ok()) std::abort();
  if (rollout::verify_directive(text, ring(), ring()).ok()) std::abort();
  // The payload parsers on their own, as if a signature had verified.
  (void)rollout::parse_release_payload(text);
  return 0;
}
