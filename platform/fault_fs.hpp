// A FileSystem for tests that fails chosen operations on purpose: "the 3rd write fails with
// disk_full after writing half its bytes", "the next rename fails with io_error". Everything else
// is forwarded to the wrapped FileSystem (usually real_file_system() on a temporary directory),
// so code under test sees real files plus exactly the faults a test asks for — the pattern of
// leveldb's SpecialEnv and Beast's fail_count.
//
// Thread-safe: counters and the fault plan are guarded by a mutex. The wrapped FileSystem must
// outlive this object.
#pragma once

#include <array>
#include <mutex>
#include <optional>
#include <string>

#include "platform/fs.hpp"

namespace rollout::platform {

enum class FsOp {
  create_new,
  open,
  write,
  read,
  sync,
  close,
  set_mode,
  rename,
  remove,
  remove_tree,
  make_dir,
  fsync_dir,
  symlink,
  kCount
};

class FaultInjectingFileSystem : public FileSystemWrapper {
 public:
  explicit FaultInjectingFileSystem(FileSystem& target) : FileSystemWrapper(target) {}

  // The nth call of `op` from now on (1-based) fails with error `code`; with `sticky` every call
  // after it fails too (a disk that stays full). A failing write first writes half of its bytes,
  // as a real disk filling up mid-write does.
  void fail_nth(FsOp op, int n, std::string code = "disk_full", bool sticky = false);
  void clear();
  // Calls of `op` seen so far (failed ones included).
  int count(FsOp op) const;

  Expected<File> create_new(const std::string& p, unsigned m) override;
  Expected<File> open_read(const std::string& p) override;
  Expected<File> open_append(const std::string& p) override;
  Status write(File& f, std::string_view b) override;
  Expected<std::string> read(File& f, std::size_t max) override;
  Status sync(File& f) override;
  Status close(File& f) override;
  Status set_mode(File& f, unsigned m) override;
  Status rename(const std::string& a, const std::string& b) override;
  Status remove(const std::string& p) override;
  Status remove_tree(const std::string& p) override;
  Status make_dir(const std::string& p, unsigned m) override;
  Status fsync_dir(const std::string& p) override;
  Status symlink(const std::string& t, const std::string& l) override;

 private:
  struct Plan {
    int fail_at = 0;  // 0: no fault planned
    bool sticky = false;
    std::string code;
  };
  // Counts the call and returns the error to inject, if any.
  std::optional<Error> check(FsOp op, const std::string& what);

  mutable std::mutex mu_;
  std::array<int, static_cast<std::size_t>(FsOp::kCount)> counts_{};  // guarded by mu_
  std::array<Plan, static_cast<std::size_t>(FsOp::kCount)> plans_{};  // guarded by mu_
};

}  // namespace rollout::platform
