// Names behind ExitStatus::describe() (platform-internal).
#pragma once

#include <cstdint>
#include <string>

namespace rollout::platform {

// "ABRT" for SIGABRT where the OS names signals; empty otherwise (platform/<os>/process.cpp).
std::string signal_abbrev(int signal);
// "access violation" for 0xC0000005; empty for a status without a known name.
std::string exception_name(std::uint32_t code);

}  // namespace rollout::platform
