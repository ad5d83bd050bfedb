// The supervised program of the Windows process tests. argv[1] picks the behaviour:
//   exit N            exit with code N
//   crash             write a line to stderr, then dereference null (0xC0000005)
//   lines N           write N numbered lines to stderr, then exit 0
//   sleep             sleep until killed
//   grandchild FILE   start `sleep` as a grandchild, write its pid to FILE, sleep until killed
//   wait-stop         wait for the ROLLOUT_STOP_EVENT event, then exit 7
//   stdin             exit 0 if stdin is at end of file at once (NUL), else 1
//   echo ARG...       write each argument and $ROLLOUT_TEST_VAR to stderr, one per line
//   lock FILE         take the instance lock on FILE, say "locked" on stderr, sleep until killed
#include <windows.h>

#include <cstdio>
#include <cstdlib>
#include <string>

#include "platform/instance_lock.hpp"

namespace {

int grandchild(const char* pid_file) {
  wchar_t self[MAX_PATH];
  ::GetModuleFileNameW(nullptr, self, MAX_PATH);
  std::wstring cmd = L"\"" + std::wstring(self) + L"\" sleep";
  STARTUPINFOW si{};
  si.cb = sizeof si;
  PROCESS_INFORMATION pi{};
  if (!::CreateProcessW(self, cmd.data(), nullptr, nullptr, FALSE, 0, nullptr, nullptr, &si, &pi)) {
    return 2;
  }
  std::FILE* f = std::fopen(pid_file, "w");
  if (f == nullptr) return 3;
  std::fprintf(f, "%lu\n", static_cast<unsigned long>(pi.dwProcessId));
  std::fclose(f);
  ::Sleep(INFINITE);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  const std::string mode = argc > 1 ? argv[1] : "";
  if (mode == "exit" && argc > 2) return std::atoi(argv[2]);
  if (mode == "crash") {
    std::fprintf(stderr, "about to crash\n");
    std::fflush(stderr);
    volatile int* p = nullptr;
    *p = 1;
    return 0;
  }
  if (mode == "lines" && argc > 2) {
    const int n = std::atoi(argv[2]);
    for (int i = 1; i <= n; ++i) std::fprintf(stderr, "line %d\n", i);
    return 0;
  }
  if (mode == "sleep") {
    ::Sleep(INFINITE);
    return 0;
  }
  if (mode == "grandchild" && argc > 2) return grandchild(argv[2]);
  if (mode == "wait-stop") {
    const char* name = std::getenv("ROLLOUT_STOP_EVENT");
    if (name == nullptr) return 2;
    HANDLE ev = ::OpenEventA(SYNCHRONIZE, FALSE, name);
    if (ev == nullptr) return 3;
    std::fprintf(stderr, "waiting for the stop event\n");
    std::fflush(stderr);
    ::WaitForSingleObject(ev, INFINITE);
    std::fprintf(stderr, "stopping gracefully\n");
    return 7;
  }
  if (mode == "stdin") {
    char c;
    DWORD n = 0;
    const BOOL ok = ::ReadFile(::GetStdHandle(STD_INPUT_HANDLE), &c, 1, &n, nullptr);
    return (ok && n == 0) ? 0 : 1;
  }
  if (mode == "echo") {
    for (int i = 2; i < argc; ++i) std::fprintf(stderr, "%s\n", argv[i]);
    const char* v = std::getenv("ROLLOUT_TEST_VAR");
    std::fprintf(stderr, "var=%s\n", v != nullptr ? v : "(unset)");
    return 0;
  }
  if (mode == "lock" && argc > 2) {
    auto lock = rollout::platform::lock_instance(argv[2]);
    if (!lock) return 4;
    std::fprintf(stderr, "locked\n");
    std::fflush(stderr);
    ::Sleep(INFINITE);
    return 0;
  }
  std::fprintf(stderr, "unknown mode '%s'\n", mode.c_str());
  return 64;
}
