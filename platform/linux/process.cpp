// fork/exec supervision for Linux. Everything the child needs (argv, envp, descriptors) is
// prepared before fork() so the child only calls async-signal-safe functions, which keeps
// launching safe from a multi-threaded parent. A CLOEXEC pipe reports an exec failure back.
// Exit is observed through a pidfd when the kernel has one, else by polling waitpid.
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <climits>
#include <cstring>
#include <thread>

#include "platform/exit_status_names.hpp"
#include "platform/output_tail.hpp"
#include "platform/process.hpp"

extern char** environ;

namespace rollout::platform {

namespace {

using Clock = std::chrono::steady_clock;

void close_fd(int& fd) {
  if (fd >= 0) ::close(fd);
  fd = -1;
}

// Child side, after fork: async-signal-safe calls only.
[[noreturn]] void child_exec(const char* exe, char* const* argv, char* const* envp, const char* cwd,
                             int in_fd, int out_fd, int err_fd, int report_fd, int max_fd) {
  ::setpgid(0, 0);
  sigset_t none;
  ::sigemptyset(&none);
  ::sigprocmask(SIG_SETMASK, &none, nullptr);
  // exec keeps ignored signals ignored; the child must start with default dispositions.
  for (int sig = 1; sig < NSIG; ++sig) {
    if (sig != SIGKILL && sig != SIGSTOP) ::signal(sig, SIG_DFL);
  }
  if (::dup2(in_fd, 0) < 0 || ::dup2(out_fd, 1) < 0 || ::dup2(err_fd, 2) < 0 ||
      (cwd != nullptr && ::chdir(cwd) != 0)) {
    const int err = errno;
    (void)!::write(report_fd, &err, sizeof err);
    ::_exit(127);
  }
  // Close every other descriptor, except the report pipe (CLOEXEC: closed by a successful exec).
  const auto rfd = static_cast<unsigned>(report_fd);
  if (report_fd <= 3 || ::close_range(3, rfd - 1, 0) != 0 || ::close_range(rfd + 1, ~0U, 0) != 0) {
    for (int fd = 3; fd <= max_fd; ++fd) {
      if (fd != report_fd) ::close(fd);
    }
  }
  ::execve(exe, argv, envp);
  const int err = errno;
  (void)!::write(report_fd, &err, sizeof err);
  ::_exit(127);
}

class LinuxProcess final : public Process {
 public:
  LinuxProcess(pid_t pid, int stderr_fd, int pidfd, std::size_t max_lines, std::size_t max_bytes)
      : pid_(pid), stderr_fd_(stderr_fd), pidfd_(pidfd), tail_(max_lines, max_bytes) {}

  ~LinuxProcess() override {
    if (!status_) {
      signal_group(SIGKILL);
      int st = 0;
      while (::waitpid(pid_, &st, 0) < 0 && errno == EINTR) {
      }
    }
    close_fd(stderr_fd_);
    close_fd(pidfd_);
  }

  std::int64_t pid() const override { return pid_; }

  std::optional<ExitStatus> poll() override {
    drain_stderr();
    if (status_) return status_;
    int st = 0;
    pid_t r;
    do {
      r = ::waitpid(pid_, &st, WNOHANG);
    } while (r < 0 && errno == EINTR);
    if (r == pid_) {
      status_ = WIFSIGNALED(st) ? ExitStatus::killed_by(WTERMSIG(st))
                                : ExitStatus::exited(WEXITSTATUS(st));
      drain_stderr();
    }
    return status_;
  }

  std::optional<ExitStatus> wait_for(std::chrono::milliseconds timeout) override {
    const auto deadline = Clock::now() + timeout;
    for (;;) {
      if (auto s = poll()) return s;
      const auto now = Clock::now();
      if (now >= deadline) return std::nullopt;
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - now);
      // Without a pidfd an exit is not an fd event: look again every few milliseconds.
      if (pidfd_ < 0 || stderr_fd_ < 0) left = std::min(left, std::chrono::milliseconds(10));
      pollfd fds[2];
      nfds_t n = 0;
      if (stderr_fd_ >= 0) fds[n++] = pollfd{stderr_fd_, POLLIN, 0};
      if (pidfd_ >= 0) fds[n++] = pollfd{pidfd_, POLLIN, 0};
      const int ms = static_cast<int>(std::max<std::int64_t>(1, left.count()));
      if (n == 0) {
        std::this_thread::sleep_for(std::chrono::milliseconds(ms));
      } else {
        (void)::poll(fds, n, ms);
      }
    }
  }

  ExitStatus terminate(std::chrono::milliseconds grace) override {
    if (auto s = poll()) return *s;
    signal_group(SIGTERM);
    if (auto s = wait_for(grace)) return *s;
    signal_group(SIGKILL);
    for (;;) {
      if (auto s = wait_for(std::chrono::seconds(1))) return *s;
    }
  }

  std::vector<std::string> stderr_tail() const override { return tail_.lines(); }

  std::vector<std::intptr_t> wait_handles() const override {
    std::vector<std::intptr_t> out;
    if (stderr_fd_ >= 0) out.push_back(stderr_fd_);
    if (pidfd_ >= 0) out.push_back(pidfd_);
    return out;
  }

 private:
  void signal_group(int sig) {
    // The child leads its own group; before it ran setpgid the group may not exist yet.
    if (::kill(-pid_, sig) != 0) ::kill(pid_, sig);
  }

