#include "common/time.hpp"

#include <cstdio>

namespace rollout {
namespace {

bool digits(std::string_view s, std::size_t pos, std::size_t n, int& out) {
  out = 0;
  for (std::size_t i = 0; i < n; ++i) {
    const char c = s[pos + i];
    if (c < '0' || c > '9') return false;
    out = out * 10 + (c - '0');
  }
  return true;
}

}  // namespace

std::string format_rfc3339(SysTime t) {
  const auto day = std::chrono::floor<std::chrono::days>(t);
  const std::chrono::year_month_day ymd(day);
  const std::chrono::hh_mm_ss hms(std::chrono::floor<std::chrono::seconds>(t - day));
  char buf[64];
  std::snprintf(buf, sizeof buf, "%04d-%02u-%02uT%02d:%02d:%02dZ", static_cast<int>(ymd.year()),
                static_cast<unsigned>(ymd.month()), static_cast<unsigned>(ymd.day()),
                static_cast<int>(hms.hours().count()), static_cast<int>(hms.minutes().count()),
                static_cast<int>(hms.seconds().count()));
  return buf;
}

Expected<SysTime> parse_rfc3339(std::string_view s) {
  auto us = parse_rfc3339_us(s);
  if (!us) return us.error();
  return SysTime(std::chrono::floor<std::chrono::seconds>(std::chrono::microseconds(*us)));
}

std::string format_rfc3339_us(std::int64_t us) {
  const std::chrono::microseconds t(us);
  const auto whole = std::chrono::floor<std::chrono::seconds>(t);
  std::string out = format_rfc3339(SysTime(whole));
  auto frac = static_cast<int>((t - whole).count());  // 0 .. 999999
  if (frac == 0) return out;
  char buf[8];
  std::snprintf(buf, sizeof buf, "%06d", frac);
  std::string digits(buf);
  while (digits.back() == '0') digits.pop_back();
  out.insert(out.size() - 1, "." + digits);
  return out;
}

Expected<std::int64_t> parse_rfc3339_us(std::string_view s) {
  auto bad = [&] {
    std::string shown(s.substr(0, 40));
    for (auto& c : shown) {
      if (c < 0x20 || c > 0x7e) c = '?';
    }
    return make_error("invalid_time",
                      "timestamp '" + shown + "' must be RFC 3339 UTC like 2026-11-24T19:57:00Z");
  };
  if (s.size() < 20 || s.size() > 40) return bad();
  int y, mo, d, h, mi, se;
  if (!digits(s, 0, 4, y) || s[4] != '-' || !digits(s, 5, 2, mo) || s[7] != '-' ||
      !digits(s, 8, 2, d) || s[10] != 'T' || !digits(s, 11, 2, h) || s[13] != ':' ||
      !digits(s, 14, 2, mi) || s[16] != ':' || !digits(s, 17, 2, se)) {
    return bad();
  }
  std::size_t pos = 19;
  std::int64_t micros = 0;
  if (s[pos] == '.') {
    ++pos;
    const std::size_t start = pos;
    while (pos < s.size() && s[pos] >= '0' && s[pos] <= '9') ++pos;
    if (pos == start || pos - start > 9) return bad();
    for (std::size_t i = 0; i < 6; ++i) {
      micros = micros * 10 + (start + i < pos ? s[start + i] - '0' : 0);
    }
  }
  if (pos + 1 != s.size() || s[pos] != 'Z') return bad();
  if (h > 23 || mi > 59 || se > 59) return bad();
  const std::chrono::year_month_day ymd{std::chrono::year(y),
                                        std::chrono::month(static_cast<unsigned>(mo)),
                                        std::chrono::day(static_cast<unsigned>(d))};
  if (!ymd.ok()) return bad();
  const auto whole = std::chrono::sys_days(ymd) + std::chrono::hours(h) + std::chrono::minutes(mi) +
                     std::chrono::seconds(se);
  return std::chrono::duration_cast<std::chrono::microseconds>(whole.time_since_epoch()).count() +
         micros;
}

}  // namespace rollout
