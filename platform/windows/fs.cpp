// Win32 implementation of platform::FileSystem. Handles are never inheritable (no
// SECURITY_ATTRIBUTES with bInheritHandle), so supervised children get none of them. Opens use
// FILE_FLAG_OPEN_REPARSE_POINT where following a symlink or junction would redirect us, and share
// FILE_SHARE_DELETE so that an open reader never blocks the atomic replace of the file.
//
// Durability: rename is MoveFileExW(MOVEFILE_REPLACE_EXISTING | MOVEFILE_WRITE_THROUGH), which
// returns only once the rename is on disk; that is what fsync of the directory gives on POSIX, so
// fsync_dir only checks that the directory is there. sync is FlushFileBuffers.
#include <aclapi.h>
#include <windows.h>
#include <winioctl.h>

#include <algorithm>
#include <cstring>

#include "platform/fs.hpp"
#include "platform/windows/win.hpp"

namespace rollout::platform {

namespace {

using win::last_error;
using win::wide;

HANDLE handle_of(const File& f) {
  return reinterpret_cast<HANDLE>(f.native());
}

File make_file(HANDLE h, const std::string& path) {
  return File(reinterpret_cast<std::intptr_t>(h), path);
}

constexpr DWORD kShareAll = FILE_SHARE_READ | FILE_SHARE_WRITE | FILE_SHARE_DELETE;

// Owner-only POSIX modes (no group/other bits) get the SYSTEM+Administrators DACL; other modes
// keep what the directory hands down.
bool owner_only(unsigned mode) {
  return (mode & 077U) == 0;
}

Status apply_owner_only(HANDLE h, const std::string& path) {
  win::OwnerOnlySd sd;
  if (!sd.ok()) return last_error("cannot build the owner-only DACL for " + path);
  const DWORD rc = ::SetSecurityInfo(
      h, SE_FILE_OBJECT, DACL_SECURITY_INFORMATION | PROTECTED_DACL_SECURITY_INFORMATION, nullptr,
      nullptr, sd.dacl(), nullptr);
  if (rc != ERROR_SUCCESS) return win::error(rc, "cannot restrict access to " + path);
  return {};
}

Expected<BY_HANDLE_FILE_INFORMATION> info_of(HANDLE h, const std::string& path) {
  BY_HANDLE_FILE_INFORMATION info{};
  if (!::GetFileInformationByHandle(h, &info)) return last_error("cannot inspect " + path);
  return info;
}

// Opens a path itself (a link, not its target) for inspection.
win::Handle open_no_follow(const std::string& path, DWORD access) {
  return win::Handle(::CreateFileW(wide(path).c_str(), access, kShareAll, nullptr, OPEN_EXISTING,
                                   FILE_FLAG_OPEN_REPARSE_POINT | FILE_FLAG_BACKUP_SEMANTICS,
                                   nullptr));
}

// The reparse buffer layout from the Windows DDK (ntifs.h), which mingw's user-mode headers lack.
struct ReparseData {
  ULONG tag;
  USHORT data_length;
  USHORT reserved;
  USHORT substitute_offset;
  USHORT substitute_length;
  USHORT print_offset;
  USHORT print_length;
};

Status remove_tree_impl(const std::wstring& path, const std::string& shown) {
  const DWORD attrs = ::GetFileAttributesW(path.c_str());
  if (attrs == INVALID_FILE_ATTRIBUTES) {
    const DWORD err = ::GetLastError();
    if (err == ERROR_FILE_NOT_FOUND || err == ERROR_PATH_NOT_FOUND) return {};
    return win::error(err, "cannot inspect " + shown);
  }
  if ((attrs & FILE_ATTRIBUTE_DIRECTORY) != 0 && (attrs & FILE_ATTRIBUTE_REPARSE_POINT) == 0) {
    WIN32_FIND_DATAW fd{};
    HANDLE find = ::FindFirstFileW((path + L"\\*").c_str(), &fd);
    if (find != INVALID_HANDLE_VALUE) {
      Status result;
      do {
        const std::wstring name = fd.cFileName;
        if (name == L"." || name == L"..") continue;
        result = remove_tree_impl(path + L"\\" + name, shown + "/" + win::narrow(name));
      } while (result && ::FindNextFileW(find, &fd));
      ::FindClose(find);
      if (!result) return result;
    }
    if (!::RemoveDirectoryW(path.c_str())) return last_error("cannot remove " + shown);
    return {};
  }
  // A file, or a link (directory links are removed as directories, never followed).
  if ((attrs & FILE_ATTRIBUTE_READONLY) != 0) {
    ::SetFileAttributesW(path.c_str(), attrs & ~static_cast<DWORD>(FILE_ATTRIBUTE_READONLY));
  }
  const BOOL ok = (attrs & FILE_ATTRIBUTE_DIRECTORY) != 0 ? ::RemoveDirectoryW(path.c_str())
                                                          : ::DeleteFileW(path.c_str());
  if (!ok) return last_error("cannot remove " + shown);
  return {};
}

class WindowsFileSystem final : public FileSystem {
 public:
  Expected<File> create_new(const std::string& path, unsigned mode) override {
    // CREATE_NEW fails on anything already there, a symlink included (it is not followed). An
    // owner-only file gets its DACL in the same call, so it is never readable by others.
    win::OwnerOnlySd sd;
    if (owner_only(mode) && !sd.ok()) {
      return last_error("cannot build the owner-only DACL for " + path);
    }
    SECURITY_ATTRIBUTES sa{sizeof sa, sd.get(), FALSE};
    HANDLE h =
        ::CreateFileW(wide(path).c_str(), GENERIC_WRITE | READ_CONTROL | WRITE_DAC,
                      FILE_SHARE_READ | FILE_SHARE_DELETE, owner_only(mode) ? &sa : nullptr,
                      CREATE_NEW, FILE_ATTRIBUTE_NORMAL | FILE_FLAG_OPEN_REPARSE_POINT, nullptr);
    if (h == INVALID_HANDLE_VALUE) return last_error("cannot create " + path);
    return make_file(h, path);
  }

