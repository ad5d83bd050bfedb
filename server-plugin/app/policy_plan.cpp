#include "server-plugin/app/policy_plan.hpp"

#include "common/config.hpp"
#include "common/json.hpp"

namespace rollout::server::policy_plan {
namespace {

namespace bj = boost::json;

constexpr std::size_t kMaxSteps = 16;  // as the config's `steps`
constexpr std::int64_t kMaxSeconds = 366LL * 86400;

// 10000 -> "100%", 50 -> "0.5%", 1250 -> "12.5%".
std::string percent(std::uint32_t bp) {
  std::string s = std::to_string(bp / 100);
  if (const std::uint32_t frac = bp % 100) {
    s += '.';
    s += static_cast<char>('0' + frac / 10);
    if (frac % 10) s += static_cast<char>('0' + frac % 10);
  }
  return s + "%";
}

// A duration field: "30m", "1h", "45s".
std::optional<std::chrono::seconds> duration(json::Reader& r, std::string_view key) {
  auto text = r.opt_string(key, 32);
  if (!text) return std::nullopt;
  auto d = config::parse_duration(*text);
  if (!d) {
    r.fail(key, d.error().message);
    return std::nullopt;
  }
  const auto s = std::chrono::duration_cast<std::chrono::seconds>(*d);
  if (s.count() > kMaxSeconds) {
    r.fail(key, "must be at most 366d");
    return std::nullopt;
  }
  return s;
}

std::optional<std::uint32_t> share(json::Reader& r, std::string_view key, std::string_view text) {
  auto bp = waves::parse_share(text);
  if (!bp) {
    r.fail(key, bp.error().message);
    return std::nullopt;
  }
  return *bp;
}

}  // namespace

Expected<waves::PlanFields> parse(const bj::object& o, const waves::Plan& server) {
  if (o.size() > 16) return make_error("invalid_field", "policy.waves: too many fields");
  json::Reader r(o, "policy.waves");
  waves::PlanFields f;
  if (const bj::array* steps = r.opt_array("steps", kMaxSteps)) {
    std::vector<std::uint32_t> bps;
    for (const auto& v : *steps) {
      if (!v.is_string()) {
        r.fail("steps", "must be shares like \"10%\"");
        break;
      }
      auto bp = share(r, "steps", std::string_view(v.get_string()));
      if (!bp) break;
      bps.push_back(*bp);
    }
    f.cumulative_bp = std::move(bps);
  }
  f.min_first_wave = r.opt_uint("min_first_wave", 1'000'000);
  f.soak = duration(r, "soak");
  f.hysteresis = duration(r, "hysteresis");
  f.max_wait = duration(r, "max_wait");
  if (auto u = r.opt_string("updated", 32)) f.updated_bp = share(r, "updated", *u);
  if (auto on = r.opt_string("on_critical", 16)) {
    if (*on == "rollback") {
      f.on_critical = waves::OnBad::rollback;
    } else if (*on == "pause") {
      f.on_critical = waves::OnBad::pause;
    } else {
      r.fail("on_critical", "must be rollback or pause");
    }
  }
  r.no_unknown_keys();
  if (!r.ok()) return r.error();
  if (f.empty()) {
    return make_error("invalid_field",
                      "policy.waves: needs at least one of steps, soak, hysteresis, updated, "
                      "max_wait, min_first_wave, on_critical (leave \"waves\" out for none)");
  }
  if (f.max_wait && f.max_wait->count() <= 0)
    return make_error("invalid_field", "policy.waves: 'max_wait' must be at least 1s");
  if (f.cumulative_bp) {
    // The steps on their own (increasing, ending at 100%); every other field is checked above.
    waves::Plan steps_only;
    steps_only.cumulative_bp = *f.cumulative_bp;
    if (auto st = waves::validate(steps_only); !st) {
      const std::string& m = st.error().message;
      return make_error("invalid_field",
                        "policy.waves: 'steps' " +
                            m.substr(m.find(": ") == std::string::npos ? 0 : m.find(": ") + 2));
    }
  }
  if (auto st = waves::validate(waves::merged(server, f)); !st) {
    return make_error("invalid_field", "policy.waves: " + st.error().message);
  }
  return f;
}

std::string to_json(const waves::PlanFields& f) {
  bj::object o;
  if (f.cumulative_bp) {
    bj::array a;
    for (auto bp : *f.cumulative_bp) a.push_back(bp);
    o["steps_bp"] = std::move(a);
  }
  if (f.min_first_wave) o["min_first_wave"] = *f.min_first_wave;
  if (f.soak) o["soak_s"] = f.soak->count();
  if (f.hysteresis) o["hysteresis_s"] = f.hysteresis->count();
  if (f.max_wait) o["max_wait_s"] = f.max_wait->count();
  if (f.updated_bp) o["updated_bp"] = *f.updated_bp;
  if (f.on_critical)
    o["on_critical"] = *f.on_critical == waves::OnBad::pause ? "pause" : "rollback";
  return bj::serialize(o);
}

Expected<waves::PlanFields> from_json(std::string_view text) {
  waves::PlanFields f;
  try {
    const bj::value v = bj::parse(text);
    const bj::object& o = v.as_object();
    if (const auto* s = o.if_contains("steps_bp")) {
      std::vector<std::uint32_t> bps;
      for (const auto& x : s->as_array()) bps.push_back(x.to_number<std::uint32_t>());
      f.cumulative_bp = std::move(bps);
    }
    if (const auto* x = o.if_contains("min_first_wave"))
      f.min_first_wave = x->to_number<std::uint64_t>();
    if (const auto* x = o.if_contains("soak_s"))
      f.soak = std::chrono::seconds(x->to_number<std::int64_t>());
    if (const auto* x = o.if_contains("hysteresis_s"))
      f.hysteresis = std::chrono::seconds(x->to_number<std::int64_t>());
    if (const auto* x = o.if_contains("max_wait_s"))
      f.max_wait = std::chrono::seconds(x->to_number<std::int64_t>());
    if (const auto* x = o.if_contains("updated_bp")) f.updated_bp = x->to_number<std::uint32_t>();
    if (const auto* x = o.if_contains("on_critical"))
      f.on_critical = x->as_string() == "pause" ? waves::OnBad::pause : waves::OnBad::rollback;
  } catch (const std::exception& e) {
    return make_error("storage",
                      std::string("a policy's stored wave plan is unreadable (") + e.what() + ")");
  }
  return f;
}

bj::object to_api(const waves::PlanFields& f) {
  bj::object o;
  if (f.cumulative_bp) {
    bj::array a;
    for (auto bp : *f.cumulative_bp) a.push_back(bj::string(percent(bp)));
    o["steps"] = std::move(a);
  }
  if (f.min_first_wave) o["min_first_wave"] = *f.min_first_wave;
  if (f.soak) o["soak"] = std::to_string(f.soak->count()) + "s";
  if (f.hysteresis) o["hysteresis"] = std::to_string(f.hysteresis->count()) + "s";
  if (f.max_wait) o["max_wait"] = std::to_string(f.max_wait->count()) + "s";
  if (f.updated_bp) o["updated"] = percent(*f.updated_bp);
  if (f.on_critical)
    o["on_critical"] = *f.on_critical == waves::OnBad::pause ? "pause" : "rollback";
  return o;
}

Expected<Group> group_of(const Resolved& r, const waves::Plan& server) {
  Group g;
  g.key = r.plan_group;
  g.plan = server;
  // Farthest first (default), so the nearest policy's fields win.
  for (auto it = r.plan_fields.rbegin(); it != r.plan_fields.rend(); ++it) {
    auto f = from_json(*it);
    if (!f) return f.error();
    g.plan = waves::merged(std::move(g.plan), *f);
  }
  return g;
}

std::string label(std::string_view key) {
  if (key == "default") return "default rollout group";
  // "site:lab,client:acme" -> "site lab, client acme"
  std::string out;
  while (!key.empty()) {
    const auto comma = key.find(',');
    std::string_view part = key.substr(0, comma);
    if (!out.empty()) out += ", ";
    const auto colon = part.find(':');
    out += colon == std::string_view::npos
               ? std::string(part)
               : std::string(part.substr(0, colon)) + " " + std::string(part.substr(colon + 1));
    if (comma == std::string_view::npos) break;
    key.remove_prefix(comma + 1);
  }
  return out;
}

}  // namespace rollout::server::policy_plan
