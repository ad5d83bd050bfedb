#include "agent/setup_command.hpp"

#include <map>

#include "agent/setup.hpp"
#include "platform/defaults.hpp"
#include "platform/fs.hpp"
#include "platform/secret_file.hpp"

namespace rollout::agent {

namespace {

constexpr const char* kSetupUsage =
    "usage: rollout-agent setup [--state-dir DIR] [--config-dir DIR] [--install-root DIR]\n"
    "                           [--service NAME] [--if-exists fail|keep|replace] NAME=VALUE...\n"
    "NAME: SERVER_URL ENROLLMENT_KEY RELEASE_KEYS DIRECTIVE_KEYS SERVER_CA CHANNEL EXECUTABLE\n";

int fail(std::FILE* err, int code, const std::string& message) {
  std::fprintf(err, "rollout-agent setup: %s\n", message.c_str());
  return code;
}

struct Request {
  SetupProperties props;
  std::string config_dir;
  std::string service;
  std::string if_exists = "fail";
};

// Parses the arguments into `r`; an error message, or empty.
std::string parse(const std::vector<std::string>& args, Request& r) {
  const std::map<std::string, std::string SetupProperties::*> names = {
      {"SERVER_URL", &SetupProperties::server_url},
      {"ENROLLMENT_KEY", &SetupProperties::enrollment_key},
      {"RELEASE_KEYS", &SetupProperties::release_keys},
      {"DIRECTIVE_KEYS", &SetupProperties::directive_keys},
      {"SERVER_CA", &SetupProperties::server_ca},
      {"CHANNEL", &SetupProperties::channel},
      {"EXECUTABLE", &SetupProperties::executable}};
  const std::map<std::string, std::string*> options = {{"--config-dir", &r.config_dir},
                                                       {"--state-dir", &r.props.state_dir},
                                                       {"--install-root", &r.props.install_root},
                                                       {"--service", &r.service},
                                                       {"--if-exists", &r.if_exists}};
  std::map<std::string, bool> seen;
  for (std::size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    if (auto o = options.find(a); o != options.end()) {
      if (i + 1 >= args.size()) return a + " needs a value";
      if (seen[a]) return a + " given twice";
      seen[a] = true;
      *o->second = args[++i];
      continue;
    }
    const auto eq = a.find('=');
    if (eq == std::string::npos || a.rfind("--", 0) == 0) {
      return "unknown argument '" + a.substr(0, 64) + "' (see --help)";
    }
    const std::string name = a.substr(0, eq);
    const auto n = names.find(name);
    if (n == names.end()) return "unknown property '" + name.substr(0, 64) + "'";
    if (seen[name]) return name + " given twice";
    seen[name] = true;
    r.props.*(n->second) = a.substr(eq + 1);
  }
  if (r.if_exists != "fail" && r.if_exists != "keep" && r.if_exists != "replace") {
    return "--if-exists must be fail, keep or replace";
  }
  if (r.props.state_dir.empty()) r.props.state_dir = platform::default_state_dir();
  if (r.props.install_root.empty()) r.props.install_root = platform::default_install_root();
  if (r.config_dir.empty()) r.config_dir = platform::join_path(r.props.state_dir, "config");
  return {};
}

Status set_recovery(const std::string& service, std::FILE* out) {
  if (service.empty()) return {};
  auto taken = platform::set_service_recovery(service, agent_service_recovery());
  if (!taken) return taken.error();
  std::fprintf(out, "service %s: %s\n", service.c_str(), platform::describe(*taken).c_str());
  return {};
}

// Writes `files` into `dir`.new and puts it in `dir`'s place (an existing `dir` is replaced).
Status install(platform::FileSystem& fs, const std::string& dir,
               const std::vector<SetupFile>& files) {
  const std::string staging = dir + ".new", old = dir + ".old";
  // Leftovers of an interrupted run are ours: nothing else writes these names.
  if (auto st = fs.remove_tree(staging); !st) return st;
  if (auto st = fs.remove_tree(old); !st) return st;
  auto written = [&]() -> Status {
    if (auto st = fs.make_secure_dir(staging); !st) return st;
    for (const auto& f : files) {
      auto st = platform::write_new_secret_file(platform::join_path(staging, f.name), f.bytes);
      if (!st) return st;
    }
    return fs.fsync_dir(staging);
  }();
  if (!written) {
    (void)fs.remove_tree(staging);
    return written;
  }
  const bool replacing = static_cast<bool>(fs.stat_no_follow(dir));
  if (replacing) {
    if (auto st = fs.rename(dir, old); !st) {
      (void)fs.remove_tree(staging);
      return st;
    }
  }
  if (auto st = fs.rename(staging, dir); !st) {
    if (replacing) (void)fs.rename(old, dir);
    (void)fs.remove_tree(staging);
    return st;
  }
  return replacing ? fs.remove_tree(old) : Status{};
}

}  // namespace

platform::ServiceRecovery agent_service_recovery() {
  using std::chrono::seconds;
  return {{seconds(10), seconds(30), seconds(60)}, seconds(86400), true};
}

int run_setup_command(const std::vector<std::string>& args, std::FILE* out, std::FILE* err) {
  if (args.size() == 1 && (args[0] == "--help" || args[0] == "-h")) {
    std::fputs(kSetupUsage, out);
    return 0;
  }
  Request r;
  if (const std::string bad = parse(args, r); !bad.empty()) return fail(err, 2, bad);
  auto& fs = platform::real_file_system();
  if (fs.stat_no_follow(r.config_dir)) {
    if (r.if_exists == "fail") {
      return fail(err, 1,
                  r.config_dir + " exists; --if-exists keep leaves it, replace rewrites it");
    }
    if (r.if_exists == "keep") {
      if (auto st = set_recovery(r.service, out); !st) return fail(err, 1, st.error().message);
      std::fprintf(out, "kept the existing %s (the properties were not used)\n",
                   r.config_dir.c_str());
      return 0;
    }
  }
  auto files = render_setup(r.props, r.config_dir);
  if (!files) return fail(err, 2, files.error().message);
  if (auto st = set_recovery(r.service, out); !st) return fail(err, 1, st.error().message);
  // The agent needs both to exist (its staging directory is under the install root).
  if (auto st = fs.make_secure_dir(r.props.state_dir); !st) {
    return fail(err, 1, "state dir: " + st.error().message);
  }
  if (auto st = fs.make_secure_dir(r.props.install_root); !st) {
    return fail(err, 1, "install root: " + st.error().message);
  }
  if (auto st = install(fs, r.config_dir, *files); !st) return fail(err, 1, st.error().message);
  std::string names;
  for (const auto& f : *files) names += (names.empty() ? "" : ", ") + f.name;
  std::fprintf(out, "wrote %s: %s\n", r.config_dir.c_str(), names.c_str());
  return 0;
}

int run_show_recovery_command(const std::vector<std::string>& args, std::FILE* out,
                              std::FILE* err) {
  if (args.size() != 1 || args[0].empty() || args[0][0] == '-') {
    std::fputs("usage: rollout-agent show-recovery SERVICE\n", err);
    return 2;
  }
  auto r = platform::query_service_recovery(args[0]);
  if (!r) {
    std::fprintf(err, "rollout-agent show-recovery: %s\n", r.error().message.c_str());
    return 1;
  }
  std::fprintf(out, "service %s: %s\n", args[0].c_str(), platform::describe(*r).c_str());
  return 0;
}

}  // namespace rollout::agent
