// One process at a time per state directory: a second rollout-agent started on the same state
// (by hand beside the service, or a unit started twice) would race the first on the journal, the
// install root and the report queue. The lock is advisory, held on an open file for the life of
// the InstanceLock and released by the OS when the process dies (kill -9 included), so a crash
// never leaves a stale lock behind. Not inherited by child processes.
#pragma once

#include <memory>
#include <string>

#include "common/error.hpp"

namespace rollout::platform {

class InstanceLock {
 public:
  virtual ~InstanceLock() = default;
};

// Takes the lock on `path` (created 0600 if missing) without waiting and writes this process's
// id into it. Error "locked" naming the holder's process id when another process has it.
Expected<std::unique_ptr<InstanceLock>> lock_instance(const std::string& path);

}  // namespace rollout::platform
