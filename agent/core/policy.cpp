#include "agent/policy.hpp"

#include "agent/journal.hpp"
#include "common/time.hpp"

namespace rollout::agent {

Expected<UpdateTarget> accept_directive(const VerifiedDirective& v, const AgentFacts& f) {
  const Directive& d = v.directive;
  if (d.agent_id != f.agent_id) {
    return make_error("wrong_agent", "directive is for agent " + d.agent_id.substr(0, 64) +
                                         ", not this one (" + f.agent_id + ")");
  }
  if (d.action == DirectiveAction::none) return make_error("nothing_to_do", "action none");
  if (!v.release) return make_error("no_release", "directive carries no release");
  const ReleaseManifest& m = v.release->manifest;
  // The release key may sign several products; only this agent's own may replace it.
  if (m.product != f.product) {
    return make_error("wrong_product", "release is for product '" + m.product +
                                           "', this agent installs '" + f.product + "' only");
  }
  if (m.os != f.os || m.arch != f.arch) {
    return make_error("wrong_platform",
                      "release is for " + m.os + "/" + m.arch + ", this is " + f.os + "/" + f.arch);
  }
  if (d.sequence < f.last_sequence) {
    return make_error("replayed_directive", "directive sequence " + std::to_string(d.sequence) +
                                                " is below the last accepted " +
                                                std::to_string(f.last_sequence));
  }
  if (f.now > d.expires_at + f.clock_tolerance) {
    return make_error("expired", "directive expired at " + format_rfc3339(d.expires_at));
  }
  if (d.issued_at > f.now + f.clock_tolerance) {
    return make_error("not_yet_valid",
                      "directive issued at " + format_rfc3339(d.issued_at) + " is in the future");
  }
  const std::string version = m.version.str();
  if (auto st = validate_version_for_path(version); !st) return st.error();
  auto current = SemVer::parse(f.current_version);
  if (d.action == DirectiveAction::install) {
    if (current && !(m.version > *current)) {
      return make_error("not_an_upgrade", "install directive for " + version +
                                              " does not move up from " + f.current_version);
    }
  } else if (!current || !(m.version < *current)) {
    return make_error("not_a_downgrade", "downgrade directive for " + version +
                                             " does not move down from " + f.current_version);
  }
  if (m.security_version < f.security_floor) {
    return make_error("below_security_floor", "release " + version + " has security version " +
                                                  std::to_string(m.security_version) +
                                                  ", below this endpoint's floor " +
                                                  std::to_string(f.security_floor));
  }
  return UpdateTarget{version, m.sha256, m.size, m.security_version, d.sequence, v.digest};
}

}  // namespace rollout::agent
