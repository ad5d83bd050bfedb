// Health transitions as audit events, exactly once each: the last state seen per subject is in
// the store and moves only by a conditional update inside the transaction that writes the event.
#include <boost/json.hpp>
#include <cstdio>
#include <set>

#include "server-plugin/app/targets.hpp"
#include "server-plugin/notifier.hpp"

namespace rollout::server::notify {
namespace {

namespace bj = boost::json;

int severity(std::string_view status) {
  if (status == "warning") return 1;
  if (status == "critical") return 2;
  if (status == "blocked") return 3;
  return 0;  // healthy, unknown, nothing seen yet
}

std::string percent(double rate) {
  char buf[16];
  std::snprintf(buf, sizeof buf, "%.1f %%", rate * 100.0);
  return buf;
}

std::string snapshot(const Health& h) {
  return bj::serialize(bj::object{{"status", to_string(h.status)},
                                  {"total", h.counts.total()},
                                  {"success", h.counts.success},
                                  {"failure", h.counts.failure},
                                  {"crash", h.counts.crash},
                                  {"success_rate", h.success_rate},
                                  {"failure_rate", h.failure_rate},
                                  {"crash_rate", h.crash_rate}});
}

std::string health_reason(const Health& h) {
  return std::string("health turned ") + std::string(to_string(h.status)) + ": success " +
         percent(h.success_rate) + ", crash " + percent(h.crash_rate) + ", failure " +
         percent(h.failure_rate) + " of " + std::to_string(h.counts.total()) +
         (h.counts.total() == 1 ? " attempt" : " attempts");
}

// A release's health moved: record it; an event only when it got worse into Critical/Blocked.
Status watch_release(StoreOps& store, const Release& r, const Health& h, std::int64_t now,
                     std::size_t& recorded) {
  const std::string subject = "health:" + r.key.version + "/" + r.key.os + "/" + r.key.arch;
  const std::string status(to_string(h.status));
  auto seen = store.get_watch(subject);
  if (!seen) return seen.error();
  if (*seen == status) return {};
  auto swapped = store.swap_watch(subject, *seen, status);
  if (!swapped) return swapped.error();
  if (!*swapped) return {};  // another server recorded this transition
  const int before = severity(seen->value_or("unknown"));
  if (severity(status) < 2 || severity(status) <= before) return {};
  Event e;
  e.at = now;
  e.user = "system";
  e.action = h.status == HealthStatus::blocked ? "release_blocked" : "release_critical";
  e.version = r.key.version;
  e.os = r.key.os;
  e.arch = r.key.arch;
  e.reason = health_reason(h);
  e.health_json = snapshot(h);
  e.detail_json = bj::serialize(bj::object{
      {"previous_status", seen->value_or("unknown")},
      {"rule", h.status == HealthStatus::blocked ? "crash_rate_blocked" : "health_critical"}});
  if (auto id = store.append_event(e); !id) return id.error();
  ++recorded;
  return {};
}

// Stable is behind when the beta target is newer than stable and has waited past stale_after.
Status watch_lag(StoreOps& store, const std::vector<Release>& releases, const std::string& os,
                 const std::string& arch, std::chrono::seconds stale_after, std::int64_t now,
                 std::size_t& recorded) {
  const Targets t = channel_targets(releases, os, arch);
  std::string behind;
  if (t.beta && (!t.stable || t.stable->key != t.beta->key) &&
      now - t.beta->created_at > stale_after.count())
    behind = t.beta->key.version;
  const std::string subject = "stable_lag:" + os + "/" + arch;
  auto seen = store.get_watch(subject);
  if (!seen) return seen.error();
  if (seen->value_or("") == behind) return {};
  auto swapped = store.swap_watch(subject, *seen, behind);
  if (!swapped) return swapped.error();
  if (!*swapped || behind.empty()) return {};
  const std::string stable = t.stable ? t.stable->key.version : "none";
  Event e;
  e.at = now;
  e.user = "system";
  e.action = "stable_behind_beta";
  e.version = behind;
  e.os = os;
  e.arch = arch;
  const auto secs = stale_after.count();
  e.reason =
      "stable (" + stable + ") has been behind beta " + behind + " for more than " +
      (secs % 86400 == 0 ? std::to_string(secs / 86400) + " days" : std::to_string(secs) + " s");
  e.detail_json = bj::serialize(bj::object{{"stable_version", stable}, {"rule", "stable_stale"}});
  if (auto id = store.append_event(e); !id) return id.error();
  ++recorded;
  return {};
}

}  // namespace

Expected<std::size_t> detect_transitions(Store& store, const Thresholds& thresholds,
                                         std::chrono::seconds stale_after, std::int64_t now) {
  std::size_t recorded = 0;
  auto st = with_conflict_retry(kConflictAttempts, [&] {
    return store.transaction([&](Tx& tx) -> Status {
      recorded = 0;
      auto releases = tx.list_releases();
      if (!releases) return releases.error();
      auto counts = tx.release_counts(std::nullopt);
      if (!counts) return counts.error();
      std::set<std::pair<std::string, std::string>> platforms;
      for (const auto& r : *releases) {
        platforms.emplace(r.key.os, r.key.arch);
        // A rolled-back release was announced by its rollback; its numbers no longer notify.
        if (r.blocked) continue;
        auto it = counts->find(r.key);
        const Health h = evaluate(it == counts->end() ? Counts{} : it->second, false, thresholds);
        if (auto w = watch_release(tx, r, h, now, recorded); !w) return w;
      }
      for (const auto& [os, arch] : platforms) {
        if (auto w = watch_lag(tx, *releases, os, arch, stale_after, now, recorded); !w) return w;
      }
      return {};
    });
  });
  if (!st) return st.error();
  return recorded;
}

}  // namespace rollout::server::notify
