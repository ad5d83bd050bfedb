// make_app and the request pipeline: size cap, routing, authentication (agent token, API token,
// session cookie with CSRF token, or the plugin host's identity), role check, handler, metrics.
#include "server-plugin/app.hpp"

#include <algorithm>
#include <boost/json.hpp>
#include <chrono>
#include <filesystem>

#include "common/files.hpp"
#include "common/log.hpp"
#include "common/protocol.hpp"
#include "server-plugin/app/handlers.hpp"
#include "server-plugin/app/state.hpp"
#include "server-plugin/app/ticker.hpp"
#include "server-plugin/app/wave_rollouts.hpp"
#include "server-plugin/artifacts/artifact_store.hpp"
#include "server-plugin/auth/password.hpp"

namespace rollout::server {

int role_rank(std::string_view role) {
  if (role == "viewer") return 1;
  if (role == "operator") return 2;
  if (role == "admin") return 3;
  return 0;
}

void AppState::log(const std::string& level, const std::string& component,
                   const std::string& message, const std::map<std::string, std::string>& fields) {
  boost::json::object f;
  log::Fields lf;
  for (const auto& [k, v] : fields) {
    f[k] = v;
    lf.emplace_back(k, v);
  }
  (void)store->append_log({0, now(), level, component, message, boost::json::serialize(f)});
  const auto every = std::max<std::uint64_t>(1, cfg.log_retention_rows / 16);
  if (logs_since_trim.fetch_add(1) + 1 >= every) {
    logs_since_trim = 0;
    (void)store->trim_logs(cfg.log_retention_rows);
  }
  log::Logger logger(component);
  auto lvl = log::parse_level(level);
  logger.emit(lvl ? *lvl : log::Level::info, message, lf);
}

namespace {

struct Route {
  const char* method;
  const char* pattern;
  Access access;
  Handler handler;
  bool upload = false;  // may exceed body_limit, up to upload_limit
  // The route's own header-phase step, after authentication (publish: a streamed upload).
  void (*admit)(AppState&, const Ctx&, http::Admission&) = nullptr;
};

const std::vector<Route>& routes() {
  using namespace handlers;
  static const std::vector<Route> r = {
      {"POST", "/api/agent/v1/enroll", Access::open, enroll},
      {"POST", "/api/agent/v1/checkin", Access::agent, checkin},
      {"POST", "/api/agent/v1/reports", Access::agent, reports},
      {"GET", "/api/agent/v1/artifacts/{sha256}", Access::agent, artifact},
      {"POST", "/api/auth/login", Access::open, login},
      {"POST", "/api/auth/logout", Access::viewer, logout},
      {"GET", "/api/auth/me", Access::viewer, me},
      {"GET", "/api/updates/rollouts", Access::viewer, list_rollouts},
      {"POST", "/api/updates/releases", Access::operator_, publish, true, admit_publish},
      {"POST", "/api/updates/rollouts/{version}/promote", Access::operator_, promote},
      {"POST", "/api/updates/rollouts/{version}/rollback", Access::operator_, rollback},
      {"GET", "/api/updates/rollouts/{version}/detail", Access::viewer, rollout_detail},
      {"POST", "/api/updates/rollouts/{version}/waves/pause", Access::operator_, waves_pause},
      {"POST", "/api/updates/rollouts/{version}/waves/resume", Access::operator_, waves_resume},
      {"POST", "/api/updates/rollouts/{version}/waves/advance", Access::operator_, waves_advance},
      {"POST", "/api/updates/rollouts/{version}/waves/all", Access::operator_, waves_all},
      {"POST", "/api/updates/rollouts/{version}/waves/abort", Access::operator_, waves_abort},
      {"GET", "/api/updates/events", Access::viewer, list_events},
      {"GET", "/api/agents", Access::viewer, list_agents},
      {"GET", "/api/agents/{id}", Access::viewer, get_agent},
      {"GET", "/api/policies", Access::viewer, get_policies},
      {"PUT", "/api/policies", Access::admin, put_policy},
      {"GET", "/api/logs", Access::viewer, query_logs},
      {"POST", "/api/users", Access::admin, add_user},
      {"POST", "/api/tokens", Access::viewer, create_token},
      {"GET", "/api/webhooks", Access::admin, list_webhooks},
      {"POST", "/api/webhooks", Access::admin, add_webhook},
      {"DELETE", "/api/webhooks/{id}", Access::admin, delete_webhook},
      {"GET", "/api/webhooks/{id}/deliveries", Access::admin, webhook_deliveries},
      {"GET", "/metrics", Access::viewer, metrics},
      {"GET", "/healthz", Access::open, healthz},
      // Pages hold no data (their scripts call the API above), so anyone may fetch them.
      {"GET", "/", Access::open, page_root},
      {"GET", "/updates", Access::open, page_updates},
      {"GET", "/agents/{id}", Access::open, page_agent},
      {"GET", "/policies", Access::open, page_policies},
      {"GET", "/logs", Access::open, page_logs},
      {"GET", "/login", Access::open, page_login},
      {"GET", "/assets/{name}", Access::open, page_asset},
  };
  return r;
}

std::optional<std::string> bearer(const http::Request& req) {
  auto h = req.header("Authorization");
  if (!h || h->size() <= 7 || h->substr(0, 7) != "Bearer ") return std::nullopt;
  return std::string(h->substr(7, 200));
}

bool mutating(std::string_view method) {
  return method != "GET" && method != "HEAD";
}

class AppImpl final : public App {
 public:
  explicit AppImpl(std::unique_ptr<AppState> state) : s_(std::move(state)) {
    for (std::size_t i = 0; i < routes().size(); ++i) {
      router_.add(routes()[i].method, routes()[i].pattern, static_cast<int>(i));
    }
    if (s_->cfg.waves_evaluate_interval.count() > 0) {
      ticker_.emplace(platform::system_clock(), s_->cfg.waves_evaluate_interval, [this] {
        if (auto n = evaluate_rollouts(); !n) {
          s_->log("error", "waves", "evaluating the rollouts failed: " + n.error().message);
        }
      });
    }
  }

