#include "server-plugin/app/wave_rollouts.hpp"

#include <algorithm>

#include "common/semver.hpp"
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

// The stable agents of the release's (os, arch): nullopt for any other; else whether their
// policy lets them in at once (with wave 1) rather than by their hash.
std::optional<bool> stable_at_once(const Agent& a, const ReleaseKey& key,
                                   const std::vector<Policy>& policies) {
  if (a.os != key.os || a.arch != key.arch) return std::nullopt;
  const Resolved r = resolve_policy(a, policies);
  if (r.channel != "stable") return std::nullopt;
  return r.rollout == "all_at_once";
}

}  // namespace

namespace detail {
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
    // Agents let in at once by their policy do not take a place in wave 1's count.
    if (auto at_once = stable_at_once(a, rel.key, *policies); at_once && !*at_once)
      buckets.push_back(waves::bucket(a.id, rel.key));
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

Expected<StableTarget> stable_target(Store& store, const Agent& agent, const Resolved& pol,
                                     const Targets& t, const std::vector<Release>& releases) {
  StableTarget out{t.stable, false};
  if (!t.stable) return out;
  auto rec = store.get_rollout(t.stable->key);
  if (!rec) return rec.error();
  if (!*rec || ((*rec)->state != "rolling_out" && (*rec)->state != "paused")) return out;
  auto l = decode(**rec);
  if (!l) return l.error();
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
                       const std::vector<Agent>& agents, const std::vector<Policy>& policies) {
  auto outcomes = s.store->latest_outcomes(rel.key);
  if (!outcomes) return outcomes.error();
  std::map<std::string, std::string> latest;
  for (const auto& o : *outcomes) latest[o.agent_id] = o.outcome;
  Seen seen;
  seen.per_wave.resize(l.wave_count());
  Counts open;
  for (const auto& a : agents) {
    const auto at_once = stable_at_once(a, rel.key, policies);
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
        c.next.rec.reason = d.message;
        c.event = rollout_event(s, c.next, step.event, "system", d.message, h, detail);
      }
      if (d.action == waves::Action::rollback) {
        detail["wave"] = l.memory.wave + 1;
        detail["waves"] = l.wave_count();
        c.rollback = RollbackRequest{
            l.rec.key, "system", d.message, d.rule, bj::serialize(health_json(h)), detail};
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

}  // namespace rollout::server::wave_rollouts