  Expected<File> open_read(const std::string& path) override {
    return open_regular(path, GENERIC_READ, kShareAll);
  }

  Expected<File> open_append(const std::string& path) override {
    auto f = open_regular(path, FILE_APPEND_DATA | SYNCHRONIZE | READ_CONTROL | WRITE_DAC,
                          FILE_SHARE_READ | FILE_SHARE_DELETE);
    if (!f) return f;
    LARGE_INTEGER zero{};
    ::SetFilePointerEx(handle_of(*f), zero, nullptr, FILE_END);
    return f;
  }

  Status write(File& file, std::string_view bytes) override {
    std::size_t done = 0;
    while (done < bytes.size()) {
      const auto chunk = static_cast<DWORD>(std::min<std::size_t>(bytes.size() - done, 1U << 30));
      DWORD n = 0;
      if (!::WriteFile(handle_of(file), bytes.data() + done, chunk, &n, nullptr)) {
        return last_error("cannot write " + file.path());
      }
      if (n == 0) return win::error(ERROR_DISK_FULL, "cannot write " + file.path());
      done += n;
    }
    return {};
  }

  Expected<std::string> read(File& file, std::size_t max) override {
    std::string buf(max, '\0');
    DWORD n = 0;
    const auto want = static_cast<DWORD>(std::min<std::size_t>(max, 1U << 30));
    if (!::ReadFile(handle_of(file), buf.data(), want, &n, nullptr)) {
      const DWORD err = ::GetLastError();
      if (err != ERROR_HANDLE_EOF && err != ERROR_BROKEN_PIPE) {
        return win::error(err, "cannot read " + file.path());
      }
      n = 0;
    }
    buf.resize(n);
    return buf;
  }

  Status sync(File& file) override {
    if (::FlushFileBuffers(handle_of(file))) return {};
    // FlushFileBuffers needs write access, which fsync of a read-only descriptor does not: flush
    // through a second, writable handle to the same file (the installer syncs the staged
    // executable it opened for reading).
    if (::GetLastError() != ERROR_ACCESS_DENIED) return last_error("cannot flush " + file.path());
    win::Handle writable(::ReOpenFile(handle_of(file), GENERIC_WRITE, kShareAll, 0));
    if (!writable || !::FlushFileBuffers(writable.get())) {
      return last_error("cannot flush " + file.path());
    }
    return {};
  }

  Status close(File& file) override {
    if (!file.is_open()) return {};
    HANDLE h = reinterpret_cast<HANDLE>(file.release());
    if (!::CloseHandle(h)) return last_error("cannot close " + file.path());
    return {};
  }

