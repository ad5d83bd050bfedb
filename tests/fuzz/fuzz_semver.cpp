// SemVer parsing: never crashes, and whatever parses prints back to something that parses to an
// equal version (canonical round trip).
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "common/semver.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  auto v = rollout::SemVer::parse(text);
  if (!v) return 0;
  auto again = rollout::SemVer::parse(v->str());
  if (!again || *again != *v || again->str() != v->str()) std::abort();
  return 0;
}
