// Webhook URLs (admin input) and signature headers (what a receiver parses): no crash, no hang,
// and an accepted URL is never a loopback address on the server's own port.
#include <cstdint>
#include <string>

#include "server-plugin/webhooks.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace rollout::server::webhooks;
  const std::string input(reinterpret_cast<const char*>(data), size);
  TargetPolicy policy;
  policy.own_port = 8443;
  policy.allow_http = true;
  if (auto t = parse_target(input, policy);
      t && t->port == 8443 && (t->host == "127.0.0.1" || t->host == "::1")) {
    __builtin_trap();
  }
  (void)verify_signature(input, "secret", "{}", 1767225600);
  return 0;
}
