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
