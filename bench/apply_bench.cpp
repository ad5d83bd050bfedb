// Benchmark (not a test): the agent's update apply path, timed end to end on a real install root.
// Each repetition builds a fresh install root with version 1.0.0 installed (untimed), then times
// what the agent does to apply 2.0.0 short of waiting for probation: Installer::begin (journal
// write), download_artifact (libcurl, hashing while streaming into staging, fsync), the SHA-256
// and size comparison, begin_verifying, stage, switch_to_target and commit — every journal write
// with its fsyncs included. Real classes, the real file system (behind a forwarding wrapper that
// only adds up the time spent in write/sync/fsync_dir), the system clock and the libcurl
// transport with plain http allowed. Numbers are printed, never asserted; bench/apply.sh runs
// this against a curl + sha256sum + cp + sync baseline.
//
// usage: apply_bench URL SHA256 SIZE WORK_DIR REPS
// Output: one "rep N: ..." line per repetition (phases in ms), then "median_ms X".
// Exit codes: 0 done, 1 an apply failed, 2 usage error.
#include <unistd.h>

#include <algorithm>
#include <charconv>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

#include "agent/download.hpp"
#include "agent/installer.hpp"
#include "agent/journal.hpp"
#include "common/http/client.hpp"
#include "common/log.hpp"
#include "platform/clock.hpp"
#include "platform/fs.hpp"

namespace {

namespace stdfs = std::filesystem;
using rollout::Error;
using Clock = std::chrono::steady_clock;

const std::string kExe = "managed-agent";

double ms_between(Clock::time_point a, Clock::time_point b) {
  return std::chrono::duration<double, std::milli>(b - a).count();
}

// Forwards to the real file system and adds up the time spent in the calls that move data to
// disk, so a slow repetition can be attributed (download writes vs. fsyncs).
class TimingFileSystem final : public rollout::platform::FileSystemWrapper {
 public:
  using FileSystemWrapper::FileSystemWrapper;

  struct Totals {
    double write_ms = 0;
    double sync_ms = 0;  // file fsyncs and directory fsyncs
    unsigned syncs = 0;
  };
  Totals totals;