  ~AppImpl() override { ticker_.reset(); }  // the thread stops before the state it uses goes

  Expected<std::size_t> evaluate_rollouts() override { return wave_rollouts::evaluate(*s_); }

  std::size_t body_limit(std::string_view method, std::string_view target) const override {
    auto parsed = api::parse_target(target);
    api::Match match;
    if (parsed && router_.match(method, *parsed, match) == api::Router::Result::found)
      return limit_of(routes()[static_cast<std::size_t>(match.id)]);
    return s_->cfg.body_limit;  // answered 400/404/405 without reading much anyway
  }

  http::Admission admit(const http::Request& head, const std::optional<Identity>& host) override {
    http::Admission a;
    a.body_limit = static_cast<std::size_t>(s_->cfg.body_limit);
    auto target = api::parse_target(head.target);
    api::Match match;
    if (!target || router_.match(head.method, *target, match) != api::Router::Result::found)
      return a;
    const Route& route = routes()[static_cast<std::size_t>(match.id)];
    a.body_limit = limit_of(route);
    Ctx ctx{head, std::move(*target), std::move(match.params), std::nullopt, std::nullopt};
    if (auto denied = authenticate(route, ctx, host)) {
      a.refusal = finish(std::move(*denied));
      return a;
    }
    if (route.admit) route.admit(*s_, ctx, a);
    if (a.refusal) {
      a.refusal = finish(std::move(*a.refusal));
    } else if (auto declared = content_length(head); declared && *declared > a.body_limit) {
      a.refusal = finish(too_large(a.body_limit));
    }
    return a;
  }

