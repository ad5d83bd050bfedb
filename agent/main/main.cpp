// rollout-agent: the update controller daemon (systemd unit, Type=notify; a Windows service, or a
// console program stopped by Ctrl+C / Ctrl+Break or its supervisor's stop event).
#include <atomic>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "agent/config.hpp"
#include "agent/controller.hpp"
#include "agent/setup_command.hpp"
#include "common/http/client.hpp"
#include "common/log.hpp"
#include "common/log_file.hpp"
#include "platform/fs.hpp"
#include "platform/instance_lock.hpp"
#include "platform/service_host.hpp"

namespace {

constexpr const char* kUsage =
    "usage: rollout-agent --config FILE [--set key=value ...] [--check-config]\n"
    "       rollout-agent setup --config-dir DIR [options] NAME=VALUE...  (setup --help)\n"
    "       rollout-agent show-recovery SERVICE\n"
    "       rollout-agent --version | --help\n"
    "\n"
    "Keeps the managed agent running and updates it safely: signed directives only, verified\n"
    "resumable downloads, atomic switch, automatic revert when the new version crashes in\n"
    "probation, durable outcome reports. See conf/agent.example.yaml for every key.\n"
    "`setup` writes the config directory from the installer's properties (the Windows MSI runs\n"
    "it); `show-recovery` prints a service's restart-on-failure actions.\n"
    "Exit codes: 0 stopped cleanly, 1 start-up failed, 2 usage or configuration error.\n";

std::atomic<bool> g_stop{false};

int usage_error(const std::string& message) {
  std::fprintf(stderr, "rollout-agent: %s\n", message.c_str());
  return 2;
}

// Where the log goes: the configured rotating file, or one in the state directory when the
// service manager keeps no stderr (the Windows SCM); stderr otherwise.
rollout::Status use_log_file(const rollout::agent::AgentConfig& cfg) {
  using rollout::platform::join_path;
  std::string path = cfg.log_file;
  if (path.empty() && rollout::platform::stderr_is_discarded()) {
    path = join_path(join_path(cfg.state_dir, "logs"), "rollout-agent.log");
  }
  if (path.empty()) return {};
  auto sink = rollout::log::make_file_sink(
      {path, cfg.log_file_max_size, cfg.log_file_count, rollout::log::Format::text});
  if (!sink) return sink.error();
  rollout::log::set_sink(*sink);
  return {};
}

}  // namespace

int main(int argc, char** argv) {
  if (argc > 1 &&
      (std::strcmp(argv[1], "setup") == 0 || std::strcmp(argv[1], "show-recovery") == 0)) {
    const std::vector<std::string> rest(argv + 2, argv + argc);
    return std::strcmp(argv[1], "setup") == 0
               ? rollout::agent::run_setup_command(rest, stdout, stderr)
               : rollout::agent::run_show_recovery_command(rest, stdout, stderr);
  }
  std::string config_path;
  std::vector<std::string> overrides;
  bool check_only = false;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--help" || a == "-h") {
      std::fputs(kUsage, stdout);
      return 0;
    }
    if (a == "--version") {
      std::printf("rollout-agent %s\n", ROLLOUT_VERSION);
      return 0;
    }
    if (a == "--check-config") {
      check_only = true;
    } else if ((a == "--config" || a == "--set") && i + 1 < argc) {
      (a == "--config" ? config_path : overrides.emplace_back()) = argv[++i];
    } else {
      return usage_error("unknown or incomplete argument '" + a + "' (see --help)");
    }
  }
  if (config_path.empty()) return usage_error("missing --config FILE (see --help)");
  auto cfg = rollout::agent::load_agent_config(config_path, overrides);
  if (!cfg) return usage_error(cfg.error().message);
  if (check_only) {
    std::printf("configuration ok\n");
    return 0;
  }
  if (auto lvl = rollout::log::parse_level(cfg->log_level)) rollout::log::set_level(*lvl);

  // Under systemd or the Windows SCM, or in a console: a stop request sets g_stop, and a
  // file-size limit (or a full disk) is an error from write(), not a fatal signal
  // (platform/service_host.hpp, platform/stop_request.hpp).
  return rollout::platform::run_service("rollout-agent", g_stop, [&]() -> int {
    // Before anything touches the journal: a second agent on the same state would race this one.
    if (auto st = rollout::platform::real_file_system().make_secure_dir(cfg->state_dir); !st) {
      std::fprintf(stderr, "rollout-agent: state_dir: %s\n", st.error().message.c_str());
      return 1;
    }
    if (auto st = use_log_file(*cfg); !st) {
      std::fprintf(stderr, "rollout-agent: log_file: %s\n", st.error().message.c_str());
      return 1;
    }
    auto lock = rollout::platform::lock_instance(cfg->state_dir + "/agent.lock");
    if (!lock) {
      std::fprintf(stderr, "rollout-agent: %s\n", lock.error().message.c_str());
      return 1;
    }

    rollout::net::TransportOptions t;
    t.allow_plain_http = cfg->allow_plain_http;
    t.ca_file = cfg->ca_file;
    t.proxy = cfg->proxy;
    t.max_bandwidth = cfg->max_bandwidth;
    t.low_speed_bytes = cfg->low_speed_bytes;
    t.low_speed_time = std::chrono::duration_cast<std::chrono::seconds>(cfg->low_speed_time);
    if (t.low_speed_time.count() < 1) t.low_speed_time = std::chrono::seconds(1);
    t.request_timeout = std::chrono::duration_cast<std::chrono::seconds>(cfg->request_timeout);
    // Three transports, as a Transport is used by one thread at a time: downloads and check-ins
    // (which the server may hold open) run on worker threads, enrollment and reports on the loop.
    auto transport = rollout::net::make_curl_transport(t);
    auto downloads = rollout::net::make_curl_transport(t);
    auto checkins = rollout::net::make_curl_transport(t);
    rollout::agent::Controller controller(
        *cfg, {rollout::platform::real_file_system(), rollout::platform::system_clock(), *transport,
               *downloads, *checkins, rollout::platform::real_process_launcher(),
               rollout::platform::system_service_notifier()});
    if (auto st = controller.start(); !st) {
      std::fprintf(stderr, "rollout-agent: %s\n", st.error().message.c_str());
      return 1;
    }
    controller.run(g_stop);
    return 0;
  });
}
