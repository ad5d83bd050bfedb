#include "platform/windows/win.hpp"

#include <sddl.h>

namespace rollout::platform::win {

std::wstring wide(std::string_view utf8) {
  if (utf8.empty()) return {};
  const int n =
      ::MultiByteToWideChar(CP_UTF8, 0, utf8.data(), static_cast<int>(utf8.size()), nullptr, 0);
  std::wstring out(static_cast<std::size_t>(n > 0 ? n : 0), L'\0');
  if (n > 0) {
    ::MultiByteToWideChar(CP_UTF8, 0, utf8.data(), static_cast<int>(utf8.size()), out.data(), n);
  }
  return out;
}

std::string narrow(std::wstring_view utf16) {
  if (utf16.empty()) return {};
  const int n = ::WideCharToMultiByte(CP_UTF8, 0, utf16.data(), static_cast<int>(utf16.size()),
                                      nullptr, 0, nullptr, nullptr);
  std::string out(static_cast<std::size_t>(n > 0 ? n : 0), '\0');
  if (n > 0) {
    ::WideCharToMultiByte(CP_UTF8, 0, utf16.data(), static_cast<int>(utf16.size()), out.data(), n,
                          nullptr, nullptr);
  }
  return out;
}

std::string error_text(DWORD code) {
  wchar_t* buf = nullptr;
  const DWORD n = ::FormatMessageW(
      FORMAT_MESSAGE_ALLOCATE_BUFFER | FORMAT_MESSAGE_FROM_SYSTEM | FORMAT_MESSAGE_IGNORE_INSERTS,
      nullptr, code, 0, reinterpret_cast<wchar_t*>(&buf), 0, nullptr);
  std::string text = n > 0 ? narrow(std::wstring_view(buf, n)) : std::string();
  if (buf != nullptr) ::LocalFree(buf);
  while (!text.empty() &&
         (text.back() == '\n' || text.back() == '\r' || text.back() == ' ' || text.back() == '.')) {
    text.pop_back();
  }
  for (auto& c : text) {
    if (c == '\r' || c == '\n') c = ' ';
  }
  if (text.empty()) text = "Windows error";
  return text + " (error " + std::to_string(code) + ")";
}

Error error(DWORD code, const std::string& what) {
  std::string kind = "io_error";
  switch (code) {
    case ERROR_DISK_FULL:
    case ERROR_HANDLE_DISK_FULL:
      kind = "disk_full";
      break;
    case ERROR_FILE_EXISTS:
    case ERROR_ALREADY_EXISTS:
      kind = "exists";
      break;
    case ERROR_FILE_NOT_FOUND:
    case ERROR_PATH_NOT_FOUND:
      kind = "not_found";
      break;
    case ERROR_CANT_ACCESS_FILE:
    case ERROR_CANT_RESOLVE_FILENAME:
      kind = "insecure";
      break;
    default:
      break;
  }
  return make_error(std::move(kind), what + ": " + error_text(code));
}

OwnerOnlySd::OwnerOnlySd() {
  if (!::ConvertStringSecurityDescriptorToSecurityDescriptorW(kOwnerOnlySddl, SDDL_REVISION_1, &sd_,
                                                              nullptr)) {
    sd_ = nullptr;
  }
}

OwnerOnlySd::~OwnerOnlySd() {
  if (sd_ != nullptr) ::LocalFree(sd_);
}

PACL OwnerOnlySd::dacl() const {
  BOOL present = FALSE, defaulted = FALSE;
  PACL acl = nullptr;
  if (sd_ == nullptr || !::GetSecurityDescriptorDacl(sd_, &present, &acl, &defaulted) || !present) {
    return nullptr;
  }
  return acl;
}

}  // namespace rollout::platform::win