  http::Response handle(const http::Request& req, const std::optional<Identity>& host) override {
    const auto start = std::chrono::steady_clock::now();
    http::Response resp = dispatch(req, host);
    const auto us = std::chrono::duration_cast<std::chrono::microseconds>(
                        std::chrono::steady_clock::now() - start)
                        .count();
    auto& m = s_->metrics;
    std::size_t bucket = Metrics::kBuckets.size();
    for (std::size_t i = 0; i < Metrics::kBuckets.size(); ++i) {
      if (static_cast<double>(us) <= Metrics::kBuckets[i] * 1000.0) {
        bucket = i;
        break;
      }
    }
    m.latency[bucket]++;
    m.latency_sum_us += static_cast<std::uint64_t>(us);
    m.requests++;
    return finish(std::move(resp));
  }

 private:
  static http::Response finish(http::Response resp) {
    if (!resp.header("Cache-Control")) resp.set_header("Cache-Control", "no-store");
    resp.set_header("X-Content-Type-Options", "nosniff");
    return resp;
  }

  static http::Response too_large(std::size_t limit) {
    return http::error_response(
        413, "too_large",
        "request body exceeds " + std::to_string(limit) + " bytes for this route");
  }

  // A well-formed Content-Length header, or nullopt (absent, chunked or garbage: the host's
  // parser enforces the cap while reading).
  static std::optional<std::uint64_t> content_length(const http::Request& head) {
    auto h = head.header("Content-Length");
    if (!h || h->empty() || h->size() > 19 ||
        h->find_first_not_of("0123456789") != std::string_view::npos)
      return std::nullopt;
    return std::stoull(std::string(*h));
  }

  http::Response dispatch(const http::Request& req, const std::optional<Identity>& host) {
    auto target = api::parse_target(req.target);
    if (!target) return http::error_response(400, "bad_request", "malformed request target");
    api::Match match;
    switch (router_.match(req.method, *target, match)) {
      case api::Router::Result::not_found:
        return http::error_response(404, "not_found", "no such route");
      case api::Router::Result::method_not_allowed: {
        auto r = http::error_response(405, "method_not_allowed", "method not allowed here");
        std::string allow;
        for (const auto& m : router_.allowed_methods(*target))
          allow += (allow.empty() ? "" : ", ") + m;
        r.set_header("Allow", allow);
        return r;
      }
      case api::Router::Result::found:
        break;
    }
    const Route& route = routes()[static_cast<std::size_t>(match.id)];
    // Who the caller is comes before what they sent, as in admit().
    Ctx ctx{req, std::move(*target), std::move(match.params), std::nullopt, std::nullopt};
    if (auto denied = authenticate(route, ctx, host)) return *denied;
    if (req.body.size() > limit_of(route)) return too_large(limit_of(route));
    return route.handler(*s_, ctx);
  }

  std::size_t limit_of(const Route& route) const {
    return static_cast<std::size_t>(route.upload ? s_->cfg.upload_limit : s_->cfg.body_limit);
  }

