// Shared test helpers: a self-deleting temporary directory, file helpers, and running a child
// process with captured output (used to smoke-test the real binaries). Not thread-safe.
#pragma once

#include <filesystem>
#include <string>
#include <vector>

namespace rollout::testing {

class TempDir {
 public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::filesystem::path& path() const { return path_; }
  std::filesystem::path operator/(const std::string& name) const { return path_ / name; }

 private:
  std::filesystem::path path_;
};

void write_file(const std::filesystem::path& p, const std::string& content);
std::string read_file(const std::filesystem::path& p);

struct RunResult {
  int exit_code = -1;  // exit status, or 128 + signal when killed
  std::string out;
  std::string err;
};

// Runs argv[0] (a path) with the arguments, stdin from /dev/null (or `input` when given),
// and waits for it.
RunResult run(const std::vector<std::string>& argv, const std::string* input = nullptr);

}  // namespace rollout::testing
