// Host facts on Windows: the DNS host name, and the machine identity Windows itself keeps
// (HKLM\SOFTWARE\Microsoft\Cryptography\MachineGuid, written at installation and kept across our
// reinstalls), read from the 64-bit registry view whatever the process's bitness.
#include <windows.h>

#include <cctype>

#include "platform/host.hpp"
#include "platform/windows/win.hpp"

namespace rollout::platform {

std::string host_name() {
  wchar_t buf[256];
  DWORD n = 256;
  if (!::GetComputerNameExW(ComputerNameDnsHostname, buf, &n) || n == 0) return "unknown";
  return win::narrow(std::wstring_view(buf, n));
}

Expected<std::string> machine_id() {
  wchar_t buf[128];
  DWORD bytes = sizeof buf;
  const LSTATUS rc =
      ::RegGetValueW(HKEY_LOCAL_MACHINE, L"SOFTWARE\\Microsoft\\Cryptography", L"MachineGuid",
                     RRF_RT_REG_SZ | RRF_SUBKEY_WOW6464KEY, nullptr, buf, &bytes);
  if (rc != ERROR_SUCCESS) {
    return make_error("not_found", "no MachineGuid in HKLM\\SOFTWARE\\Microsoft\\Cryptography: " +
                                       win::error_text(static_cast<DWORD>(rc)));
  }
  // The same shape as /etc/machine-id: lower-case hex digits only.
  std::string id;
  for (char c : win::narrow(buf)) {
    if (std::isxdigit(static_cast<unsigned char>(c)) != 0) {
      id += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    }
  }
  if (id.size() < 16 || id.size() > 64) {
    return make_error("not_found", "MachineGuid '" + win::narrow(buf) + "' is not a GUID");
  }
  return id;
}

std::string build_os() {
  return "windows";
}

}  // namespace rollout::platform
