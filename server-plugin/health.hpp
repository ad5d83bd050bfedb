// The health engine of DESIGN.md §4: outcome counts of one release (each agent counted once, by
// its latest final outcome) become rates, a status and the promotion gate. Thresholds are basis
// points (1/100 of a percent) compared in integer arithmetic, so 95.00 % is Healthy and 94.99 %
// is not, with no floating-point rounding at the boundaries. Pure functions; thread-safe.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace rollout::server {

struct Thresholds {
  // Healthy needs success >= healthy_success and crash < healthy_crash and failure <
  // healthy_failure.
  std::uint32_t healthy_success_bp = 9500;
  std::uint32_t healthy_crash_bp = 100;
  std::uint32_t healthy_failure_bp = 500;
  // Warning needs success >= warning_success and crash < warning_crash and failure <=
  // warning_failure.
  std::uint32_t warning_success_bp = 9000;
  std::uint32_t warning_crash_bp = 200;
  std::uint32_t warning_failure_bp = 1000;
  // Blocked (automatically) at crash >= block_crash.
  std::uint32_t block_crash_bp = 500;
  // Success-rate colour on the page: green >= green, yellow >= yellow, else red.
  std::uint32_t green_bp = 9500;
  std::uint32_t yellow_bp = 8000;
  // Promotion gate.
  std::uint64_t min_attempts = 5;
  std::chrono::seconds min_soak{0};
};

struct Counts {
  std::uint64_t success = 0;
  std::uint64_t failure = 0;
  std::uint64_t crash = 0;
  std::uint64_t total() const { return success + failure + crash; }
  friend bool operator==(const Counts&, const Counts&) = default;
};

enum class HealthStatus { healthy, warning, critical, blocked, unknown };
std::string_view to_string(HealthStatus s);

struct Health {
  HealthStatus status = HealthStatus::unknown;
  Counts counts;
  double success_rate = 0, failure_rate = 0, crash_rate = 0;
  std::pair<double, double> success_interval{0.0, 1.0};  // Wilson 95 %
  std::string success_color;                             // green | yellow | red | gray
  bool auto_blocked = false;                             // crash rate reached block_crash
};

// `admin_blocked`: rolled back or blocked by an admin; Blocked whatever the numbers say.
Health evaluate(const Counts& counts, bool admin_blocked, const Thresholds& t = {});

// Wilson score interval for k successes in n trials at z (1.96 for 95 %); [0, 1] when n = 0.
std::pair<double, double> wilson_interval(std::uint64_t k, std::uint64_t n, double z = 1.96);

struct Blocker {
  // not_beta | blocked | not_healthy:<status> (warning, critical or unknown) | too_few_attempts |
  // soak_not_met. The status rides in the code so a client can tell "wait for more data" (unknown)
  // from "this release is failing" (critical) without parsing the message.
  std::string code;
  std::string message;
};

struct PromoteCheck {
  bool allowed = false;    // promotion passes without force
  bool can_force = false;  // a forced promotion (with a reason) is possible
  std::vector<Blocker> blockers;
};

// The promotion gate at the moment of the request: only beta releases, never Blocked ones (not
// even forced); Healthy with at least min_attempts attempts and min_soak time since publication
// passes; anything else may be forced with a reason.
PromoteCheck promote_check(const Health& health, bool is_beta, std::chrono::seconds soaked,
                           const Thresholds& t = {});

}  // namespace rollout::server
