// POSIX implementation of platform::FileSystem. Every descriptor is O_CLOEXEC so supervised
// children never inherit one; paths are opened with O_NOFOLLOW where a symlink would redirect us.
#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>

#include "platform/fs.hpp"

namespace rollout::platform {

namespace {

Error errno_error(int err, const std::string& what) {
  std::string code = "io_error";
  if (err == ENOSPC || err == EDQUOT || err == EFBIG) code = "disk_full";
  if (err == EEXIST) code = "exists";
  if (err == ENOENT) code = "not_found";
  if (err == ELOOP) code = "insecure";
  std::string msg = what + ": " + std::strerror(err);
  if (err == ELOOP) msg += " (refusing to follow a symlink)";
  return make_error(std::move(code), std::move(msg));
}

int fd_of(const File& f) {
  return static_cast<int>(f.native());
}

Status remove_tree_at(int dir_fd, const std::string& name, const std::string& shown) {
  if (::unlinkat(dir_fd, name.c_str(), 0) == 0) return {};
  if (errno == ENOENT) return {};
  if (errno != EISDIR && errno != EPERM) return errno_error(errno, "cannot remove " + shown);
  const int sub = ::openat(dir_fd, name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (sub < 0) return errno_error(errno, "cannot open " + shown);
  DIR* d = ::fdopendir(sub);
  if (d == nullptr) {
    const int err = errno;
    ::close(sub);
    return errno_error(err, "cannot list " + shown);
  }
  Status result;
  while (dirent* e = ::readdir(d)) {
    const std::string child = e->d_name;
    if (child == "." || child == "..") continue;
    if (auto st = remove_tree_at(::dirfd(d), child, shown + "/" + child); !st) {
      result = st;
      break;
    }
  }
  ::closedir(d);
  if (!result) return result;
  if (::unlinkat(dir_fd, name.c_str(), AT_REMOVEDIR) != 0 && errno != ENOENT) {
    return errno_error(errno, "cannot remove " + shown);
  }
  return {};
}

class PosixFileSystem final : public FileSystem {
 public:
  Expected<File> create_new(const std::string& path, unsigned mode) override {
    const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
                          static_cast<mode_t>(mode));
    if (fd < 0) return errno_error(errno, "cannot create " + path);
    return File(fd, path);
  }

  Expected<File> open_read(const std::string& path) override {
    const int fd = ::open(path.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0) return errno_error(errno, "cannot open " + path);
    return File(fd, path);
  }

  Expected<File> open_append(const std::string& path) override {
    const int fd = ::open(path.c_str(), O_WRONLY | O_APPEND | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0) return errno_error(errno, "cannot open " + path);
    struct stat st {};
    if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
      ::close(fd);
      return make_error("insecure", path + " is not a regular file");
    }
    return File(fd, path);
  }

  Status write(File& file, std::string_view bytes) override {
    std::size_t done = 0;
    while (done < bytes.size()) {
      const ssize_t n = ::write(fd_of(file), bytes.data() + done, bytes.size() - done);
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) return errno_error(errno, "cannot write " + file.path());
      if (n == 0) return errno_error(ENOSPC, "cannot write " + file.path());
      done += static_cast<std::size_t>(n);
    }
    return {};
  }

