// The journaled transitions that touch the install root, and start-up recovery.
//
// Layout of the install root:
//   versions/<version>/<exe>   one directory per version, side by side
//   current  -> versions/<v>   the version to run, switched atomically
//   previous -> versions/<v>   the version before it, kept for a revert
// `current` and `previous` are version pointers (platform/version_pointer.hpp): symlinks on
// Linux, pointer files on Windows; the installer reads and switches them only through that.
//   staging/                   owner-only; verified downloads wait here (same file system)
// A version directory is only ever published complete: it is built as versions/<v>.partial and
// renamed into place, so "versions/<v> exists" means "complete".
//
// Every transition is persisted in the journal before it takes effect, and the journal names the
// intended end state, so recover() can finish or undo whatever a crash interrupted:
//   begin -> downloading -> verifying -> stage -> staged -> switch -> switching -> probation
//   probation -> commit -> committed | probation -> revert -> reverted | before switch -> failed
// Invariant after recover(): `current` names a complete version directory (the old or the new
// version, never neither) and the journal on disk parses.
//
// Policy (which directive to accept, when probation passed) belongs to the controller; this class
// only refuses what would break the invariants. Used by one thread at a time.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include "agent/journal.hpp"
#include "common/error.hpp"
#include "platform/clock.hpp"
#include "platform/fs.hpp"
#include "platform/version_pointer.hpp"

namespace rollout::agent {

struct InstallLayout {
  std::string root;
  std::string executable_name;
  // How `current` and `previous` are kept (platform/version_pointer.hpp).
  platform::PointerKind pointer = platform::default_pointer_kind();

  std::string versions_dir() const { return root + "/versions"; }
  std::string version_dir(const std::string& v) const { return versions_dir() + "/" + v; }
  std::string executable(const std::string& v) const {
    return version_dir(v) + "/" + executable_name;
  }
  std::string current_link() const { return root + "/current"; }
  std::string previous_link() const { return root + "/previous"; }
  std::string staging_dir() const { return root + "/staging"; }
  // What a pointer holds for version v (relative, so the root can move).
  static std::string link_target(const std::string& v) { return "versions/" + v; }
};

// What a verified directive asks to install.
struct UpdateTarget {
  std::string version;
  std::string sha256;
  std::uint64_t size = 0;
  std::uint64_t security_version = 0;
  std::uint64_t directive_sequence = 0;
  std::string directive_digest;  // VerifiedDirective::digest: one sequence, one directive
};

class Installer {
 public:
  Installer(platform::FileSystem& fs, const platform::Clock& clock, InstallLayout layout,
            JournalStore& store)
      : fs_(fs),
        clock_(clock),
        layout_(std::move(layout)),
        store_(store),
        pointer_(platform::make_version_pointer(layout_.pointer, fs)) {}

  // Start-up: loads the journal and brings the install root to a consistent state from whatever
  // a crash left. Idempotent: a second call changes nothing. Error "no_runnable_version" when
  // no complete version can be found at all.
  Status recover();

  const Journal& journal() const { return journal_; }
  // The version `current` points to (validated), or "not_found".
  Expected<std::string> current_version();

  // Accepts a new update (state must be at rest). Refuses an invalid version, the running
  // version, a version marked bad, a security version below the floor, and a directive
  // sequence not above the last accepted one ("replayed_directive") — except the re-send of the
  // very directive whose attempt failed, which may retry it. A different directive under an
  // already used sequence is "sequence_reused": one sequence names one directive.
  Status begin(const UpdateTarget& target);
  Status begin_verifying();
  // Moves a verified file (inside staging_dir(), a regular file of the target's size) into
  // versions/<target>/<exe> with mode 0755. State verifying -> staged.
  Status stage(const std::string& verified_file);
  // Records `current` as the version to return to and points it at the target.
  // State staged -> switching -> probation.
  Status switch_to_target();
  // Persists how long probation has run (monotonic time, see Journal::probation_elapsed_ms).
  Status record_probation_elapsed(std::chrono::milliseconds elapsed);
  // Counts a crash of the managed agent during probation; returns the new count.
  Expected<std::uint32_t> record_crash();
  // Probation failed: point `current` back at the previous version and mark the target bad.
  Status revert(Error reason);
  // Probation passed: raise the floor to the target's security version and delete versions
  // other than current and previous.
  Status commit();
  // Records that the finished update's outcome report is queued (state must be committed,
  // failed or reverted).
  Status mark_outcome_reported();
  // Abandons an update before the switch (download/verify/stage failure) and removes its files.
  Status fail(Error reason);

 private:
  Status save(const Journal& next);
  // Whether `t` comes from the directive the journal last accepted.
  bool same_directive(const UpdateTarget& t) const;
  Status point_current_at(const std::string& version);
  bool version_complete(const std::string& version);
  Status remove_version_dir(const std::string& version);
  Status remove_stale_files();
  Status remove_versions_except(const std::string& keep_a, const std::string& keep_b);
  // Removes what a failed update left: partial and target directories, staging files.
  Status clean_failed();
  // Repoints `current` at the best complete version if it names none.
  Status ensure_runnable();
  std::optional<std::string> pointer_version(const std::string& link);
  std::string now_text() const;

  platform::FileSystem& fs_;
  const platform::Clock& clock_;
  InstallLayout layout_;
  JournalStore& store_;
  std::unique_ptr<platform::VersionPointer> pointer_;
  Journal journal_;
};

}  // namespace rollout::agent