  void drain_stderr() {
    char buf[4096];
    while (stderr_fd_ >= 0) {
      const ssize_t n = ::read(stderr_fd_, buf, sizeof buf);
      if (n > 0) {
        tail_.append(std::string_view(buf, static_cast<std::size_t>(n)));
        continue;
      }
      if (n < 0 && errno == EINTR) continue;
      if (n == 0) close_fd(stderr_fd_);  // every writer has gone
      break;                             // EAGAIN: nothing more for now
    }
  }

  pid_t pid_;
  int stderr_fd_;
  int pidfd_;
  OutputTail tail_;
  std::optional<ExitStatus> status_;
};

Error launch_error(const std::string& exe, int err) {
  return make_error("launch_failed", "cannot start " + exe + ": " + std::strerror(err));
}

class LinuxLauncher final : public ProcessLauncher {
 public:
  Expected<std::unique_ptr<Process>> launch(const LaunchOptions& o) override {
    // argv and envp as C arrays, built before fork.
    std::vector<std::string> arg_store{o.executable};
    arg_store.insert(arg_store.end(), o.args.begin(), o.args.end());
    std::vector<std::string> env_store;
    auto overridden = [&](std::string_view entry) {
      const auto name = entry.substr(0, entry.find('='));
      for (const auto& kv : o.env) {
        if (kv.first == name) return true;
      }
      return false;
    };
    if (o.inherit_environment) {
      for (char** e = environ; e != nullptr && *e != nullptr; ++e) {
        if (!overridden(*e)) env_store.emplace_back(*e);
      }
    }
    for (const auto& kv : o.env) env_store.push_back(kv.first + "=" + kv.second);
    std::vector<char*> argv, envp;
    for (auto& s : arg_store) argv.push_back(s.data());
    argv.push_back(nullptr);
    for (auto& s : env_store) envp.push_back(s.data());
    envp.push_back(nullptr);

    int in_fd = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
    int out_fd = o.stdout_path.empty()
                     ? ::open("/dev/null", O_WRONLY | O_CLOEXEC)
                     : ::open(o.stdout_path.c_str(),
                              O_WRONLY | O_CREAT | O_APPEND | O_NOFOLLOW | O_CLOEXEC, 0600);
    int err_pipe[2] = {-1, -1};
    int report_pipe[2] = {-1, -1};
    auto cleanup = [&] {
      close_fd(in_fd);
      close_fd(out_fd);
      close_fd(err_pipe[0]);
      close_fd(err_pipe[1]);
      close_fd(report_pipe[0]);
      close_fd(report_pipe[1]);
    };
    if (in_fd < 0 || out_fd < 0 || ::pipe2(err_pipe, O_CLOEXEC) != 0 ||
        ::pipe2(report_pipe, O_CLOEXEC) != 0) {
      const int err = errno;
      cleanup();
      return launch_error(o.executable, err);
    }
    rlimit lim{};
    int max_fd = 1024;
    if (::getrlimit(RLIMIT_NOFILE, &lim) == 0 && lim.rlim_cur != RLIM_INFINITY) {
      max_fd = static_cast<int>(std::min<rlim_t>(lim.rlim_cur, INT_MAX));
    }
    const char* cwd = o.working_dir.empty() ? nullptr : o.working_dir.c_str();

    const pid_t pid = ::fork();
    if (pid < 0) {
      const int err = errno;
      cleanup();
      return launch_error(o.executable, err);
    }
    if (pid == 0) {
      child_exec(o.executable.c_str(), argv.data(), envp.data(), cwd, in_fd, out_fd, err_pipe[1],
                 report_pipe[1], max_fd);
    }
    close_fd(in_fd);
    close_fd(out_fd);
    close_fd(err_pipe[1]);
    close_fd(report_pipe[1]);
    int child_errno = 0;
    ssize_t n;
    do {
      n = ::read(report_pipe[0], &child_errno, sizeof child_errno);
    } while (n < 0 && errno == EINTR);
    close_fd(report_pipe[0]);
    if (n == static_cast<ssize_t>(sizeof child_errno)) {
      int st = 0;
      while (::waitpid(pid, &st, 0) < 0 && errno == EINTR) {
      }
      close_fd(err_pipe[0]);
      return launch_error(o.executable, child_errno);
    }
    ::fcntl(err_pipe[0], F_SETFL, ::fcntl(err_pipe[0], F_GETFL) | O_NONBLOCK);
    const int pidfd = static_cast<int>(::syscall(SYS_pidfd_open, pid, 0));
    if (pidfd >= 0) ::fcntl(pidfd, F_SETFD, FD_CLOEXEC);
    return std::unique_ptr<Process>(std::make_unique<LinuxProcess>(
        pid, err_pipe[0], pidfd, o.stderr_max_lines, o.stderr_max_bytes));
  }
};

}  // namespace

std::string signal_abbrev(int signal) {
  const char* abbrev = ::sigabbrev_np(signal);
  return abbrev ? abbrev : "";
}

ProcessLauncher& real_process_launcher() {
  static LinuxLauncher launcher;
  return launcher;
}

void kill_current_process() {
  ::raise(SIGKILL);
  ::_exit(137);  // not reached
}

ExitStatus forced_kill_status() {
  return ExitStatus::killed_by(SIGKILL);
}

Expected<std::string> current_executable_path() {
  std::string buf(PATH_MAX, '\0');
  const ssize_t n = ::readlink("/proc/self/exe", buf.data(), buf.size());
  if (n < 0) {
    return make_error("io_error",
                      std::string("cannot resolve /proc/self/exe: ") + std::strerror(errno));
  }
  buf.resize(static_cast<std::size_t>(n));
  return buf;
}

}  // namespace rollout::platform
