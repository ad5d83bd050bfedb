// CreateProcessW supervision for Windows. The child starts suspended, joins a job object with
// KILL_ON_JOB_CLOSE (so it and every process it starts die with the job: when this Process is
// destroyed, or when the supervisor itself dies) and DIE_ON_UNHANDLED_EXCEPTION (a crash ends
// the process with its exception code, e.g. 0xC0000005, instead of waiting in an error dialog),
// then resumes. It inherits exactly three handles (PROC_THREAD_ATTRIBUTE_HANDLE_LIST): stdin from
// NUL, stdout to a file or NUL, stderr into a pipe that a reader thread drains into the bounded
// OutputTail.
//
// Graceful stop: the child's environment names a manual-reset event (ROLLOUT_STOP_EVENT) that
// terminate() sets; a console program also gets CTRL_BREAK_EVENT (it leads its own process
// group). After the grace period the whole job is terminated.
#include <windows.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <cwchar>
#include <mutex>

#include "platform/exit_status_names.hpp"
#include "platform/output_tail.hpp"
#include "platform/process.hpp"
#include "platform/windows/win.hpp"

namespace rollout::platform {

namespace {

// The exit code of a process ended by terminate() after its grace period.
constexpr DWORD kForcedExitCode = 0xC000013A;  // STATUS_CONTROL_C_EXIT

// One argument quoted the way CommandLineToArgvW and the C runtime split them.
void append_quoted(std::wstring& cmd, const std::wstring& arg) {
  if (!arg.empty() && arg.find_first_of(L" \t\n\v\"") == std::wstring::npos) {
    cmd += arg;
    return;
  }
  cmd += L'"';
  std::size_t backslashes = 0;
  for (wchar_t c : arg) {
    if (c == L'\\') {
      ++backslashes;
      continue;
    }
    if (c == L'"')
      cmd.append(backslashes * 2 + 1, L'\\');
    else
      cmd.append(backslashes, L'\\');
    backslashes = 0;
    cmd += c;
  }
  cmd.append(backslashes * 2, L'\\');
  cmd += L'"';
}

bool same_name(const std::wstring& entry, const std::wstring& name) {
  const auto eq = entry.find(L'=', 1);
  if (eq == std::wstring::npos || eq != name.size()) return false;
  return ::CompareStringOrdinal(entry.c_str(), static_cast<int>(eq), name.c_str(),
                                static_cast<int>(name.size()), TRUE) == CSTR_EQUAL;
}

std::wstring environment_block(const LaunchOptions& o,
                               const std::vector<std::pair<std::wstring, std::wstring>>& env) {
  std::vector<std::wstring> entries;
  if (o.inherit_environment) {
    if (wchar_t* block = ::GetEnvironmentStringsW()) {
      for (const wchar_t* p = block; *p != L'\0'; p += std::wcslen(p) + 1) {
        std::wstring entry = p;
        bool overridden = false;
        for (const auto& kv : env) overridden = overridden || same_name(entry, kv.first);
        if (!overridden) entries.push_back(std::move(entry));
      }
      ::FreeEnvironmentStringsW(block);
    }
  }
  for (const auto& kv : env) entries.push_back(kv.first + L"=" + kv.second);
  std::wstring out;
  for (const auto& e : entries) {
    out += e;
    out += L'\0';
  }
  out += L'\0';
  return out;
}

class WindowsProcess final : public Process {
 public:
  WindowsProcess(win::Handle process, win::Handle job, win::Handle stop_event, HANDLE stderr_read,
                 DWORD pid, std::size_t max_lines, std::size_t max_bytes)
      : process_(std::move(process)),
        job_(std::move(job)),
        stop_event_(std::move(stop_event)),
        stderr_read_(stderr_read),
        output_event_(::CreateEventW(nullptr, FALSE, FALSE, nullptr)),
        pid_(pid),
        tail_(max_lines, max_bytes) {
    reader_ = win::Handle(
        ::CreateThread(nullptr, 64 * 1024, &WindowsProcess::reader_main, this, 0, nullptr));
  }

  ~WindowsProcess() override {
    if (!status_) ::TerminateJobObject(job_.get(), kForcedExitCode);
    job_.reset();  // KILL_ON_JOB_CLOSE: nothing of the child's outlives us
    stop_reader();
  }

  WindowsProcess(const WindowsProcess&) = delete;
  WindowsProcess& operator=(const WindowsProcess&) = delete;

  std::int64_t pid() const override { return pid_; }

  std::optional<ExitStatus> poll() override {
    if (status_) return status_;
    if (::WaitForSingleObject(process_.get(), 0) != WAIT_OBJECT_0) return std::nullopt;
    DWORD code = 0;
    ::GetExitCodeProcess(process_.get(), &code);
    // The last lines may still be in the pipe: let the reader catch up briefly.
    if (reader_) ::WaitForSingleObject(reader_.get(), 200);
    status_ = ExitStatus::from_windows_exit_code(code);
    return status_;
  }

