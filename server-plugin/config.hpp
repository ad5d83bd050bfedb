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

// A webhook from the config (`webhooks:` list). Its id is derived from the URL, so the same
// entry keeps its place in the audit trail across restarts.
struct WebhookConfig {
  std::string url;
  std::string secret;  // from `secret`, or read from `secret_file` at load
  std::vector<std::string> events{"*"};
};

// How webhooks are delivered (`webhook_delivery:`).
struct WebhookDeliveryConfig {
  // Off: this server delivers nothing and records no health transitions (another server on the
  // same database does); webhooks can still be managed through the API.
  bool enabled = true;
  // Targets on this server's own loopback port (its admin API) are refused unless this is set.
  bool allow_own_port = false;
  bool allow_http = false;                    // plain http:// targets (tests, an internal relay)
  std::string ca_file;                        // empty: the system trust store
  std::chrono::milliseconds interval{5'000};  // how often the worker looks for new events
  std::chrono::milliseconds timeout{10'000};  // one delivery, connect included
  std::chrono::milliseconds lease{60'000};    // how long one server keeps the delivery role
  std::uint64_t keep_deliveries = 200;        // delivery log rows kept per webhook
};

struct ServerConfig {
  std::string listen_address = "127.0.0.1";
  std::uint16_t listen_port = 8443;
  std::string tls_cert_file;
  std::string tls_key_file;
  std::string database_url = "sqlite:rollout.db";
  std::string data_dir = ".";  // local artifacts live in data_dir/artifacts
  // Where published artifacts live (artifacts/artifact_store.hpp): "local" (data_dir/artifacts),
  // "database" (in the PostgreSQL database, so every server on it serves every artifact; not on
  // sqlite:), or "auto": database on postgresql://, local on sqlite:.
  std::string artifact_store = "auto";
  std::string directive_key;              // private key file (PEM)
  std::vector<std::string> release_keys;  // public key files (PEM); publish verifies with these
  std::vector<std::string> enrollment_keys;
  std::string admin_password_file;  // creates user "admin" on first start when no user exists
  std::chrono::milliseconds poll_interval{60'000};
  // An agent's last check-in time is written at most this often while nothing else about it
  // changes: most check-ins of a steady fleet are answered without a durable write.
  std::chrono::milliseconds checkin_record_interval{300'000};
  std::chrono::milliseconds directive_lifetime{3'600'000};
  // Long-poll check-ins (app/long_poll.hpp, "long_poll:" section): the longest an agent's
  // check-in is held open waiting for something to do (0s: never held, agents poll), and how
  // many are held at once at most (beyond it an agent is answered at once and polls).
  std::chrono::milliseconds long_poll_limit{55'000};
  std::uint64_t long_poll_max_held = 50'000;
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
  // The logs table (the Logs page) keeps the newest this many entries.
  std::uint64_t log_retention_rows = 100'000;
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
  std::vector<WebhookConfig> webhooks;
  WebhookDeliveryConfig webhook_delivery;
  // Stable rollouts in waves (issue #13): the plan a promotion starts with ("waves:" section;
  // `all_at_once: true` or `steps: [100%]` moves every stable agent at once, as before waves,
  // with no gate), and how often the server evaluates the rollouts in progress.
  waves::Plan waves;
  std::chrono::milliseconds waves_evaluate_interval{30'000};
};

// True when cfg.artifact_store (resolved: "auto" by database_url) keeps artifacts in the database.
bool artifacts_in_database(const ServerConfig& cfg);

// Loads `path` plus `path`'s sibling conf.d/ and the overrides. Errors name file, line and key.
Expected<ServerConfig> load_server_config(const std::string& path,
                                          const std::vector<std::string>& overrides = {});

}  // namespace rollout::server
