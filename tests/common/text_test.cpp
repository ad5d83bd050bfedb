#include "common/text.hpp"

#include <gtest/gtest.h>

namespace rollout::text {
namespace {

TEST(Counted, SingularOnlyForOne) {
  EXPECT_EQ(counted(0, "agent"), "0 agents");
  EXPECT_EQ(counted(1, "agent"), "1 agent");
  EXPECT_EQ(counted(2, "agent"), "2 agents");
  EXPECT_EQ(counted(230, "attempt"), "230 attempts");
  EXPECT_EQ(counted(-1, "second"), "-1 second");
}

TEST(Counted, IrregularPlural) {
  EXPECT_EQ(counted(1, "crash", "crashes"), "1 crash");
  EXPECT_EQ(counted(3, "crash", "crashes"), "3 crashes");
}

}  // namespace
}  // namespace rollout::text