  Status set_mode(File& file, unsigned mode) override {
    // Windows has no mode bits: owner-only modes become the owner-only DACL, others are a no-op.
    // A file that already grants nobody else (create_new gave it the DACL) is left alone.
    if (!owner_only(mode) || check_dacl(handle_of(file), file.path(), kAnyAccess)) return {};
    return apply_owner_only(handle_of(file), file.path());
  }

  Status rename(const std::string& from, const std::string& to) override {
    if (!::MoveFileExW(wide(from).c_str(), wide(to).c_str(),
                       MOVEFILE_REPLACE_EXISTING | MOVEFILE_WRITE_THROUGH)) {
      return last_error("cannot rename " + from + " to " + to);
    }
    return {};
  }

  Status remove(const std::string& path) override {
    const std::wstring w = wide(path);
    const DWORD attrs = ::GetFileAttributesW(w.c_str());
    if (attrs == INVALID_FILE_ATTRIBUTES) {
      const DWORD err = ::GetLastError();
      if (err == ERROR_FILE_NOT_FOUND || err == ERROR_PATH_NOT_FOUND) return {};
      return win::error(err, "cannot remove " + path);
    }
    const bool dir_link =
        (attrs & FILE_ATTRIBUTE_DIRECTORY) != 0 && (attrs & FILE_ATTRIBUTE_REPARSE_POINT) != 0;
    if ((attrs & FILE_ATTRIBUTE_DIRECTORY) != 0 && !dir_link) {
      return make_error("io_error", "cannot remove " + path + ": it is a directory");
    }
    const BOOL ok = dir_link ? ::RemoveDirectoryW(w.c_str()) : ::DeleteFileW(w.c_str());
    if (!ok) {
      const DWORD err = ::GetLastError();
      if (err == ERROR_FILE_NOT_FOUND) return {};
      return win::error(err, "cannot remove " + path);
    }
    return {};
  }

  Status remove_tree(const std::string& path) override {
    return remove_tree_impl(wide(path), path);
  }

  Status make_dir(const std::string& path, unsigned mode) override {
    if (!::CreateDirectoryW(wide(path).c_str(), nullptr)) {
      return last_error("cannot create directory " + path);
    }
    return owner_only(mode) ? restrict_new_dir(path) : Status{};
  }

  Status make_secure_dir(const std::string& path) override {
    if (::CreateDirectoryW(wide(path).c_str(), nullptr)) {
      if (auto st = restrict_new_dir(path); !st) return st;
    } else if (::GetLastError() != ERROR_ALREADY_EXISTS) {
      return last_error("cannot create directory " + path);
    }
    // Inspect what is there through a handle on the path itself, not a link's target.
    win::Handle h = open_no_follow(path, READ_CONTROL | FILE_READ_ATTRIBUTES);
    if (!h) return last_error("cannot open directory " + path);
    auto info = info_of(h.get(), path);
    if (!info) return info.error();
    if ((info->dwFileAttributes & FILE_ATTRIBUTE_REPARSE_POINT) != 0 ||
        (info->dwFileAttributes & FILE_ATTRIBUTE_DIRECTORY) == 0) {
      return make_error("insecure", path + " is a link or not a directory; refusing it");
    }
    return check_dacl(h.get(), path, kWriteAccess);
  }

  Status fsync_dir(const std::string& path) override {
    // MOVEFILE_WRITE_THROUGH made the rename durable already (see the top of this file).
    win::Handle h = open_no_follow(path, FILE_READ_ATTRIBUTES);
    if (!h) return last_error("cannot open directory " + path);
    return {};
  }

  Status symlink(const std::string& target, const std::string& link_path) override {
    std::wstring t = wide(target);
    for (auto& c : t) {
      if (c == L'/') c = L'\\';
    }
    // Unprivileged creation needs Developer Mode; the agent runs as SYSTEM, which may anyway.
    if (!::CreateSymbolicLinkW(wide(link_path).c_str(), t.c_str(),
                               SYMBOLIC_LINK_FLAG_ALLOW_UNPRIVILEGED_CREATE)) {
      return last_error("cannot create symlink " + link_path);
    }
    return {};
  }

