// rollout-server / plugin configuration: one struct with defaults, loaded through common/config
// (main file < conf.d < --set overrides), every key validated with file and line in errors.
#pragma once

#include <chrono>
#include <string>
#include <vector>

#include "common/error.hpp"
#include "server-plugin/health.hpp"
#include "server-plugin/waves.hpp"

namespace rollout::server {

struct ServerConfig {
  std::string listen_address = "127.0.0.1";
  std::uint16_t listen_port = 8443;
  std::string tls_cert_file;
  std::string tls_key_file;
  std::string database_url = "sqlite:rollout.db";
  std::string data_dir = ".";             // artifacts live in data_dir/artifacts
  std::string directive_key;              // private key file (PEM)
  std::vector<std::string> release_keys;  // public key files (PEM); publish verifies with these
  std::vector<std::string> enrollment_keys;
  std::string admin_password_file;  // creates user "admin" on first start when no user exists
  std::chrono::milliseconds poll_interval{60'000};
  // An agent's last check-in time is written at most this often while nothing else about it
  // changes: most check-ins of a steady fleet are answered without a durable write.
  std::chrono::milliseconds checkin_record_interval{300'000};
  std::chrono::milliseconds directive_lifetime{3'600'000};
  // The outcome rows one agent may add per rolling hour (replays are free): an agent counts once
  // per release anyway, this keeps a leaked token from flooding the attempts table. At least one
  // full report batch (protocol::kMaxReportsPerBatch), so a full batch can always get through.
  std::uint64_t reports_per_agent_per_hour = 200;
  std::chrono::milliseconds stale_stable_after{7 * 86'400'000LL};
  std::chrono::milliseconds session_lifetime{12 * 3'600'000LL};
  std::uint64_t body_limit = 1 << 20;
  std::uint64_t upload_limit = 256ull << 20;
  std::uint32_t password_cost = 15;  // scrypt N = 2^cost
  std::string log_level = "info";
  // The standalone host (rollout-server): threads doing socket I/O, threads running handlers
  // (database calls), and how long a client may take to send its headers (and each body read).
  unsigned io_threads = 2;
  unsigned worker_threads = 4;
  std::chrono::milliseconds read_timeout{30'000};
  // Failed logins per remote address and user name: a burst of `login_attempts`, regained at
  // that many per `login_window`.
  std::uint32_t login_attempts = 5;
  std::chrono::milliseconds login_window{60'000};
  Thresholds thresholds;
  // Stable rollouts in waves (issue #13): the plan a promotion starts with ("waves:" section;
  // `all_at_once: true` or `steps: [100%]` moves every stable agent at once, as before waves,
  // with no gate), and how often the server evaluates the rollouts in progress.
  waves::Plan waves;
  std::chrono::milliseconds waves_evaluate_interval{30'000};
};

// Loads `path` plus `path`'s sibling conf.d/ and the overrides. Errors name file, line and key.
Expected<ServerConfig> load_server_config(const std::string& path,
                                          const std::vector<std::string>& overrides = {});

}  // namespace rollout::server
