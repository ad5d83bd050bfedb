// A long-running child process for integration tests (servers, agents): started with its stdout
// on a pipe so the test can wait for a line such as "listening on ...", signalled, and reaped.
// The destructor kills (SIGKILL) and reaps a child that is still running. Not thread-safe.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <optional>
#include <string>
#include <vector>

namespace rollout::testing {

class Child {
 public:
  explicit Child(const std::vector<std::string>& argv,
                 const std::string& stderr_path = "/dev/null");
  ~Child();
  Child(const Child&) = delete;
  Child& operator=(const Child&) = delete;

  // The next stdout line containing `needle`, or nullopt after `timeout` or at end of output.
  std::optional<std::string> wait_for_line(const std::string& needle,
                                           std::chrono::milliseconds timeout);
  void signal(int sig);
  // Waits for exit; the exit status, or 128 + signal; -1 on timeout.
  int wait(std::chrono::milliseconds timeout);
  pid_t pid() const { return pid_; }

 private:
  pid_t pid_ = -1;
  int out_fd_ = -1;
  std::string buffer_;
  bool reaped_ = false;
};

}  // namespace rollout::testing