  Expected<std::string> read_symlink(const std::string& path) override {
    win::Handle h = open_no_follow(path, FILE_READ_ATTRIBUTES);
    if (!h) return last_error("cannot read symlink " + path);
    alignas(ULONG) char buf[MAXIMUM_REPARSE_DATA_BUFFER_SIZE];
    DWORD n = 0;
    if (!::DeviceIoControl(h.get(), FSCTL_GET_REPARSE_POINT, nullptr, 0, buf, sizeof buf, &n,
                           nullptr)) {
      return last_error("cannot read symlink " + path);
    }
    ReparseData head{};
    std::memcpy(&head, buf, sizeof head);
    if (head.tag != IO_REPARSE_TAG_SYMLINK) {
      return make_error("io_error", path + " is not a symbolic link");
    }
    // After the common header, a symlink has a ULONG of flags, then the path buffer.
    const std::size_t base = sizeof head + sizeof(ULONG);
    const std::size_t off = base + head.substitute_offset;
    if (off + head.substitute_length > n)
      return make_error("io_error", path + ": bad reparse data");
    std::wstring target(head.substitute_length / sizeof(wchar_t), L'\0');
    std::memcpy(target.data(), buf + off, head.substitute_length);
    return win::narrow(target);
  }

  Expected<FileInfo> stat_no_follow(const std::string& path) override {
    WIN32_FILE_ATTRIBUTE_DATA data{};
    if (!::GetFileAttributesExW(wide(path).c_str(), GetFileExInfoStandard, &data)) {
      return last_error("cannot inspect " + path);
    }
    FileInfo info;
    const DWORD a = data.dwFileAttributes;
    if ((a & FILE_ATTRIBUTE_REPARSE_POINT) != 0) {
      info.type = FileType::symlink;
    } else if ((a & FILE_ATTRIBUTE_DIRECTORY) != 0) {
      info.type = FileType::directory;
    } else {
      info.type = FileType::regular;
    }
    info.size = (static_cast<std::uint64_t>(data.nFileSizeHigh) << 32) | data.nFileSizeLow;
    // An approximation of POSIX bits that keeps what callers ask of them ("readable only by its
    // owner", mode & 077 == 0): group and other bits are set unless the DACL grants access to
    // no one but SYSTEM, Administrators and the owner; read-only files have no write bit.
    info.mode = (a & FILE_ATTRIBUTE_READONLY) != 0 ? 0400U : 0600U;
    if (info.type != FileType::symlink) {
      win::Handle h = open_no_follow(path, READ_CONTROL);
      if (!h || !check_dacl(h.get(), path, kAnyAccess)) info.mode |= 0044U;
    } else {
      info.mode |= 0044U;
    }
    if (info.type == FileType::directory) info.mode |= (info.mode & 0444U) >> 2;
    return info;
  }

  Expected<std::vector<std::string>> list_dir(const std::string& path) override {
    WIN32_FIND_DATAW fd{};
    HANDLE find = ::FindFirstFileW((wide(path) + L"\\*").c_str(), &fd);
    if (find == INVALID_HANDLE_VALUE) return last_error("cannot list " + path);
    std::vector<std::string> names;
    do {
      const std::wstring name = fd.cFileName;
      if (name != L"." && name != L"..") names.push_back(win::narrow(name));
    } while (::FindNextFileW(find, &fd));
    const DWORD err = ::GetLastError();
    ::FindClose(find);
    if (err != ERROR_NO_MORE_FILES) return win::error(err, "cannot list " + path);
    return names;
  }

  Expected<std::uint64_t> free_space(const std::string& path) override {
    ULARGE_INTEGER avail{};
    if (!::GetDiskFreeSpaceExW(wide(path).c_str(), &avail, nullptr, nullptr)) {
      return last_error("cannot query free space of " + path);
    }
    return static_cast<std::uint64_t>(avail.QuadPart);
  }

 private:
  static Expected<File> open_regular(const std::string& path, DWORD access, DWORD share) {
    HANDLE h = ::CreateFileW(wide(path).c_str(), access, share, nullptr, OPEN_EXISTING,
                             FILE_ATTRIBUTE_NORMAL | FILE_FLAG_OPEN_REPARSE_POINT, nullptr);
    if (h == INVALID_HANDLE_VALUE) return last_error("cannot open " + path);
    File f = make_file(h, path);
    auto info = info_of(h, path);
    if (!info) return info.error();
    if ((info->dwFileAttributes & (FILE_ATTRIBUTE_REPARSE_POINT | FILE_ATTRIBUTE_DIRECTORY)) != 0) {
      return make_error("insecure", path + " is not a regular file (a link or a directory)");
    }
    return f;
  }

