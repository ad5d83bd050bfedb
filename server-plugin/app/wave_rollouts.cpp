#include "server-plugin/app/wave_rollouts.hpp"

#include <algorithm>

#include "common/semver.hpp"
#include "server-plugin/app/rollback.hpp"
#include "server-plugin/app/views.hpp"

namespace rollout::server::wave_rollouts {
namespace {

namespace bj = boost::json;

bj::value opt(const std::optional<std::int64_t>& v) {
  return v ? bj::value(*v) : bj::value(nullptr);
}

std::optional<std::int64_t> opt_from(const bj::object& o, std::string_view key) {
  const auto* v = o.if_contains(key);
  if (!v || v->is_null()) return std::nullopt;
  return v->to_number<std::int64_t>();
}

std::string plan_json(const waves::Plan& p) {
  bj::array steps;
  for (auto s : p.cumulative_bp) steps.push_back(s);
  return bj::serialize(
      bj::object{{"steps_bp", std::move(steps)},
                 {"min_first_wave", p.min_first_wave},
                 {"soak_s", p.soak.count()},
                 {"hysteresis_s", p.hysteresis.count()},
                 {"updated_bp", p.updated_bp},
                 {"max_wait_s", p.max_wait.count()},
                 {"on_critical", p.on_critical == waves::OnBad::rollback ? "rollback" : "pause"}});
}

std::string memory_json(const waves::Memory& m) {
  return bj::serialize(bj::object{{"wave", m.wave},
                                  {"wave_opened_at", m.wave_opened_at},
                                  {"updated_at", opt(m.updated_at)},
                                  {"bad_since", opt(m.bad_since)},
                                  {"warn_since", opt(m.warn_since)},
                                  {"prior_agents", m.prior_agents}});
}

bool is_stable_agent(const Agent& a, const ReleaseKey& key, const std::vector<Policy>& policies) {
  return a.os == key.os && a.arch == key.arch && resolve_policy(a, policies).channel == "stable";
}

// One applied change: the new row (rev + 1) and the audit row to write with it, if any.
struct Change {
  Live next;
  std::optional<Event> event;
  std::optional<RollbackRequest> rollback;
};

// Writes `c` if the stored rollout is still at `expected_rev`, with its audit row and rollback,
// in one transaction. False when another writer got there first (nothing written).
Expected<bool> apply(AppState& s, Change c, std::uint64_t expected_rev) {
  bool won = false;
  auto st = s.store->transaction([&]() -> Status {
    auto cur = s.store->get_rollout(c.next.rec.key);
    if (!cur) return cur.error();
    if (!*cur || (*cur)->rev != expected_rev) return {};  // decided elsewhere already
    c.next.rec.rev = expected_rev + 1;
    c.next.rec.updated_at = s.now();
    encode(c.next);
    if (c.rollback) {
      auto r = roll_back(s, *c.rollback);
      if (!r) return r.error();
      if (r->kind == RollbackResult::Kind::done) {
        // roll_back ended the rollout (rolled_back, with the rule); keep the gate's memory too.
        auto now = s.store->get_rollout(c.next.rec.key);
        if (!now) return now.error();
        if (!*now) return make_error("storage", "the rollout disappeared during its rollback");
        RolloutRecord keep = **now;
        keep.memory_json = c.next.rec.memory_json;
        keep.rev = keep.rev + 1;
        auto w = s.store->update_rollout(keep, (*now)->rev);
        if (!w) return w.error();
        won = *w;
        return won ? Status{} : make_error("conflict", "the rollout changed during its rollback");
      }
      if (r->kind == RollbackResult::Kind::already_blocked) {
        c.event.reset();  // blocked by hand outside the rollout: it simply ends rolled back
      } else {
        // Nothing to fall back to: the rollout pauses instead, saying why.
        c.next.rec.state = "paused";
        c.next.rec.rule = "no_fallback";
        c.next.rec.reason = c.next.rec.reason + "; not rolled back: " + r->message;
        if (c.event) c.event->reason = c.next.rec.reason;
      }
    }
    auto w = s.store->update_rollout(c.next.rec, expected_rev);
    if (!w) return w.error();
    won = *w;
    if (!won) return {};
    if (c.event) {
      if (auto a = audit(s, *c.event); !a) return a;
    }
    return {};
  });
  if (!st) {
    if (st.error().code == "conflict") return false;
    return st.error();
  }
  return won;
}

Event rollout_event(AppState& s, const Live& l, const std::string& action, const std::string& actor,
                    const std::string& reason, const Health& h, bj::object detail) {
  detail["wave"] = l.memory.wave + 1;
  detail["waves"] = l.wave_count();
  return Event{0,
               s.now(),
               actor,
               action,
               l.rec.key.version,
               l.rec.key.os,
               l.rec.key.arch,
               reason,
               false,
               bj::serialize(health_json(h)),
               bj::serialize(detail)};
}

struct Loaded {
  std::vector<Release> releases;
  std::vector<Agent> agents;
  std::vector<Policy> policies;
};

Expected<Loaded> load(AppState& s) {
  auto releases = s.store->list_releases();
  auto agents = s.store->list_agents();
  auto policies = s.store->list_policies();
  if (auto failed = first_failure(releases, agents, policies)) return *failed;
  return Loaded{std::move(*releases), std::move(*agents), std::move(*policies)};
}

const Release* find(const std::vector<Release>& releases, const ReleaseKey& key) {
  for (const auto& r : releases)
    if (r.key == key) return &r;
  return nullptr;
}

}  // namespace

Expected<Live> decode(const RolloutRecord& rec) {
  Live l;
  l.rec = rec;
  try {
    const bj::object p = bj::parse(rec.plan_json).as_object();
    l.plan.cumulative_bp.clear();
    for (const auto& v : p.at("steps_bp").as_array())
      l.plan.cumulative_bp.push_back(v.to_number<std::uint32_t>());
    l.plan.min_first_wave = p.at("min_first_wave").to_number<std::uint64_t>();
    l.plan.soak = std::chrono::seconds(p.at("soak_s").to_number<std::int64_t>());
    l.plan.hysteresis = std::chrono::seconds(p.at("hysteresis_s").to_number<std::int64_t>());
    l.plan.updated_bp = p.at("updated_bp").to_number<std::uint32_t>();
    l.plan.max_wait = std::chrono::seconds(p.at("max_wait_s").to_number<std::int64_t>());
    l.plan.on_critical =
        p.at("on_critical").as_string() == "pause" ? waves::OnBad::pause : waves::OnBad::rollback;
    const bj::value t = bj::parse(rec.thresholds_json);  // named: the loop outlives a temporary
    for (const auto& v : t.as_array()) l.thresholds.push_back(v.to_number<std::uint32_t>());
    const bj::object m = bj::parse(rec.memory_json).as_object();
    l.memory.wave = m.at("wave").to_number<std::size_t>();
    l.memory.wave_opened_at = m.at("wave_opened_at").to_number<std::int64_t>();
    l.memory.updated_at = opt_from(m, "updated_at");
    l.memory.bad_since = opt_from(m, "bad_since");
    l.memory.warn_since = opt_from(m, "warn_since");
    l.memory.prior_agents = m.at("prior_agents").to_number<std::uint64_t>();
  } catch (const std::exception& e) {
    return make_error("storage", "rollout of " + rec.key.version + " " + rec.key.os + "/" +
                                     rec.key.arch + ": unreadable stored state (" + e.what() + ")");
  }
  if (auto st = waves::validate(l.plan); !st) return st.error();
  if (l.thresholds.size() != l.plan.cumulative_bp.size() || l.memory.wave >= l.wave_count()) {
    return make_error("storage", "rollout of " + rec.key.version + ": inconsistent stored state");
  }
  return l;
}

void encode(Live& l) {
  l.rec.plan_json = plan_json(l.plan);
  bj::array t;
  for (auto x : l.thresholds) t.push_back(x);
  l.rec.thresholds_json = bj::serialize(t);
  l.rec.memory_json = memory_json(l.memory);
}

Status start(AppState& s, const Release& rel, const std::optional<Release>& previous,
             const std::string& actor, const std::string& health) {
  const waves::Plan& plan = s.cfg.waves;
  if (plan.all_at_once() || !previous) return {};
  auto agents = s.store->list_agents();
  auto policies = s.store->list_policies();
  auto existing = s.store->list_rollout_records();
  if (auto failed = first_failure(agents, policies, existing)) return *failed;
  const std::int64_t now = s.now();
  for (const auto& r : *existing) {
    if (r.key.os != rel.key.os || r.key.arch != rel.key.arch || r.key == rel.key) continue;
    if (r.state != "rolling_out" && r.state != "paused") continue;
    RolloutRecord done = r;
    done.state = "complete";
    done.rule = "superseded";
    done.reason = "superseded by the promotion of " + rel.key.version;
    done.rev = r.rev + 1;
    done.updated_at = now;
    auto won = s.store->update_rollout(done, r.rev);
    if (!won) return won.error();
  }
  std::vector<std::uint32_t> buckets;
  for (const auto& a : *agents) {
    if (is_stable_agent(a, rel.key, *policies)) buckets.push_back(waves::bucket(a.id, rel.key));
  }
  Live l;
  l.plan = plan;
  l.thresholds = waves::thresholds(plan, buckets);
  l.memory.wave_opened_at = now;
  l.rec.key = rel.key;
  l.rec.previous_version = previous->key.version;
  l.rec.state = "rolling_out";
  l.rec.rule = "started";
  l.rec.rev = 1;
  l.rec.started_at = now;
  l.rec.updated_at = now;
  encode(l);
  auto old = s.store->get_rollout(rel.key);
  if (!old) return old.error();
  if (*old) {
    // Promoted again (after a rollback was undone by hand): a fresh rollout on the same row.
    l.rec.rev = (*old)->rev + 1;
    auto won = s.store->update_rollout(l.rec, (*old)->rev);
    if (!won) return won.error();
  } else if (auto st = s.store->insert_rollout(l.rec); !st) {
    return st;
  }
  bj::array shares;
  for (auto bp : plan.cumulative_bp) shares.push_back(bp / 100.0);
  bj::object detail{{"wave", 1},
                    {"waves", plan.cumulative_bp.size()},
                    {"steps_percent", std::move(shares)},
                    {"stable_agents", buckets.size()},
                    {"previous_version", previous->key.version},
                    {"soak_s", plan.soak.count()},
                    {"hysteresis_s", plan.hysteresis.count()}};
  return audit(
      s, Event{0, now, actor, "rollout_started", rel.key.version, rel.key.os, rel.key.arch,
               "rollout in " + std::to_string(plan.cumulative_bp.size()) + " waves, back to " +
                   previous->key.version + " for agents not let in yet",
               false, health, bj::serialize(detail)});
}

Expected<StableTarget> stable_target(Store& store, const Agent& agent, const Targets& t,
                                     const std::vector<Release>& releases) {
  StableTarget out{t.stable, false};
  if (!t.stable) return out;
  auto rec = store.get_rollout(t.stable->key);
  if (!rec) return rec.error();
  if (!*rec || ((*rec)->state != "rolling_out" && (*rec)->state != "paused")) return out;
  auto l = decode(**rec);
  if (!l) return l.error();
  const std::size_t wave = waves::wave_of(waves::bucket(agent.id, l->rec.key), l->thresholds);
  if (wave <= l->memory.wave) return out;
  out.held = true;
  out.target.reset();
  if (const Release* prev = find(releases, {l->rec.previous_version, agent.os, agent.arch});
      prev && !prev->blocked) {
    out.target = *prev;
  } else {
    std::vector<Release> without;
    for (const auto& r : releases)
      if (!(r.key == t.stable->key)) without.push_back(r);
    out.target = channel_targets(without, agent.os, agent.arch).stable;
  }
  return out;
}

Expected<Seen> observe(AppState& s, const Live& l, const Release& rel,
                       const std::vector<Agent>& agents, const std::vector<Policy>& policies) {
  auto outcomes = s.store->latest_outcomes(rel.key);
  if (!outcomes) return outcomes.error();
  std::map<std::string, std::string> latest;
  for (const auto& o : *outcomes) latest[o.agent_id] = o.outcome;
  Seen seen;
  seen.per_wave.resize(l.wave_count());
  Counts open;
  for (const auto& a : agents) {
    if (!is_stable_agent(a, rel.key, policies)) continue;
    const std::size_t w = waves::wave_of(waves::bucket(a.id, rel.key), l.thresholds);
    auto& pw = seen.per_wave[w];
    ++seen.stable_agents;
    ++pw.agents;
    const bool on = a.current_version == rel.key.version;
    if (on) {
      ++pw.on_release;
      ++seen.on_release;
    }
    auto it = latest.find(a.id);
    if (it != latest.end()) {
      (it->second == "success" ? pw.success : it->second == "crash" ? pw.crash : pw.failure)++;
    }
    if (w > l.memory.wave) continue;
    ++seen.observation.agents;
    // Updated: a final outcome for the release, or running it already (it came another way).
    if (it != latest.end() || on) ++seen.observation.reported;
    if (it != latest.end()) {
      (it->second == "success" ? open.success
       : it->second == "crash" ? open.crash
                               : open.failure)++;
    }
  }
  seen.observation.health = server::evaluate(open, rel.blocked, s.cfg.thresholds);
  return seen;
}

Expected<std::size_t> evaluate(AppState& s, const std::optional<std::set<ReleaseKey>>& only) {
  auto recs = s.store->list_rollout_records();
  if (!recs) return recs.error();
  std::vector<Live> todo;
  for (const auto& r : *recs) {
    if (r.state != "rolling_out") continue;
    if (only && !only->count(r.key)) continue;
    auto l = decode(r);
    if (!l) return l.error();
    todo.push_back(std::move(*l));
  }
  if (todo.empty()) return std::size_t{0};
  auto data = load(s);
  if (!data) return data.error();
  std::size_t transitions = 0;
  for (const Live& l : todo) {
    const Release* rel = find(data->releases, l.rec.key);
    if (!rel) continue;
    auto seen = observe(s, l, *rel, data->agents, data->policies);
    if (!seen) return seen.error();
    const std::int64_t now = s.now();
    const waves::Decision d =
        waves::evaluate(l.plan, l.memory, seen->observation, s.cfg.thresholds.min_attempts, now);
    const Health& h = seen->observation.health;
    Change c{l, std::nullopt, std::nullopt};
    c.next.memory = d.next;
    bj::object detail{{"rule", d.rule}, {"message", d.message}};
    switch (d.action) {
      case waves::Action::wait:
        if (d.next == l.memory) continue;
        break;
      case waves::Action::advance:
        c.next.rec.rule = d.rule;
        c.next.rec.reason = d.message;
        c.event = rollout_event(s, c.next, "rollout_advanced", "system", d.message, h, detail);
        break;
      case waves::Action::complete:
        c.next.rec.state = "complete";
        c.next.rec.rule = d.rule;
        c.next.rec.reason = d.message;
        c.event = rollout_event(s, c.next, "rollout_completed", "system", d.message, h, detail);
        break;
      case waves::Action::pause:
        c.next.rec.state = "paused";
        c.next.rec.rule = d.rule;
        c.next.rec.reason = d.message;
        c.event = rollout_event(s, c.next, "rollout_paused", "system", d.message, h, detail);
        break;
      case waves::Action::rollback: {
        c.next.rec.state = "rolled_back";
        c.next.rec.rule = d.rule;
        c.next.rec.reason = d.message;
        // Only used if there is nothing to fall back to (then the rollout pauses).
        c.event = rollout_event(s, c.next, "rollout_paused", "system", d.message, h, detail);
        detail["wave"] = l.memory.wave + 1;
        detail["waves"] = l.wave_count();
        RollbackRequest req{l.rec.key, "system", d.message, d.rule, bj::serialize(health_json(h)),
                            detail};
        c.rollback = std::move(req);
        break;
      }
    }
    auto won = apply(s, std::move(c), l.rec.rev);
    if (!won) return won.error();
    if (*won && d.action != waves::Action::wait) {
      ++transitions;
      s.log(d.action == waves::Action::rollback ? "error" : "info", "waves",
            l.rec.key.version + " " + l.rec.key.os + "/" + l.rec.key.arch + ": " +
                std::string(waves::to_string(d.action)) + " (" + d.rule + "): " + d.message,
            {{"version", l.rec.key.version}, {"rule", d.rule}});
    }
  }
  return transitions;
}

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
    switch (result->kind) {
      case RollbackResult::Kind::not_found:
        return http::error_response(404, "not_found", result->message);
      case RollbackResult::Kind::already_blocked:
        return http::error_response(409, "already_blocked", result->message);
      case RollbackResult::Kind::no_fallback:
        return http::error_response(409, "no_fallback_version", result->message);
      case RollbackResult::Kind::done:
        break;
    }
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
