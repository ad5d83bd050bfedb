// Helpers shared by the Windows implementations: UTF-8 <-> UTF-16 (the project's strings are
// UTF-8; Win32 "W" functions take UTF-16), Win32 error codes as project errors, owned HANDLEs,
// and the owner-only security descriptor (SYSTEM and Administrators only) used for secret files
// and secure directories. Internal to platform/windows.
#pragma once

#include <windows.h>

#include <string>
#include <string_view>

#include "common/error.hpp"

namespace rollout::platform::win {

std::wstring wide(std::string_view utf8);
std::string narrow(std::wstring_view utf16);

// The system's text for a Win32 error code, in one line.
std::string error_text(DWORD code);
// An Error for `code`: "disk_full", "exists", "not_found", "insecure" or "io_error" (fs.hpp's
// vocabulary), with the message "<what>: <system text>".
Error error(DWORD code, const std::string& what);
inline Error last_error(const std::string& what) {
  return error(::GetLastError(), what);
}

// Closes the handle when it goes out of scope. Move-only.
class Handle {
 public:
  Handle() = default;
  explicit Handle(HANDLE h) : h_(h) {}
  ~Handle() { reset(); }
  Handle(Handle&& o) noexcept : h_(o.h_) { o.h_ = nullptr; }
  Handle& operator=(Handle&& o) noexcept {
    if (this != &o) {
      reset();
      h_ = o.h_;
      o.h_ = nullptr;
    }
    return *this;
  }
  Handle(const Handle&) = delete;
  Handle& operator=(const Handle&) = delete;

  HANDLE get() const { return h_; }
  explicit operator bool() const { return h_ != nullptr && h_ != INVALID_HANDLE_VALUE; }
  void reset() {
    if (*this) ::CloseHandle(h_);
    h_ = nullptr;
  }
  // Gives up ownership without closing.
  HANDLE release_raw() {
    HANDLE h = h_;
    h_ = nullptr;
    return h;
  }

 private:
  HANDLE h_ = nullptr;
};

// A protected DACL granting full access to SYSTEM and the Administrators group and to nobody
// else (inherited entries removed), as a self-relative security descriptor. The owner stays the
// creator. Ownership of the returned memory: release with LocalFree (OwnerOnlySd does it).
class OwnerOnlySd {
 public:
  OwnerOnlySd();
  ~OwnerOnlySd();
  OwnerOnlySd(const OwnerOnlySd&) = delete;
  OwnerOnlySd& operator=(const OwnerOnlySd&) = delete;
  bool ok() const { return sd_ != nullptr; }
  PSECURITY_DESCRIPTOR get() const { return sd_; }
  PACL dacl() const;

 private:
  PSECURITY_DESCRIPTOR sd_ = nullptr;
};

// The SDDL form of the descriptor above (for messages and tests).
inline constexpr const wchar_t* kOwnerOnlySddl = L"D:P(A;OICI;FA;;;SY)(A;OICI;FA;;;BA)";

}  // namespace rollout::platform::win