  // The DACL is set on the new, still empty directory rather than passed to CreateDirectoryW:
  // same result on Windows, and wine ignores a directory's creation attributes.
  static Status restrict_new_dir(const std::string& path) {
    win::Handle h = open_no_follow(path, READ_CONTROL | WRITE_DAC);
    Status st = h ? apply_owner_only(h.get(), path) : Status(last_error("cannot open " + path));
    if (!st) ::RemoveDirectoryW(wide(path).c_str());
    return st;
  }

  static constexpr DWORD kWriteAccess = GENERIC_WRITE | GENERIC_ALL | FILE_WRITE_DATA |
                                        FILE_APPEND_DATA | FILE_DELETE_CHILD | DELETE | WRITE_DAC |
                                        WRITE_OWNER;
  static constexpr DWORD kAnyAccess = 0xFFFFFFFF;

  // Only SYSTEM, Administrators, the owner (or CREATOR OWNER) may hold any of `rights`.
  static Status check_dacl(HANDLE h, const std::string& path, DWORD rights) {
    PACL dacl = nullptr;
    PSECURITY_DESCRIPTOR sd = nullptr;
    const DWORD rc = ::GetSecurityInfo(h, SE_FILE_OBJECT, DACL_SECURITY_INFORMATION, nullptr,
                                       nullptr, &dacl, nullptr, &sd);
    if (rc != ERROR_SUCCESS) return win::error(rc, "cannot read the access list of " + path);
    Status result;
    if (dacl == nullptr) {
      result =
          make_error("insecure", path + " has no access list (everyone may write); refusing it");
    }
    for (DWORD i = 0; result && dacl != nullptr && i < dacl->AceCount; ++i) {
      void* ace = nullptr;
      if (!::GetAce(dacl, i, &ace)) continue;
      auto* header = static_cast<ACE_HEADER*>(ace);
      if (header->AceType != ACCESS_ALLOWED_ACE_TYPE) continue;
      if ((header->AceFlags & INHERIT_ONLY_ACE) != 0) continue;
      auto* allowed = static_cast<ACCESS_ALLOWED_ACE*>(ace);
      if ((allowed->Mask & rights) == 0) continue;
      PSID sid = &allowed->SidStart;
      if (!trusted(sid)) {
        result = make_error("insecure", path + " grants access to " + sid_name(sid) +
                                            "; allow only SYSTEM and Administrators");
      }
    }
    ::LocalFree(sd);
    return result;
  }

  static bool trusted(PSID sid) {
    for (auto type : {WinLocalSystemSid, WinBuiltinAdministratorsSid, WinCreatorOwnerSid}) {
      if (::IsWellKnownSid(sid, type)) return true;
    }
    return is_current_user(sid);
  }

  static bool is_current_user(PSID sid) {
    HANDLE token = nullptr;
    if (!::OpenProcessToken(::GetCurrentProcess(), TOKEN_QUERY, &token)) return false;
    alignas(TOKEN_USER) char buf[256];
    DWORD n = 0;
    const bool same = ::GetTokenInformation(token, TokenUser, buf, sizeof buf, &n) &&
                      ::EqualSid(reinterpret_cast<TOKEN_USER*>(buf)->User.Sid, sid);
    ::CloseHandle(token);
    return same;
  }

  static std::string sid_name(PSID sid) {
    wchar_t name[256], domain[256];
    DWORD nn = 256, dn = 256;
    SID_NAME_USE use{};
    if (::LookupAccountSidW(nullptr, sid, name, &nn, domain, &dn, &use)) {
      return win::narrow(domain) + "\\" + win::narrow(name);
    }
    return "another account";
  }
};

}  // namespace

File::~File() {
  if (is_open()) ::CloseHandle(handle_of(*this));
}

File::File(File&& other) noexcept : handle_(other.handle_), path_(std::move(other.path_)) {
  other.handle_ = kInvalid;
}

File& File::operator=(File&& other) noexcept {
  if (this != &other) {
    if (is_open()) ::CloseHandle(handle_of(*this));
    handle_ = other.handle_;
    path_ = std::move(other.path_);
    other.handle_ = kInvalid;
  }
  return *this;
}

std::intptr_t File::release() {
  const auto h = handle_;
  handle_ = kInvalid;
  return h;
}

FileSystem& real_file_system() {
  static WindowsFileSystem fs;
  return fs;
}

}  // namespace rollout::platform
