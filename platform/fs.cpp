// The composed file operations, built only from FileSystem primitives so that injected faults
// reach every step. Portable: no OS headers here.
#include "platform/fs.hpp"

namespace rollout::platform {

std::string parent_dir(const std::string& path) {
  // A drive prefix ("C:") belongs to the root, not to a component.
  const std::size_t root = path.size() >= 2 && path[1] == ':' ? 2 : 0;
  auto slash = path.find_last_of("/\\");
  if (slash == std::string::npos || slash < root) return root ? path.substr(0, root) : ".";
  // Trailing separators of the parent ("a//b") are not a component either.
  std::size_t end = slash;
  while (end > root && is_path_separator(path[end - 1])) --end;
  if (end == root) return path.substr(0, root + 1);  // "/", "C:\\"
  return path.substr(0, end);
}

std::string join_path(const std::string& dir, const std::string& name) {
  if (dir.empty()) return name;
  if (is_path_separator(dir.back())) return dir + name;
  return dir + "/" + name;
}

Status atomic_write_file(FileSystem& fs, const std::string& path, std::string_view bytes,
                         unsigned mode) {
  // A fixed temporary name: a leftover from a crash is simply replaced on the next write, so
  // crashes never accumulate temporary files. The caller is the only writer of `path`.
  const std::string tmp = path + ".tmp";
  if (auto st = fs.remove(tmp); !st) return st;
  auto file = fs.create_new(tmp, mode);
  if (!file) return file.error();
  auto fail = [&](Error e) -> Status {
    if (file->is_open()) (void)fs.close(*file);
    (void)fs.remove(tmp);
    return e.context("cannot write " + path);
  };
  // The umask may have narrowed the creation mode; the caller asked for exactly `mode`.
  if (auto st = fs.set_mode(*file, mode); !st) return fail(st.error());
  if (auto st = fs.write(*file, bytes); !st) return fail(st.error());
  if (auto st = fs.sync(*file); !st) return fail(st.error());
  if (auto st = fs.close(*file); !st) return fail(st.error());
  if (auto st = fs.rename(tmp, path); !st) return fail(st.error());
  // After the rename the new content is visible; a failed directory fsync means it may not be
  // durable yet, which the caller must treat as a failed write (it may retry).
  if (auto st = fs.fsync_dir(parent_dir(path)); !st) {
    return st.error().context("cannot make " + path + " durable");
  }
  return {};
}

Status atomic_switch_symlink(FileSystem& fs, const std::string& link_path,
                             const std::string& target) {
  const std::string tmp = link_path + ".tmp";
  if (auto st = fs.remove(tmp); !st) return st;
  if (auto st = fs.symlink(target, tmp); !st) {
    return st.error().context("cannot switch " + link_path);
  }
  if (auto st = fs.rename(tmp, link_path); !st) {
    (void)fs.remove(tmp);
    return st.error().context("cannot switch " + link_path);
  }
  if (auto st = fs.fsync_dir(parent_dir(link_path)); !st) {
    return st.error().context("cannot make " + link_path + " durable");
  }
  return {};
}

Expected<std::string> read_whole_file(FileSystem& fs, const std::string& path, std::size_t cap) {
  auto file = fs.open_read(path);
  if (!file) return file.error();
  std::string out;
  for (;;) {
    auto chunk = fs.read(*file, 64 * 1024);
    if (!chunk) return chunk.error();
    if (chunk->empty()) break;
    out += *chunk;
    if (out.size() > cap) {
      return make_error("too_large",
                        path + " is larger than " + std::to_string(cap) + " bytes; refusing it");
    }
  }
  return out;
}

}  // namespace rollout::platform