  std::optional<http::Response> authenticate(const Route& route, Ctx& ctx,
                                             const std::optional<Identity>& host) {
    if (route.access == Access::open) return std::nullopt;
    if (route.access == Access::agent) {
      auto token = bearer(ctx.req);
      if (token) {
        auto agent = s_->store->find_agent_by_token_hash(crypto::sha256_hex(*token));
        if (agent && *agent) {
          ctx.agent = **agent;
          return std::nullopt;
        }
      }
      s_->metrics.auth_failures++;
      return http::error_response(401, "unauthorized", "a valid agent token is required");
    }
    if (host) {
      ctx.user = *host;  // the plugin host authenticated the user (and guards against CSRF)
    } else if (auto token = bearer(ctx.req)) {
      auto t = s_->store->get_api_token(crypto::sha256_hex(*token));
      if (t && *t) {
        auto u = s_->store->get_user((*t)->username);
        if (u && *u) ctx.user = Identity{(*u)->username, (*u)->role};
      }
    } else if (auto cookie = handlers::session_cookie(ctx.req); !cookie.empty()) {
      auto sess = s_->store->get_session(crypto::sha256_hex(cookie));
      if (sess && *sess && (*sess)->expires_at > s_->now()) {
        if (mutating(ctx.req.method)) {
          auto csrf = ctx.req.header("X-CSRF-Token");
          if (!csrf || !crypto::constant_time_equal(*csrf, (*sess)->csrf_token)) {
            s_->log("warn", "auth", "request without a valid CSRF token refused",
                    {{"user", (*sess)->username}});
            return http::error_response(403, "csrf", "missing or wrong X-CSRF-Token header");
          }
        }
        auto u = s_->store->get_user((*sess)->username);
        if (u && *u) ctx.user = Identity{(*u)->username, (*u)->role};
      }
    }
    if (!ctx.user) {
      s_->metrics.auth_failures++;
      return http::error_response(401, "unauthorized", "log in or send an API token");
    }
    const int need = route.access == Access::admin ? 3 : route.access == Access::operator_ ? 2 : 1;
    if (role_rank(ctx.user->role) < need) {
      return http::error_response(403, "forbidden",
                                  "your role (" + ctx.user->role + ") may not do this");
    }
    return std::nullopt;
  }