  rollout::Status write(rollout::platform::File& f, std::string_view b) override {
    const auto t0 = Clock::now();
    auto st = target().write(f, b);
    totals.write_ms += ms_between(t0, Clock::now());
    return st;
  }
  rollout::Status sync(rollout::platform::File& f) override {
    const auto t0 = Clock::now();
    auto st = target().sync(f);
    totals.sync_ms += ms_between(t0, Clock::now());
    ++totals.syncs;
    return st;
  }
  rollout::Status fsync_dir(const std::string& p) override {
    const auto t0 = Clock::now();
    auto st = target().fsync_dir(p);
    totals.sync_ms += ms_between(t0, Clock::now());
    ++totals.syncs;
    return st;
  }
};

struct Phases {
  double begin = 0, download = 0, compare = 0, verifying = 0, stage = 0, switch_ = 0, commit = 0;
  double total = 0;
  TimingFileSystem::Totals fs;
};

bool parse_u64(std::string_view text, std::uint64_t& out) {
  const auto* end = text.data() + text.size();
  auto [ptr, ec] = std::from_chars(text.data(), end, out);
  return ec == std::errc() && ptr == end && !text.empty();
}

// An install root as a package lays it down: versions/1.0.0/<exe> and current -> versions/1.0.0,
// plus the agent's state directory for the journal.
bool make_install_root(const stdfs::path& dir, const rollout::agent::InstallLayout& layout) {
  std::error_code ec;
  stdfs::create_directories(dir / "state", ec);
  if (ec) return false;
  stdfs::create_directories(layout.version_dir("1.0.0"), ec);
  if (ec) return false;
  {
    std::ofstream exe(layout.executable("1.0.0"), std::ios::binary);
    exe << "#!/bin/sh\necho 1.0.0\n";
    if (!exe) return false;
  }
  stdfs::permissions(layout.executable("1.0.0"), stdfs::perms(0755), ec);
  if (ec) return false;
  stdfs::create_directory_symlink("versions/1.0.0", layout.current_link(), ec);
  return !ec;
}

// One repetition; the returned phases are only meaningful when `error` stays empty.
Phases apply_once(rollout::net::Transport& transport, const std::string& url,
                  const std::string& sha256, std::uint64_t size, const stdfs::path& work,
                  std::string& error) {
  namespace agent = rollout::agent;
  Phases p;
  std::string tmpl = (work / "apply.XXXXXX").string();
  if (::mkdtemp(tmpl.data()) == nullptr) {
    error = "cannot create a directory under " + work.string();
    return p;
  }
  const stdfs::path dir = tmpl;
  const agent::InstallLayout layout{(dir / "root").string(), kExe};
  if (!make_install_root(dir, layout)) {
    error = "cannot lay down an install root in " + dir.string();
    return p;
  }

  TimingFileSystem fs(rollout::platform::real_file_system());
  agent::JournalStore store(fs, (dir / "state/journal.json").string());
  agent::Installer installer(fs, rollout::platform::system_clock(), layout, store);
  auto fail = [&](const char* step, const Error& e) {
    error = std::string(step) + ": " + e.code + ": " + e.message;
    return p;
  };
  if (auto st = installer.recover(); !st) return fail("recover", st.error());
  const agent::UpdateTarget target{"2.0.0", sha256, size, 1, 1, std::string(64, '0')};
  const std::string part = layout.staging_dir() + "/" + sha256 + ".part";
  ::sync();  // start every repetition with nothing of the setup left to write back
  fs.totals = {};

  const auto t0 = Clock::now();
  auto step = [](Clock::time_point& from) {
    const auto now = Clock::now();
    const double ms = ms_between(from, now);
    from = now;
    return ms;
  };
  auto mark = t0;
  if (auto st = installer.begin(target); !st) return fail("begin", st.error());
  p.begin = step(mark);
  auto got =
      agent::download_artifact(fs, transport, agent::DownloadJob{url, "", part, target, {}, {}});
  if (!got) return fail("download", got.error());
  p.download = step(mark);
  if (got->size != size || got->sha256_hex != sha256) {
    error = "hash_mismatch: got " + got->sha256_hex + " (" + std::to_string(got->size) +
            " bytes), expected " + sha256 + " (" + std::to_string(size) + " bytes)";
    return p;
  }
  p.compare = step(mark);
  if (auto st = installer.begin_verifying(); !st) return fail("begin_verifying", st.error());
  p.verifying = step(mark);
  if (auto st = installer.stage(part); !st) return fail("stage", st.error());
  p.stage = step(mark);
  if (auto st = installer.switch_to_target(); !st) return fail("switch", st.error());
  p.switch_ = step(mark);
  if (auto st = installer.commit(); !st) return fail("commit", st.error());
  p.commit = step(mark);
  p.total = ms_between(t0, mark);
  p.fs = fs.totals;

  // Untimed: the update really happened, then the repetition's files go.
  auto current = installer.current_version();
  std::error_code ec;
  const auto installed = stdfs::file_size(layout.executable("2.0.0"), ec);
  if (!current || *current != "2.0.0" || ec || installed != size) {
    error = "after commit the install root does not run 2.0.0 of the right size";
  }
  stdfs::remove_all(dir, ec);
  return p;
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  const std::size_t n = v.size();
  return n % 2 == 1 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 6) {
    std::fprintf(stderr, "usage: %s URL SHA256 SIZE WORK_DIR REPS\n", argv[0]);
    return 2;
  }
  const std::string url = argv[1];
  const std::string sha256 = argv[2];
  std::uint64_t size = 0;
  std::uint64_t reps = 0;
  if (!parse_u64(argv[3], size) || size == 0 || !parse_u64(argv[5], reps) || reps == 0) {
    std::fprintf(stderr, "SIZE and REPS must be positive integers\n");
    return 2;
  }
  const stdfs::path work = argv[4];
  if (!stdfs::is_directory(work)) {
    std::fprintf(stderr, "WORK_DIR %s is not a directory\n", work.c_str());
    return 2;
  }
  rollout::log::set_level(rollout::log::Level::warn);

  rollout::net::TransportOptions options;
  options.allow_plain_http = true;
  auto transport = rollout::net::make_curl_transport(options);

  std::vector<double> totals;
  for (std::uint64_t i = 1; i <= reps; ++i) {
    std::string error;
    const Phases p = apply_once(*transport, url, sha256, size, work, error);
    if (!error.empty()) {
      std::fprintf(stderr, "rep %llu failed: %s\n", static_cast<unsigned long long>(i),
                   error.c_str());
      return 1;
    }
    totals.push_back(p.total);
    std::printf(
        "rep %llu: %.1f ms (begin %.1f, download %.1f, compare %.3f, begin_verifying %.1f, "
        "stage %.1f, switch %.1f, commit %.1f; fs: writes %.1f ms, %u fsyncs %.1f ms)\n",
        static_cast<unsigned long long>(i), p.total, p.begin, p.download, p.compare, p.verifying,
        p.stage, p.switch_, p.commit, p.fs.write_ms, p.fs.syncs, p.fs.sync_ms);
    std::fflush(stdout);
  }
  std::printf("median_ms %.1f\n", median(totals));
  return 0;
}
