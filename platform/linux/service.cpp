// sd_notify-based ServiceNotifier. Failures to notify are ignored on purpose: a daemon must not
// stop because its manager cannot be told something (systemd then acts on its own timeouts).
#include <systemd/sd-daemon.h>

#include <string>

#include "platform/service.hpp"

namespace rollout::platform {

namespace {

class SystemdNotifier final : public ServiceNotifier {
 public:
  void notify_ready() override { (void)sd_notify(0, "READY=1"); }

  void notify_status(std::string_view text) override {
    std::string line = "STATUS=";
    for (char c : text) line += (c == '\n' ? ' ' : c);  // one line only
    (void)sd_notify(0, line.c_str());
  }

  void notify_stopping() override { (void)sd_notify(0, "STOPPING=1"); }

  void notify_watchdog() override { (void)sd_notify(0, "WATCHDOG=1"); }

  std::optional<std::chrono::microseconds> watchdog_interval() override {
    std::uint64_t usec = 0;
    if (sd_watchdog_enabled(0, &usec) > 0 && usec > 0) {
      return std::chrono::microseconds(static_cast<std::chrono::microseconds::rep>(usec));
    }
    return std::nullopt;
  }
};

}  // namespace

ServiceNotifier& system_service_notifier() {
  static SystemdNotifier notifier;
  return notifier;
}

}  // namespace rollout::platform