  std::optional<ExitStatus> wait_for(std::chrono::milliseconds timeout) override {
    if (auto s = poll()) return s;
    const auto ms = static_cast<DWORD>(std::clamp<std::int64_t>(timeout.count(), 0, 0x7fffffff));
    ::WaitForSingleObject(process_.get(), ms);
    return poll();
  }

  ExitStatus terminate(std::chrono::milliseconds grace) override {
    if (auto s = poll()) return *s;
    ::SetEvent(stop_event_.get());
    ::GenerateConsoleCtrlEvent(CTRL_BREAK_EVENT, pid_);
    if (auto s = wait_for(grace)) return *s;
    ::TerminateJobObject(job_.get(), kForcedExitCode);
    for (;;) {
      if (auto s = wait_for(std::chrono::seconds(1))) return *s;
    }
  }

  std::vector<std::string> stderr_tail() const override {
    std::lock_guard lock(mu_);
    return tail_.lines();
  }

  std::vector<std::intptr_t> wait_handles() const override {
    return {reinterpret_cast<std::intptr_t>(process_.get()),
            reinterpret_cast<std::intptr_t>(output_event_.get())};
  }

 private:
  static DWORD WINAPI reader_main(void* self) {
    static_cast<WindowsProcess*>(self)->read_stderr();
    return 0;
  }

  void read_stderr() {
    char buf[4096];
    for (;;) {
      DWORD n = 0;
      if (!::ReadFile(stderr_read_, buf, sizeof buf, &n, nullptr) || n == 0) break;
      {
        std::lock_guard lock(mu_);
        tail_.append(std::string_view(buf, n));
      }
      ::SetEvent(output_event_.get());
    }
    ::SetEvent(output_event_.get());
  }

  void stop_reader() {
    if (reader_ && ::WaitForSingleObject(reader_.get(), 2000) != WAIT_OBJECT_0) {
      // A writer outside the job still holds the pipe open: abandon the blocking read.
      ::CancelSynchronousIo(reader_.get());
      ::WaitForSingleObject(reader_.get(), INFINITE);
    }
    reader_.reset();
    ::CloseHandle(stderr_read_);
  }

