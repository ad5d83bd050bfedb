// rollout-agent's configuration: YAML (main file, conf.d/*.yaml, --set overrides) into one struct
// with defaults, validated as it is read; a bad value is one line naming the file, line and key.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include "common/error.hpp"
#include "platform/defaults.hpp"
#include "platform/version_pointer.hpp"

namespace rollout::agent {

struct AgentConfig {
  std::string server_url;      // https://host:port (http:// only with allow_plain_http)
  std::string enrollment_key;  // used once, to enroll
  // Identity, journal, report queue, downloads; versions/<v>/, current, previous. Defaults by OS
  // (platform/defaults.hpp): /var/lib/rollout-agent, /opt/rollout-agent on Linux.
  std::string state_dir = platform::default_state_dir();
  std::string install_root = platform::default_install_root();
  // How `current` / `previous` are kept: "symlink" (Linux's default) or "file" (Windows').
  platform::PointerKind version_pointer = platform::default_pointer_kind();
  std::string executable = "agent";         // the managed agent, inside versions/<v>/
  std::vector<std::string> arguments;       // its arguments
  std::vector<std::string> release_keys;    // pinned public keys (PEM paths)
  std::vector<std::string> directive_keys;  // pinned public keys (PEM paths)
  std::string product = "rollout-agent";    // the only product whose manifests it installs
  std::string channel_hint = "stable";      // beta | stable, for enrollment
  std::string client;                       // optional grouping for policies
  std::string site;
  std::string hostname;    // empty: the machine's host name
  std::string machine_id;  // empty: the OS's machine id (several agents on one host: set it)
  std::string os;          // empty: this build's OS (tests may pretend otherwise)
  std::string arch;        // empty: this build's architecture
  std::chrono::milliseconds poll_interval{std::chrono::seconds(60)};  // until the server says
  // How long a check-in asks the server to hold it open when there is nothing for this agent
  // (long-poll, `Prefer: wait=N`; whole seconds, at most 5m); 0: plain polling every interval.
  std::chrono::seconds long_poll_wait{55};
  std::chrono::milliseconds probation{std::chrono::minutes(10)};
  std::uint32_t crash_limit = 2;
  std::uint64_t max_bandwidth = 0;  // bytes/s, 0 = unlimited
  std::string proxy;
  std::string ca_file;  // empty: the system trust store
  std::chrono::milliseconds clock_tolerance{std::chrono::minutes(5)};
  std::chrono::milliseconds low_speed_time{std::chrono::seconds(30)};
  std::uint32_t low_speed_bytes = 1024;
  std::chrono::milliseconds request_timeout{std::chrono::seconds(30)};  // enroll, check-in, reports
  std::chrono::milliseconds max_backoff{std::chrono::minutes(15)};
  bool allow_plain_http = false;  // tests only
  std::string log_level = "info";
  // A rotating log file (common/log_file.hpp) instead of stderr; empty: stderr, except under the
  // Windows SCM, which keeps no stderr: there <state_dir>/logs/rollout-agent.log.
  std::string log_file;
  std::uint64_t log_file_max_size = 10 * 1024 * 1024;  // rotated past this
  std::uint32_t log_file_count = 5;                    // files kept, the current one included
  // Program (and arguments) that runs the managed agent, its path appended: tests of a foreign
  // architecture run it under an emulator (qemu-aarch64 -L ...). Empty: executed directly.
  std::vector<std::string> launcher;
};

// Error code "invalid_config" with one line naming the key.
Expected<AgentConfig> load_agent_config(const std::string& path,
                                        const std::vector<std::string>& overrides = {});

}  // namespace rollout::agent
