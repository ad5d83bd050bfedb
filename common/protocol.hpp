// The agent API bodies (DESIGN.md §3-4) as types: each has to_json() and a strict parse from the
// raw body text (size-capped, unknown fields refused, enumerations, versions, UUIDs and times
// validated). The server and the agent both use these, so the two sides can not drift apart.
// The directive inside a check-in answer is carried as an opaque signed envelope object here;
// common/release.hpp verifies it. Values; thread-compatible.
#pragma once

#include <boost/json/object.hpp>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/error.hpp"

namespace rollout::protocol {

inline constexpr std::size_t kMaxBodyBytes = 256 * 1024;
inline constexpr std::size_t kMaxReportsPerBatch = 100;

bool valid_uuid(std::string_view s);   // canonical lower-case 8-4-4-4-12
std::string new_uuid();                // random (version 4)
bool valid_state(std::string_view s);  // the agent journal's states

// Long-poll check-ins (RFC 7240): the agent asks with `Prefer: wait=N`, the server answers a
// check-in it held (or would have held) with `Preference-Applied: wait=M`. Both headers are read
// with this: the first `wait` preference whose value is a whole number of seconds in
// 1..kMaxWaitSeconds; nullopt when there is none or it is malformed.
inline constexpr std::uint32_t kMaxWaitSeconds = 300;
std::optional<std::uint32_t> parse_wait_preference(std::string_view header);

struct EnrollRequest {
  std::string enrollment_key;
  std::string hostname;
  std::string machine_id;
  std::string os;
  std::string arch;
  std::string current_version;
  std::optional<std::string> client;
  std::optional<std::string> site;
  std::optional<std::string> channel_hint;

  std::string to_json() const;
  static Expected<EnrollRequest> parse(std::string_view body);
};

struct EnrollResponse {
  std::string agent_id;
  std::string token;

  std::string to_json() const;
  static Expected<EnrollResponse> parse(std::string_view body);
};

struct CheckinRequest {
  std::string agent_id;
  std::string current_version;
  std::string os;
  std::string arch;
  std::string state;
  std::uint64_t last_sequence = 0;
  std::uint64_t security_floor = 0;
  std::optional<std::string> pending_version;
  // While downloading: how much of the artifact is on disk, 0..100 (only with state downloading).
  std::optional<std::uint32_t> progress_percent;

  std::string to_json() const;
  static Expected<CheckinRequest> parse(std::string_view body);
};

struct MaintenanceWindow {
  std::string start;  // "HH:MM"
  std::string end;    // "HH:MM"
  std::string timezone = "UTC";
};

struct CheckinResponse {
  std::uint64_t poll_interval_s = 60;
  std::optional<boost::json::object> directive;  // signed envelope, verified by the agent
  std::optional<MaintenanceWindow> maintenance_window;

  std::string to_json() const;
  static Expected<CheckinResponse> parse(std::string_view body);
};

struct Report {
  std::string id;  // UUID: the idempotency key
  std::string agent_id;
  std::string version;
  std::optional<std::string> from_version;
  std::string os;
  std::string arch;
  std::string outcome;  // success | failure | crash
  std::optional<std::string> stage;
  std::optional<std::string> error_code;
  std::optional<std::string> message;
  std::optional<std::int64_t> exit_code;
  std::optional<std::int64_t> signal;
  std::optional<std::string> stderr_tail;
  std::optional<std::uint64_t> directive_sequence;
  std::string occurred_at;  // RFC 3339

  boost::json::object to_object() const;
  static Expected<Report> from_object(const boost::json::object& obj);
};

struct ReportBatch {
  std::vector<Report> reports;

  std::string to_json() const;
  static Expected<ReportBatch> parse(std::string_view body);
};

struct ReportAck {
  std::vector<std::string> acknowledged;

  std::string to_json() const;
  static Expected<ReportAck> parse(std::string_view body);
};

// The server's 422 "report_refused" answer to a batch: nothing of the batch was stored, and these
// reports will never count (another platform's release, one never offered to the agent, one not
// published). The agent drops exactly these and sends the others again.
struct ReportRefusal {
  struct Refused {
    std::string id;      // a UUID of the batch
    std::string reason;  // other_platform | unknown_release | not_offered | a later reason
    std::string message;
  };
  std::string message;
  std::vector<Refused> refused;  // at least one

  std::string to_json() const;
  static Expected<ReportRefusal> parse(std::string_view body);
};

}  // namespace rollout::protocol
