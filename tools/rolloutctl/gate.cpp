// promote and rollback: the two actions of the Updates page, from the terminal.
#include <cstdio>

#include "common/release.hpp"
#include "common/semver.hpp"
#include "common/text.hpp"
#include "tools/rolloutctl/api.hpp"
#include "tools/rolloutctl/commands.hpp"

namespace rollout::ctl {

namespace bj = boost::json;

namespace {

constexpr const char* kPromoteHelp =
    "usage: rolloutctl promote VERSION --os O --arch A [--force --reason R] [server options]\n"
    "\n"
    "Makes a beta release the stable target. The server re-checks its health; when the check\n"
    "fails the reasons are printed and the exit code is 1. --force with a non-empty --reason\n"
    "overrides anything but a Blocked release and is recorded in the audit trail.\n";

constexpr const char* kRollbackHelp =
    "usage: rolloutctl rollback VERSION --os O --arch A --reason R [server options]\n"
    "\n"
    "Blocks the release for good and tells every agent on it to downgrade to the previous\n"
    "stable version. The reason is required and kept in the audit trail.\n";

struct Target {
  std::string version, os, arch;
};

// VERSION, --os and --arch, checked locally so a typo never reaches the server.
Expected<Target> target_of(const Args& args) {
  Target t{args.positional().at(0), args.get("os").value_or(""), args.get("arch").value_or("")};
  if (auto v = SemVer::parse(t.version); !v) return make_error("usage", v.error().message);
  if (!valid_os(t.os)) return make_error("usage", "--os must be linux or windows");
  if (!valid_arch(t.arch)) return make_error("usage", "--arch must be x86_64 or aarch64");
  return t;
}

bool blank(const std::string& s) {
  return s.find_first_not_of(" \t\r\n") == std::string::npos;
}

void print_reasons(const bj::value& body) {
  if (!body.is_object()) return;
  const auto* reasons = body.as_object().if_contains("reasons");
  if (!reasons || !reasons->is_array()) return;
  for (const auto& r : reasons->as_array()) {
    if (!r.is_object()) continue;
    const auto* code = r.as_object().if_contains("code");
    const auto* msg = r.as_object().if_contains("message");
    std::fprintf(stderr, "  - %s: %s\n",
                 code && code->is_string() ? std::string(code->as_string()).c_str() : "?",
                 msg && msg->is_string() ? std::string(msg->as_string()).c_str() : "");
  }
}

}  // namespace

int promote(const std::vector<std::string>& argv) {
  auto args = Args::parse(argv, with_server_flags({{"os", "arch", "reason"}, {"force"}, 1, 1}));
  if (!args) return fail(kUsage, args.error().message);
  if (args->has("help")) {
    std::printf("%s\n%s", kPromoteHelp, kServerFlagsHelp);
    return kOk;
  }
  auto t = target_of(*args);
  if (!t) return fail(kUsage, t.error().message);
  const bool force = args->has("force");
  const std::string reason = args->get("reason").value_or("");
  if (force && blank(reason)) return fail(kUsage, "--force needs a non-empty --reason");
  auto client = ApiClient::from_args(*args);
  if (!client) return report_error(client.error());
  bj::object body{{"os", t->os}, {"arch", t->arch}};
  if (force) body["force"] = true;
  if (!reason.empty()) body["reason"] = reason;
  auto answer =
      client->call("POST", "/api/updates/rollouts/" + path_segment(t->version) + "/promote",
                   bj::serialize(body));
  if (!answer) return report_error(answer.error());
  if (answer->status != 200) {
    const int code = report_refusal(*answer);
    print_reasons(answer->body);
    if (answer->status == 409 && answer->body.is_object() &&
        answer->body.as_object().contains("can_force") && answer->body.at("can_force").is_bool() &&
        answer->body.at("can_force").as_bool()) {
      std::fprintf(stderr, "  (rerun with --force --reason \"...\" to override)\n");
    }
    return code;
  }
  std::printf("Version %s promoted to stable%s\n", t->version.c_str(), force ? " (forced)" : "");
  return kOk;
}

int rollback(const std::vector<std::string>& argv) {
  auto args = Args::parse(argv, with_server_flags({{"os", "arch", "reason"}, {}, 1, 1}));
  if (!args) return fail(kUsage, args.error().message);
  if (args->has("help")) {
    std::printf("%s\n%s", kRollbackHelp, kServerFlagsHelp);
    return kOk;
  }
  auto t = target_of(*args);
  if (!t) return fail(kUsage, t.error().message);
  const std::string reason = args->get("reason").value_or("");
  if (blank(reason)) return fail(kUsage, "a rollback needs a non-empty --reason");
  auto client = ApiClient::from_args(*args);
  if (!client) return report_error(client.error());
  auto answer =
      client->call("POST", "/api/updates/rollouts/" + path_segment(t->version) + "/rollback",
                   bj::serialize(bj::object{{"os", t->os}, {"arch", t->arch}, {"reason", reason}}));
  if (!answer) return report_error(answer.error());
  if (answer->status != 200) return report_refusal(*answer);
  const auto& o = answer->body.as_object();
  const std::string downgraded =
      text::counted(o.at("downgraded_agents").to_number<std::int64_t>(), "agent");
  std::printf("Version %s rolled back. %s downgraded (to %s)\n", t->version.c_str(),
              downgraded.c_str(), std::string(o.at("fallback_version").as_string()).c_str());
  return kOk;
}

}  // namespace rollout::ctl
