// Durations and byte sizes as people write them in config files.
#include <charconv>

#include "common/config.hpp"

namespace rollout::config {
namespace {

// Splits "10MiB" into 10 and "MiB"; false if there is no leading number or it overflows.
bool split_number(std::string_view text, std::uint64_t& number, std::string_view& unit) {
  std::size_t digits = 0;
  while (digits < text.size() && text[digits] >= '0' && text[digits] <= '9') ++digits;
  if (digits == 0 || digits > 18) return false;
  auto [ptr, ec] = std::from_chars(text.data(), text.data() + digits, number);
  if (ec != std::errc()) return false;
  unit = text.substr(digits);
  return true;
}

}  // namespace

Expected<std::chrono::milliseconds> parse_duration(std::string_view text) {
  std::uint64_t n = 0;
  std::string_view unit;
  const auto bad = make_error("invalid_value", "must be a duration like 500ms, 60s, 10m, 1h or 7d");
  if (!split_number(text, n, unit)) return bad;
  std::uint64_t ms_per = 0;
  if (unit == "ms") {
    ms_per = 1;
  } else if (unit == "s") {
    ms_per = 1000;
  } else if (unit == "m") {
    ms_per = 60'000;
  } else if (unit == "h") {
    ms_per = 3'600'000;
  } else if (unit == "d") {
    ms_per = 86'400'000;
  } else {
    return bad;
  }
  if (n > (1ull << 40) / ms_per) return make_error("invalid_value", "duration is too long");
  return std::chrono::milliseconds(static_cast<std::int64_t>(n * ms_per));
}

Expected<std::uint64_t> parse_size(std::string_view text) {
  std::uint64_t n = 0;
  std::string_view unit;
  const auto bad =
      make_error("invalid_value", "must be a size like 1048576, 512KiB, 10MiB or 1GiB");
  if (!split_number(text, n, unit)) return bad;
  std::uint64_t mult = 0;
  if (unit.empty() || unit == "B") {
    mult = 1;
  } else if (unit == "KiB") {
    mult = 1ull << 10;
  } else if (unit == "MiB") {
    mult = 1ull << 20;
  } else if (unit == "GiB") {
    mult = 1ull << 30;
  } else {
    return bad;
  }
  if (n > (1ull << 50) / mult) return make_error("invalid_value", "size is too large");
  return n * mult;
}

}  // namespace rollout::config
