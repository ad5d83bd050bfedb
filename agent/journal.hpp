// The agent's persisted update state: one small JSON document, replaced atomically (temporary
// file, fsync, rename, fsync dir) before every transition takes effect, so a crash at any moment
// leaves the previous or the next state on disk. A backup copy (<path>.bak) is written first;
// a journal that does not parse strictly (corrupted disk, manual edit, truncation) falls back to
// the backup and, if that is bad too, to a safe idle state that keeps running whatever the
// install pointer names — never a crash.
//
// security_floor and directive_sequence never decrease: JournalStore::save refuses a journal that
// would lower either below what it last loaded or saved, and keeps both in a third small file
// (<path>.marks, written before the journal whenever either rises), so that even a journal whose
// two copies are both corrupted comes back with its floor and sequence.
//
// Journal is a value type. JournalStore is used by one thread at a time.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/error.hpp"
#include "platform/fs.hpp"

namespace rollout::agent {

enum class UpdateState {
  idle,
  downloading,
  verifying,
  staged,
  switching,
  probation,
  committed,
  failed,
  reverted
};

std::string_view to_string(UpdateState s);
Expected<UpdateState> parse_update_state(std::string_view text);
// idle, committed, failed and reverted: nothing is in progress.
bool is_at_rest(UpdateState s);

// Why an update failed or was reverted, as persisted (Error has no equality; this does).
struct JournalError {
  std::string code;
  std::string message;
  friend bool operator==(const JournalError&, const JournalError&) = default;
};

struct Journal {
  UpdateState state = UpdateState::idle;
  // The update in progress or last finished (empty in idle before any update).
  std::string target_version;
  std::string target_sha256;  // lowercase hex
  std::uint64_t target_size = 0;
  std::uint64_t target_security_version = 0;
  std::string from_version;              // what ran before the switch (empty: unknown)
  std::uint64_t directive_sequence = 0;  // the last accepted directive's
  // SHA-256 (lowercase hex) of that directive's signed payload: its identity, so a re-send of
  // the same sequence can be told from a different directive under it. Empty in journals
  // written before it existed.
  std::string directive_digest;
  std::uint64_t security_floor = 0;
  std::vector<std::string> bad_versions;
  std::optional<std::string> probation_started_at;  // RFC 3339, for people: timing uses the next
  // How long probation has run, on the monotonic clock, while this agent was running: a wall-clock
  // step cannot shorten it and a restart resumes it (persisted every few seconds and at a stop).
  std::uint64_t probation_elapsed_ms = 0;
  std::uint32_t crash_count = 0;
  std::optional<JournalError> error;
  // The outcome of a finished update (committed, failed, reverted) is in the report queue. Set in
  // its own journal write after the queue write, so a crash between the two re-queues the same
  // report (same id) and the server counts it once.
  bool outcome_reported = false;

  bool is_bad(std::string_view version) const;
  friend bool operator==(const Journal&, const Journal&) = default;
};

std::string serialize(const Journal& j);
// Strict: unknown keys, wrong types, invalid versions or hashes and states missing their target
// are all errors ("invalid_journal").
Expected<Journal> parse_journal(std::string_view text);

// A version string that may become a path component: valid SemVer in canonical form, no path
// separators. Error "invalid_version".
Status validate_version_for_path(std::string_view version);

class JournalStore {
 public:
  JournalStore(platform::FileSystem& fs, std::string path) : fs_(fs), path_(std::move(path)) {}

  struct Loaded {
    Journal journal;
    bool existed = false;             // false: first start, a fresh idle journal
    std::optional<Error> corruption;  // set when the primary (and maybe the backup) was bad
    bool from_backup = false;
  };
  // Never fails on bad content; fails only when the files cannot be read at all (I/O error).
  Expected<Loaded> load();
  // Writes the backup, then the primary. Error "invariant_violation" if the floor or the
  // directive sequence would decrease (nothing is written then).
  Status save(const Journal& j);
  const std::string& path() const { return path_; }

 private:
  std::optional<std::pair<std::uint64_t, std::uint64_t>> load_high_water_marks();

  platform::FileSystem& fs_;
  std::string path_;
  std::uint64_t floor_seen_ = 0;
  std::uint64_t sequence_seen_ = 0;
};

}  // namespace rollout::agent
