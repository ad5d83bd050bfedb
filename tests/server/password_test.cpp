#include "server-plugin/auth/password.hpp"

#include <gtest/gtest.h>

namespace rollout::auth {
namespace {

TEST(Password, HashVerifiesOnlyTheRightPassword) {
  auto h = hash_password("correct horse", 10);
  ASSERT_TRUE(h.ok());
  EXPECT_EQ(h->rfind("scrypt$10$8$1$", 0), 0u);
  EXPECT_TRUE(verify_password("correct horse", *h));
  EXPECT_FALSE(verify_password("correct horsf", *h));
  EXPECT_FALSE(verify_password("", *h));
  EXPECT_NE(*h, hash_password("correct horse", 10).value()) << "salted";
}

TEST(Password, MalformedStoredHashesFailClosed) {
  const std::string good = hash_password("pw", 10).value();
  for (const std::string& bad :
       {std::string(), std::string("scrypt"), std::string("plain:pw"),
        std::string("scrypt$99$8$1$AAAA$AAAA"), std::string("scrypt$10$8$1$!!$AAAA"),
        good.substr(0, good.size() - 4), "bcrypt" + good.substr(6)}) {
    EXPECT_FALSE(verify_password("pw", bad)) << bad;
  }
}

}  // namespace
}  // namespace rollout::auth
