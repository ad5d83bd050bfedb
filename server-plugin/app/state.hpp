// What every request handler shares: the config, the store, the keys, the login limiter, the
// metrics and the clock. One AppState per App; members are either immutable after start-up or
// thread-safe themselves (Store, RateLimiter, Metrics).
#pragma once

#include <atomic>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>

#include "common/crypto.hpp"
#include "common/signed_document.hpp"
#include "server-plugin/api/router.hpp"
#include "server-plugin/app.hpp"
#include "server-plugin/app/long_poll.hpp"
#include "server-plugin/artifacts/artifact_store.hpp"
#include "server-plugin/auth/rate_limit.hpp"
#include "server-plugin/config.hpp"
#include "server-plugin/http/message.hpp"
#include "server-plugin/notifier.hpp"
#include "server-plugin/store.hpp"

namespace rollout::server {

// Counters for GET /metrics (Prometheus text format).
struct Metrics {
  std::atomic<std::uint64_t> checkins{0};
  std::atomic<std::uint64_t> reports_success{0}, reports_failure{0}, reports_crash{0};
  std::atomic<std::uint64_t> directives_install{0}, directives_downgrade{0};
  std::atomic<std::uint64_t> auth_failures{0};
  // Outcome reports refused, by reason (report_checks.hpp, and the hourly per-agent cap).
  std::atomic<std::uint64_t> refused_other_platform{0}, refused_unknown_release{0},
      refused_not_offered{0}, refused_rate_limited{0};
  // Request latency histogram, upper bounds in milliseconds (+Inf last).
  static constexpr std::array<double, 8> kBuckets{1, 5, 10, 25, 50, 100, 250, 1000};
  std::array<std::atomic<std::uint64_t>, 9> latency{};
  std::atomic<std::uint64_t> latency_sum_us{0};
  std::atomic<std::uint64_t> requests{0};
};

struct AppState {
  AppState() = default;
  AppState(const AppState&) = delete;
  AppState& operator=(const AppState&) = delete;
  ~AppState() {
    if (store && held) (void)store->watch_targets(nullptr);
  }

  ServerConfig cfg;
  std::unique_ptr<Store> store;
  // Published artifacts (cfg.artifact_store); after `store`, which it may use, so it goes first.
  std::unique_ptr<artifacts::ArtifactStore> artifacts;
  // Long-poll check-ins held open (long_poll.hpp); null with long_poll.limit 0s. Woken by the
  // store's watch_targets, which ~AppState stops first.
  std::unique_ptr<HeldCheckins> held;
  std::optional<crypto::PrivateKey> directive_key;
  KeyRing release_keys;
  std::optional<auth::RateLimiter> login_limiter;  // on `store`: cfg.login_attempts / login_window
  Metrics metrics;
  std::function<std::int64_t()> now;  // Unix seconds
  std::atomic<std::uint64_t> logs_since_trim{0};
  // Webhook delivery (notifier.hpp); `webhook_worker` is declared last so that it stops before
  // anything it uses goes away.
  webhooks::TargetPolicy webhook_policy;
  std::unique_ptr<notify::Sender> webhook_sender;
  std::unique_ptr<notify::Outbox> webhook_outbox;
  std::unique_ptr<notify::Worker> webhook_worker;

  // Tells the webhook worker that an audit event may be waiting (after a commit).
  void notify_webhooks() {
    if (webhook_worker) webhook_worker->notify();
  }
  // Writes an update-related event to the logs table (and the process log), and every
  // cfg.log_retention_rows / 16 entries trims the table to its newest cfg.log_retention_rows.
  void log(const std::string& level, const std::string& component, const std::string& message,
           const std::map<std::string, std::string>& fields = {});
};

enum class Access { open, agent, viewer, operator_, admin };

struct Ctx {
  const http::Request& req;
  api::Target target;
  std::map<std::string, std::string> params;
  std::optional<Identity> user;  // management caller
  std::optional<Agent> agent;    // agent caller
};

using Handler = std::function<http::Response(AppState&, Ctx&)>;

int role_rank(std::string_view role);  // viewer 1, operator 2, admin 3, else 0

}  // namespace rollout::server
