// Outcome reports waiting for the server: one file per report (<id>.json) in an owner-only
// directory, written atomically before anything depends on it and removed only after the server
// acknowledged the id. A crash at any moment keeps every unacknowledged report; re-queuing the
// same id is a no-op, and the server counts an id once, so nothing is lost or counted twice.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "common/error.hpp"
#include "common/protocol.hpp"
#include "platform/fs.hpp"

namespace rollout::agent {

class ReportQueue {
 public:
  static constexpr std::size_t kMaxReports = 1000;

  ReportQueue(platform::FileSystem& fs, std::string dir) : fs_(fs), dir_(std::move(dir)) {}

  // Writes the report durably unless one with the same id is already queued.
  Status enqueue(const protocol::Report& report);
  // Up to `max` queued reports, oldest first. Files that do not parse are moved aside
  // (<id>.json.bad) with a log line instead of blocking the queue forever.
  Expected<std::vector<protocol::Report>> pending(std::size_t max = 50);
  // Removes acknowledged reports.
  Status acknowledge(const std::vector<std::string>& ids);
  // The server's answer to sending `sent`: when it is a 422 report_refusal (protocol.hpp), the
  // reports it names that were in `sent` will never count, so they leave the queue (kept aside
  // as <id>.json.refused, with a log line) and the rest are sent again. Returns how many left;
  // 0 for any other answer, which the caller retries with backoff as before.
  std::size_t set_aside_refused(long status, std::string_view body,
                                const std::vector<protocol::Report>& sent);
  std::size_t size();

 private:
  std::string file_for(const std::string& id) const { return dir_ + "/" + id + ".json"; }

  platform::FileSystem& fs_;
  std::string dir_;
};

// A report id that is the same every time for the same update outcome (agent, target version,
// directive sequence, outcome): a UUID-shaped digest, so re-queuing after a crash dedups.
std::string outcome_report_id(const std::string& agent_id, const std::string& version,
                              std::uint64_t sequence, const std::string& outcome);

}  // namespace rollout::agent
