// LockFileEx-based InstanceLock. Windows byte-range locks are mandatory (a locked range cannot
// even be read by others), so the lock covers one byte far beyond the end of the file and the
// holder's process id at offset 0 stays readable for the "locked" message. The handle is not
// inheritable, and Windows releases the lock when the holding process ends, however it ends.
#include <windows.h>

#include <string>

#include "platform/instance_lock.hpp"
#include "platform/windows/win.hpp"

namespace rollout::platform {
namespace {

constexpr DWORD kLockOffsetHigh = 0x7fffffff;  // the byte at 2^63 - 2^32: never file data

class FileLock final : public InstanceLock {
 public:
  explicit FileLock(win::Handle h) : h_(std::move(h)) {}

 private:
  win::Handle h_;
};

std::string holder_of(HANDLE h) {
  char buf[32] = {};
  DWORD n = 0;
  OVERLAPPED at{};
  if (!::ReadFile(h, buf, sizeof buf - 1, &n, &at)) n = 0;
  std::string pid(buf, n);
  while (!pid.empty() && (pid.back() == '\n' || pid.back() == '\r' || pid.back() == ' ')) {
    pid.pop_back();
  }
  return pid.empty() ? "unknown" : pid;
}

}  // namespace

Expected<std::unique_ptr<InstanceLock>> lock_instance(const std::string& path) {
  win::Handle h(::CreateFileW(win::wide(path).c_str(), GENERIC_READ | GENERIC_WRITE,
                              FILE_SHARE_READ | FILE_SHARE_WRITE | FILE_SHARE_DELETE, nullptr,
                              OPEN_ALWAYS, FILE_ATTRIBUTE_NORMAL | FILE_FLAG_OPEN_REPARSE_POINT,
                              nullptr));
  if (!h) {
    return make_error("io",
                      "cannot open lock file " + path + ": " + win::error_text(::GetLastError()));
  }
  OVERLAPPED range{};
  range.OffsetHigh = kLockOffsetHigh;
  if (!::LockFileEx(h.get(), LOCKFILE_EXCLUSIVE_LOCK | LOCKFILE_FAIL_IMMEDIATELY, 0, 1, 0,
                    &range)) {
    const DWORD err = ::GetLastError();
    if (err == ERROR_LOCK_VIOLATION || err == ERROR_IO_PENDING) {
      return make_error("locked", "another process (pid " + holder_of(h.get()) + ") is using " +
                                      path +
                                      ": only one rollout-agent may run on a state directory");
    }
    return make_error("io", "cannot lock " + path + ": " + win::error_text(err));
  }
  const std::string pid = std::to_string(::GetCurrentProcessId()) + "\n";
  DWORD n = 0;
  LARGE_INTEGER zero{};
  if (!::SetFilePointerEx(h.get(), zero, nullptr, FILE_BEGIN) || !::SetEndOfFile(h.get()) ||
      !::WriteFile(h.get(), pid.data(), static_cast<DWORD>(pid.size()), &n, nullptr) ||
      n != pid.size()) {
    return make_error("io", "cannot write " + path + ": " + win::error_text(::GetLastError()));
  }
  return std::unique_ptr<InstanceLock>(std::make_unique<FileLock>(std::move(h)));
}

}  // namespace rollout::platform
