// Windows versions of the portable test helpers (temporary directory, whole-file read/write).
// run() is not provided yet: the Windows build has no binary smoke tests so far.
#include <windows.h>

#include <fstream>
#include <random>
#include <sstream>
#include <stdexcept>

#include "tests/testing/testing.hpp"

namespace rollout::testing {
namespace fs = std::filesystem;

TempDir::TempDir() {
  // CreateDirectoryW fails on an existing name, so a random name is taken exclusively.
  std::random_device rd;
  for (int attempt = 0; attempt < 100; ++attempt) {
    const auto candidate = fs::temp_directory_path() / ("rollout-test-" + std::to_string(rd()));
    if (::CreateDirectoryW(candidate.c_str(), nullptr)) {
      path_ = candidate;
      return;
    }
  }
  throw std::runtime_error("cannot create a temporary directory");
}

TempDir::~TempDir() {
  std::error_code ec;
  fs::remove_all(path_, ec);
}

void write_file(const fs::path& p, const std::string& content) {
  std::ofstream f(p, std::ios::binary | std::ios::trunc);
  f << content;
  if (!f) throw std::runtime_error("cannot write " + p.string());
}

std::string read_file(const fs::path& p) {
  std::ifstream f(p, std::ios::binary);
  std::ostringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

}  // namespace rollout::testing
