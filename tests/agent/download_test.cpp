// download_artifact against a fake transport: resume from whatever part file an earlier attempt
// left (including an empty one), restart when it is longer than the signed size, refuse a
// symlink at the part path.
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>

#include "agent/download.hpp"
#include "common/crypto.hpp"
#include "tests/testing/testing.hpp"

namespace rollout::agent {
namespace {

namespace fs = std::filesystem;

class FakeTransport final : public net::Transport {
 public:
  explicit FakeTransport(std::string body) : body_(std::move(body)) {}
  Expected<net::JsonResult> send(const net::Request&) override {
    return make_error("network", "not used");
  }
  Expected<net::DownloadResult> download(const std::string&, const std::string&,
                                         std::uint64_t offset, std::uint64_t,
                                         const net::DownloadSink& sink, const net::RestartHook&,
                                         const net::CancelCheck&) override {
    offsets.push_back(offset);
    const std::string rest = body_.substr(static_cast<std::size_t>(offset));
    if (auto st = sink(rest.data(), rest.size()); !st) return st.error();
    return net::DownloadResult{offset > 0 ? 206 : 200, rest.size(), false};
  }
  std::vector<std::uint64_t> offsets;

 private:
  std::string body_;
};

class Download : public ::testing::Test {
 protected:
  void SetUp() override { fs::create_directories(dir_.path() / "staging"); }
  DownloadJob job() {
    return {"https://x/a",
            "t",
            (dir_.path() / "staging" / "a.part").string(),
            UpdateTarget{"1.1.0", crypto::sha256_hex(body_), body_.size(), 1, 1, ""},
            {},
            {}};
  }
  rollout::testing::TempDir dir_;
  const std::string body_ = std::string(300'000, 'q') + "end";
};

TEST_F(Download, FreshDownloadHashesWhatItWrites) {
  FakeTransport t(body_);
  auto r = download_artifact(platform::real_file_system(), t, job());
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(r->sha256_hex, crypto::sha256_hex(body_));
  EXPECT_EQ(rollout::testing::read_file(job().part_path), body_);
  EXPECT_EQ(t.offsets, std::vector<std::uint64_t>{0});
}

// The controller's status line and check-ins read progress from here: it counts the resumed
// part first, then every byte written, and ends at the signed size.
TEST_F(Download, ProgressCountsTheResumedPartAndEveryByteWritten) {
  rollout::testing::write_file(job().part_path, body_.substr(0, 1000));
  FakeTransport t(body_);
  std::vector<std::uint64_t> seen;
  auto j = job();
  j.progress = [&](std::uint64_t n) { seen.push_back(n); };
  ASSERT_TRUE(download_artifact(platform::real_file_system(), t, j).ok());
  ASSERT_GE(seen.size(), 2u);
  EXPECT_EQ(seen.front(), 1000u);
  EXPECT_EQ(seen.back(), body_.size());
  EXPECT_TRUE(std::is_sorted(seen.begin(), seen.end()));
}

TEST_F(Download, AnEmptyPartFileFromAnInterruptedAttemptIsResumed) {
  rollout::testing::write_file(job().part_path, "");
  FakeTransport t(body_);
  auto r = download_artifact(platform::real_file_system(), t, job());
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(r->sha256_hex, crypto::sha256_hex(body_));
}

TEST_F(Download, APartialFileResumesWithItsLengthAsTheOffset) {
  rollout::testing::write_file(job().part_path, body_.substr(0, 1234));
  FakeTransport t(body_);
  auto r = download_artifact(platform::real_file_system(), t, job());
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(t.offsets, std::vector<std::uint64_t>{1234});
  EXPECT_EQ(r->sha256_hex, crypto::sha256_hex(body_));
}

TEST_F(Download, APartFileLongerThanTheSignedSizeStartsOver) {
  rollout::testing::write_file(job().part_path, body_ + "extra");
  FakeTransport t(body_);
  auto r = download_artifact(platform::real_file_system(), t, job());
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(t.offsets, std::vector<std::uint64_t>{0});
  EXPECT_EQ(rollout::testing::read_file(job().part_path), body_);
}

TEST_F(Download, ASymlinkAtThePartPathIsRefused) {
  const auto victim = dir_.path() / "victim";
  rollout::testing::write_file(victim, "keep");
  fs::create_symlink(victim, job().part_path);
  FakeTransport t(body_);
  auto r = download_artifact(platform::real_file_system(), t, job());
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, "insecure");
  EXPECT_EQ(rollout::testing::read_file(victim), "keep");
  EXPECT_TRUE(t.offsets.empty());
}

}  // namespace
}  // namespace rollout::agent
