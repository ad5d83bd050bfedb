// Test helpers for the installer: an install root with runnable versions (tiny shell scripts
// that print their version), an artifact placed in staging, and the invariant checks every
// crash and recovery test asserts. Not thread-safe.
#pragma once

#include <gtest/gtest.h>

#include <filesystem>
#include <stdexcept>
#include <string>

#include "agent/installer.hpp"
#include "common/crypto.hpp"
#include "platform/clock.hpp"
#include "platform/fs.hpp"
#include "platform/host.hpp"
#include "platform/process.hpp"
#include "platform/version_pointer.hpp"
#include "tests/testing/testing.hpp"

namespace rollout::agent::test {

inline const std::string kExe = "managed-agent";

inline std::string script_for(const std::string& version) {
  return "#!/bin/sh\necho " + version + "\n";
}

inline std::string sha_for(const std::string& version) {
  // The installer does not hash (the downloader does); any well-formed digest will do.
  return std::string(64, version.empty() ? '0' : 'a');
}

// Puts an artifact for `version` into the layout's staging as the downloader would; returns its
// path.
inline std::string place_artifact(const InstallLayout& layout, const std::string& version) {
  const std::string path = layout.staging_dir() + "/download.part";
  rollout::testing::write_file(path, script_for(version));
  return path;
}

// The directive's digest defaults to one derived from the sequence: one directive per sequence,
// as the server signs them.
inline UpdateTarget target(const std::string& version, std::uint64_t sequence,
                           std::uint64_t security_version = 1, std::string digest = "") {
  if (digest.empty()) digest = crypto::sha256_hex("directive " + std::to_string(sequence));
  return UpdateTarget{version,          sha_for(version), script_for(version).size(),
                      security_version, sequence,         std::move(digest)};
}

struct InstallRoot {
  rollout::testing::TempDir dir;
  InstallLayout layout{(dir / "root").string(), kExe};
  std::string journal_path = (dir / "state/journal.json").string();

  explicit InstallRoot(const std::vector<std::string>& versions = {"1.0.0"},
                       const std::string& current = "1.0.0",
                       platform::PointerKind pointer = platform::default_pointer_kind()) {
    layout.pointer = pointer;
    namespace fs = std::filesystem;
    fs::create_directories(dir / "state");
    fs::create_directories(layout.versions_dir());
    for (const auto& v : versions) {
      fs::create_directories(layout.version_dir(v));
      rollout::testing::write_file(layout.executable(v), script_for(v));
      fs::permissions(layout.executable(v), fs::perms(0755));
    }
    if (!pointer_io()->write(layout.current_link(), "versions/" + current)) {
      throw std::runtime_error("cannot point " + layout.current_link() + " at " + current);
    }
  }

  std::string place_artifact(const std::string& version) const {
    return test::place_artifact(layout, version);
  }
  UpdateTarget target(const std::string& version, std::uint64_t sequence,
                      std::uint64_t security_version = 1, std::string digest = "") const {
    return test::target(version, sequence, security_version, std::move(digest));
  }

  // The layout's kind of version pointer, on the real file system.
  std::unique_ptr<platform::VersionPointer> pointer_io() const {
    return platform::make_version_pointer(layout.pointer, platform::real_file_system());
  }
  // What a version pointer names; empty when there is none (or it is not a pointer).
  std::string link(const std::string& path) const {
    auto t = pointer_io()->read(path);
    return t ? *t : "";
  }
  std::string current() const { return link(layout.current_link()); }
  std::string previous() const { return link(layout.previous_link()); }
};

// Runs <root>/current's executable (resolved through the pointer, as the supervisor does) and
// returns what it printed; empty when it could not run. On Windows, where the shell scripts
// cannot run, the executable's content says which version it is (the same script_for text).
inline std::string run_current(const InstallRoot& root) {
  const std::string target = root.current();
  if (target.rfind("versions/", 0) != 0) return "";
  if (platform::build_os() == "windows") {
    const std::string version = target.substr(std::string("versions/").size());
    std::error_code ec;
    const auto exe = std::filesystem::path(root.layout.root) / target / kExe;
    if (!std::filesystem::is_regular_file(exe, ec)) return "";
    return rollout::testing::read_file(exe) == script_for(version) ? version : "";
  }
  rollout::testing::TempDir out;
  platform::LaunchOptions o;
  o.executable = root.layout.root + "/" + target + "/" + kExe;
  o.stdout_path = (out / "stdout").string();
  auto p = platform::real_process_launcher().launch(o);
  if (!p) return "";
  auto status = (*p)->wait_for(std::chrono::seconds(60));
  if (!status || !status->success()) return "";
  auto text = rollout::testing::read_file(out / "stdout");
  if (!text.empty() && text.back() == '\n') text.pop_back();
  return text;
}

}  // namespace rollout::agent::test
