// File-system effects the agent depends on for durability and safety, behind one small virtual
// interface so tests can inject disk-full, fsync failures or a failing rename at step N (the
// leveldb Env/EnvWrapper pattern). FileSystem holds the primitives; the composed operations
// (atomic_write_file, atomic_switch_symlink) are free functions built only from primitives, so an
// injected fault in a primitive exercises their clean-up paths too.
//
// Error codes: "disk_full" (no space / quota / file too large), "exists", "not_found",
// "insecure" (a path that could be redirected or written by someone else), "io_error" (the rest).
// Messages name the path and the OS reason.
//
// Ownership: File owns its handle and closes it on destruction. real_file_system() is a
// process-wide stateless object; every FileSystem method may be called from any thread unless an
// implementation says otherwise (FaultInjectingFileSystem is thread-safe, see fault_fs.hpp).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "common/error.hpp"

namespace rollout::platform {

// An owned OS file handle (a descriptor on POSIX, a HANDLE on Windows). Move-only.
class File {
 public:
  File() = default;
  File(std::intptr_t handle, std::string path) : handle_(handle), path_(std::move(path)) {}
  ~File();
  File(File&& other) noexcept;
  File& operator=(File&& other) noexcept;
  File(const File&) = delete;
  File& operator=(const File&) = delete;

  bool is_open() const { return handle_ != kInvalid; }
  std::intptr_t native() const { return handle_; }
  const std::string& path() const { return path_; }
  // Gives up ownership without closing.
  std::intptr_t release();

  static constexpr std::intptr_t kInvalid = -1;

 private:
  std::intptr_t handle_ = kInvalid;
  std::string path_;
};

enum class FileType { regular, directory, symlink, other };

struct FileInfo {
  FileType type = FileType::other;
  std::uint64_t size = 0;
  unsigned mode = 0;  // permission bits (POSIX meaning; approximated on Windows)
};

class FileSystem {
 public:
  virtual ~FileSystem() = default;

  // Creates a new file for writing; fails with "exists" if anything (file, dir, symlink) is
  // already at `path` — a pre-placed symlink is never followed.
  virtual Expected<File> create_new(const std::string& path, unsigned mode) = 0;
  // Opens an existing regular file for reading without following a final symlink.
  virtual Expected<File> open_read(const std::string& path) = 0;
  // Opens an existing regular file for appending (resumable downloads), not following symlinks.
  virtual Expected<File> open_append(const std::string& path) = 0;
  // Writes all bytes (retrying short writes).
  virtual Status write(File& file, std::string_view bytes) = 0;
  // Reads up to `max` bytes; an empty result means end of file.
  virtual Expected<std::string> read(File& file, std::size_t max) = 0;
  // Flushes file data and metadata to stable storage.
  virtual Status sync(File& file) = 0;
  // Closes and reports a deferred write error; the File is closed afterwards either way.
  virtual Status close(File& file) = 0;
  virtual Status set_mode(File& file, unsigned mode) = 0;

  // Atomically replaces `to` with `from` (same directory/file system).
  virtual Status rename(const std::string& from, const std::string& to) = 0;
  // Removes a file or symlink (not a directory); a missing path is success.
  virtual Status remove(const std::string& path) = 0;
  // Removes a directory tree without following symlinks; a missing path is success.
  virtual Status remove_tree(const std::string& path) = 0;
  virtual Status make_dir(const std::string& path, unsigned mode) = 0;
  // Creates `path` (mode 0700) or accepts an existing one only if it is a real directory (not a
  // symlink), owned by this user and not writable by group or others; otherwise "insecure".
  virtual Status make_secure_dir(const std::string& path) = 0;
  virtual Status fsync_dir(const std::string& path) = 0;
  virtual Status symlink(const std::string& target, const std::string& link_path) = 0;
  virtual Expected<std::string> read_symlink(const std::string& path) = 0;
  // lstat: describes a symlink itself, not what it points to. "not_found" when absent.
  virtual Expected<FileInfo> stat_no_follow(const std::string& path) = 0;
  virtual Expected<std::vector<std::string>> list_dir(const std::string& path) = 0;
  // Bytes available to this (unprivileged) user on the file system holding `path`.
  virtual Expected<std::uint64_t> free_space(const std::string& path) = 0;
};

// The OS implementation.
FileSystem& real_file_system();

// Forwards every call to `target`; subclass and override the calls to intercept.
class FileSystemWrapper : public FileSystem {
 public:
  explicit FileSystemWrapper(FileSystem& target) : target_(target) {}
  FileSystem& target() { return target_; }

