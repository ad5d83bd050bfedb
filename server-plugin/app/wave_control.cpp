// Manual control of a rollout in waves (pause, resume, advance, all, abort) and its view in the
// Updates table; each change goes through detail::apply like the gate's own.
#include <algorithm>

#include "server-plugin/app/views.hpp"
#include "server-plugin/app/wave_rollouts_detail.hpp"

namespace rollout::server::wave_rollouts {

namespace bj = boost::json;
using namespace detail;

http::Response manual(AppState& s, const ReleaseKey& key, Manual what, const std::string& user,
                      const std::string& reason) {
  if ((what == Manual::all || what == Manual::abort) &&
      reason.find_first_not_of(" \t\r\n") == std::string::npos) {
    return bad_request("reason_required",
                       "rolling out to everyone now or aborting needs a reason (it is kept in "
                       "the audit trail)");
  }
  if (what == Manual::abort) {
    std::optional<RollbackResult> result;
    auto st = s.store->transaction([&]() -> Status {
      auto rec = s.store->get_rollout(key);
      if (!rec) return rec.error();
      if (*rec && (*rec)->state == "rolled_back") {
        result = RollbackResult{RollbackResult::Kind::already_blocked, "", 0,
                                "the rollout of " + key.version + " is already rolled back"};
        return {};
      }
      auto r = roll_back(
          s, RollbackRequest{key, user, reason, "aborted", "", bj::object{{"rule", "aborted"}}});
      if (!r) return r.error();
      result = *r;
      return {};
    });
    if (!st) return internal_error(st.error());
    if (auto refused = refusal_response(*result)) return *refused;
    s.log("warn", "rollout", "rollout of " + key.version + " aborted: " + reason, {{"user", user}});
    return json_ok(bj::object{{"state", "rolled_back"},
                              {"downgraded_agents", result->downgraded_agents},
                              {"fallback_version", result->fallback_version}});
  }
  // A concurrent decision (the gate, another admin) bumps the revision: read again and retry.
  for (int attempt = 0; attempt < 5; ++attempt) {
    auto rec = s.store->get_rollout(key);
    if (!rec) return internal_error(rec.error());
    if (!*rec) {
      return http::error_response(404, "no_rollout",
                                  "release " + key.version + " " + key.os + "/" + key.arch +
                                      " has no rollout in waves (promote it first)");
    }
    auto l = decode(**rec);
    if (!l) return internal_error(l.error());
    if (!l->in_progress()) {
      return http::error_response(409, "rollout_finished",
                                  "the rollout of " + key.version + " is " + l->rec.state);
    }
    const bool paused = l->rec.state == "paused";
    const bool last = l->memory.wave + 1 >= l->wave_count();
    if (what == Manual::pause && paused)
      return http::error_response(409, "already_paused", "the rollout is paused already");
    if (what == Manual::resume && !paused)
      return http::error_response(409, "not_paused", "the rollout is not paused");
    if ((what == Manual::advance || what == Manual::all) && last) {
      return http::error_response(409, "last_wave",
                                  "the rollout is in its last wave already (every stable agent)");
    }
    auto data = load(s);
    if (!data) return internal_error(data.error());
    const Release* rel = find(data->releases, key);
    if (!rel) return http::error_response(404, "not_found", "no release " + key.version);
    auto seen = observe(s, *l, *rel, data->agents, data->policies);
    if (!seen) return internal_error(seen.error());
    const std::int64_t now = s.now();
    Change c{*l, std::nullopt, std::nullopt};
    std::string action;
    bj::object detail{{"rule", "manual"}};
    switch (what) {
      case Manual::pause:
        c.next.rec.state = "paused";
        action = "rollout_paused";
        break;
      case Manual::resume:
        c.next.rec.state = "rolling_out";
        c.next.memory = waves::resumed(l->memory, now);
        action = "rollout_resumed";
        break;
      case Manual::advance:
        c.next.rec.state = "rolling_out";
        c.next.memory = waves::opened_next(l->memory, seen->observation.agents, now);
        action = "rollout_advanced";
        break;
      case Manual::all:
        c.next.rec.state = "rolling_out";
        c.next.memory = waves::opened_next(l->memory, seen->observation.agents, now);
        c.next.memory.wave = l->wave_count() - 1;
        detail["all"] = true;
        action = "rollout_advanced";
        break;
      case Manual::abort:
        break;
    }
    c.next.rec.rule = "manual";
    c.next.rec.reason = reason.empty() ? action.substr(8) + " by " + user : reason;
    c.event = rollout_event(s, c.next, action, user, reason, seen->observation.health, detail);
    auto won = apply(s, c, l->rec.rev);
    if (!won) return internal_error(won.error());
    if (!*won) continue;
    s.log("info", "rollout", key.version + ": " + action + " by " + user, {{"reason", reason}});
    return json_ok(bj::object{{"state", c.next.rec.state},
                              {"wave", c.next.memory.wave + 1},
                              {"waves", c.next.wave_count()}});
  }
  return http::error_response(409, "conflict",
                              "the rollout kept changing while this request ran; try again");
}

bj::object end_state_json(const Live& l) {
  return bj::object{{"state", l.rec.state},
                    {"rule", l.rec.rule},
                    {"reason", l.rec.reason},
                    {"status_rule", l.rec.rule},
                    {"status", l.rec.reason},
                    {"wave", l.memory.wave + 1},
                    {"waves", l.wave_count()},
                    {"previous_version", l.rec.previous_version},
                    {"next_wave_in_s", nullptr},
                    {"soak_s", l.plan.soak.count()},
                    {"hysteresis_s", l.plan.hysteresis.count()}};
}

bj::object progress_json(AppState& s, const Live& l, const Seen& seen, const Release& rel) {
  const std::int64_t now = s.now();
  bj::array waves_out;
  std::uint64_t cumulative = 0;
  for (std::size_t k = 0; k < seen.per_wave.size(); ++k) {
    const auto& w = seen.per_wave[k];
    cumulative += w.agents;
    waves_out.push_back(bj::object{{"wave", k + 1},
                                   {"share_percent", l.plan.cumulative_bp[k] / 100.0},
                                   {"agents", w.agents},
                                   {"cumulative_agents", cumulative},
                                   {"on_release", w.on_release},
                                   {"success", w.success},
                                   {"failure", w.failure},
                                   {"crash", w.crash},
                                   {"open", k <= l.memory.wave}});
  }
  bj::object out{
      {"state", l.rec.state},
      {"rule", l.rec.rule},
      {"reason", l.rec.reason},
      {"wave", l.memory.wave + 1},
      {"waves", l.wave_count()},
      {"previous_version", l.rec.previous_version},
      {"stable_agents", seen.stable_agents},
      {"on_release", seen.on_release},
      {"share_on_release", seen.stable_agents == 0 ? 0.0
                                                   : static_cast<double>(seen.on_release) /
                                                         static_cast<double>(seen.stable_agents)},
      {"soak_s", l.plan.soak.count()},
      {"hysteresis_s", l.plan.hysteresis.count()},
      {"per_wave", std::move(waves_out)}};
  out["next_wave_in_s"] = nullptr;
  if (l.rec.state == "rolling_out") {
    // What the gate would say now (without acting): why it waits, and when the soak ends.
    const waves::Decision d =
        waves::evaluate(l.plan, l.memory, seen.observation, s.cfg.thresholds.min_attempts, now);
    out["status_rule"] = d.rule;
    out["status"] = d.message;
    if (d.action == waves::Action::wait && l.memory.updated_at) {
      out["next_wave_in_s"] =
          std::max<std::int64_t>(0, *l.memory.updated_at + l.plan.soak.count() - now);
    } else if (d.action == waves::Action::wait && d.rule == "soaking") {
      out["next_wave_in_s"] = l.plan.soak.count();
    }
  } else {
    out["status_rule"] = l.rec.rule;
    out["status"] = l.rec.reason;
  }
  (void)rel;
  return out;
}

}  // namespace rollout::server::wave_rollouts
