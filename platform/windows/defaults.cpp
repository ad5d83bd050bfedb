// Windows defaults (see defaults.hpp): the known folders an MSI installs into (ProgramData for
// state, Program Files for programs, as installers/windows/rollout-agent.wxs lays them out) and
// pointer files, since a symlink needs SeCreateSymbolicLinkPrivilege.
#include <windows.h>
// <shlobj.h> needs <windows.h> first.
#include <shlobj.h>

#include "platform/defaults.hpp"
#include "platform/version_pointer.hpp"
#include "platform/windows/win.hpp"

namespace rollout::platform {

namespace {

std::string known_folder(REFKNOWNFOLDERID id, const char* fallback) {
  PWSTR path = nullptr;
  std::string out = fallback;
  if (SUCCEEDED(::SHGetKnownFolderPath(id, 0, nullptr, &path)) && path != nullptr) {
    out = win::narrow(path);
  }
  ::CoTaskMemFree(path);
  return out;
}

}  // namespace

std::string default_state_dir() {
  return known_folder(FOLDERID_ProgramData, "C:\\ProgramData") + "\\RolloutAgent";
}

std::string default_install_root() {
  return known_folder(FOLDERID_ProgramFiles, "C:\\Program Files") + "\\RolloutAgent\\managed";
}

PointerKind default_pointer_kind() {
  return PointerKind::pointer_file;
}

}  // namespace rollout::platform
