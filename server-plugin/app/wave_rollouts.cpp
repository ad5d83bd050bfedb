#include "server-plugin/app/wave_rollouts.hpp"

#include <algorithm>

#include "common/semver.hpp"
#include "common/text.hpp"
#include "server-plugin/app/policy_plan.hpp"
#include "server-plugin/app/rollback.hpp"
#include "server-plugin/app/views.hpp"
#include "server-plugin/app/wave_rollouts_detail.hpp"

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

// The stable agents of the release's (os, arch) in `group` (an agent whose own group has no row
// among `groups` is the default group's): nullopt for any other; else whether their policy lets
// them in at once (with wave 1) rather than by their hash.
std::optional<bool> member(const Agent& a, const ReleaseKey& key, const std::string& group,
                           const std::set<std::string>& groups,
                           const std::vector<Policy>& policies) {
  if (a.os != key.os || a.arch != key.arch) return std::nullopt;
  const Resolved r = resolve_policy(a, policies);
  if (r.channel != "stable") return std::nullopt;
  const std::string& own = groups.count(r.plan_group) ? r.plan_group : std::string("default");
  if (own != group) return std::nullopt;
  return r.rollout == "all_at_once";
}

// The default group's plan: the server's under the default policy's fields.
Expected<waves::Plan> default_plan(const std::vector<Policy>& policies, const waves::Plan& server) {
  Resolved none;
  for (const auto& p : policies)
    if (p.scope == "default" && p.waves) none.plan_fields.push_back(*p.waves);
  auto g = policy_plan::group_of(none, server);
  if (!g) return g.error();
  return g->plan;
}

}  // namespace

