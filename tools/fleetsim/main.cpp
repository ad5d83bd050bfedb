// rollout-fleetsim: N simulated agents against a real rollout-server (see fleet.hpp), bounded by
// --duration (or SIGINT / SIGTERM); prints a JSON summary (summary.hpp) on stdout. Exit 0 after a
// run, 2 for bad flags, keys or a file-descriptor limit too low, 1 when the server cannot be
// resolved.
#include <sys/resource.h>

#include <atomic>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/json/serialize.hpp>
#include <cerrno>
#include <csignal>
#include <cstring>
#include <fstream>
#include <iostream>
#include <thread>

#include "common/protocol.hpp"
#include "common/signed_document.hpp"
#include "tools/fleetsim/fleet.hpp"
#include "tools/fleetsim/options.hpp"
#include "tools/fleetsim/summary.hpp"

namespace asio = boost::asio;
using namespace rollout;
using namespace rollout::fleetsim;

namespace {

std::atomic<bool> g_stop{false};
void on_signal(int) {
  g_stop.store(true);
}

int usage_error(const std::string& message) {
  std::cerr << "rollout-fleetsim: " << message << "\n";
  return 2;
}

// The connections, plus a margin for the process's own files (keys, stdio, resolver).
bool raise_fd_limit(std::uint64_t needed, std::string& problem) {
  rlimit rl{};
  if (getrlimit(RLIMIT_NOFILE, &rl) != 0) {
    problem = std::string("getrlimit: ") + std::strerror(errno);
    return false;
  }
  if (rl.rlim_cur != RLIM_INFINITY && rl.rlim_cur >= needed) return true;
  if (rl.rlim_max != RLIM_INFINITY && rl.rlim_max < needed) {
    problem = "--connections needs " + std::to_string(needed) +
              " file descriptors but the hard limit (ulimit -Hn) is " +
              std::to_string(rl.rlim_max) + ": raise it or use fewer --connections";
    return false;
  }
  rl.rlim_cur = needed;
  if (setrlimit(RLIMIT_NOFILE, &rl) != 0) {
    problem = "could not raise the file-descriptor limit to " + std::to_string(needed) + ": " +
              std::strerror(errno);
    return false;
  }
  return true;
}

// The mark file's Unix time (seconds, fraction allowed), or nothing while absent or unreadable.
std::optional<double> read_mark(const std::string& path) {
  std::ifstream in(path);
  if (!in) return std::nullopt;
  std::string text(64, '\0');
  in.read(text.data(), static_cast<std::streamsize>(text.size()));
  text.resize(static_cast<std::size_t>(in.gcount()));
  try {
    std::size_t used = 0;
    const double t = std::stod(text, &used);
    if (t > 0 && text.find_first_not_of(" \r\n", used) == std::string::npos) return t;
  } catch (const std::exception&) {
  }
  return std::nullopt;
}

}  // namespace

int main(int argc, char** argv) {
  auto opts = parse_options(std::vector<std::string>(argv + 1, argv + argc));
  if (!opts) {
    if (opts.error().code == "help") {
      std::cout << opts.error().message;
      return 0;
    }
    return usage_error(opts.error().message);
  }
  const Options& o = *opts;
  auto dk = KeyRing::load(o.directive_keys);
  if (!dk) return usage_error("--directive-keys: " + dk.error().message);
  auto rk = KeyRing::load(o.release_keys);
  if (!rk) return usage_error("--release-keys: " + rk.error().message);

  std::string problem;
  if (!raise_fd_limit(std::uint64_t{o.connections} + 64, problem)) return usage_error(problem);

  std::optional<asio::ssl::context> ssl;
  if (o.tls) {
    ssl.emplace(asio::ssl::context::tls_client);
    boost::system::error_code ec;
    ssl->load_verify_file(o.ca_file, ec);
    if (ec) return usage_error("--ca-file: cannot load '" + o.ca_file + "': " + ec.message());
    ssl->set_verify_mode(asio::ssl::verify_peer);
  }
  asio::io_context resolve_io;
  asio::ip::tcp::resolver resolver(resolve_io);
  boost::system::error_code ec;
  auto endpoints = resolver.resolve(o.host, o.port, ec);
  if (ec) {
    std::cerr << "rollout-fleetsim: cannot resolve " << o.host << ": " << ec.message() << "\n";
    return 1;
  }

  Shared shared;
  const std::string run_id = protocol::new_uuid();
  std::vector<std::unique_ptr<Shard>> shards;
  for (std::uint32_t t = 0; t < o.threads; ++t) {
    const std::size_t conns = o.connections / o.threads + (t < o.connections % o.threads ? 1 : 0);
    shards.push_back(std::make_unique<Shard>(o, shared, *dk, *rk, ssl ? &*ssl : nullptr, endpoints,
                                             t, o.threads, std::max<std::size_t>(conns, 1),
                                             run_id));
  }
  // SIGINT / SIGTERM end the run early, with its summary (a script that has seen enough).
  std::signal(SIGINT, on_signal);
  std::signal(SIGTERM, on_signal);
  std::signal(SIGPIPE, SIG_IGN);
  const auto started = std::chrono::steady_clock::now();
  std::vector<std::thread> threads;
  for (auto& s : shards) threads.emplace_back([&s] { s->run(); });

  // The main thread only watches: the ready file once every agent has an answer, the mark file.
  bool ready_written = false;
  std::optional<double> mark;
  const auto deadline = started + o.duration;
  while (std::chrono::steady_clock::now() < deadline && !g_stop.load()) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    if (!ready_written && shared.ready.load() >= o.agents) {
      ready_written = true;
      shared.all_ready.store(true);
      if (!o.ready_file.empty()) {
        std::ofstream(o.ready_file) << "ready " << o.agents << "\n";
      }
    }
    if (!o.mark_file.empty() && !mark) mark = read_mark(o.mark_file);
  }
  for (auto& s : shards) s->stop();
  for (auto& t : threads) t.join();
  if (!o.mark_file.empty() && !mark) mark = read_mark(o.mark_file);

  Stats total;
  for (auto& s : shards) total.merge(s->take_stats());
  const auto elapsed = std::chrono::steady_clock::now() - started;
  std::cout << boost::json::serialize(summarize(o, std::move(total), shared.enrolled.load(),
                                                ready_written, mark,
                                                std::chrono::duration<double>(elapsed).count()))
            << "\n";
  return 0;
}
