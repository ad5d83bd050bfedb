#include "tools/fleetsim/options.hpp"

#include <charconv>
#include <fstream>
#include <sstream>

#include "common/config.hpp"
#include "common/release.hpp"
#include "common/semver.hpp"

namespace rollout::fleetsim {
namespace {

Error bad(const std::string& flag, const std::string& why) {
  return make_error("usage", flag + ": " + why);
}

Expected<std::uint32_t> number(const std::string& flag, const std::string& v, std::uint32_t lo,
                               std::uint32_t hi) {
  std::uint32_t n = 0;
  auto [p, ec] = std::from_chars(v.data(), v.data() + v.size(), n);
  if (ec != std::errc() || p != v.data() + v.size() || n < lo || n > hi) {
    return bad(flag, "'" + v.substr(0, 40) + "' is not a whole number from " + std::to_string(lo) +
                         " to " + std::to_string(hi));
  }
  return n;
}

Expected<std::chrono::milliseconds> duration(const std::string& flag, const std::string& v,
                                             std::chrono::milliseconds lo,
                                             std::chrono::milliseconds hi) {
  auto d = config::parse_duration(v);
  if (!d || *d < lo || *d > hi) {
    return bad(flag, "'" + v.substr(0, 40) + "' is not a duration (e.g. 500ms, 30s, 2m) from " +
                         std::to_string(lo.count()) + " ms to " + std::to_string(hi.count()) +
                         " ms");
  }
  return *d;
}

std::vector<std::string> split(const std::string& v, char sep) {
  std::vector<std::string> out;
  std::string part;
  std::istringstream in(v);
  while (std::getline(in, part, sep)) out.push_back(part);
  return out;
}

Expected<OutcomeMix> outcome_mix(const std::string& v) {
  const std::string flag = "--outcomes";
  OutcomeMix mix{0, 0, 0};
  for (const auto& item : split(v, ',')) {
    const auto eq = item.find('=');
    if (eq == std::string::npos)
      return bad(flag, "'" + item.substr(0, 40) + "' is not NAME=WEIGHT");
    auto w = number(flag, item.substr(eq + 1), 0, 1000000);
    if (!w) return w.error();
    const auto name = item.substr(0, eq);
    if (name == "success") {
      mix.success = *w;
    } else if (name == "failure") {
      mix.failure = *w;
    } else if (name == "crash") {
      mix.crash = *w;
    } else {
      return bad(flag, "unknown outcome '" + name.substr(0, 40) + "' (success, failure, crash)");
    }
  }
  if (mix.success + mix.failure + mix.crash == 0) return bad(flag, "the weights sum to 0");
  return mix;
}

Status parse_url(Options& o, const std::string& v) {
  const std::string flag = "--server";
  std::string rest;
  if (v.rfind("https://", 0) == 0) {
    o.tls = true;
    rest = v.substr(8);
  } else if (v.rfind("http://", 0) == 0) {
    o.tls = false;
    rest = v.substr(7);
  } else {
    return bad(flag, "'" + v.substr(0, 80) + "' is not an https:// or http:// URL");
  }
  while (!rest.empty() && rest.back() == '/') rest.pop_back();
  if (rest.find('/') != std::string::npos || rest.empty()) {
    return bad(flag, "give only scheme://host:port, no path");
  }
  const auto colon = rest.rfind(':');
  if (colon == std::string::npos || rest.find(']') != std::string::npos) {
    o.host = rest;
    o.port = o.tls ? "443" : "80";
  } else {
    o.host = rest.substr(0, colon);
    auto p = number(flag, rest.substr(colon + 1), 1, 65535);
    if (!p) return bad(flag, "the port is not a number from 1 to 65535");
    o.port = std::to_string(*p);
  }
  if (o.host.empty()) return bad(flag, "no host");
  o.server_url = v;
  return {};
}

Expected<std::string> read_small_file(const std::string& flag, const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return bad(flag, "cannot read '" + path + "'");
  std::string s(4097, '\0');
  in.read(s.data(), static_cast<std::streamsize>(s.size()));
  s.resize(static_cast<std::size_t>(in.gcount()));
  if (s.size() > 4096) return bad(flag, "'" + path + "' is larger than 4 KiB");
  while (!s.empty() && (s.back() == '\n' || s.back() == '\r' || s.back() == ' ')) s.pop_back();
  if (s.empty()) return bad(flag, "'" + path + "' is empty");
  return s;
}

}  // namespace

std::string usage() {
  return R"(usage: rollout-fleetsim --server URL --agents N --enrollment-key-file PATH
                        --directive-keys PEM[,PEM] --release-keys PEM[,PEM] [options]
Simulates N agents against a real rollout-server and prints a JSON summary on exit.
  --server URL            https://host:port (or http:// for a plain server)
  --ca-file PEM           the CA that signed the server's certificate (required for https)
  --agents N              1 to --max-agents
  --max-agents N          cap on --agents (default 100000, at most 1000000)
  --connections N|per-agent  keep-alive connections shared by the agents (default min(N, 64))
  --threads N             1 to 16 (default 1)
  --interval DURATION     check-in interval (default: the server's poll_interval), ±20 % jitter
  --duration DURATION     how long to run (default 60s, at most 24h)
  --apply-delay DURATION  a directive's pretended install time (default 1s)
  --request-timeout DURATION  per request (default 30s; a held check-in: its wait plus this)
  --long-poll SECONDS     1 to 300: check-ins ask to be held that long (Prefer: wait=N) and the
                          next follows a held answer at once (needs --connections per-agent)
  --outcomes MIX          e.g. success=95,failure=3,crash=2 (default success=100)
  --mark-file PATH        polled; holds a Unix time (seconds) the propagation is measured from
  --ready-file PATH       written once every agent enrolled and checked in once
  --os OS --arch ARCH --version SEMVER   the agents' platform and installed version
  --clients N --sites N --beta-percent P  enrollment mix (client-i, site-i, channel hint beta)
  --name-prefix TEXT      hostname prefix (default sim)
)";
}

Expected<Options> parse_options(const std::vector<std::string>& args) {
  Options o;
  bool have_agents = false, have_connections = false;
  std::string enroll_file;
  for (std::size_t i = 0; i < args.size(); ++i) {
    const std::string& flag = args[i];
    if (flag == "--help" || flag == "-h") return make_error("help", usage());
    if (flag.rfind("--", 0) != 0) return bad(flag, "unexpected argument");
    if (i + 1 >= args.size()) return bad(flag, "needs a value");
    const std::string v = args[++i];
    Status st;
    if (flag == "--server") {
      st = parse_url(o, v);
    } else if (flag == "--ca-file") {
      o.ca_file = v;
    } else if (flag == "--enrollment-key-file") {
      enroll_file = v;
    } else if (flag == "--directive-keys" || flag == "--release-keys") {
      auto& ring = flag == "--directive-keys" ? o.directive_keys : o.release_keys;
      ring = split(v, ',');
      if (ring.empty()) return bad(flag, "no key file");
    } else if (flag == "--agents") {
      auto n = number(flag, v, 1, 1000000);
      if (!n) return n.error();
      o.agents = *n;
      have_agents = true;
    } else if (flag == "--max-agents") {
      auto n = number(flag, v, 1, 1000000);
      if (!n) return n.error();
      o.max_agents = *n;
    } else if (flag == "--connections") {
      have_connections = true;
      if (v == "per-agent") {
        o.per_agent_connections = true;
      } else {
        auto n = number(flag, v, 1, 1000000);
        if (!n) return n.error();
        o.connections = *n;
      }
    } else if (flag == "--threads") {
      auto n = number(flag, v, 1, 16);
      if (!n) return n.error();
      o.threads = *n;
    } else if (flag == "--interval") {
      auto d = duration(flag, v, std::chrono::milliseconds(100), std::chrono::hours(24));
      if (!d) return d.error();
      o.interval = *d;
    } else if (flag == "--duration") {
      auto d = duration(flag, v, std::chrono::milliseconds(100), std::chrono::hours(24));
      if (!d) return d.error();
      o.duration = *d;
    } else if (flag == "--apply-delay") {
      auto d = duration(flag, v, std::chrono::milliseconds(0), std::chrono::hours(1));
      if (!d) return d.error();
      o.apply_delay = *d;
    } else if (flag == "--request-timeout") {
      auto d = duration(flag, v, std::chrono::milliseconds(100), std::chrono::minutes(10));
      if (!d) return d.error();
      o.request_timeout = *d;
    } else if (flag == "--long-poll") {
      auto n = number(flag, v, 1, 300);
      if (!n) return n.error();
      o.long_poll_s = *n;
    } else if (flag == "--outcomes") {
      auto m = outcome_mix(v);
      if (!m) return m.error();
      o.outcomes = *m;
    } else if (flag == "--mark-file") {
      o.mark_file = v;
    } else if (flag == "--ready-file") {
      o.ready_file = v;
    } else if (flag == "--os") {
      if (!valid_os(v)) return bad(flag, "'" + v.substr(0, 40) + "' is not linux or windows");
      o.os = v;
    } else if (flag == "--arch") {
      if (!valid_arch(v)) return bad(flag, "'" + v.substr(0, 40) + "' is not x86_64 or aarch64");
      o.arch = v;
    } else if (flag == "--version") {
      auto sv = SemVer::parse(v);
      if (!sv) return bad(flag, sv.error().message);
      o.version = sv->str();
    } else if (flag == "--clients" || flag == "--sites") {
      auto n = number(flag, v, 0, 100000);
      if (!n) return n.error();
      (flag == "--clients" ? o.clients : o.sites) = *n;
    } else if (flag == "--beta-percent") {
      auto n = number(flag, v, 0, 100);
      if (!n) return n.error();
      o.beta_percent = *n;
    } else if (flag == "--name-prefix") {
      if (v.empty() || v.size() > 64 ||
          v.find_first_not_of("abcdefghijklmnopqrstuvwxyz0123456789-") != std::string::npos) {
        return bad(flag, "1 to 64 of [a-z0-9-]");
      }
      o.name_prefix = v;
    } else {
      return bad(flag, "unknown flag (see --help)");
    }
    if (!st) return st.error();
  }
  if (o.server_url.empty()) return bad("--server", "required");
  if (!have_agents) return bad("--agents", "required");
  if (o.agents > o.max_agents) {
    return bad("--agents",
               std::to_string(o.agents) + " is above --max-agents " + std::to_string(o.max_agents));
  }
  if (enroll_file.empty()) return bad("--enrollment-key-file", "required");
  auto key = read_small_file("--enrollment-key-file", enroll_file);
  if (!key) return key.error();
  o.enrollment_key = *key;
  if (o.directive_keys.empty()) return bad("--directive-keys", "required");
  if (o.release_keys.empty()) return bad("--release-keys", "required");
  if (o.tls && o.ca_file.empty()) return bad("--ca-file", "required for an https:// server");
  if (o.per_agent_connections) {
    o.connections = o.agents;
  } else if (!have_connections) {
    o.connections = std::min<std::uint32_t>(o.agents, 64);
  }
  o.connections = std::min(o.connections, o.agents);
  // A held check-in keeps its connection busy for the whole hold, as the real agent's does.
  if (o.long_poll_s > 0 && o.connections < o.agents)
    return bad("--long-poll",
               "needs --connections per-agent (a held check-in keeps its connection)");
  if (o.threads > o.connections) o.threads = o.connections;
  return o;
}

}  // namespace rollout::fleetsim
