#include "server-plugin/health.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>

#include "common/text.hpp"

namespace rollout::server {
namespace {

constexpr std::uint64_t kBp = 10000;

enum class Level { healthy = 0, warning = 1, critical = 2 };

// count/total >= bp/10000, exactly.
bool at_least(std::uint64_t count, std::uint64_t total, std::uint32_t bp) {
  return static_cast<unsigned __int128>(count) * kBp >= static_cast<unsigned __int128>(bp) * total;
}

Level success_level(const Counts& c, const Thresholds& t) {
  if (at_least(c.success, c.total(), t.healthy_success_bp)) return Level::healthy;
  if (at_least(c.success, c.total(), t.warning_success_bp)) return Level::warning;
  return Level::critical;
}

Level crash_level(const Counts& c, const Thresholds& t) {
  if (!at_least(c.crash, c.total(), t.healthy_crash_bp)) return Level::healthy;
  if (!at_least(c.crash, c.total(), t.warning_crash_bp)) return Level::warning;
  return Level::critical;
}

Level failure_level(const Counts& c, const Thresholds& t) {
  if (!at_least(c.failure, c.total(), t.healthy_failure_bp)) return Level::healthy;
  // Warning includes its upper bound (5 % <= f <= 10 %): f > 10 % is critical.
  const bool above_warning = static_cast<unsigned __int128>(c.failure) * kBp >
                             static_cast<unsigned __int128>(t.warning_failure_bp) * c.total();
  return above_warning ? Level::critical : Level::warning;
}

std::string percent(std::uint32_t bp) {
  const std::uint32_t whole = bp / 100, frac = bp % 100;
  return std::to_string(whole) + (frac ? "." + std::to_string(100 + frac).substr(1) : "") + " %";
}

std::string rate_text(double r) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.2f %%", r * 100.0);
  return buf;
}

}  // namespace

std::string_view to_string(HealthStatus s) {
  switch (s) {
    case HealthStatus::healthy:
      return "healthy";
    case HealthStatus::warning:
      return "warning";
    case HealthStatus::critical:
      return "critical";
    case HealthStatus::blocked:
      return "blocked";
    case HealthStatus::unknown:
      return "unknown";
  }
  return "unknown";
}

std::pair<double, double> wilson_interval(std::uint64_t k, std::uint64_t n, double z) {
  if (n == 0) return {0.0, 1.0};
  const double nn = static_cast<double>(n);
  const double p = static_cast<double>(k) / nn;
  const double z2 = z * z;
  const double denom = 1.0 + z2 / nn;
  const double center = (p + z2 / (2.0 * nn)) / denom;
  const double half = z * std::sqrt(p * (1.0 - p) / nn + z2 / (4.0 * nn * nn)) / denom;
  return {std::max(0.0, center - half), std::min(1.0, center + half)};
}

Health evaluate(const Counts& counts, bool admin_blocked, const Thresholds& t) {
  Health h;
  h.counts = counts;
  const std::uint64_t total = counts.total();
  h.success_interval = wilson_interval(counts.success, total);
  if (total > 0) {
    const double n = static_cast<double>(total);
    h.success_rate = static_cast<double>(counts.success) / n;
    h.failure_rate = static_cast<double>(counts.failure) / n;
    h.crash_rate = static_cast<double>(counts.crash) / n;
    h.auto_blocked = at_least(counts.crash, total, t.block_crash_bp);
    h.success_color = at_least(counts.success, total, t.green_bp)    ? "green"
                      : at_least(counts.success, total, t.yellow_bp) ? "yellow"
                                                                     : "red";
  } else {
    h.success_color = "gray";
  }
  if (admin_blocked || h.auto_blocked) {
    h.status = HealthStatus::blocked;
  } else if (total == 0) {
    h.status = HealthStatus::unknown;
  } else {
    const Level worst =
        std::max({success_level(counts, t), crash_level(counts, t), failure_level(counts, t)});
    h.status = worst == Level::healthy   ? HealthStatus::healthy
               : worst == Level::warning ? HealthStatus::warning
                                         : HealthStatus::critical;
  }
  return h;
}

PromoteCheck promote_check(const Health& health, bool is_beta, std::chrono::seconds soaked,
                           const Thresholds& t) {
  PromoteCheck c;
  if (!is_beta) c.blockers.push_back({"not_beta", "only a beta release can be promoted to stable"});
  if (health.status == HealthStatus::blocked) {
    c.blockers.push_back({"blocked", health.auto_blocked
                                         ? "crash rate " + rate_text(health.crash_rate) +
                                               " is at or above the block threshold of " +
                                               percent(t.block_crash_bp)
                                         : "the release was rolled back or blocked by an admin"});
  } else if (health.status != HealthStatus::healthy) {
    std::string why = "health is " + std::string(to_string(health.status));
    if (health.counts.total() > 0) {
      why += " (success " + rate_text(health.success_rate) + ", failure " +
             rate_text(health.failure_rate) + ", crash " + rate_text(health.crash_rate) + ")";
    } else {
      why += ": no update attempts reported yet";
    }
    c.blockers.push_back({"not_healthy:" + std::string(to_string(health.status)), why});
  }
  if (health.counts.total() < t.min_attempts) {
    c.blockers.push_back(
        {"too_few_attempts",
         text::counted(static_cast<std::int64_t>(health.counts.total()), "attempt") +
             ", at least " + std::to_string(t.min_attempts) + " are needed"});
  }
  if (soaked < t.min_soak) {
    c.blockers.push_back({"soak_not_met", "published " + std::to_string(soaked.count()) +
                                              " s ago, the minimum soak is " +
                                              std::to_string(t.min_soak.count()) + " s"});
  }
  c.allowed = c.blockers.empty();
  c.can_force = is_beta && health.status != HealthStatus::blocked;
  return c;
}

}  // namespace rollout::server
