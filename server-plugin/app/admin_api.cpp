// Login, agents, policies, logs, users, API tokens, metrics.
#include <boost/json.hpp>

#include "common/encoding.hpp"
#include "common/json.hpp"
#include "common/time.hpp"
#include "server-plugin/app/handlers.hpp"
#include "server-plugin/app/policy_plan.hpp"
#include "server-plugin/app/targets.hpp"
#include "server-plugin/app/views.hpp"
#include "server-plugin/auth/password.hpp"

namespace rollout::server::handlers {
namespace {

namespace bj = boost::json;

std::string cookie_value(const http::Request& req, std::string_view name) {
  auto h = req.header("Cookie");
  if (!h) return {};
  std::string_view v = *h;
  while (!v.empty()) {
    const auto semi = v.find(';');
    std::string_view part = v.substr(0, semi);
    while (!part.empty() && part.front() == ' ') part.remove_prefix(1);
    if (part.size() > name.size() && part.substr(0, name.size()) == name &&
        part[name.size()] == '=') {
      return std::string(part.substr(name.size() + 1));
    }
    if (semi == std::string_view::npos) break;
    v.remove_prefix(semi + 1);
  }
  return {};
}

bool valid_hhmm(const std::string& s) {
  return s.size() == 5 && s[2] == ':' && std::isdigit(static_cast<unsigned char>(s[0])) &&
         std::isdigit(static_cast<unsigned char>(s[1])) &&
         std::isdigit(static_cast<unsigned char>(s[3])) &&
         std::isdigit(static_cast<unsigned char>(s[4])) && std::stoi(s.substr(0, 2)) < 24 &&
         std::stoi(s.substr(3, 2)) < 60;
}

}  // namespace

std::string session_cookie(const http::Request& req) {
  return cookie_value(req, "rollout_session");
}

http::Response login(AppState& s, Ctx& c) {
  http::Response err;
  auto body = json_body(c, 4096, err);
  if (!body) return err;
  json::Reader r(*body, "login");
  const std::string username = r.string("username", 64);
  const std::string password = r.string("password", 1024);
  r.no_unknown_keys();
  if (!r.ok()) return bad_request("invalid_body", r.error().message);
  // The user name is at most 64 characters and the address a numeric IP: the key stays far
  // below the store's kRateKeyMax.
  const std::string limiter_key = c.req.remote_addr + "|" + username;
  // One atomic step before the slow password check: every attempt spends a token, and a right
  // password gives it back. Checking first and spending after the hash let concurrent guesses
  // all pass the check while the first ones were still hashing.
  const auto decision = s.login_limiter->take(limiter_key, s.now());
  if (!decision) return internal_error(decision.error());
  if (!decision->allowed) {
    s.log("warn", "auth", "login rate limited",
          {{"user", username}, {"remote", c.req.remote_addr}});
    auto resp =
        http::error_response(429, "rate_limited", "too many login attempts; try again later");
    resp.set_header("Retry-After", std::to_string(decision->retry_after));
    return resp;
  }
  auto user = s.store->get_user(username);
  if (!user) return internal_error(user.error());
  if (!*user || !auth::verify_password(password, (*user)->password_hash)) {
    s.metrics.auth_failures++;
    s.log("warn", "auth", "login failed", {{"user", username}, {"remote", c.req.remote_addr}});
    return http::error_response(401, "unauthorized", "wrong user name or password");
  }
  if (auto st = s.login_limiter->give_back(limiter_key); !st) return internal_error(st.error());
  // A fresh session id on every login (no fixation): whatever cookie the browser sent is ignored.
  const std::string token = encoding::hex(crypto::random_bytes(32));
  const std::string csrf = encoding::hex(crypto::random_bytes(32));
  const auto lifetime =
      std::chrono::duration_cast<std::chrono::seconds>(s.cfg.session_lifetime).count();
  if (auto st =
          s.store->insert_session({crypto::sha256_hex(token), username, csrf, s.now() + lifetime});
      !st) {
    return internal_error(st.error());
  }
  auto resp =
      json_ok(bj::object{{"username", username}, {"role", (*user)->role}, {"csrf_token", csrf}});
  resp.set_header("Set-Cookie", "rollout_session=" + token +
                                    "; Path=/; HttpOnly; SameSite=Strict; Max-Age=" +
                                    std::to_string(lifetime) + (c.req.tls ? "; Secure" : ""));
  resp.set_header("Cache-Control", "no-store");
  s.log("info", "auth", "login", {{"user", username}});
  return resp;
}

http::Response logout(AppState& s, Ctx& c) {
  const std::string token = session_cookie(c.req);
  // A session that could not be deleted still works: say so instead of "logged out".
  if (!token.empty()) {
    if (auto st = s.store->delete_session(crypto::sha256_hex(token)); !st)
      return internal_error(st.error());
  }
  auto resp = json_ok(bj::object{{"logged_out", true}});
  resp.set_header("Set-Cookie", "rollout_session=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0");
  return resp;
}

http::Response me(AppState& s, Ctx& c) {
  // The session's CSRF token, so a reloaded page can act; empty for API tokens and plugin hosts.
  std::string csrf;
  if (auto cookie = session_cookie(c.req); !cookie.empty()) {
    auto sess = s.store->get_session(crypto::sha256_hex(cookie));
    if (sess && *sess) csrf = (*sess)->csrf_token;
  }
  return json_ok(bj::object{
      {"username", c.user->user}, {"role", c.user->role}, {"csrf_token", std::move(csrf)}});
}

http::Response list_agents(AppState& s, Ctx&) {
  auto agents = s.store->list_agents();
  auto policies = s.store->list_policies();
  if (auto failed = first_failure(agents, policies)) return internal_error(*failed);
  bj::array out;
  for (const auto& a : *agents) {
    const auto pol = resolve_policy(a, *policies);
    out.push_back(bj::object{
        {"id", a.id},
        {"hostname", a.hostname},
        {"os", a.os},
        {"arch", a.arch},
        {"current_version", a.current_version},
        {"channel", pol.channel},
        {"channel_source", pol.channel_source},
        {"client", a.client},
        {"site", a.site},
        {"state", a.state},
        {"last_checkin_at", format_rfc3339(SysTime(std::chrono::seconds(a.last_checkin_at)))}});
  }
  return json_ok(bj::object{{"agents", std::move(out)}});
}

http::Response get_agent(AppState& s, Ctx& c) {
  auto agent = s.store->get_agent(c.params.at("id"));
  if (!agent) return internal_error(agent.error());
  if (!*agent) return http::error_response(404, "not_found", "no agent " + c.params.at("id"));
  auto policies = s.store->list_policies();
  auto history = s.store->agent_attempts((*agent)->id, 100);
  if (auto failed = first_failure(policies, history)) return internal_error(*failed);
  const auto& a = **agent;
  const auto pol = resolve_policy(a, *policies);
  bj::array h;
  for (const auto& x : *history) h.push_back(attempt_json(x));
  return json_ok(bj::object{
      {"id", a.id},
      {"hostname", a.hostname},
      {"os", a.os},
      {"arch", a.arch},
      {"client", a.client},
      {"site", a.site},
      {"current_version", a.current_version},
      {"channel", pol.channel},
      {"channel_source", pol.channel_source},
      {"state", a.state},
      {"security_floor", a.security_floor},
      {"enrolled_at", format_rfc3339(SysTime(std::chrono::seconds(a.enrolled_at)))},
      {"last_checkin_at", format_rfc3339(SysTime(std::chrono::seconds(a.last_checkin_at)))},
      // last_checkin_at may be this much older than the agent's latest check-in when nothing
      // else about it changed (checkin_record_interval).
      {"checkin_recorded_every_s",
       std::chrono::duration_cast<std::chrono::seconds>(s.cfg.checkin_record_interval).count()},
      {"history", std::move(h)}});
}

http::Response get_policies(AppState& s, Ctx&) {
  auto policies = s.store->list_policies();
  if (!policies) return internal_error(policies.error());
  bj::array out;
  for (const auto& p : *policies) {
    bj::object o{{"scope", p.scope}, {"scope_id", p.scope_id}};
    o["channel"] = p.channel ? bj::value(*p.channel) : bj::value(nullptr);
    o["window_start"] = p.window_start ? bj::value(*p.window_start) : bj::value(nullptr);
    o["window_end"] = p.window_end ? bj::value(*p.window_end) : bj::value(nullptr);
    o["rollout"] = p.rollout ? bj::value(*p.rollout) : bj::value(nullptr);
    o["waves"] = nullptr;
    if (p.waves) {
      auto f = policy_plan::from_json(*p.waves);
      if (!f) return internal_error(f.error());
      o["waves"] = policy_plan::to_api(*f);
    }
    out.push_back(std::move(o));
  }
  return json_ok(bj::object{{"policies", std::move(out)}});
}

http::Response put_policy(AppState& s, Ctx& c) {
  http::Response err;
  auto body = json_body(c, s.cfg.body_limit, err);
  if (!body) return err;
  json::Reader r(*body, "policy");
  Policy p;
  p.scope = r.string("scope", 16);
  p.scope_id = r.opt_string("scope_id", 128).value_or("");
  p.channel = r.opt_string("channel", 16);
  p.window_start = r.opt_string("window_start", 5);
  p.window_end = r.opt_string("window_end", 5);
  p.rollout = r.opt_string("rollout", 16);
  const bj::object* plan = r.opt_object("waves");
  r.no_unknown_keys();
  if (r.ok() && p.scope != "default" && p.scope != "client" && p.scope != "site" &&
      p.scope != "agent") {
    r.fail("scope", "must be default, client, site or agent");
  }
  if (r.ok() && (p.scope == "default") != p.scope_id.empty())
    r.fail("scope_id", "is required except for default");
  if (r.ok() && p.channel && *p.channel != "beta" && *p.channel != "stable")
    r.fail("channel", "must be beta or stable");
  if (r.ok() && p.rollout && *p.rollout != "waves" && *p.rollout != "all_at_once")
    r.fail("rollout", "must be waves or all_at_once");
  if (r.ok() && p.window_start.has_value() != p.window_end.has_value())
    r.fail("window_end", "goes with window_start");
  if (r.ok() && p.window_start && (!valid_hhmm(*p.window_start) || !valid_hhmm(*p.window_end))) {
    r.fail("window_start", "and window_end must be HH:MM (UTC)");
  }
  if (!r.ok()) return bad_request("invalid_body", r.error().message);
  bj::value plan_detail = nullptr;
  if (plan) {
    auto f = policy_plan::parse(*plan, s.cfg.waves);
    if (!f) return bad_request("invalid_body", f.error().message);
    p.waves = policy_plan::to_json(*f);
    plan_detail = policy_plan::to_api(*f);
  }
  auto st = with_conflict_retry(kConflictAttempts, [&] {
    return s.store->transaction([&](Tx& tx) -> Status {
      if (auto x = tx.put_policy(p); !x) return x;
      Event e{0,
              s.now(),
              c.user->user,
              "policy_update",
              "",
              "",
              "",
              "",
              false,
              "{}",
              bj::serialize(
                  bj::object{{"scope", p.scope},
                             {"scope_id", p.scope_id},
                             {"channel", p.channel ? bj::value(*p.channel) : bj::value(nullptr)},
                             {"rollout", p.rollout ? bj::value(*p.rollout) : bj::value(nullptr)},
                             {"waves", plan_detail}})};
      return audit(s, tx, e);
    });
  });
  if (!st) return internal_error(st.error());
  return json_ok(bj::object{{"stored", true}});
}

http::Response query_logs(AppState& s, Ctx& c) {
  std::string level = c.target.query["level"];
  if (!level.empty() && level != "debug" && level != "info" && level != "warn" &&
      level != "error") {
    return bad_request("invalid_argument", "level must be debug, info, warn or error");
  }
  std::size_t limit = 200;
  if (auto it = c.target.query.find("limit"); it != c.target.query.end()) {
    if (it->second.empty() || it->second.size() > 5 ||
        it->second.find_first_not_of("0123456789") != std::string::npos) {
      return bad_request("invalid_argument", "limit must be a number up to 1000");
    }
    limit = std::min<std::size_t>(1000, std::stoul(it->second));
  }
  auto logs = s.store->query_logs(c.target.query["q"].substr(0, 200), level, limit);
  if (!logs) return internal_error(logs.error());
  bj::array out;
  for (const auto& l : *logs) {
    bj::error_code ec;
    auto fields = bj::parse(l.fields_json, ec);
    out.push_back(bj::object{{"id", l.id},
                             {"at", format_rfc3339(SysTime(std::chrono::seconds(l.at)))},
                             {"level", l.level},
                             {"component", l.component},
                             {"message", l.message},
                             {"fields", ec ? bj::value(bj::object{}) : fields}});
  }
  return json_ok(bj::object{{"logs", std::move(out)}});
}

http::Response add_user(AppState& s, Ctx& c) {
  http::Response err;
  auto body = json_body(c, 4096, err);
  if (!body) return err;
  json::Reader r(*body, "user");
  const std::string username = r.string("username", 64);
  const std::string password = r.string("password", 1024);
  const std::string role = r.string("role", 16);
  r.no_unknown_keys();
  if (r.ok() && role_rank(role) == 0) r.fail("role", "must be viewer, operator or admin");
  if (r.ok() && password.size() < 12) r.fail("password", "must be at least 12 characters");
  if (!r.ok()) return bad_request("invalid_body", r.error().message);
  auto hash = auth::hash_password(password, s.cfg.password_cost);
  if (!hash) return internal_error(hash.error());
  auto st = with_conflict_retry(kConflictAttempts, [&] {
    return s.store->transaction([&](Tx& tx) -> Status {
      if (auto x = tx.insert_user({username, *hash, role}); !x) return x;
      Event e{0,
              s.now(),
              c.user->user,
              "user_add",
              "",
              "",
              "",
              "",
              false,
              "{}",
              bj::serialize(bj::object{{"username", username}, {"role", role}})};
      return audit(s, tx, e);
    });
  });
  if (!st) {
    if (st.error().code == "duplicate_user")
      return http::error_response(409, "duplicate_user", st.error().message);
    return internal_error(st.error());
  }
  return json_ok(bj::object{{"username", username}, {"role", role}}, 201);
}

http::Response create_token(AppState& s, Ctx& c) {
  http::Response err;
  auto body = json_body(c, 4096, err);
  if (!body) return err;
  json::Reader r(*body, "token");
  const std::string name = r.string("name", 64);
  r.no_unknown_keys();
  if (!r.ok()) return bad_request("invalid_body", r.error().message);
  const std::string token = "rt_" + encoding::hex(crypto::random_bytes(32));
  // The token exists only if its audit row does.
  auto st = with_conflict_retry(kConflictAttempts, [&] {
    return s.store->transaction([&](Tx& tx) -> Status {
      if (auto x = tx.insert_api_token({crypto::sha256_hex(token), c.user->user, name, s.now()});
          !x)
        return x;
      return audit(s, tx,
                   Event{0, s.now(), c.user->user, "token_create", "", "", "", "", false, "{}",
                         bj::serialize(bj::object{{"name", name}})});
    });
  });
  if (!st) return internal_error(st.error());
  return json_ok(bj::object{{"token", token}, {"name", name}, {"username", c.user->user}}, 201);
}

http::Response metrics(AppState& s, Ctx&) {
  const auto& m = s.metrics;
  std::string out;
  auto line = [&out](const std::string& l) { out += l + "\n"; };
  line("# TYPE rollout_checkins_total counter");
  line("rollout_checkins_total " + std::to_string(m.checkins.load()));
  line("# TYPE rollout_reports_total counter");
  line("rollout_reports_total{outcome=\"success\"} " + std::to_string(m.reports_success.load()));
  line("rollout_reports_total{outcome=\"failure\"} " + std::to_string(m.reports_failure.load()));
  line("rollout_reports_total{outcome=\"crash\"} " + std::to_string(m.reports_crash.load()));
  line("# TYPE rollout_reports_refused_total counter");
  for (const auto& [reason, n] : {std::pair{"other_platform", &m.refused_other_platform},
                                  std::pair{"unknown_release", &m.refused_unknown_release},
                                  std::pair{"not_offered", &m.refused_not_offered},
                                  std::pair{"rate_limited", &m.refused_rate_limited}}) {
    line(std::string("rollout_reports_refused_total{reason=\"") + reason + "\"} " +
         std::to_string(n->load()));
  }
  line("# TYPE rollout_directives_total counter");
  line("rollout_directives_total{action=\"install\"} " +
       std::to_string(m.directives_install.load()));
  line("rollout_directives_total{action=\"downgrade\"} " +
       std::to_string(m.directives_downgrade.load()));
  if (s.held) {
    line("# TYPE rollout_checkins_held gauge");
    line("rollout_checkins_held " + std::to_string(s.held->held()));
    line("# TYPE rollout_checkins_answered_early_total counter");
    line("rollout_checkins_answered_early_total " + std::to_string(s.held->answered_early()));
    line("# TYPE rollout_checkins_hold_refused_total counter");
    line("rollout_checkins_hold_refused_total " + std::to_string(s.held->refused_at_cap()));
  }
  line("# TYPE rollout_auth_failures_total counter");
  line("rollout_auth_failures_total " + std::to_string(m.auth_failures.load()));
  line("# TYPE rollout_request_duration_seconds histogram");
  std::uint64_t cumulative = 0;
  for (std::size_t i = 0; i < Metrics::kBuckets.size(); ++i) {
    cumulative += m.latency[i].load();
    char le[32];
    std::snprintf(le, sizeof le, "%g", Metrics::kBuckets[i] / 1000.0);
    line(std::string("rollout_request_duration_seconds_bucket{le=\"") + le + "\"} " +
         std::to_string(cumulative));
  }
  cumulative += m.latency.back().load();
  line("rollout_request_duration_seconds_bucket{le=\"+Inf\"} " + std::to_string(cumulative));
  char sum[32];
  std::snprintf(sum, sizeof sum, "%.6f", static_cast<double>(m.latency_sum_us.load()) / 1e6);
  line(std::string("rollout_request_duration_seconds_sum ") + sum);
  line("rollout_request_duration_seconds_count " + std::to_string(m.requests.load()));
  auto releases = s.store->list_releases();
  auto counts = s.store->release_counts(std::nullopt);
  if (releases) {
    // 1 while a beta release newer than stable has waited longer than stale_stable_after.
    line("# TYPE rollout_stale_stable gauge");
    std::map<std::pair<std::string, std::string>, bool> stale;
    const auto after =
        std::chrono::duration_cast<std::chrono::seconds>(s.cfg.stale_stable_after).count();
    for (const auto& r : *releases) {
      const Targets t = channel_targets(*releases, r.key.os, r.key.arch);
      auto& flag = stale[{r.key.os, r.key.arch}];
      if (t.beta && t.beta->key == r.key && r.promotion_seq == 0 && s.now() - r.created_at > after)
        flag = true;
    }
    for (const auto& [k, v] : stale) {
      line("rollout_stale_stable{os=\"" + k.first + "\",arch=\"" + k.second + "\"} " +
           (v ? "1" : "0"));
    }
  }
  if (releases && counts) {
    line("# TYPE rollout_release_success_ratio gauge");
    for (const auto& r : *releases) {
      auto it = counts->find(r.key);
      const Health h =
          evaluate(it == counts->end() ? Counts{} : it->second, r.blocked, s.cfg.thresholds);
      const std::string labels = "{version=\"" + r.key.version + "\",os=\"" + r.key.os +
                                 "\",arch=\"" + r.key.arch + "\",status=\"" +
                                 std::string(to_string(h.status)) + "\"}";
      char v[32];
      std::snprintf(v, sizeof v, "%.6f", h.success_rate);
      line("rollout_release_success_ratio" + labels + " " + v);
    }
  }
  http::Response resp;
  resp.body = std::move(out);
  resp.set_header("Content-Type", "text/plain; version=0.0.4");
  return resp;
}

http::Response healthz(AppState&, Ctx&) {
  return json_ok(bj::object{{"ok", true}});
}

}  // namespace rollout::server::handlers
