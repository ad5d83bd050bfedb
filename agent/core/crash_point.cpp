#include "agent/crash_point.hpp"

#include <cstdlib>
#include <map>
#include <mutex>
#include <string>

#include "platform/process.hpp"

namespace rollout::agent {

namespace {
std::mutex mu;
CrashPointObserver observer;                        // guarded by mu
std::map<std::string, int, std::less<>> hit_count;  // guarded by mu
}  // namespace

void set_crash_point_observer(CrashPointObserver o) {
  std::lock_guard lock(mu);
  observer = std::move(o);
}

void reset_crash_point_counts() {
  std::lock_guard lock(mu);
  hit_count.clear();
}

namespace detail {

void crash_point(std::string_view name) {
  std::unique_lock lock(mu);
  const int hit = ++hit_count[std::string(name)];
  if (observer) observer(name);
  lock.unlock();
  const char* at = std::getenv("ROLLOUT_CRASH_AT");
  if (at == nullptr) return;
  std::string_view wanted(at);
  int wanted_hit = 1;
  if (const auto hash = wanted.find('#'); hash != std::string_view::npos) {
    wanted_hit = std::atoi(std::string(wanted.substr(hash + 1)).c_str());
    wanted = wanted.substr(0, hash);
  }
  if (wanted == name && hit == wanted_hit) platform::kill_current_process();
}

}  // namespace detail
}  // namespace rollout::agent
