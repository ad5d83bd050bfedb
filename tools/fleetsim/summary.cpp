#include "tools/fleetsim/summary.hpp"

#include <sys/resource.h>

#include <algorithm>
#include <cmath>

namespace rollout::fleetsim {
namespace {

boost::json::object counts(const std::map<std::string, std::uint64_t>& m) {
  boost::json::object o;
  for (const auto& [k, v] : m) o[k] = v;
  return o;
}

double ms(double seconds) {
  return std::round(seconds * 1e4) / 10.0;
}  // 0.1 ms resolution

}  // namespace

double quantile(const std::vector<double>& sorted, double q) {
  if (sorted.empty()) return 0;
  auto rank = static_cast<std::size_t>(std::ceil(q * static_cast<double>(sorted.size())));
  rank = std::clamp<std::size_t>(rank, 1, sorted.size());
  return sorted[rank - 1];
}

boost::json::object summarize(const Options& options, Stats stats, std::uint32_t enrolled,
                              bool ready, std::optional<double> mark, double elapsed_s) {
  boost::json::object out;
  out["agents"] = options.agents;
  out["agents_enrolled"] = enrolled;
  out["ready"] = ready;
  out["connections"] = options.connections;
  out["threads"] = options.threads;
  out["elapsed_s"] = std::round(elapsed_s * 1000) / 1000;
  out["enroll"] = {{"sent", stats.enroll_sent},
                   {"failed", stats.enroll_failed},
                   {"failures", counts(stats.enroll_failures)}};

  auto latency = [](const std::vector<std::uint32_t>& us) {
    std::vector<double> lat(us.begin(), us.end());
    std::sort(lat.begin(), lat.end());
    auto at = [&](double q) { return std::round(quantile(lat, q) / 100.0) / 10.0; };
    return boost::json::object{{"count", lat.size()},
                               {"p50", at(0.5)},
                               {"p95", at(0.95)},
                               {"p99", at(0.99)},
                               {"max", at(1.0)}};
  };
  out["checkins"] = {
      {"sent", stats.checkins_sent},
      {"answered", stats.checkins_answered},
      {"failed", stats.checkins_failed},
      {"held", stats.checkins_held},
      {"in_flight_at_stop", stats.checkins_sent - stats.checkins_answered - stats.checkins_failed},
      {"failures", counts(stats.checkin_failures)},
      {"latency_ms", latency(stats.latency_us)},
      {"latency_ms_after_ready", latency(stats.latency_after_ready_us)}};
  out["directives_verified"] = stats.directives_verified;
  out["verification_failures"] = counts(stats.verification_failures);
  out["reports"] = {{"sent", stats.reports_sent},
                    {"acknowledged", stats.reports_acknowledged},
                    {"failed", stats.reports_failed},
                    {"failures", counts(stats.report_failures)},
                    {"outcomes", counts(stats.outcomes)}};

  boost::json::array received;
  for (auto& [key, times] : stats.first_receipts) {
    std::sort(times.begin(), times.end());
    const bool from_mark = mark && *mark <= times.front();
    const double zero = from_mark ? *mark : times.front();
    received.push_back({{"action", key.first},
                        {"version", key.second},
                        {"agents", times.size()},
                        {"from", from_mark ? "mark" : "first_receipt"},
                        {"first_ms", ms(quantile(times, 0) - zero)},
                        {"p50_ms", ms(quantile(times, 0.5) - zero)},
                        {"p95_ms", ms(quantile(times, 0.95) - zero)},
                        {"last_ms", ms(times.back() - zero)}});
  }
  out["received"] = std::move(received);
  if (mark) out["mark"] = *mark;

  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  const double cpu = static_cast<double>(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
                     static_cast<double>(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
  out["self"] = {{"cpu_s", std::round(cpu * 1000) / 1000}, {"max_rss_kib", ru.ru_maxrss}};
  return out;
}

}  // namespace rollout::fleetsim
