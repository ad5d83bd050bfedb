// Both version-pointer implementations, through the one interface. Portable: the symlink kind is
// tested where symlinks can be made (Linux), the pointer file everywhere, under wine too.
#include <gtest/gtest.h>

#include <filesystem>

#include "platform/fault_fs.hpp"
#include "platform/host.hpp"
#include "platform/version_pointer.hpp"
#include "tests/testing/testing.hpp"

namespace rollout::platform {
namespace {

class Pointers : public ::testing::TestWithParam<PointerKind> {
 protected:
  void SetUp() override {
    if (GetParam() == PointerKind::symlink && build_os() == "windows") {
      GTEST_SKIP() << "symlinks need a privilege on Windows; the agent uses pointer files there";
    }
  }
  std::string path(const std::string& name) const { return (dir_ / name).string(); }
  std::unique_ptr<VersionPointer> pointer(FileSystem& fs = real_file_system()) const {
    return make_version_pointer(GetParam(), fs);
  }
  rollout::testing::TempDir dir_;
};

TEST_P(Pointers, AMissingPointerIsNotFound) {
  auto r = pointer()->read(path("current"));
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, "not_found");
  EXPECT_TRUE(pointer()->remove(path("current")));
}

TEST_P(Pointers, WriteThenReadThenSwitchThenRemove) {
  auto p = pointer();
  ASSERT_TRUE(p->write(path("current"), "versions/1.0.0"));
  EXPECT_EQ(p->read(path("current")).value(), "versions/1.0.0");
  ASSERT_TRUE(p->write(path("current"), "versions/1.1.0"));
  EXPECT_EQ(p->read(path("current")).value(), "versions/1.1.0");
  // No temporary pointer is left beside it.
  std::error_code ec;
  EXPECT_FALSE(std::filesystem::exists(path("current.tmp"), ec));
  ASSERT_TRUE(p->remove(path("current")));
  EXPECT_EQ(p->read(path("current")).error().code, "not_found");
}

TEST_P(Pointers, AFailedSwitchKeepsTheOldTarget) {
  ASSERT_TRUE(pointer()->write(path("current"), "versions/1.0.0"));
  FaultInjectingFileSystem fs(real_file_system());
  fs.fail_nth(FsOp::rename, 1, "io_error");
  EXPECT_FALSE(pointer(fs)->write(path("current"), "versions/2.0.0"));
  EXPECT_EQ(pointer()->read(path("current")).value(), "versions/1.0.0");
}

TEST_P(Pointers, ADirectoryIsNoPointer) {
  std::filesystem::create_directory(path("current"));
  auto r = pointer()->read(path("current"));
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, "invalid_pointer");
}

INSTANTIATE_TEST_SUITE_P(Kinds, Pointers,
                         ::testing::Values(PointerKind::symlink, PointerKind::pointer_file),
                         [](const auto& param_info) {
                           return param_info.param == PointerKind::symlink ? "Symlink"
                                                                           : "PointerFile";
                         });

TEST(PointerFile, HoldsTheTargetAsOneLine) {
  rollout::testing::TempDir dir;
  const auto p = make_version_pointer(PointerKind::pointer_file, real_file_system());
  ASSERT_TRUE(p->write((dir / "current").string(), "versions/1.2.3"));
  EXPECT_EQ(rollout::testing::read_file(dir / "current"), "versions/1.2.3\n");
  // Edited by hand in Notepad: a CRLF is accepted.
  rollout::testing::write_file(dir / "previous", "versions/1.0.0\r\n");
  EXPECT_EQ(p->read((dir / "previous").string()).value(), "versions/1.0.0");
}

TEST(PointerFile, GarbageIsRefusedWithAReason) {
  rollout::testing::TempDir dir;
  const auto p = make_version_pointer(PointerKind::pointer_file, real_file_system());
  const auto at = (dir / "current").string();
  for (const std::string& bad :
       {std::string(), std::string("\n"), std::string("a\nb\n"), std::string("versions/1\0.0", 13),
        std::string(kPointerFileMaxBytes + 1, 'x')}) {
    rollout::testing::write_file(at, bad);
    auto r = p->read(at);
    ASSERT_FALSE(r) << bad.size();
    EXPECT_EQ(r.error().code, "invalid_pointer") << r.error().message;
  }
  EXPECT_FALSE(p->write(at, "two\nlines"));
  EXPECT_FALSE(p->write(at, ""));
}

TEST(PointerKinds, ParseAndDefault) {
  EXPECT_EQ(parse_pointer_kind("symlink").value(), PointerKind::symlink);
  EXPECT_EQ(parse_pointer_kind("file").value(), PointerKind::pointer_file);
  EXPECT_EQ(parse_pointer_kind("junction").error().code, "invalid_pointer_kind");
  EXPECT_EQ(to_string(PointerKind::pointer_file), "file");
  EXPECT_EQ(default_pointer_kind(),
            build_os() == "windows" ? PointerKind::pointer_file : PointerKind::symlink);
}

}  // namespace
}  // namespace rollout::platform
