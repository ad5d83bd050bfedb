// rollout pause|resume|advance|all|abort: manual control of a stable rollout in waves.
#include <cstdio>

#include "common/release.hpp"
#include "common/semver.hpp"
#include "common/text.hpp"
#include "tools/rolloutctl/api.hpp"
#include "tools/rolloutctl/commands.hpp"

namespace rollout::ctl {

namespace bj = boost::json;

namespace {

constexpr const char* kRolloutHelp =
    "usage: rolloutctl rollout pause|resume|advance|all|abort VERSION --os O --arch A\n"
    "                  [--reason R] [--group G] [server options]\n"
    "\n"
    "Controls the stable rollout in waves that promoting VERSION started:\n"
    "  pause    no further wave opens (the agents let in keep the release)\n"
    "  resume   the gate watches the open wave afresh\n"
    "  advance  open the next wave now, without waiting for the soak\n"
    "  all      let every stable agent in now (--reason required)\n"
    "  abort    roll the release back, as 'rolloutctl rollback' does (--reason required)\n"
    "Each step applies to every rollout group of the release (the default group and one per\n"
    "policy with its own wave plan) that can take it, or only to --group G (e.g. site:lab;\n"
    "not with abort, which always rolls the whole release back).\n"
    "Every step is recorded in the audit trail with your name and reason.\n";

bool blank(const std::string& s) {
  return s.find_first_not_of(" \t\r\n") == std::string::npos;
}

}  // namespace

int rollout_control(const std::vector<std::string>& argv) {
  auto args = Args::parse(argv, with_server_flags({{"os", "arch", "reason", "group"}, {}, 1, 2}));
  if (!args) return fail(kUsage, args.error().message);
  if (args->has("help")) {
    std::printf("%s\n%s", kRolloutHelp, kServerFlagsHelp);
    return kOk;
  }
  if (args->positional().size() != 2) {
    return fail(kUsage, "rollout needs an action and a VERSION (see rolloutctl rollout --help)");
  }
  const std::string action = args->positional().at(0);
  const std::string version = args->positional().at(1);
  if (action != "pause" && action != "resume" && action != "advance" && action != "all" &&
      action != "abort") {
    return fail(kUsage, "rollout action must be pause, resume, advance, all or abort");
  }
  if (auto v = SemVer::parse(version); !v) return fail(kUsage, v.error().message);
  const std::string os = args->get("os").value_or(""), arch = args->get("arch").value_or("");
  if (!valid_os(os)) return fail(kUsage, "--os must be linux or windows");
  if (!valid_arch(arch)) return fail(kUsage, "--arch must be x86_64 or aarch64");
  const std::string reason = args->get("reason").value_or("");
  if ((action == "all" || action == "abort") && blank(reason)) {
    return fail(kUsage, "rollout " + action + " needs a non-empty --reason");
  }
  auto client = ApiClient::from_args(*args);
  if (!client) return report_error(client.error());
  bj::object body{{"os", os}, {"arch", arch}};
  if (!reason.empty()) body["reason"] = reason;
  const auto group = args->get("group");
  if (group && action == "abort") {
    return fail(kUsage, "rollout abort rolls the whole release back: leave out --group");
  }
  if (group && blank(*group)) return fail(kUsage, "--group needs a group name (e.g. site:lab)");
  if (group) body["group"] = *group;
  auto answer =
      client->call("POST", "/api/updates/rollouts/" + path_segment(version) + "/waves/" + action,
                   bj::serialize(body));
  if (!answer) return report_error(answer.error());
  if (answer->status != 200) return report_refusal(*answer);
  const auto& o = answer->body.as_object();
  if (action == "abort") {
    std::printf("Rollout of %s aborted and rolled back. %s downgraded (to %s)\n", version.c_str(),
                text::counted(o.at("downgraded_agents").to_number<std::int64_t>(), "agent").c_str(),
                std::string(o.at("fallback_version").as_string()).c_str());
    return kOk;
  }
  const bj::array* groups = o.if_contains("groups") ? o.at("groups").if_array() : nullptr;
  if (!groups || groups->size() <= 1) {
    std::printf("Rollout of %s: %s, wave %lld of %lld\n", version.c_str(),
                std::string(o.at("state").as_string()).c_str(),
                static_cast<long long>(o.at("wave").to_number<std::int64_t>()),
                static_cast<long long>(o.at("waves").to_number<std::int64_t>()));
    return kOk;
  }
  for (const auto& g : *groups) {
    const auto& x = g.as_object();
    std::printf("Rollout of %s, group %s: %s, wave %lld of %lld\n", version.c_str(),
                std::string(x.at("group").as_string()).c_str(),
                std::string(x.at("state").as_string()).c_str(),
                static_cast<long long>(x.at("wave").to_number<std::int64_t>()),
                static_cast<long long>(x.at("waves").to_number<std::int64_t>()));
  }
  return kOk;
}

}  // namespace rollout::ctl
