// RFC 3339 timestamps in UTC with second precision ("2026-11-24T19:57:00Z"), the only form the
// signed documents and the protocol use. Parsing accepts exactly that form (and an optional
// fraction of a second, which is dropped); offsets other than Z are refused so one instant has
// one spelling. Pure functions.
#pragma once

#include <chrono>
#include <string>
#include <string_view>

#include "common/error.hpp"

namespace rollout {

using SysTime = std::chrono::system_clock::time_point;

std::string format_rfc3339(SysTime t);
Expected<SysTime> parse_rfc3339(std::string_view text);

}  // namespace rollout