namespace detail {
// Writes `c` if the stored rollout is still at `expected_rev`, with its audit row and rollback,
// in one transaction. False when another writer got there first (nothing written).
Expected<bool> apply(AppState& s, const Change& change, std::uint64_t expected_rev) {
  bool won = false;
  Change c;
  auto decide = [&](Tx& tx) -> Status {
    c = change;  // a retried attempt starts from the decision, not from the last try's edits
    won = false;
    auto cur = tx.get_rollout(c.next.rec.key, c.next.rec.group);
    if (!cur) return cur.error();
    if (!*cur || (*cur)->rev != expected_rev) return {};  // decided elsewhere already
    c.next.rec.rev = expected_rev + 1;
    c.next.rec.updated_at = s.now();
    encode(c.next);
    if (c.rollback) {
      auto r = roll_back(s, tx, *c.rollback);
      if (!r) return r.error();
      if (r->kind == RollbackResult::Kind::done) {
        // roll_back ended the rollout (rolled_back, with the rule); keep the gate's memory too.
        auto now = tx.get_rollout(c.next.rec.key, c.next.rec.group);
        if (!now) return now.error();
        if (!*now) return make_error("storage", "the rollout disappeared during its rollback");
        RolloutRecord keep = **now;
        keep.memory_json = c.next.rec.memory_json;
        keep.rev = keep.rev + 1;
        auto w = tx.update_rollout(keep, (*now)->rev);
        if (!w) return w.error();
        won = *w;
        return won ? Status{}
                   : make_error("rollout_changed", "the rollout changed during its rollback");
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
    auto w = tx.update_rollout(c.next.rec, expected_rev);
    if (!w) return w.error();
    won = *w;
    if (!won) return {};
    if (c.event) {
      if (auto a = audit(s, tx, *c.event); !a) return a;
    }
    return {};
  };
  auto st = with_conflict_retry(kConflictAttempts, [&] { return s.store->transaction(decide); });
  if (!st) {
    if (st.error().code == "rollout_changed") return false;
    return st.error();
  }
  return won;
}

Event rollout_event(AppState& s, const Live& l, const std::string& action, const std::string& actor,
                    const std::string& reason, const Health& h, bj::object detail) {
  detail["wave"] = l.memory.wave + 1;
  detail["waves"] = l.wave_count();
  detail["group"] = l.rec.group;
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

}  // namespace detail

using namespace detail;

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

std::vector<Live> current(std::vector<Live> rows) {
  std::stable_sort(rows.begin(), rows.end(), [](const Live& a, const Live& b) {
    return (a.rec.group != "default") < (b.rec.group != "default");
  });
  if (rows.empty() || rows.front().rec.group != "default") return rows;
  const std::int64_t started = rows.front().rec.started_at;
  std::erase_if(rows, [&](const Live& l) { return l.rec.started_at != started; });
  return rows;
}

Expected<std::vector<Live>> rows_of(StoreOps& store, const ReleaseKey& key) {
  auto recs = store.list_rollouts(key);
  if (!recs) return recs.error();
  std::vector<Live> out;
  for (const auto& r : *recs) {
    auto l = decode(r);
    if (!l) return l.error();
    out.push_back(std::move(*l));
  }
  return current(std::move(out));
}

std::set<std::string> group_keys(const std::vector<Live>& rows) {
  std::set<std::string> out;
  for (const auto& l : rows) out.insert(l.rec.group);
  return out;
}

void encode(Live& l) {
  l.rec.plan_json = plan_json(l.plan);
  bj::array t;
  for (auto x : l.thresholds) t.push_back(x);
  l.rec.thresholds_json = bj::serialize(t);
  l.rec.memory_json = memory_json(l.memory);
}

Status start(AppState& s, Tx& tx, const Release& rel, const std::optional<Release>& previous,
             const std::string& actor, const std::string& health) {
  if (!previous) return {};
  auto agents = tx.list_agents();
  auto policies = tx.list_policies();
  auto existing = tx.list_rollout_records();
  if (auto failed = first_failure(agents, policies, existing)) return *failed;
  // Each group's plan and the buckets of its stable agents now (the default group always,
  // for agents that enroll later). Agents let in at once by their policy do not take a place
  // in wave 1's count.
  struct GroupStart {
    waves::Plan plan;
    std::vector<std::uint32_t> buckets;
  };
  std::map<std::string, GroupStart> groups;
  auto base = default_plan(*policies, s.cfg.waves);
  if (!base) return base.error();
  groups["default"].plan = *base;
  for (const auto& a : *agents) {
    if (a.os != rel.key.os || a.arch != rel.key.arch) continue;
    const Resolved r = resolve_policy(a, *policies);
    if (r.channel != "stable") continue;
    auto it = groups.find(r.plan_group);
    if (it == groups.end()) {
      auto g = policy_plan::group_of(r, s.cfg.waves);
      if (!g) return g.error();
      it = groups.emplace(r.plan_group, GroupStart{g->plan, {}}).first;
    }
    if (r.rollout != "all_at_once") it->second.buckets.push_back(waves::bucket(a.id, rel.key));
  }
  if (std::all_of(groups.begin(), groups.end(),
                  [](const auto& g) { return g.second.plan.all_at_once(); })) {
    return {};
  }
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
    auto won = tx.update_rollout(done, r.rev);
    if (!won) return won.error();
  }
  bj::array group_detail;
  std::size_t stable_agents = 0;
  for (const auto& [key, g] : groups) {
    Live l;
    l.plan = g.plan;
    l.thresholds = waves::thresholds(g.plan, g.buckets);
    l.memory.wave_opened_at = now;
    l.rec.key = rel.key;
    l.rec.group = key;
    l.rec.previous_version = previous->key.version;
    l.rec.state = "rolling_out";
    l.rec.rule = "started";
    l.rec.rev = 1;
    l.rec.started_at = now;
    l.rec.updated_at = now;
    encode(l);
    auto old = tx.get_rollout(rel.key, key);
    if (!old) return old.error();
    if (*old) {
      // Promoted again (after a rollback was undone by hand): a fresh rollout on the same row.
      l.rec.rev = (*old)->rev + 1;
      auto won = tx.update_rollout(l.rec, (*old)->rev);
      if (!won) return won.error();
    } else if (auto st = tx.insert_rollout(l.rec); !st) {
      return st;
    }
    bj::array shares;
    for (auto bp : g.plan.cumulative_bp) shares.push_back(bp / 100.0);
    stable_agents += g.buckets.size();
    group_detail.push_back(bj::object{
        {"group", key},
        {"waves", g.plan.cumulative_bp.size()},
        {"steps_percent", std::move(shares)},
        {"stable_agents", g.buckets.size()},
        {"soak_s", g.plan.soak.count()},
        {"hysteresis_s", g.plan.hysteresis.count()},
        {"on_critical", g.plan.on_critical == waves::OnBad::pause ? "pause" : "rollback"}});
  }
  const waves::Plan& plan = groups.at("default").plan;
  bj::array shares;
  for (auto bp : plan.cumulative_bp) shares.push_back(bp / 100.0);
  bj::object detail{{"wave", 1},
                    {"waves", plan.cumulative_bp.size()},
                    {"steps_percent", std::move(shares)},
                    {"stable_agents", stable_agents},
                    {"previous_version", previous->key.version},
                    {"soak_s", plan.soak.count()},
                    {"hysteresis_s", plan.hysteresis.count()},
                    {"groups", std::move(group_detail)}};
  std::string summary = "rollout in " + std::to_string(plan.cumulative_bp.size()) + " waves";
  for (const auto& [key, g] : groups) {
    if (key == "default") continue;
    summary += "; " + policy_plan::label(key) + ": " +
               text::counted(static_cast<std::int64_t>(g.plan.cumulative_bp.size()), "wave");
  }
  return audit(s, tx,
               Event{0, now, actor, "rollout_started", rel.key.version, rel.key.os, rel.key.arch,
                     summary + ", back to " + previous->key.version + " for agents not let in yet",
                     false, health, bj::serialize(detail)});
}

Expected<StableTarget> stable_target(StoreOps& store, const Agent& agent, const Resolved& pol,
                                     const Targets& t, const std::vector<Release>& releases) {
  StableTarget out{t.stable, false};
  if (!t.stable) return out;
  auto rows = rows_of(store, t.stable->key);
  if (!rows) return rows.error();
  const Live* l = nullptr;
  for (const auto& row : *rows) {
    if (row.rec.group == pol.plan_group) l = &row;
  }
  if (!l && !rows->empty() && rows->front().rec.group == "default") l = &rows->front();
  if (!l || !l->in_progress()) return out;
  const std::size_t wave = pol.rollout == "all_at_once"
                               ? 0
                               : waves::wave_of(waves::bucket(agent.id, l->rec.key), l->thresholds);
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
                       const std::vector<Agent>& agents, const std::vector<Policy>& policies,
                       const std::set<std::string>& groups) {
  auto outcomes = s.store->latest_outcomes(rel.key);
  if (!outcomes) return outcomes.error();
  std::map<std::string, std::string> latest;
  for (const auto& o : *outcomes) latest[o.agent_id] = o.outcome;
  Seen seen;
  seen.per_wave.resize(l.wave_count());
  Counts open;
  for (const auto& a : agents) {
    const auto at_once = member(a, rel.key, l.rec.group, groups, policies);
    if (!at_once) continue;
    const std::size_t w = *at_once ? 0 : waves::wave_of(waves::bucket(a.id, rel.key), l.thresholds);
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
  std::map<ReleaseKey, std::vector<Live>> by_release;
  for (const auto& r : *recs) {
    if (only && !only->count(r.key)) continue;
    auto l = decode(r);
    if (!l) return l.error();
    by_release[r.key].push_back(std::move(*l));
  }
  // Each group's row on its own: one decision (and audit row) per group.
  std::vector<std::pair<Live, std::set<std::string>>> todo;
  for (auto& [key, rows] : by_release) {
    rows = current(std::move(rows));
    const auto groups = group_keys(rows);
    for (auto& l : rows)
      if (l.rec.state == "rolling_out") todo.emplace_back(std::move(l), groups);
  }
  if (todo.empty()) return std::size_t{0};
  auto data = load(s);
  if (!data) return data.error();
  std::size_t transitions = 0;
  for (const auto& [l, groups] : todo) {
    const Release* rel = find(data->releases, l.rec.key);
    if (!rel) continue;
    auto seen = observe(s, l, *rel, data->agents, data->policies, groups);
    if (!seen) return seen.error();
    const std::int64_t now = s.now();
    const waves::Decision d =
        waves::evaluate(l.plan, l.memory, seen->observation, s.cfg.thresholds.min_attempts, now);
    const Health& h = seen->observation.health;
    Change c{l, std::nullopt, std::nullopt};
    c.next.memory = d.next;
    bj::object detail{{"rule", d.rule}, {"message", d.message}};
    // A group of a policy says whose gate decided (the default group's reads as before).
    const std::string message =
        l.rec.group == "default" ? d.message : policy_plan::label(l.rec.group) + ": " + d.message;
    if (d.action == waves::Action::wait) {
      if (d.next == l.memory) continue;
    } else {
      // advance keeps the state (rolling_out); a rollback's event is only used when there is
      // nothing to fall back to (then the rollout pauses).
      static constexpr struct {
        waves::Action action;
        const char* state;
        const char* event;
      } kSteps[] = {{waves::Action::advance, nullptr, "rollout_advanced"},
                    {waves::Action::complete, "complete", "rollout_completed"},
                    {waves::Action::pause, "paused", "rollout_paused"},
                    {waves::Action::rollback, "rolled_back", "rollout_paused"}};
      for (const auto& step : kSteps) {
        if (step.action != d.action) continue;
        if (step.state) c.next.rec.state = step.state;
        c.next.rec.rule = d.rule;
        c.next.rec.reason = message;
        c.event = rollout_event(s, c.next, step.event, "system", message, h, detail);
      }
      if (d.action == waves::Action::rollback) {
        detail["wave"] = l.memory.wave + 1;
        detail["waves"] = l.wave_count();
        detail["group"] = l.rec.group;
        c.rollback = RollbackRequest{
            l.rec.key, "system", message, d.rule, bj::serialize(health_json(h)), detail};
      }
    }
    auto won = apply(s, c, l.rec.rev);
    if (!won) return won.error();
    if (*won && d.action != waves::Action::wait) {
      ++transitions;
      s.log(d.action == waves::Action::rollback ? "error" : "info", "waves",
            l.rec.key.version + " " + l.rec.key.os + "/" + l.rec.key.arch + ": " +
                std::string(waves::to_string(d.action)) + " (" + d.rule + "): " + message,
            {{"version", l.rec.key.version}, {"rule", d.rule}, {"group", l.rec.group}});
    }
  }
  return transitions;
}

}  // namespace rollout::server::wave_rollouts
