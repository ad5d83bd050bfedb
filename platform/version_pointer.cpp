// Both version-pointer implementations (see version_pointer.hpp). Portable: no OS headers here.
#include "platform/version_pointer.hpp"

namespace rollout::platform {

namespace {

class SymlinkPointer final : public VersionPointer {
 public:
  explicit SymlinkPointer(FileSystem& fs) : fs_(fs) {}

  Expected<std::string> read(const std::string& path) override {
    auto info = fs_.stat_no_follow(path);
    if (!info) return info.error();
    if (info->type != FileType::symlink) {
      return make_error("invalid_pointer", path + " is not a symlink");
    }
    return fs_.read_symlink(path);
  }
  Status write(const std::string& path, const std::string& target) override {
    return atomic_switch_symlink(fs_, path, target);
  }
  Status remove(const std::string& path) override { return fs_.remove(path); }

 private:
  FileSystem& fs_;
};

class PointerFile final : public VersionPointer {
 public:
  explicit PointerFile(FileSystem& fs) : fs_(fs) {}

  Expected<std::string> read(const std::string& path) override {
    auto info = fs_.stat_no_follow(path);
    if (!info) return info.error();
    if (info->type != FileType::regular) {
      return make_error("invalid_pointer", path + " is not a regular file");
    }
    auto text = read_whole_file(fs_, path, kPointerFileMaxBytes);
    if (!text) {
      if (text.error().code == "too_large") {
        return make_error("invalid_pointer", path + " is larger than a version pointer");
      }
      return text.error();
    }
    std::string target = std::move(*text);
    if (!target.empty() && target.back() == '\n') target.pop_back();
    if (!target.empty() && target.back() == '\r') target.pop_back();  // edited by hand
    if (target.empty() ||
        target.find_first_of(std::string_view("\r\n\0", 3)) != std::string::npos) {
      return make_error("invalid_pointer", path + " does not hold one relative path");
    }
    return target;
  }
  Status write(const std::string& path, const std::string& target) override {
    if (target.empty() || target.size() >= kPointerFileMaxBytes ||
        target.find_first_of(std::string_view("\r\n\0", 3)) != std::string::npos) {
      return make_error("invalid_pointer", "cannot point " + path + " at '" + target + "'");
    }
    return atomic_write_file(fs_, path, target + "\n", 0644);
  }
  Status remove(const std::string& path) override { return fs_.remove(path); }

 private:
  FileSystem& fs_;
};

}  // namespace

std::string_view to_string(PointerKind kind) {
  return kind == PointerKind::symlink ? "symlink" : "file";
}

Expected<PointerKind> parse_pointer_kind(std::string_view text) {
  if (text == "symlink") return PointerKind::symlink;
  if (text == "file") return PointerKind::pointer_file;
  return make_error(
      "invalid_pointer_kind",
      "version pointer kind must be 'symlink' or 'file', not '" + std::string(text) + "'");
}

std::unique_ptr<VersionPointer> make_version_pointer(PointerKind kind, FileSystem& fs) {
  if (kind == PointerKind::symlink) return std::make_unique<SymlinkPointer>(fs);
  return std::make_unique<PointerFile>(fs);
}

}  // namespace rollout::platform