  Expected<File> create_new(const std::string& p, unsigned m) override {
    return target_.create_new(p, m);
  }
  Expected<File> open_read(const std::string& p) override { return target_.open_read(p); }
  Expected<File> open_append(const std::string& p) override { return target_.open_append(p); }
  Status write(File& f, std::string_view b) override { return target_.write(f, b); }
  Expected<std::string> read(File& f, std::size_t max) override { return target_.read(f, max); }
  Status sync(File& f) override { return target_.sync(f); }
  Status close(File& f) override { return target_.close(f); }
  Status set_mode(File& f, unsigned m) override { return target_.set_mode(f, m); }
  Status rename(const std::string& a, const std::string& b) override {
    return target_.rename(a, b);
  }
  Status remove(const std::string& p) override { return target_.remove(p); }
  Status remove_tree(const std::string& p) override { return target_.remove_tree(p); }
  Status make_dir(const std::string& p, unsigned m) override { return target_.make_dir(p, m); }
  Status make_secure_dir(const std::string& p) override { return target_.make_secure_dir(p); }
  Status fsync_dir(const std::string& p) override { return target_.fsync_dir(p); }
  Status symlink(const std::string& t, const std::string& l) override {
    return target_.symlink(t, l);
  }
  Expected<std::string> read_symlink(const std::string& p) override {
    return target_.read_symlink(p);
  }
  Expected<FileInfo> stat_no_follow(const std::string& p) override {
    return target_.stat_no_follow(p);
  }
  Expected<std::vector<std::string>> list_dir(const std::string& p) override {
    return target_.list_dir(p);
  }
  Expected<std::uint64_t> free_space(const std::string& p) override {
    return target_.free_space(p);
  }

 private:
  FileSystem& target_;
};

// Path strings for both OSes, pure string handling: '/' and '\\' both separate (a Windows
// path may mix them, and Win32 accepts '/'); a drive ("C:") or a root is kept.
// The directory part of a path ("." when there is none): "a/b" -> "a", "/a" -> "/",
// "C:\\x\\y" -> "C:\\x", "C:\\x" -> "C:\\".
std::string parent_dir(const std::string& path);
// `dir` and `name` joined by '/' (no doubled separator); `name` alone when `dir` is empty.
std::string join_path(const std::string& dir, const std::string& name);
// Whether `c` separates path components on either OS.
constexpr bool is_path_separator(char c) {
  return c == '/' || c == '\\';
}

// Replaces `path` with `bytes` so that a crash leaves either the old or the new content: writes a
// temporary file beside it (exclusive, no symlink following), fsyncs it, renames it over `path`
// and fsyncs the directory. On failure the temporary file is removed and `path` is untouched.
Status atomic_write_file(FileSystem& fs, const std::string& path, std::string_view bytes,
                         unsigned mode);

// Points `link_path` at `target` atomically: a temporary symlink renamed over the old one, then
// the directory fsynced. A crash leaves the old or the new target, never no link.
Status atomic_switch_symlink(FileSystem& fs, const std::string& link_path,
                             const std::string& target);

// Reads a whole regular file (no symlink following) up to `cap` bytes; "too_large" above it.
Expected<std::string> read_whole_file(FileSystem& fs, const std::string& path, std::size_t cap);

}  // namespace rollout::platform
