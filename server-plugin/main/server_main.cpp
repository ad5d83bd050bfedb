// rollout-server: the standalone host for the rollout plugin.
#include <sys/resource.h>

#include <algorithm>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "common/log.hpp"
#include "server-plugin/app.hpp"
#include "server-plugin/config.hpp"
#include "server-plugin/http/server.hpp"
#include "server-plugin/migrate/migrate_cli.hpp"

namespace {

constexpr const char* kHelp =
    "usage: rollout-server --config FILE [--set key.sub=value ...] [--check-config]\n"
    "       rollout-server migrate --from sqlite:PATH --to postgresql://URL [--from-data-dir DIR]\n"
    "       rollout-server --version | --help\n"
    "\n"
    "Serves the rollout HTTP API and pages. FILE is YAML (conf.d/*.yaml beside it is layered on\n"
    "top, then --set overrides). SIGTERM or SIGINT finish in-flight requests and exit.\n"
    "migrate moves a stopped server's SQLite data into a new PostgreSQL database (migrate "
    "--help).\n"
    "Exit codes: 0 ok, 1 runtime failure, 2 bad usage or configuration.\n";

// Each held long-poll check-in keeps a socket open: the soft descriptor limit (often 1024) is
// raised to what long_poll.max_held needs plus a margin, as far as the hard limit allows; below
// that, a warning says how many connections the server can hold.
void raise_fd_limit(std::uint64_t max_held) {
  constexpr std::uint64_t kMargin = 1024;  // the database, files, other clients
  rlimit rl{};
  if (getrlimit(RLIMIT_NOFILE, &rl) != 0) return;
  const std::uint64_t want = max_held + kMargin;
  if (rl.rlim_cur != RLIM_INFINITY && rl.rlim_cur < want) {
    const rlim_t before = rl.rlim_cur;
    rl.rlim_cur = rl.rlim_max == RLIM_INFINITY ? want : std::min<rlim_t>(rl.rlim_max, want);
    if (setrlimit(RLIMIT_NOFILE, &rl) != 0) rl.rlim_cur = before;
  }
  if (rl.rlim_cur != RLIM_INFINITY && rl.rlim_cur < want) {
    rollout::log::Logger("server").warn(
        "the file-descriptor limit is below what long_poll.max_held needs: connections beyond "
        "it are refused",
        {{"limit", std::to_string(rl.rlim_cur)}, {"max_held", std::to_string(max_held)}});
  }
}

int usage_error(const std::string& msg) {
  std::fprintf(stderr, "rollout-server: %s\n", msg.c_str());
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc > 1 && std::strcmp(argv[1], "migrate") == 0) {
    return rollout::server::migrate::run_command(std::vector<std::string>(argv + 2, argv + argc));
  }
  std::string config_path;
  std::vector<std::string> overrides;
  bool check_only = false;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--help" || a == "-h") {
      std::fputs(kHelp, stdout);
      return 0;
    }
    if (a == "--version") {
      std::printf("rollout-server %s\n", ROLLOUT_VERSION);
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
  auto cfg = rollout::server::load_server_config(config_path, overrides);
  if (!cfg) return usage_error(cfg.error().message);
  if (auto lvl = rollout::log::parse_level(cfg->log_level)) rollout::log::set_level(*lvl);
  if (check_only) {
    std::printf("config %s is valid\n", config_path.c_str());
    return 0;
  }
  rollout::http::ServerOptions opt;
  opt.address = cfg->listen_address;
  opt.port = cfg->listen_port;
  opt.tls_cert_file = cfg->tls_cert_file;
  opt.tls_key_file = cfg->tls_key_file;
  opt.body_limit = std::max(cfg->body_limit, cfg->upload_limit);
  opt.io_threads = cfg->io_threads;
  opt.worker_threads = cfg->worker_threads;
  opt.read_timeout = cfg->read_timeout;
  if (cfg->long_poll_limit.count() > 0) raise_fd_limit(cfg->long_poll_max_held);
  const bool tls = !cfg->tls_cert_file.empty();
  const std::string address = cfg->listen_address;
  auto app = rollout::server::make_app_from(std::move(cfg.value()), nullptr);
  if (!app) return usage_error(app.error().message);

  // Signals are taken synchronously by this thread; the server's threads never see them.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);

  rollout::server::App& handler = **app;
  opt.admit = [&handler](const rollout::http::Request& head) {
    return handler.admit(head, std::nullopt);
  };
  rollout::http::Server server(
      opt, [&handler](const rollout::http::Request& r) { return handler.handle(r, std::nullopt); });
  if (auto st = server.start(); !st) {
    std::fprintf(stderr, "rollout-server: %s\n", st.error().message.c_str());
    return 1;
  }
  rollout::log::Logger("server").info(
      "listening", {{"url", std::string(tls ? "https://" : "http://") + address + ":" +
                                std::to_string(server.port())}});
  std::fprintf(stdout, "listening on %s://%s:%u\n", tls ? "https" : "http", address.c_str(),
               server.port());
  std::fflush(stdout);
  int sig = 0;
  sigwait(&signals, &sig);
  rollout::log::Logger("server").info("shutting down", {{"signal", std::to_string(sig)}});
  server.shutdown();
  return 0;
}
