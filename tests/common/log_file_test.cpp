// The size-rotated log file (common/log_file.hpp): rotation at the limit, at most `count` files,
// a restart appending and counting what is there, and a path that cannot be written refused with
// an error naming it. Portable: runs under wine in the Windows stage too.
#include "common/log_file.hpp"

#include <gtest/gtest.h>

#include <filesystem>

#include "tests/testing/testing.hpp"

namespace rollout::log {
namespace {
namespace fs = std::filesystem;
using rollout::testing::read_file;
using rollout::testing::TempDir;
using rollout::testing::write_file;

constexpr std::uint64_t kMax = 4096;

// One record whose text line (newline included) is exactly `bytes` long, tagged with `n`.
void write_line(Sink& sink, int n, std::size_t bytes = 128) {
  const Fields none;
  const std::string prefix = "line " + std::to_string(n) + " ";
  // "2026-01-01T00:00:00.000Z info t: " is 33 bytes, the newline 1.
  const std::string msg = prefix + std::string(bytes - 34 - prefix.size(), 'x');
  const Record r{std::chrono::sys_days(std::chrono::year(2026) / 1 / 1), Level::info, "t", msg,
                 none};
  sink.write(r);
}

std::shared_ptr<Sink> open_sink(const fs::path& path, unsigned count = 3) {
  auto sink = make_file_sink({path.string(), kMax, count, Format::text});
  EXPECT_TRUE(sink) << sink.error().message;
  return sink ? *sink : nullptr;
}

std::uint64_t size_of(const fs::path& p) {
  std::error_code ec;
  const auto n = fs::file_size(p, ec);
  return ec ? 0 : n;
}

TEST(LogFile, TextLinesCarryTheTimeTheLevelAndTheFields) {
  TempDir dir;
  const auto path = dir / "logs" / "agent.log";  // the directory is made
  auto sink = open_sink(path);
  ASSERT_TRUE(sink);
  set_sink(sink);
  set_level(Level::info);
  Logger("controller").warn("started", {{"version", "1.2.3"}, {"why", "a b"}});
  set_sink(nullptr);
  const std::string text = read_file(path);
  EXPECT_EQ(text.substr(24), " warn controller: started version=1.2.3 why=\"a b\"\n");
  EXPECT_EQ(text[4], '-');
  EXPECT_EQ(text[23], 'Z');
}

TEST(LogFile, RotatesAtTheLimitAndKeepsCountFiles) {
  TempDir dir;
  const auto path = dir / "agent.log";
  auto sink = open_sink(path, 3);
  ASSERT_TRUE(sink);
  // 32 lines of 128 bytes fill a file exactly; the 33rd rotates.
  for (int n = 1; n <= 32; ++n) write_line(*sink, n);
  EXPECT_EQ(size_of(path), kMax);
  EXPECT_FALSE(fs::exists(path.string() + ".1"));
  write_line(*sink, 33);
  EXPECT_EQ(size_of(path.string() + ".1"), kMax);
  EXPECT_EQ(size_of(path), 128u);
  EXPECT_EQ(read_file(path).rfind("2026-01-01T00:00:00.000Z info t: line 33 ", 0), 0u);

  for (int n = 34; n <= 32 * 4; ++n) write_line(*sink, n);  // three more rotations
  EXPECT_TRUE(fs::exists(path));
  EXPECT_TRUE(fs::exists(path.string() + ".1"));
  EXPECT_TRUE(fs::exists(path.string() + ".2"));
  EXPECT_FALSE(fs::exists(path.string() + ".3"));
  std::size_t files = 0;
  for ([[maybe_unused]] const auto& e : fs::directory_iterator(dir.path())) ++files;
  EXPECT_EQ(files, 3u);
  for (const auto* suffix : {"", ".1", ".2"}) {
    EXPECT_LE(size_of(path.string() + suffix), kMax) << suffix;
  }
  // The newest lines in the file itself (97..128), older ones in .1 (65..96) then .2 (33..64);
  // the oldest are gone.
  EXPECT_EQ(read_file(path).rfind("2026-01-01T00:00:00.000Z info t: line 97 ", 0), 0u);
  EXPECT_NE(read_file(path).find("line 128 "), std::string::npos);
  EXPECT_EQ(read_file(path.string() + ".1").rfind("2026-01-01T00:00:00.000Z info t: line 65 ", 0),
            0u);
  EXPECT_EQ(read_file(path.string() + ".2").rfind("2026-01-01T00:00:00.000Z info t: line 33 ", 0),
            0u);
  for (const auto* suffix : {"", ".1", ".2"}) {
    EXPECT_EQ(read_file(path.string() + suffix).find("line 32 "), std::string::npos) << suffix;
  }
}

TEST(LogFile, ARestartAppendsAndCountsWhatIsThere) {
  TempDir dir;
  const auto path = dir / "agent.log";
  {
    auto sink = open_sink(path);
    ASSERT_TRUE(sink);
    for (int n = 1; n <= 30; ++n) write_line(*sink, n);
  }
  auto sink = open_sink(path);
  ASSERT_TRUE(sink);
  write_line(*sink, 31);
  write_line(*sink, 32);
  EXPECT_EQ(size_of(path), kMax);  // appended, nothing lost
  EXPECT_NE(read_file(path).find("line 1 "), std::string::npos);
  write_line(*sink, 33);  // the limit counts the lines of before the restart
  EXPECT_EQ(size_of(path.string() + ".1"), kMax);
  EXPECT_EQ(size_of(path), 128u);
}

TEST(LogFile, ALineLongerThanTheLimitGoesAloneIntoAFreshFile) {
  TempDir dir;
  const auto path = dir / "agent.log";
  auto sink = open_sink(path);
  ASSERT_TRUE(sink);
  write_line(*sink, 1);
  write_line(*sink, 2, kMax + 100);
  EXPECT_EQ(size_of(path.string() + ".1"), 128u);
  EXPECT_EQ(size_of(path), kMax + 100);
  write_line(*sink, 3);
  EXPECT_EQ(size_of(path), 128u);
  EXPECT_EQ(size_of(path.string() + ".2"), 128u);
}

TEST(LogFile, APathThatCannotBeWrittenIsAnErrorNamingIt) {
  TempDir dir;
  write_file(dir / "not-a-dir", "x");
  // Its directory is a file (root may write anywhere, so no permission bits are relied on).
  const auto under_file = (dir / "not-a-dir" / "agent.log").string();
  auto r = make_file_sink({under_file, kMax, 3, Format::text});
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, "io_error");
  EXPECT_NE(r.error().message.find(under_file), std::string::npos) << r.error().message;
  // The path is a directory.
  fs::create_directories(dir / "a-dir");
  r = make_file_sink({(dir / "a-dir").string(), kMax, 3, Format::text});
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message.find("a-dir"), std::string::npos) << r.error().message;
}

TEST(LogFile, LimitsOutOfRangeAreRefused) {
  TempDir dir;
  const auto path = (dir / "agent.log").string();
  for (const FileOptions& o :
       {FileOptions{path, 4095, 3}, FileOptions{path, (1ull << 30) + 1, 3},
        FileOptions{path, kMax, 1}, FileOptions{path, kMax, 101}, FileOptions{"", kMax, 3}}) {
    auto r = make_file_sink(o);
    ASSERT_FALSE(r) << o.max_bytes << " " << o.count;
    EXPECT_EQ(r.error().code, "invalid_argument");
  }
  EXPECT_FALSE(fs::exists(path));  // nothing made
}

}  // namespace
}  // namespace rollout::log
