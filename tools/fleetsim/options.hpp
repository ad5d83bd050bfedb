// rollout-fleetsim's command line: every flag validated here, so a bad one is refused (exit 2)
// with its name before any connection is made. Values; thread-compatible.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "common/error.hpp"

namespace rollout::fleetsim {

struct OutcomeMix {
  std::uint32_t success = 100, failure = 0, crash = 0;  // weights, sum > 0
};

struct Options {
  std::string server_url;  // https://host:port or http://host:port (no path)
  bool tls = true;
  std::string host;
  std::string port;
  std::string ca_file;
  std::string enrollment_key;
  std::vector<std::string> directive_keys;
  std::vector<std::string> release_keys;
  std::uint32_t agents = 0;
  std::uint32_t max_agents = 100000;
  std::uint32_t connections = 0;  // resolved: per_agent gives agents
  bool per_agent_connections = false;
  std::uint32_t threads = 1;
  // Empty: the interval the server answers (its poll_interval), as the real agent does.
  std::optional<std::chrono::milliseconds> interval;
  std::chrono::milliseconds duration{60000};
  std::chrono::milliseconds apply_delay{1000};
  std::chrono::milliseconds request_timeout{30000};
  // > 0: long-poll check-ins (Prefer: wait=N) after the first, each with a timeout of N s plus
  // request_timeout; a held answer (Preference-Applied) is followed by the next check-in at once.
  std::uint32_t long_poll_s = 0;
  OutcomeMix outcomes;
  std::string mark_file;
  std::string ready_file;
  std::string os = "linux";
  std::string arch = "x86_64";
  std::string version = "1.0.0";   // every agent's current_version at enrollment
  std::uint32_t clients = 0;       // > 0: client-1..N round robin
  std::uint32_t sites = 0;         // > 0: site-1..N round robin
  std::uint32_t beta_percent = 0;  // this share of agents enrolls with channel_hint beta
  std::string name_prefix = "sim";
};

// Error code "usage" with a message naming the flag. `--help` gives code "help" (message: usage).
Expected<Options> parse_options(const std::vector<std::string>& args);
std::string usage();

}  // namespace rollout::fleetsim
