// ExitStatus's portable half: the description and the Windows exit-code classification are the
// same text on every OS (a Linux controller may read a Windows agent's exit code in a report);
// only a signal's short name comes from the OS (signal_abbrev, platform/<os>/process.cpp).
#include <cstdio>

#include "platform/exit_status_names.hpp"
#include "platform/process.hpp"

namespace rollout::platform {

namespace {

struct KnownException {
  std::uint32_t code;
  const char* name;
};
constexpr KnownException kKnownExceptions[] = {
    {0xC0000005, "access violation"},
    {0xC000001D, "illegal instruction"},
    {0xC0000094, "integer division by zero"},
    {0xC00000FD, "stack overflow"},
    {0xC000013A, "stopped by force or Ctrl+C"},
    {0xC0000374, "heap corruption"},
    {0xC0000409, "fail-fast: stack buffer overrun or abort"},
    {0x80000003, "breakpoint"},
};

}  // namespace

std::string exception_name(std::uint32_t code) {
  for (const auto& k : kKnownExceptions) {
    if (k.code == code) return k.name;
  }
  return "";
}

ExitStatus ExitStatus::from_windows_exit_code(std::uint32_t raw) {
  if ((raw & 0xC0000000U) == 0xC0000000U || raw == 0x80000003U) return ended_by_exception(raw);
  return exited(static_cast<int>(raw));
}

std::string ExitStatus::describe() const {
  switch (how) {
    case How::exited:
      return "exit code " + std::to_string(code);
    case How::signal: {
      std::string out = "signal " + std::to_string(signal);
      if (auto abbrev = signal_abbrev(signal); !abbrev.empty()) out += " (" + abbrev + ")";
      return out;
    }
    case How::exception: {
      char hex[16];
      std::snprintf(hex, sizeof hex, "0x%08lX", static_cast<unsigned long>(exception));
      std::string out = std::string("exception ") + hex;
      if (auto name = exception_name(exception); !name.empty()) out += " (" + name + ")";
      return out;
    }
  }
  return "?";
}

std::optional<std::int64_t> ExitStatus::report_exit_code() const {
  if (how == How::exited) return code;
  if (how == How::exception) return static_cast<std::int32_t>(exception);
  return std::nullopt;
}

}  // namespace rollout::platform
