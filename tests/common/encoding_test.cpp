#include "common/encoding.hpp"

#include <gtest/gtest.h>

namespace rollout::encoding {
namespace {

TEST(Encoding, Base64MatchesRfc4648Vectors) {
  const std::pair<const char*, const char*> vectors[] = {{"", ""},
                                                         {"f", "Zg=="},
                                                         {"fo", "Zm8="},
                                                         {"foo", "Zm9v"},
                                                         {"foob", "Zm9vYg=="},
                                                         {"fooba", "Zm9vYmE="},
                                                         {"foobar", "Zm9vYmFy"}};
  for (auto [plain, enc] : vectors) {
    EXPECT_EQ(base64(plain), enc);
    EXPECT_EQ(unbase64(enc).value(), plain);
  }
  std::string all;
  for (int i = 0; i < 256; ++i) all += static_cast<char>(i);
  EXPECT_EQ(unbase64(base64(all)).value(), all);
}

TEST(Encoding, Base64DecodingIsStrict) {
  for (const char* bad : {"Zg=", "Zg", "Z===", "Zm9v\n", " Zm9v",
                          "Zm9v====", "Zg==Zg==", "Zh==", "Zm9=", "Zm-v", "Zm_v", "Zm9\xff"}) {
    auto r = unbase64(bad);
    EXPECT_FALSE(r.ok()) << bad;
    if (!r.ok()) {
      EXPECT_EQ(r.error().code, "invalid_encoding");
    }
  }
}

TEST(Encoding, HexRoundTripAndRejections) {
  EXPECT_EQ(hex(std::string("\x00\x01\xab\xff", 4)), "0001abff");
  EXPECT_EQ(unhex("0001ABff").value(), std::string("\x00\x01\xab\xff", 4));
  EXPECT_FALSE(unhex("abc").ok());
  EXPECT_FALSE(unhex("zz").ok());
}

}  // namespace
}  // namespace rollout::encoding
