// Launching and supervising a child program (the managed agent): start it with arguments,
// environment and working directory; keep the last lines of its stderr (bounded) as crash
// evidence; send its stdout to a file or discard it; learn how it ended (exit code or
// terminating signal); stop it gracefully (SIGTERM, then SIGKILL after a grace period).
// The child inherits no descriptor except stdin (/dev/null), stdout and stderr, and starts in its
// own process group so a stop reaches its helpers too.
//
// Behind ProcessLauncher/Process interfaces so the supervisor can be tested with a fake.
// A Process is owned by one thread; destroying one that still runs kills (SIGKILL) and reaps it.
//
// On Windows (platform/windows/process.cpp) the child runs in a job object that dies with the
// Process (its grandchildren too); stop is a named event (ROLLOUT_STOP_EVENT in its environment)
// and CTRL_BREAK, then TerminateJobObject; a crash is an exit code that is an exception code
// (ExitStatus::code 0xC0000005 as an int, described as "exception 0xC0000005 (...)").
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "common/error.hpp"

namespace rollout::platform {

struct LaunchOptions {
  std::string executable;         // a path; no search in PATH
  std::vector<std::string> args;  // argv[1..]
  bool inherit_environment = true;
  std::vector<std::pair<std::string, std::string>> env;  // added or overriding
  std::string working_dir;                               // empty: the current one
  std::string stdout_path;                               // appended to when set, else discarded
  std::size_t stderr_max_lines = 50;
  std::size_t stderr_max_bytes = 8 * 1024;
};

// How a child ended, in terms that read naturally on either OS: it exited with a code it chose,
// it was killed by a signal (POSIX), or it was ended by an exception (Windows: an NTSTATUS such as
// 0xC0000005, which GetExitCodeProcess reports in place of an exit code).
struct ExitStatus {
  enum class How { exited, signal, exception };
  How how = How::exited;
  int code = 0;                 // exited: the exit code
  int signal = 0;               // signal: the terminating signal
  std::uint32_t exception = 0;  // exception: the NTSTATUS

  static ExitStatus exited(int code) { return {How::exited, code, 0, 0}; }
  static ExitStatus killed_by(int signal) { return {How::signal, 0, signal, 0}; }
  static ExitStatus ended_by_exception(std::uint32_t status) {
    return {How::exception, 0, 0, status};
  }
  // A raw Windows process exit code: NTSTATUS error values (0xC...) and a breakpoint
  // (0x80000003) are exceptions, anything else is the code the program exited with.
  static ExitStatus from_windows_exit_code(std::uint32_t raw);

  bool signaled() const { return how == How::signal; }
  bool success() const { return how == How::exited && code == 0; }
  // "exit code 3", "signal 6 (ABRT)", "exception 0xC0000005 (access violation)".
  std::string describe() const;
  // The number a report carries as its exit_code: the exit code, or for an exception the 32-bit
  // status as Windows shows it in %ERRORLEVEL% (0xC0000005 -> -1073741819). None for a signal.
  std::optional<std::int64_t> report_exit_code() const;
  friend bool operator==(const ExitStatus&, const ExitStatus&) = default;
};

class Process {
 public:
  virtual ~Process() = default;
  virtual std::int64_t pid() const = 0;
  // Non-blocking: collects pending stderr and returns the exit status once the child has ended.
  virtual std::optional<ExitStatus> poll() = 0;
  // Waits up to `timeout`; nullopt when the child is still running.
  virtual std::optional<ExitStatus> wait_for(std::chrono::milliseconds timeout) = 0;
  // Asks the child to stop, forces it after `grace`, and returns how it ended.
  virtual ExitStatus terminate(std::chrono::milliseconds grace) = 0;
  // The bounded tail of everything the child wrote to stderr so far.
  virtual std::vector<std::string> stderr_tail() const = 0;
  // Descriptors an event loop can wait on for readability: something happened (output or exit)
  // and poll() should be called. Valid until the Process is destroyed.
  virtual std::vector<std::intptr_t> wait_handles() const = 0;
};

class ProcessLauncher {
 public:
  virtual ~ProcessLauncher() = default;
  // Error "launch_failed" when the program cannot be started (missing, not executable, ...).
  virtual Expected<std::unique_ptr<Process>> launch(const LaunchOptions& options) = 0;
};

ProcessLauncher& real_process_launcher();

// Ends the calling process at once, as kill -9 would (no destructors, no buffered output
// flushed). Used by fault-injection crash points.
[[noreturn]] void kill_current_process();
// How a process ended that way looks to its parent: SIGKILL on POSIX; on Windows the forced exit
// code 0xC000013A (STATUS_CONTROL_C_EXIT), the one terminate() also uses after its grace period.
ExitStatus forced_kill_status();

// Absolute path of the running executable.
Expected<std::string> current_executable_path();

}  // namespace rollout::platform
