// RFC 3339 timestamps in UTC with second precision ("2026-11-24T19:57:00Z"), the only form the
// signed documents and the protocol use. Parsing accepts exactly that form (and an optional
// fraction of a second, which is dropped); offsets other than Z are refused so one instant has
// one spelling. Pure functions.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>

#include "common/error.hpp"

namespace rollout {

using SysTime = std::chrono::system_clock::time_point;

std::string format_rfc3339(SysTime t);
Expected<SysTime> parse_rfc3339(std::string_view text);

// The same form to and from microseconds since the Unix epoch, UTC, keeping the fraction (digits
// past the sixth are dropped): how the server stores an agent's occurred_at as an integer.
// Formatting writes the fraction only when there is one, without trailing zeros, so a time read
// back is spelled as it was sent whenever it was sent with at most six significant digits.
Expected<std::int64_t> parse_rfc3339_us(std::string_view text);
std::string format_rfc3339_us(std::int64_t us);

}  // namespace rollout
