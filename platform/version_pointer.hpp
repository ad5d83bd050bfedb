// The install root's version pointers (`current`, `previous`): which version directory is the
// one to run and which one to return to, switched atomically. The installer and the journal's
// recovery talk only to this interface, never to symlinks or files directly.
//
// Two implementations, both composed from FileSystem primitives (so an injected fault in a
// primitive reaches their clean-up paths, and the crash-point suite runs against either):
//   symlink       a relative symlink replaced by renaming a temporary link over it (Linux's
//                 default: `ls -l` shows what runs);
//   pointer_file  a small file holding the target, replaced by atomic_write_file (temporary
//                 file, flush, rename, directory flush); on Windows the rename is
//                 MoveFileExW(MOVEFILE_REPLACE_EXISTING | MOVEFILE_WRITE_THROUGH). Windows'
//                 default (symlinks need a privilege there); portable, so it is tested on Linux.
// A crash leaves the old or the new target, never none.
//
// A pointer holds a relative path ("versions/1.2.0"); what it names is for the caller to check.
// A VersionPointer keeps a reference to its FileSystem and no other state; it is used by one
// thread at a time.
#pragma once

#include <memory>
#include <string>
#include <string_view>

#include "common/error.hpp"
#include "platform/fs.hpp"

namespace rollout::platform {

enum class PointerKind { symlink, pointer_file };

std::string_view to_string(PointerKind kind);
// "symlink" or "file"; error "invalid_pointer_kind" otherwise.
Expected<PointerKind> parse_pointer_kind(std::string_view text);
// What this OS uses when the configuration does not say (platform/<os>/defaults.cpp).
PointerKind default_pointer_kind();

class VersionPointer {
 public:
  virtual ~VersionPointer() = default;
  // The target `path` names. "not_found" when there is no pointer; "invalid_pointer" when what
  // is there is not a pointer of this kind (a directory, an over-long or multi-line file, ...).
  virtual Expected<std::string> read(const std::string& path) = 0;
  // Points `path` at `target` atomically and durably.
  virtual Status write(const std::string& path, const std::string& target) = 0;
  // Removes the pointer; a missing one is success.
  virtual Status remove(const std::string& path) = 0;
};

std::unique_ptr<VersionPointer> make_version_pointer(PointerKind kind, FileSystem& fs);

// A pointer file's size limit: a target is a short relative path.
inline constexpr std::size_t kPointerFileMaxBytes = 1024;

}  // namespace rollout::platform
