#include "common/json.hpp"

#include <gtest/gtest.h>

namespace rollout::json {
namespace {

TEST(Json, ParseRejectsOversizeAndDeepNesting) {
  Limits small{16, 4};
  EXPECT_EQ(parse(std::string(17, ' '), small).error().code, "too_large");
  EXPECT_EQ(parse("[[[[[1]]]]]", small).error().code, "invalid_json");
  EXPECT_TRUE(parse("[[[1]]]", small).ok());
  EXPECT_EQ(parse("{\"a\":", {}).error().code, "invalid_json");
  EXPECT_EQ(parse_object("[1]", "body").error().code, "invalid_json");
}

TEST(Json, ReaderReadsTypedFieldsAndRejectsUnknown) {
  auto o = parse_object(R"({"s":"x","n":5,"b":true,"extra":1})", "doc").value();
  Reader r(o, "doc");
  EXPECT_EQ(r.string("s", 10), "x");
  EXPECT_EQ(r.uint("n"), 5u);
  EXPECT_TRUE(r.boolean("b"));
  EXPECT_TRUE(r.ok());
  r.no_unknown_keys();
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().message, "doc: unknown field 'extra'");
}

TEST(Json, ReaderKeepsFirstError) {
  auto o = parse_object(R"({"s":7,"n":-1})", "doc").value();
  Reader r(o, "doc");
  r.string("s", 10);
  r.uint("n");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().message, "doc: 's' must be a string");
}

TEST(Json, ReaderLimitsAndOptionals) {
  auto o = parse_object(R"({"s":"abcdef","e":"","n":null,"m":11})", "doc").value();
  Reader r(o, "doc");
  EXPECT_FALSE(r.opt_string("missing", 5).has_value());
  EXPECT_FALSE(r.opt_uint("n").has_value());
  EXPECT_TRUE(r.ok());
  r.uint("m", 10);
  EXPECT_EQ(r.error().message, "doc: 'm' must be at most 10");

  Reader r2(o, "doc");
  r2.string("e", 5);
  EXPECT_EQ(r2.error().message, "doc: 'e' must not be empty");
  Reader r3(o, "doc");
  r3.string("s", 5);
  EXPECT_EQ(r3.error().message, "doc: 's' is longer than 5 bytes");
  Reader r4(o, "doc");
  r4.string("absent", 5);
  EXPECT_EQ(r4.error().message, "doc: 'absent' is required");
}

}  // namespace
}  // namespace rollout::json
