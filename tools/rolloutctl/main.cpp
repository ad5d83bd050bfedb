// rolloutctl: release pipeline and admin command line.
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "tools/rolloutctl/args.hpp"
#include "tools/rolloutctl/commands.hpp"

namespace {

constexpr const char* kUsage =
    "usage: rolloutctl <command> [options]\n"
    "\n"
    "commands:\n"
    "  keygen        generate an Ed25519 release or directive key pair\n"
    "  sign-release  sign a release manifest for an artifact with the release key\n"
    "  verify        verify a release manifest (and optionally its artifact)\n"
    "\n"
    "  publish       upload a signed release to the server (it starts on beta)\n"
    "  status        the Updates table: health, success rate and agents per release\n"
    "  promote       make a beta release stable (health-gated; --force --reason overrides)\n"
    "  rollback      block a release and downgrade every agent on it (--reason required)\n"
    "  rollout       pause, resume, advance, all or abort a stable rollout in waves\n"
    "  users add     create a viewer, operator or admin user\n"
    "  token create  create an API token for these commands\n"
    "\n"
    "Run 'rolloutctl <command> --help' for a command's options.\n"
    "Exit codes: 0 ok, 1 verification failed or the server refused/was unreachable,\n"
    "2 usage or input error.\n";

struct Verb {
  const char* name;
  int (*run)(const std::vector<std::string>&);
};

constexpr Verb kVerbs[] = {
    {"keygen", rollout::ctl::keygen},     {"sign-release", rollout::ctl::sign_release},
    {"verify", rollout::ctl::verify},     {"publish", rollout::ctl::publish},
    {"status", rollout::ctl::status},     {"promote", rollout::ctl::promote},
    {"rollback", rollout::ctl::rollback}, {"users", rollout::ctl::users},
    {"token", rollout::ctl::token},       {"rollout", rollout::ctl::rollout_control},
};

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) return rollout::ctl::fail(rollout::ctl::kUsage, "missing command (see --help)");
  const std::string cmd = argv[1];
  if (cmd == "--help" || cmd == "-h" || cmd == "help") {
    std::fputs(kUsage, stdout);
    return rollout::ctl::kOk;
  }
  if (cmd == "--version") {
    std::printf("rolloutctl %s\n", ROLLOUT_VERSION);
    return rollout::ctl::kOk;
  }
  for (const auto& v : kVerbs) {
    if (cmd == v.name) return v.run(std::vector<std::string>(argv + 2, argv + argc));
  }
  return rollout::ctl::fail(rollout::ctl::kUsage, "unknown command '" + cmd + "' (see --help)");
}
