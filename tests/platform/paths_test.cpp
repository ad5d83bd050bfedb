// Path strings for both separators, and the OS defaults. Portable: also runs under wine.
#include <gtest/gtest.h>

#include "platform/defaults.hpp"
#include "platform/fs.hpp"
#include "platform/host.hpp"

namespace rollout::platform {
namespace {

TEST(Paths, ParentOfPosixPaths) {
  EXPECT_EQ(parent_dir("a/b"), "a");
  EXPECT_EQ(parent_dir("/a/b/c"), "/a/b");
  EXPECT_EQ(parent_dir("/a"), "/");
  EXPECT_EQ(parent_dir("/"), "/");
  EXPECT_EQ(parent_dir("a"), ".");
  EXPECT_EQ(parent_dir("a//b"), "a");
}

TEST(Paths, ParentOfWindowsPaths) {
  EXPECT_EQ(parent_dir("C:\\ProgramData\\RolloutAgent"), "C:\\ProgramData");
  EXPECT_EQ(parent_dir("C:\\x"), "C:\\");
  EXPECT_EQ(parent_dir("C:/x/y"), "C:/x");
  EXPECT_EQ(parent_dir("C:\\x/staging\\download.part"), "C:\\x/staging");  // mixed
  EXPECT_EQ(parent_dir("C:"), "C:");
  EXPECT_EQ(parent_dir("dir\\file"), "dir");
}

TEST(Paths, JoinAddsOneSeparator) {
  EXPECT_EQ(join_path("a", "b"), "a/b");
  EXPECT_EQ(join_path("a/", "b"), "a/b");
  EXPECT_EQ(join_path("C:\\x\\", "b"), "C:\\x\\b");
  EXPECT_EQ(join_path("", "b"), "b");
  EXPECT_EQ(parent_dir(join_path("C:\\x", "b")), "C:\\x");
}

TEST(Paths, DefaultsFollowTheOsConvention) {
  if (build_os() == "windows") {
    EXPECT_NE(default_state_dir().find("RolloutAgent"), std::string::npos);
    EXPECT_EQ(default_state_dir().find('/'), std::string::npos) << default_state_dir();
    EXPECT_NE(default_install_root().find("RolloutAgent"), std::string::npos);
    EXPECT_NE(default_state_dir(), default_install_root());
  } else {
    EXPECT_EQ(default_state_dir(), "/var/lib/rollout-agent");
    EXPECT_EQ(default_install_root(), "/opt/rollout-agent");
  }
}

}  // namespace
}  // namespace rollout::platform