  Expected<std::string> read(File& file, std::size_t max) override {
    std::string buf(max, '\0');
    for (;;) {
      const ssize_t n = ::read(fd_of(file), buf.data(), max);
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) return errno_error(errno, "cannot read " + file.path());
      buf.resize(static_cast<std::size_t>(n));
      return buf;
    }
  }

  Status sync(File& file) override {
    if (::fsync(fd_of(file)) != 0) return errno_error(errno, "cannot fsync " + file.path());
    return {};
  }

  Status close(File& file) override {
    if (!file.is_open()) return {};
    const int fd = static_cast<int>(file.release());
    // Linux always releases the descriptor, even when close reports an error: never retry.
    if (::close(fd) != 0 && errno != EINTR) {
      return errno_error(errno, "cannot close " + file.path());
    }
    return {};
  }

  Status set_mode(File& file, unsigned mode) override {
    if (::fchmod(fd_of(file), static_cast<mode_t>(mode)) != 0) {
      return errno_error(errno, "cannot chmod " + file.path());
    }
    return {};
  }

  Status rename(const std::string& from, const std::string& to) override {
    if (::rename(from.c_str(), to.c_str()) != 0) {
      return errno_error(errno, "cannot rename " + from + " to " + to);
    }
    return {};
  }

  Status remove(const std::string& path) override {
    if (::unlink(path.c_str()) != 0 && errno != ENOENT) {
      return errno_error(errno, "cannot remove " + path);
    }
    return {};
  }

  Status remove_tree(const std::string& path) override {
    return remove_tree_at(AT_FDCWD, path, path);
  }

  Status make_dir(const std::string& path, unsigned mode) override {
    if (::mkdir(path.c_str(), static_cast<mode_t>(mode)) != 0) {
      return errno_error(errno, "cannot create directory " + path);
    }
    return {};
  }

  Status make_secure_dir(const std::string& path) override {
    if (::mkdir(path.c_str(), 0700) != 0 && errno != EEXIST) {
      return errno_error(errno, "cannot create directory " + path);
    }
    // Inspect what is actually there through a descriptor that cannot be a symlink, so a swap
    // between the check and later use cannot redirect us to a directory someone else controls.
    const int fd = ::open(path.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0) {
      const int err = errno;
      if (err == ELOOP || err == ENOTDIR) {
        return make_error("insecure", path + " is a symlink or not a directory; refusing it");
      }
      return errno_error(err, "cannot open directory " + path);
    }
    struct stat st {};
    const int rc = ::fstat(fd, &st);
    const int err = errno;
    ::close(fd);
    if (rc != 0) return errno_error(err, "cannot inspect " + path);
    if (st.st_uid != ::geteuid()) {
      return make_error("insecure", path + " is owned by uid " + std::to_string(st.st_uid) +
                                        ", not by this user; refusing it");
    }
    if ((st.st_mode & (S_IWGRP | S_IWOTH)) != 0) {
      char mode[8];
      std::snprintf(mode, sizeof mode, "%04o", static_cast<unsigned>(st.st_mode & 07777));
      return make_error("insecure", path + " is writable by group or others (mode " + mode +
                                        "); fix with chmod 700");
    }
    return {};
  }

  Status fsync_dir(const std::string& path) override {
    const int fd = ::open(path.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) return errno_error(errno, "cannot open directory " + path);
    const int rc = ::fsync(fd);
    const int err = errno;
    ::close(fd);
    if (rc != 0) return errno_error(err, "cannot fsync directory " + path);
    return {};
  }

  Status symlink(const std::string& target, const std::string& link_path) override {
    if (::symlink(target.c_str(), link_path.c_str()) != 0) {
      return errno_error(errno, "cannot create symlink " + link_path);
    }
    return {};
  }

  Expected<std::string> read_symlink(const std::string& path) override {
    std::string buf(4096, '\0');
    const ssize_t n = ::readlink(path.c_str(), buf.data(), buf.size());
    if (n < 0) return errno_error(errno, "cannot read symlink " + path);
    if (static_cast<std::size_t>(n) >= buf.size()) {
      return make_error("io_error", "symlink " + path + " is too long");
    }
    buf.resize(static_cast<std::size_t>(n));
    return buf;
  }

  Expected<FileInfo> stat_no_follow(const std::string& path) override {
    struct stat st {};
    if (::lstat(path.c_str(), &st) != 0) return errno_error(errno, "cannot inspect " + path);
    FileInfo info;
    if (S_ISREG(st.st_mode)) info.type = FileType::regular;
    if (S_ISDIR(st.st_mode)) info.type = FileType::directory;
    if (S_ISLNK(st.st_mode)) info.type = FileType::symlink;
    info.size = static_cast<std::uint64_t>(st.st_size);
    info.mode = static_cast<unsigned>(st.st_mode & 07777);
    return info;
  }

  Expected<std::vector<std::string>> list_dir(const std::string& path) override {
    const int fd = ::open(path.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0) return errno_error(errno, "cannot open directory " + path);
    DIR* d = ::fdopendir(fd);
    if (d == nullptr) {
      const int err = errno;
      ::close(fd);
      return errno_error(err, "cannot list " + path);
    }
    std::vector<std::string> names;
    while (dirent* e = ::readdir(d)) {
      const std::string name = e->d_name;
      if (name != "." && name != "..") names.push_back(name);
    }
    ::closedir(d);
    return names;
  }

  Expected<std::uint64_t> free_space(const std::string& path) override {
    struct statvfs vfs {};
    if (::statvfs(path.c_str(), &vfs) != 0) {
      return errno_error(errno, "cannot query free space of " + path);
    }
    return static_cast<std::uint64_t>(vfs.f_bavail) * static_cast<std::uint64_t>(vfs.f_frsize);
  }
};

}  // namespace

File::~File() {
  if (is_open()) ::close(static_cast<int>(handle_));
}

File::File(File&& other) noexcept : handle_(other.handle_), path_(std::move(other.path_)) {
  other.handle_ = kInvalid;
}

File& File::operator=(File&& other) noexcept {
  if (this != &other) {
    if (is_open()) ::close(static_cast<int>(handle_));
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
  static PosixFileSystem fs;
  return fs;
}

}  // namespace rollout::platform
