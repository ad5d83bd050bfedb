#include "server-plugin/app/targets.hpp"

#include "common/semver.hpp"

namespace rollout::server {
namespace {

bool newer(const Release& a, const Release& b) {
  auto va = SemVer::parse(a.key.version);
  auto vb = SemVer::parse(b.key.version);
  return va && vb && *va > *vb;
}

int minutes(const std::string& hhmm) {
  return std::stoi(hhmm.substr(0, 2)) * 60 + std::stoi(hhmm.substr(3, 2));
}

}  // namespace

Targets channel_targets(const std::vector<Release>& releases, const std::string& os,
                        const std::string& arch) {
  Targets t;
  for (const auto& r : releases) {
    if (r.key.os != os || r.key.arch != arch || r.blocked) continue;
    if (r.promotion_seq > 0 && (!t.stable || r.promotion_seq > t.stable->promotion_seq))
      t.stable = r;
  }
  for (const auto& r : releases) {
    if (r.key.os != os || r.key.arch != arch || r.blocked) continue;
    if (t.stable && !newer(r, *t.stable)) continue;
    if (!t.beta || newer(r, *t.beta)) t.beta = r;
  }
  if (!t.beta) t.beta = t.stable;
  return t;
}

Resolved resolve_policy(const Agent& agent, const std::vector<Policy>& policies) {
  Resolved out;
  bool rollout_set = false;
  const std::pair<const char*, std::string> chain[] = {
      {"agent", agent.id}, {"site", agent.site}, {"client", agent.client}, {"default", ""}};
  for (const auto& [scope, id] : chain) {
    if (std::string_view(scope) != "default" && id.empty()) continue;
    for (const auto& p : policies) {
      if (p.scope != scope || p.scope_id != id) continue;
      if (out.channel.empty() && p.channel) {
        out.channel = *p.channel;
        out.channel_source = scope;
      }
      if (!rollout_set && p.rollout) {
        out.rollout = *p.rollout;
        rollout_set = true;
      }
      if (p.waves) {
        if (std::string_view(scope) != "default") {
          const std::string name = std::string(scope) + ":" + id;
          out.plan_group = out.plan_fields.empty() ? name : out.plan_group + "," + name;
        }
        out.plan_fields.push_back(*p.waves);
      }
      if (!out.window_start && p.window_start && p.window_end) {
        out.window_start = p.window_start;
        out.window_end = p.window_end;
      }
    }
  }
  if (out.channel.empty() && (agent.channel_hint == "beta" || agent.channel_hint == "stable")) {
    out.channel = agent.channel_hint;
    out.channel_source = "enrollment";
  }
  if (out.channel.empty()) {
    out.channel = "stable";
    out.channel_source = "builtin";
  }
  return out;
}

bool in_window(const Resolved& r, int minute_of_day) {
  if (!r.window_start || !r.window_end) return true;
  const int start = minutes(*r.window_start), end = minutes(*r.window_end);
  if (start == end) return true;
  if (start < end) return minute_of_day >= start && minute_of_day < end;
  return minute_of_day >= start || minute_of_day < end;
}

}  // namespace rollout::server
