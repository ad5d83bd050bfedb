// The build's architecture: the one place the compiler's target macros are read.
#include "platform/host.hpp"

namespace rollout::platform {

std::string build_arch() {
#if defined(__aarch64__) || defined(_M_ARM64)
  return "aarch64";
#else
  return "x86_64";
#endif
}

}  // namespace rollout::platform
