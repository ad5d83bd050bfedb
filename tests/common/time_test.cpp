#include "common/time.hpp"

#include <gtest/gtest.h>

namespace rollout {
namespace {

TEST(Time, FormatsAndParsesUtcSeconds) {
  const auto t = parse_rfc3339("2026-11-24T19:57:03Z");
  ASSERT_TRUE(t.ok()) << t.error().message;
  EXPECT_EQ(format_rfc3339(*t), "2026-11-24T19:57:03Z");
  EXPECT_EQ(std::chrono::duration_cast<std::chrono::seconds>(t->time_since_epoch()).count(),
            1795550223);
  EXPECT_EQ(format_rfc3339(parse_rfc3339("2024-02-29T00:00:00.123456Z").value()),
            "2024-02-29T00:00:00Z");
  EXPECT_EQ(format_rfc3339(SysTime{}), "1970-01-01T00:00:00Z");
}

TEST(Time, MicrosecondsKeepTheFraction) {
  EXPECT_EQ(parse_rfc3339_us("2026-11-24T19:57:03Z").value(), 1795550223'000000);
  EXPECT_EQ(parse_rfc3339_us("2026-11-24T19:57:03.5Z").value(), 1795550223'500000);
  EXPECT_EQ(parse_rfc3339_us("2026-11-24T19:57:03.000001Z").value(), 1795550223'000001);
  EXPECT_EQ(parse_rfc3339_us("2026-11-24T19:57:03.123456789Z").value(), 1795550223'123456)
      << "digits past the sixth are dropped";
  EXPECT_EQ(parse_rfc3339_us("1969-12-31T23:59:59.5Z").value(), -500000);
  for (const char* t :
       {"2026-11-24T19:57:03Z", "2026-11-24T19:57:03.5Z", "2026-11-24T19:57:03.000001Z",
        "2024-02-29T00:00:00.123456Z", "1969-12-31T23:59:59.5Z"}) {
    EXPECT_EQ(format_rfc3339_us(parse_rfc3339_us(t).value()), t);
  }
  EXPECT_EQ(format_rfc3339_us(parse_rfc3339_us("2026-11-24T19:57:03.500Z").value()),
            "2026-11-24T19:57:03.5Z")
      << "the same instant, one spelling";
  EXPECT_EQ(parse_rfc3339_us("garbage").error().code, "invalid_time");
}

TEST(Time, RejectsOtherSpellings) {
  for (const char* bad :
       {"2026-11-24 19:57:03Z", "2026-11-24T19:57:03", "2026-11-24T19:57:03+01:00",
        "2026-13-01T00:00:00Z", "2025-02-29T00:00:00Z", "2026-11-24T24:00:00Z",
        "2026-11-24T19:57:03.Z", "26-11-24T19:57:03Z", "", "garbage", "2026-11-24T19:57:03Zjunk"}) {
    auto r = parse_rfc3339(bad);
    EXPECT_FALSE(r.ok()) << bad;
    if (!r.ok()) {
      EXPECT_EQ(r.error().code, "invalid_time");
    }
  }
}

}  // namespace
}  // namespace rollout