  win::Handle process_;
  win::Handle job_;
  win::Handle stop_event_;
  HANDLE stderr_read_;  // owned; read only by the reader thread until stop_reader()
  win::Handle output_event_;
  win::Handle reader_;
  DWORD pid_;
  mutable std::mutex mu_;  // guards tail_
  OutputTail tail_;
  std::optional<ExitStatus> status_;
};

Error launch_error(const std::string& exe, const std::string& what, DWORD err) {
  return make_error("launch_failed",
                    "cannot start " + exe + ": " + what + ": " + win::error_text(err));
}

class WindowsLauncher final : public ProcessLauncher {
 public:
  Expected<std::unique_ptr<Process>> launch(const LaunchOptions& o) override {
    // A crash of the child must end it with its exception code, not open an error box.
    ::SetErrorMode(::GetErrorMode() | SEM_FAILCRITICALERRORS | SEM_NOGPFAULTERRORBOX);

    const std::wstring exe = win::wide(o.executable);
    std::wstring cmd;
    append_quoted(cmd, exe);
    for (const auto& a : o.args) {
      cmd += L' ';
      append_quoted(cmd, win::wide(a));
    }
    const std::wstring stop_name = L"Local\\rollout-stop-" +
                                   std::to_wstring(::GetCurrentProcessId()) + L"-" +
                                   std::to_wstring(counter_.fetch_add(1));
    std::vector<std::pair<std::wstring, std::wstring>> env;
    for (const auto& kv : o.env) env.emplace_back(win::wide(kv.first), win::wide(kv.second));
    env.emplace_back(L"ROLLOUT_STOP_EVENT", stop_name);
    std::wstring env_block = environment_block(o, env);

    SECURITY_ATTRIBUTES inherit{sizeof inherit, nullptr, TRUE};
    win::Handle in(::CreateFileW(L"NUL", GENERIC_READ, FILE_SHARE_READ | FILE_SHARE_WRITE, &inherit,
                                 OPEN_EXISTING, 0, nullptr));
    win::Handle out(o.stdout_path.empty()
                        ? ::CreateFileW(L"NUL", GENERIC_WRITE, FILE_SHARE_READ | FILE_SHARE_WRITE,
                                        &inherit, OPEN_EXISTING, 0, nullptr)
                        : ::CreateFileW(win::wide(o.stdout_path).c_str(),
                                        FILE_APPEND_DATA | SYNCHRONIZE,
                                        FILE_SHARE_READ | FILE_SHARE_DELETE, &inherit, OPEN_ALWAYS,
                                        FILE_ATTRIBUTE_NORMAL, nullptr));
    if (!in || !out)
      return launch_error(o.executable, "cannot open stdin/stdout", ::GetLastError());
    HANDLE err_read = nullptr, err_write = nullptr;
    if (!::CreatePipe(&err_read, &err_write, &inherit, 0)) {
      return launch_error(o.executable, "cannot create the stderr pipe", ::GetLastError());
    }
    win::Handle err_write_owned(err_write);
    win::Handle err_read_owned(err_read);
    ::SetHandleInformation(err_read, HANDLE_FLAG_INHERIT, 0);

    win::Handle stop_event(::CreateEventW(nullptr, TRUE, FALSE, stop_name.c_str()));
    win::Handle job(::CreateJobObjectW(nullptr, nullptr));
    if (!stop_event || !job) {
      return launch_error(o.executable, "cannot create the job object", ::GetLastError());
    }
    JOBOBJECT_EXTENDED_LIMIT_INFORMATION limits{};
    limits.BasicLimitInformation.LimitFlags =
        JOB_OBJECT_LIMIT_KILL_ON_JOB_CLOSE | JOB_OBJECT_LIMIT_DIE_ON_UNHANDLED_EXCEPTION;
    if (!::SetInformationJobObject(job.get(), JobObjectExtendedLimitInformation, &limits,
                                   sizeof limits)) {
      return launch_error(o.executable, "cannot configure the job object", ::GetLastError());
    }

    // Only these three handles reach the child, whatever else this process has open.
    HANDLE inherited[3] = {in.get(), out.get(), err_write};
    SIZE_T attr_size = 0;
    ::InitializeProcThreadAttributeList(nullptr, 1, 0, &attr_size);
    std::vector<char> attr_buf(attr_size);
    auto* attrs = reinterpret_cast<LPPROC_THREAD_ATTRIBUTE_LIST>(attr_buf.data());
    if (!::InitializeProcThreadAttributeList(attrs, 1, 0, &attr_size) ||
        !::UpdateProcThreadAttribute(attrs, 0, PROC_THREAD_ATTRIBUTE_HANDLE_LIST, inherited,
                                     sizeof inherited, nullptr, nullptr)) {
      return launch_error(o.executable, "cannot restrict inherited handles", ::GetLastError());
    }
    STARTUPINFOEXW si{};
    si.StartupInfo.cb = sizeof si;
    si.StartupInfo.dwFlags = STARTF_USESTDHANDLES;
    si.StartupInfo.hStdInput = in.get();
    si.StartupInfo.hStdOutput = out.get();
    si.StartupInfo.hStdError = err_write;
    si.lpAttributeList = attrs;

    const std::wstring cwd = win::wide(o.working_dir);
    PROCESS_INFORMATION pi{};
    const BOOL created = ::CreateProcessW(
        exe.c_str(), cmd.data(), nullptr, nullptr, TRUE,
        CREATE_SUSPENDED | CREATE_UNICODE_ENVIRONMENT | CREATE_NEW_PROCESS_GROUP |
            EXTENDED_STARTUPINFO_PRESENT,
        env_block.data(), cwd.empty() ? nullptr : cwd.c_str(), &si.StartupInfo, &pi);
    const DWORD create_err = ::GetLastError();
    ::DeleteProcThreadAttributeList(attrs);
    if (!created) return launch_error(o.executable, "CreateProcessW", create_err);
    win::Handle process(pi.hProcess);
    win::Handle thread(pi.hThread);
    if (!::AssignProcessToJobObject(job.get(), process.get())) {
      const DWORD err = ::GetLastError();
      ::TerminateProcess(process.get(), kForcedExitCode);
      return launch_error(o.executable, "cannot put it in a job object", err);
    }
    ::ResumeThread(thread.get());
    // Our copy of the write end must go, or the pipe never reports end of file.
    err_write_owned.reset();
    return std::unique_ptr<Process>(std::make_unique<WindowsProcess>(
        std::move(process), std::move(job), std::move(stop_event), err_read_owned.release_raw(),
        pi.dwProcessId, o.stderr_max_lines, o.stderr_max_bytes));
  }

 private:
  std::atomic<unsigned> counter_{0};
};

}  // namespace

// Windows has no signals: a process ends by exit code or exception (ExitStatus::How).
std::string signal_abbrev(int) {
  return "";
}

ProcessLauncher& real_process_launcher() {
  static WindowsLauncher launcher;
  return launcher;
}

void kill_current_process() {
  ::TerminateProcess(::GetCurrentProcess(), kForcedExitCode);
  ::ExitProcess(kForcedExitCode);  // not reached
}

ExitStatus forced_kill_status() {
  return ExitStatus::from_windows_exit_code(kForcedExitCode);
}

Expected<std::string> current_executable_path() {
  std::wstring buf(MAX_PATH, L'\0');
  for (;;) {
    const DWORD n = ::GetModuleFileNameW(nullptr, buf.data(), static_cast<DWORD>(buf.size()));
    if (n == 0) return win::last_error("cannot resolve the executable's path");
    if (n < buf.size()) {
      buf.resize(n);
      return win::narrow(buf);
    }
    buf.resize(buf.size() * 2);
  }
}

}  // namespace rollout::platform
