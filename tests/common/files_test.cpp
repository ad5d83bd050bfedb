#include <gtest/gtest.h>

#include "common/files.hpp"
#include "tests/testing/testing.hpp"

namespace rollout {
namespace {

TEST(ReadFileCapped, ReadsUpToTheCapAndRefusesMore) {
  testing::TempDir dir;
  const auto p = (dir.path() / "f").string();
  const std::string body(200'000, 'x');  // several read chunks
  testing::write_file(p, body);
  auto exact = read_file_capped(p, body.size());
  ASSERT_TRUE(exact.ok());
  EXPECT_EQ(*exact, body);
  auto over = read_file_capped(p, body.size() - 1);
  ASSERT_FALSE(over.ok());
  EXPECT_EQ(over.error().code, "too_large");
  EXPECT_EQ(read_file_capped((dir.path() / "missing").string(), 10).error().code, "io_error");
}

TEST(ReadFileCapped, AHugeCapOnASmallFileAllocatesOnlyTheFile) {
  testing::TempDir dir;
  const auto p = (dir.path() / "small").string();
  testing::write_file(p, "tiny");
  // 1 TiB: allocating the cap up front would fail (or take the machine's memory).
  auto r = read_file_capped(p, std::size_t{1} << 40);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(*r, "tiny");
}

}  // namespace
}  // namespace rollout