  std::unique_ptr<AppState> s_;
  api::Router router_;
  std::optional<Ticker> ticker_;  // last: stopped first
};

Status bootstrap_admin(AppState& s) {
  if (s.cfg.admin_password_file.empty()) return {};
  auto count = s.store->user_count();
  if (!count) return count.error();
  if (*count > 0) return {};
  auto pw = read_file_capped(s.cfg.admin_password_file, 1024);
  if (!pw) return pw.error().context("admin_password_file");
  std::string password = *pw;
  while (!password.empty() && (password.back() == '\n' || password.back() == '\r'))
    password.pop_back();
  if (password.size() < 12)
    return make_error("invalid_config", "admin_password_file: the password needs 12+ characters");
  auto hash = auth::hash_password(password, s.cfg.password_cost);
  if (!hash) return hash.error();
  auto st = s.store->insert_user({"admin", *hash, "admin"});
  // Two first starts on one database both saw no user; the one whose insert lost finds the
  // other's admin and starts too (the password file is the same, so either hash is right).
  if (!st && st.error().code == "duplicate_user") {
    auto existing = s.store->get_user("admin");
    if (existing && *existing) return {};
  }
  if (!st) return st.error().context("creating the first admin user");
  return {};
}

// The config's webhooks into the store (their secrets stay here), and the delivery worker.
Status start_webhooks(AppState& s) {
  const auto& d = s.cfg.webhook_delivery;
  s.webhook_policy.allow_http = d.allow_http;
  s.webhook_policy.own_port = s.cfg.listen_port;
  if (d.allow_own_port) s.webhook_policy.loopback = webhooks::TargetPolicy::Loopback::allow;
  notify::OutboxOptions o;
  o.instance = protocol::new_uuid();
  o.lease = std::chrono::duration_cast<std::chrono::seconds>(d.lease);
  o.keep_deliveries = static_cast<std::size_t>(d.keep_deliveries);
  o.thresholds = s.cfg.thresholds;
  o.stale_after = std::chrono::duration_cast<std::chrono::seconds>(s.cfg.stale_stable_after);
  std::vector<Webhook> hooks;
  for (const auto& w : s.cfg.webhooks) {
    if (auto t = webhooks::parse_target(w.url, s.webhook_policy); !t)
      return make_error("invalid_config", "webhooks: " + t.error().message);
    Webhook h;
    h.id = notify::config_webhook_id(w.url);
    h.url = w.url;
    h.events = w.events;
    h.source = "config";
    h.created_by = "config";
    h.created_at = s.now();
    o.config_secrets[h.id] = w.secret;
    hooks.push_back(std::move(h));
  }
  if (auto st = s.store->sync_config_webhooks(hooks); !st) return st.error().context("webhooks");
  s.webhook_sender = notify::make_curl_sender(s.webhook_policy, d.timeout, d.ca_file);
  s.webhook_outbox =
      std::make_unique<notify::Outbox>(*s.store, *s.webhook_sender, std::move(o), s.now);
  if (!d.enabled) return {};
  s.webhook_worker =
      std::make_unique<notify::Worker>(*s.webhook_outbox, platform::system_clock(), d.interval);
  s.webhook_worker->start();
  return {};
}

}  // namespace

std::vector<RouteSpec> route_table() {
  std::vector<RouteSpec> out;
  for (const auto& r : routes()) {
    const char* access = r.access == Access::open        ? "open"
                         : r.access == Access::agent     ? "agent"
                         : r.access == Access::viewer    ? "viewer"
                         : r.access == Access::operator_ ? "operator"
                                                         : "admin";
    out.push_back({r.method, r.pattern, access});
  }
  return out;
}

Expected<std::unique_ptr<App>> make_app_from(ServerConfig cfg, std::function<std::int64_t()> now) {
  auto s = std::make_unique<AppState>();
  s->cfg = std::move(cfg);
  s->now = now ? std::move(now) : [] {
    return static_cast<std::int64_t>(std::chrono::duration_cast<std::chrono::seconds>(
                                         std::chrono::system_clock::now().time_since_epoch())
                                         .count());
  };
  auto key = crypto::load_private_key(s->cfg.directive_key);
  if (!key) return key.error().context("directive_key");
  s->directive_key = std::move(key.value());
  auto ring = KeyRing::load(s->cfg.release_keys);
  if (!ring) return ring.error().context("release_keys");
  s->release_keys = std::move(ring.value());
  std::error_code ec;
  std::filesystem::create_directories(std::filesystem::path(s->cfg.data_dir) / "artifacts", ec);
  if (ec) return make_error("invalid_config", "data_dir " + s->cfg.data_dir + ": " + ec.message());
  auto store = open_store(s->cfg.database_url);
  if (!store) return store.error();
  s->store = std::move(store.value());
  auto artifacts = artifacts::open_artifact_store(s->cfg, *s->store);
  if (!artifacts) return artifacts.error();  // its messages name artifact_store
  s->artifacts = std::move(artifacts.value());
  if (s->cfg.long_poll_limit.count() > 0 && s->cfg.long_poll_max_held > 0) {
    AppState* sp = s.get();
    s->held = std::make_unique<HeldCheckins>(
        *s->store, static_cast<std::size_t>(s->cfg.long_poll_max_held),
        [sp](Tx& tx, const HeldCheckins::Entry& e) {
          return handlers::decide_held_checkin(*sp, tx, e);
        },
        [sp](const Error& e) {
          sp->log("error", "long-poll",
                  "deciding held check-ins again failed (answered at their limit): " + e.message);
        });
    if (auto st = s->store->watch_targets([h = s->held.get()] { h->changed(); }); !st)
      return st.error();
  }
  s->login_limiter.emplace(
      *s->store, static_cast<std::uint32_t>(s->cfg.login_attempts),
      std::chrono::duration_cast<std::chrono::milliseconds>(s->cfg.login_window));
  if (auto st = bootstrap_admin(*s); !st) return st.error();
  if (auto st = start_webhooks(*s); !st) return st.error();
  return std::unique_ptr<App>(std::make_unique<AppImpl>(std::move(s)));
}

Expected<std::unique_ptr<App>> make_app(const std::string& config_path) {
  auto cfg = load_server_config(config_path);
  if (!cfg) return cfg.error();
  return make_app_from(std::move(cfg.value()), nullptr);
}

}  // namespace rollout::server
