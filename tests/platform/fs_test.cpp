// platform::FileSystem on the real OS, and the composed operations under injected faults.
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>

#include "platform/fault_fs.hpp"
#include "platform/fs.hpp"
#include "tests/testing/testing.hpp"

namespace rollout::platform {
namespace {

namespace stdfs = std::filesystem;
using rollout::testing::read_file;
using rollout::testing::TempDir;
using rollout::testing::write_file;

unsigned mode_of(const stdfs::path& p) {
  struct stat st {};
  EXPECT_EQ(::lstat(p.c_str(), &st), 0);
  return static_cast<unsigned>(st.st_mode & 07777);
}

std::vector<std::string> names_in(const stdfs::path& dir) {
  std::vector<std::string> out;
  for (const auto& e : stdfs::directory_iterator(dir)) out.push_back(e.path().filename());
  std::sort(out.begin(), out.end());
  return out;
}

TEST(AtomicWrite, WritesContentWithExactModeAndLeavesNoTemporary) {
  TempDir dir;
  const auto path = (dir / "journal.json").string();
  ASSERT_TRUE(atomic_write_file(real_file_system(), path, "first", 0600));
  ASSERT_TRUE(atomic_write_file(real_file_system(), path, "second", 0640));
  EXPECT_EQ(read_file(path), "second");
  EXPECT_EQ(mode_of(path), 0640u);
  EXPECT_EQ(names_in(dir.path()), std::vector<std::string>{"journal.json"});
}

TEST(AtomicWrite, ReplacesALeftoverTemporaryFromACrash) {
  TempDir dir;
  const auto path = (dir / "state").string();
  write_file(path + ".tmp", "half-written garbage");
  ASSERT_TRUE(atomic_write_file(real_file_system(), path, "good", 0600));
  EXPECT_EQ(read_file(path), "good");
  EXPECT_FALSE(stdfs::exists(path + ".tmp"));
}

TEST(AtomicWrite, DiskFullMidWriteKeepsOldContentAndRemovesTemporary) {
  TempDir dir;
  const auto path = (dir / "state").string();
  write_file(path, "old");
  FaultInjectingFileSystem fs(real_file_system());
  fs.fail_nth(FsOp::write, 1, "disk_full");
  auto st = atomic_write_file(fs, path, std::string(10000, 'x'), 0600);
  ASSERT_FALSE(st);
  EXPECT_EQ(st.error().code, "disk_full");
  EXPECT_NE(st.error().message.find(path), std::string::npos) << st.error().message;
  EXPECT_EQ(read_file(path), "old");
  EXPECT_EQ(names_in(dir.path()), std::vector<std::string>{"state"});
}

TEST(AtomicWrite, EveryPrimitiveFailingInTurnLeavesOldOrNewContentAndNoTemporary) {
  for (FsOp op : {FsOp::create_new, FsOp::set_mode, FsOp::write, FsOp::sync, FsOp::close,
                  FsOp::rename, FsOp::fsync_dir, FsOp::remove}) {
    SCOPED_TRACE(static_cast<int>(op));
    TempDir dir;
    const auto path = (dir / "state").string();
    write_file(path, "old");
    FaultInjectingFileSystem fs(real_file_system());
    fs.fail_nth(op, 1, "io_error");
    auto st = atomic_write_file(fs, path, "new", 0600);
    ASSERT_FALSE(st);
    EXPECT_EQ(st.error().code, "io_error");
    const auto content = read_file(path);
    // Only a failed directory fsync happens after the rename made the new content visible.
    EXPECT_EQ(content, op == FsOp::fsync_dir ? "new" : "old");
    EXPECT_EQ(names_in(dir.path()), std::vector<std::string>{"state"});
  }
}

TEST(AtomicWrite, RefusesToWriteThroughAPrePlacedTemporarySymlink) {
  TempDir dir;
  const auto path = (dir / "state").string();
  write_file(dir / "victim", "precious");
  stdfs::create_symlink(dir / "victim", path + ".tmp");
  ASSERT_TRUE(atomic_write_file(real_file_system(), path, "new", 0600));
  EXPECT_EQ(read_file(dir / "victim"), "precious");
  EXPECT_EQ(read_file(path), "new");
}

TEST(Symlink, SwitchReplacesTargetAtomically) {
  TempDir dir;
  auto& fs = real_file_system();
  stdfs::create_directories(dir / "versions/1.0.0");
  stdfs::create_directories(dir / "versions/2.0.0");
  const auto link = (dir / "current").string();
  ASSERT_TRUE(atomic_switch_symlink(fs, link, "versions/1.0.0"));
  EXPECT_EQ(*fs.read_symlink(link), "versions/1.0.0");
  ASSERT_TRUE(atomic_switch_symlink(fs, link, "versions/2.0.0"));
  EXPECT_EQ(*fs.read_symlink(link), "versions/2.0.0");
  EXPECT_FALSE(stdfs::exists(link + ".tmp"));
  EXPECT_EQ(fs.stat_no_follow(link)->type, FileType::symlink);
}

TEST(Symlink, FailedRenameKeepsOldTargetAndNoTemporary) {
  TempDir dir;
  FaultInjectingFileSystem fs(real_file_system());
  const auto link = (dir / "current").string();
  ASSERT_TRUE(atomic_switch_symlink(fs, link, "versions/1.0.0"));
  fs.fail_nth(FsOp::rename, 1, "io_error");
  ASSERT_FALSE(atomic_switch_symlink(fs, link, "versions/2.0.0"));
  EXPECT_EQ(*fs.read_symlink(link), "versions/1.0.0");
  EXPECT_FALSE(stdfs::is_symlink(link + ".tmp"));
}

TEST(SecureDir, CreatesOwnerOnlyDirectoryAndAcceptsItAgain) {
  TempDir dir;
  const auto p = (dir / "state").string();
  ASSERT_TRUE(real_file_system().make_secure_dir(p));
  EXPECT_EQ(mode_of(p), 0700u);
  EXPECT_TRUE(real_file_system().make_secure_dir(p));
}

TEST(SecureDir, RefusesASymlink) {
  TempDir dir;
  stdfs::create_directory(dir / "elsewhere");
  ::chmod((dir / "elsewhere").c_str(), 0700);
  stdfs::create_directory_symlink(dir / "elsewhere", dir / "state");
  auto st = real_file_system().make_secure_dir((dir / "state").string());
  ASSERT_FALSE(st);
  EXPECT_EQ(st.error().code, "insecure");
}

TEST(SecureDir, RefusesGroupOrWorldWritableDirectory) {
  for (unsigned mode : {0777u, 0770u, 0702u}) {
    TempDir dir;
    stdfs::create_directory(dir / "state");
    ASSERT_EQ(::chmod((dir / "state").c_str(), mode), 0);
    auto st = real_file_system().make_secure_dir((dir / "state").string());
    ASSERT_FALSE(st) << mode;
    EXPECT_EQ(st.error().code, "insecure");
    EXPECT_NE(st.error().message.find("chmod 700"), std::string::npos);
  }
}

TEST(CreateNew, RefusesAPrePlacedSymlinkAndLeavesItsTargetAlone) {
  TempDir dir;
  write_file(dir / "victim", "precious");
  stdfs::create_symlink(dir / "victim", dir / "staging.part");
  auto f = real_file_system().create_new((dir / "staging.part").string(), 0600);
  ASSERT_FALSE(f);
  EXPECT_EQ(f.error().code, "exists");
  EXPECT_EQ(read_file(dir / "victim"), "precious");
}

TEST(CreateNew, RefusesADanglingSymlink) {
  TempDir dir;
  stdfs::create_symlink(dir / "nowhere", dir / "staging.part");
  auto f = real_file_system().create_new((dir / "staging.part").string(), 0600);
  ASSERT_FALSE(f);
  EXPECT_FALSE(stdfs::exists(dir / "nowhere"));
}

TEST(OpenRead, RefusesASymlink) {
  TempDir dir;
  write_file(dir / "real", "x");
  stdfs::create_symlink(dir / "real", dir / "link");
  auto f = real_file_system().open_read((dir / "link").string());
  ASSERT_FALSE(f);
  EXPECT_EQ(f.error().code, "insecure");
}

TEST(ReadWholeFile, ReadsAndCaps) {
  TempDir dir;
  write_file(dir / "f", std::string(1000, 'a'));
  EXPECT_EQ(read_whole_file(real_file_system(), (dir / "f").string(), 1000)->size(), 1000u);
  auto big = read_whole_file(real_file_system(), (dir / "f").string(), 999);
  ASSERT_FALSE(big);
  EXPECT_EQ(big.error().code, "too_large");
}

TEST(RemoveTree, RemovesNestedTreeWithoutFollowingSymlinks) {
  TempDir dir;
  stdfs::create_directories(dir / "keep");
  write_file(dir / "keep/precious", "x");
  stdfs::create_directories(dir / "tree/a/b");
  write_file(dir / "tree/a/b/file", "y");
  stdfs::create_directory_symlink(dir / "keep", dir / "tree/a/link");
  ASSERT_TRUE(real_file_system().remove_tree((dir / "tree").string()));
  EXPECT_FALSE(stdfs::exists(dir / "tree"));
  EXPECT_EQ(read_file(dir / "keep/precious"), "x");
  EXPECT_TRUE(real_file_system().remove_tree((dir / "tree").string()));  // already gone
}

TEST(FreeSpace, ReportsSomethingForAnExistingPath) {
  TempDir dir;
  auto free = real_file_system().free_space(dir.path().string());
  ASSERT_TRUE(free);
  EXPECT_GT(*free, 0u);
  EXPECT_FALSE(real_file_system().free_space((dir / "missing").string()));
}

TEST(ListDir, ListsNamesAndStatDescribesTypes) {
  TempDir dir;
  write_file(dir / "f", "abc");
  stdfs::create_directory(dir / "d");
  auto names = real_file_system().list_dir(dir.path().string());
  ASSERT_TRUE(names);
  std::sort(names->begin(), names->end());
  EXPECT_EQ(*names, (std::vector<std::string>{"d", "f"}));
  EXPECT_EQ(real_file_system().stat_no_follow((dir / "f").string())->size, 3u);
  EXPECT_EQ(real_file_system().stat_no_follow((dir / "d").string())->type, FileType::directory);
  EXPECT_EQ(real_file_system().stat_no_follow((dir / "x").string()).error().code, "not_found");
}

}  // namespace
}  // namespace rollout::platform
