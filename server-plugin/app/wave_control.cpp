// Manual control of a rollout in waves (pause, resume, advance, all, abort) and its view in the
// Updates table; each change goes through detail::apply like the gate's own, one group's row
// at a time.
#include <algorithm>

#include "server-plugin/app/policy_plan.hpp"
#include "server-plugin/app/views.hpp"
#include "server-plugin/app/wave_rollouts_detail.hpp"

namespace rollout::server::wave_rollouts {

namespace bj = boost::json;
using namespace detail;

namespace {

// Why one group's row cannot take `what` now, or nothing.
std::optional<http::Response> refusal(const Live& l, Manual what) {
  if (!l.in_progress()) {
    return http::error_response(409, "rollout_finished",
                                "the rollout of " + l.rec.key.version +
                                    (l.rec.group == "default" ? "" : " (" + l.rec.group + ")") +
                                    " is " + l.rec.state);
  }
  const bool paused = l.rec.state == "paused";
  const bool last = l.memory.wave + 1 >= l.wave_count();
  if (what == Manual::pause && paused)
    return http::error_response(409, "already_paused", "the rollout is paused already");
  if (what == Manual::resume && !paused)
    return http::error_response(409, "not_paused", "the rollout is not paused");
  if ((what == Manual::advance || what == Manual::all) && last) {
    return http::error_response(409, "last_wave",
                                "the rollout is in its last wave already (every stable agent)");
  }
  return std::nullopt;
}

// The step on one group's row (read afresh), retried when a concurrent decision (the gate,
// another admin) bumps its revision. The row as written, a refusal, or an error.
struct OneResult {
  std::optional<Live> applied;
  std::optional<http::Response> refused;
};
Expected<OneResult> manual_one(AppState& s, const ReleaseKey& key, const std::string& group,
                               const std::set<std::string>& groups, const Loaded& data,
                               const Release& rel, Manual what, const std::string& user,
                               const std::string& reason) {
  for (int attempt = 0; attempt < 5; ++attempt) {
    auto rec = s.store->get_rollout(key, group);
    if (!rec) return rec.error();
    if (!*rec)
      return OneResult{std::nullopt,
                       http::error_response(404, "no_rollout_group", "no rollout group " + group)};
    auto l = decode(**rec);
    if (!l) return l.error();
    if (auto no = refusal(*l, what)) return OneResult{std::nullopt, std::move(no)};
    auto seen = observe(s, *l, rel, data.agents, data.policies, groups);
    if (!seen) return seen.error();
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
    if (!won) return won.error();
    if (!*won) continue;
    s.log("info", "rollout", key.version + " (" + group + "): " + action + " by " + user,
          {{"reason", reason}});
    return OneResult{std::move(c.next), std::nullopt};
  }
  return OneResult{std::nullopt,
                   http::error_response(409, "conflict",
                                        "the rollout kept changing while this request ran; try "
                                        "again")};
}

}  // namespace

http::Response manual(AppState& s, const ReleaseKey& key, Manual what, const std::string& user,
                      const std::string& reason, const std::optional<std::string>& group) {
  if ((what == Manual::all || what == Manual::abort) &&
      reason.find_first_not_of(" \t\r\n") == std::string::npos) {
    return bad_request("reason_required",
                       "rolling out to everyone now or aborting needs a reason (it is kept in "
                       "the audit trail)");
  }
  if (what == Manual::abort && group) {
    return bad_request("invalid_body",
                       "waves/abort: 'group' must be left out: an abort rolls the whole release "
                       "back, every group");
  }
  if (what == Manual::abort) {
    std::optional<RollbackResult> result;
    auto st = with_conflict_retry(kConflictAttempts, [&] {
      return s.store->transaction([&](Tx& tx) -> Status {
        auto rec = tx.get_rollout(key);
        if (!rec) return rec.error();
        if (*rec && (*rec)->state == "rolled_back") {
          result = RollbackResult{RollbackResult::Kind::already_blocked, "", 0,
                                  "the rollout of " + key.version + " is already rolled back"};
          return {};
        }
        auto r = roll_back(
            s, tx,
            RollbackRequest{key, user, reason, "aborted", "", bj::object{{"rule", "aborted"}}});
        if (!r) return r.error();
        result = *r;
        return {};
      });
    });
    if (!st) return internal_error(st.error());
    if (auto refused = refusal_response(*result)) return *refused;
    s.log("warn", "rollout", "rollout of " + key.version + " aborted: " + reason, {{"user", user}});
    return json_ok(bj::object{{"state", "rolled_back"},
                              {"downgraded_agents", result->downgraded_agents},
                              {"fallback_version", result->fallback_version}});
  }
  auto rows = rows_of(*s.store, key);
  if (!rows) return internal_error(rows.error());
  if (rows->empty()) {
    return http::error_response(404, "no_rollout",
                                "release " + key.version + " " + key.os + "/" + key.arch +
                                    " has no rollout in waves (promote it first)");
  }
  const auto groups = group_keys(*rows);
  if (group && !groups.count(*group)) {
    std::string known;
    for (const auto& g : groups) known += (known.empty() ? "" : ", ") + g;
    return http::error_response(404, "no_rollout_group",
                                "the rollout of " + key.version + " has no group '" +
                                    group->substr(0, 128) + "' (groups: " + known + ")");
  }
  // Every group that can take the step takes it; when none can, the first one's refusal.
  std::optional<http::Response> first_refusal;
  std::vector<std::string> todo;
  for (const auto& l : *rows) {
    if (group && l.rec.group != *group) continue;
    if (auto no = refusal(l, what)) {
      if (!first_refusal) first_refusal = std::move(no);
      continue;
    }
    todo.push_back(l.rec.group);
  }
  if (todo.empty()) return *first_refusal;
  auto data = load(s);
  if (!data) return internal_error(data.error());
  const Release* rel = find(data->releases, key);
  if (!rel) return http::error_response(404, "not_found", "no release " + key.version);
  std::vector<Live> applied;
  for (const auto& g : todo) {
    auto one = manual_one(s, key, g, groups, *data, *rel, what, user, reason);
    if (!one) return internal_error(one.error());
    if (one->applied) {
      applied.push_back(std::move(*one->applied));
    } else if (!first_refusal) {
      first_refusal = std::move(one->refused);
    }
  }
  if (applied.empty()) return *first_refusal;
  bj::array changed;
  for (const auto& l : applied) {
    changed.push_back(bj::object{{"group", l.rec.group},
                                 {"state", l.rec.state},
                                 {"wave", l.memory.wave + 1},
                                 {"waves", l.wave_count()}});
  }
  const Live& head = applied.front();
  return json_ok(bj::object{{"state", head.rec.state},
                            {"wave", head.memory.wave + 1},
                            {"waves", head.wave_count()},
                            {"group", head.rec.group},
                            {"groups", std::move(changed)}});
}

bj::object end_state_json(const Live& l) {
  return bj::object{{"group", l.rec.group},
                    {"label", policy_plan::label(l.rec.group)},
                    {"state", l.rec.state},
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
      {"group", l.rec.group},
      {"label", policy_plan::label(l.rec.group)},
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

Expected<std::map<ReleaseKey, bj::object>> table_view(AppState& s,
                                                      const std::vector<Release>& releases,
                                                      const std::vector<Policy>& policies) {
  auto recs = s.store->list_rollout_records();
  if (!recs) return recs.error();
  std::map<ReleaseKey, std::vector<Live>> by_release;
  for (const auto& rec : *recs) {
    auto live = decode(rec);
    if (!live) return live.error();
    by_release[rec.key].push_back(std::move(*live));
  }
  std::map<ReleaseKey, bj::object> out;
  std::optional<std::vector<Agent>> agents;
  for (auto& [key, all] : by_release) {
    const Release* rel = find(releases, key);
    if (!rel) continue;
    const std::vector<Live> rows = current(std::move(all));
    const auto groups = group_keys(rows);
    bj::array views;
    for (const Live& l : rows) {
      if (!l.in_progress()) {
        views.push_back(end_state_json(l));
        continue;
      }
      if (!agents) {
        auto loaded = s.store->list_agents();
        if (!loaded) return loaded.error();
        agents = std::move(loaded.value());
      }
      auto seen = observe(s, l, *rel, *agents, policies, groups);
      if (!seen) return seen.error();
      views.push_back(progress_json(s, l, *seen, *rel));
    }
    if (views.empty()) continue;
    bj::object head = views.front().as_object();
    if (views.size() > 1) head["groups"] = std::move(views);
    out[key] = std::move(head);
  }
  return out;
}

}  // namespace rollout::server::wave_rollouts
