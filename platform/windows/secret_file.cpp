// Secret files on Windows: created (CREATE_NEW, never over an existing file or link) with a
// protected DACL granting access to SYSTEM and Administrators only, in the same call, so the
// bytes are never readable by anyone else, not even briefly. A non-elevated process then cannot
// read them back: the agent runs as the LocalSystem service.
#include <windows.h>

#include "platform/secret_file.hpp"
#include "platform/windows/win.hpp"

namespace rollout::platform {

Status write_new_secret_file(const std::string& path, std::string_view bytes) {
  win::OwnerOnlySd sd;
  if (!sd.ok()) {
    return make_error("io_error", "cannot build the owner-only DACL for " + path + ": " +
                                      win::error_text(::GetLastError()));
  }
  SECURITY_ATTRIBUTES sa{sizeof sa, sd.get(), FALSE};
  const std::wstring wpath = win::wide(path);
  win::Handle h(::CreateFileW(wpath.c_str(), GENERIC_WRITE, 0, &sa, CREATE_NEW,
                              FILE_ATTRIBUTE_NORMAL | FILE_FLAG_OPEN_REPARSE_POINT, nullptr));
  if (!h) {
    const DWORD err = ::GetLastError();
    const bool exists = err == ERROR_FILE_EXISTS || err == ERROR_ALREADY_EXISTS;
    return make_error(exists ? "exists" : "io_error",
                      "cannot create " + path + ": " + win::error_text(err) +
                          (exists ? " (refusing to overwrite an existing key)" : ""));
  }
  auto fail = [&](const char* what) -> Status {
    const DWORD err = ::GetLastError();
    h.reset();
    ::DeleteFileW(wpath.c_str());
    return make_error("io_error",
                      std::string("cannot ") + what + " " + path + ": " + win::error_text(err));
  };
  DWORD n = 0;
  if (!bytes.empty() &&
      (!::WriteFile(h.get(), bytes.data(), static_cast<DWORD>(bytes.size()), &n, nullptr) ||
       n != bytes.size())) {
    return fail("write");
  }
  if (!::FlushFileBuffers(h.get())) return fail("flush");
  h.reset();
  return {};
}

}  // namespace rollout::platform
