#include "server-plugin/config.hpp"

#include <cmath>
#include <filesystem>

#include "common/config.hpp"
#include "common/files.hpp"
#include "common/protocol.hpp"
#include "server-plugin/webhooks.hpp"

namespace rollout::server {
namespace {

// Ratio thresholds are stored as basis points.
void bp(config::Reader& r, std::string_view key, std::uint32_t& out) {
  double v = out / 10000.0;
  r.ratio(key, v);
  out = static_cast<std::uint32_t>(std::lround(v * 10000.0));
}

// One `webhooks:` entry: a URL the target rules accept, exactly one of secret / secret_file (at
// least 16 bytes), a known event filter.
void webhook_entry(config::Reader& w, const ServerConfig& c, WebhookConfig& out) {
  out = WebhookConfig{};
  std::string secret_file;
  w.string("url", out.url, 2048);
  w.string("secret", out.secret, 1024);
  w.string("secret_file", secret_file);
  w.string_list("events", out.events, 16);
  if (!w.ok()) return;
  if (out.url.empty()) return w.fail("url", "is required");
  webhooks::TargetPolicy p;
  p.allow_http = c.webhook_delivery.allow_http;
  p.own_port = c.listen_port;
  if (c.webhook_delivery.allow_own_port) p.loopback = webhooks::TargetPolicy::Loopback::allow;
  if (auto t = webhooks::parse_target(out.url, p); !t) return w.fail("url", t.error().message);
  if (out.secret.empty() == secret_file.empty())
    return w.fail("secret", "give exactly one of secret and secret_file");
  if (!secret_file.empty()) {
    auto text = read_file_capped(secret_file, 4096);
    if (!text) return w.fail("secret_file", "cannot be read: " + text.error().message);
    out.secret = *text;
    while (!out.secret.empty() && (out.secret.back() == '\n' || out.secret.back() == '\r'))
      out.secret.pop_back();
  }
  if (out.secret.size() < 16)
    return w.fail(secret_file.empty() ? "secret" : "secret_file", "must be at least 16 bytes");
  if (auto st = webhooks::validate_filter(out.events); !st) w.fail("events", st.error().message);
}

// "waves:": steps as percentages ("1%", "10%", ...) or fractions, durations with the usual units.
void read_waves(config::Reader& w, ServerConfig& c) {
  auto& p = c.waves;
  std::vector<std::string> steps;
  w.string_list("steps", steps, 16);
  if (w.ok() && !steps.empty()) {
    p.cumulative_bp.clear();
    for (const auto& text : steps) {
      auto share = waves::parse_share(text);
      if (!share) return w.fail("steps", share.error().message);
      p.cumulative_bp.push_back(*share);
    }
  }
  bool all = false;
  w.boolean("all_at_once", all);
  if (all) p.cumulative_bp = {waves::kBuckets};
  w.uint("min_first_wave", p.min_first_wave, 0, 1'000'000);
  std::chrono::milliseconds soak = p.soak, hyst = p.hysteresis, max_wait = p.max_wait;
  w.duration("soak", soak);
  w.duration("hysteresis", hyst);
  w.duration("max_wait", max_wait);
  p.soak = std::chrono::duration_cast<std::chrono::seconds>(soak);
  p.hysteresis = std::chrono::duration_cast<std::chrono::seconds>(hyst);
  p.max_wait = std::chrono::duration_cast<std::chrono::seconds>(max_wait);
  bp(w, "updated", p.updated_bp);
  std::string on = p.on_critical == waves::OnBad::rollback ? "rollback" : "pause";
  w.one_of("on_critical", on, {"rollback", "pause"});
  p.on_critical = on == "rollback" ? waves::OnBad::rollback : waves::OnBad::pause;
  w.duration("evaluate_interval", c.waves_evaluate_interval);
  if (!w.ok()) return;
  if (c.waves_evaluate_interval < std::chrono::seconds(1)) {
    w.fail("evaluate_interval", "must be at least 1s");
    return;
  }
  if (p.max_wait.count() <= 0) {
    w.fail("max_wait", "must be at least 1s");
    return;
  }
  if (auto st = waves::validate(p); !st) {
    const std::string& m = st.error().message;
    w.fail(m.find("'updated'") != std::string::npos ? "updated" : "steps",
           m.substr(m.find(": ") == std::string::npos ? 0 : m.find(": ") + 2));
  }
}

}  // namespace

bool artifacts_in_database(const ServerConfig& cfg) {
  if (cfg.artifact_store == "auto") return cfg.database_url.rfind("sqlite:", 0) != 0;
  return cfg.artifact_store == "database";
}

Expected<ServerConfig> load_server_config(const std::string& path,
                                          const std::vector<std::string>& overrides) {
  ServerConfig c;
  auto apply = [&c](config::Reader& r) -> Status {
    r.section("listen", [&](config::Reader& l) {
      l.string("address", c.listen_address, 64);
      l.number<std::uint16_t>("port", c.listen_port);
      l.string("tls_cert_file", c.tls_cert_file);
      l.string("tls_key_file", c.tls_key_file);
    });
    r.string("database_url", c.database_url);
    r.string("data_dir", c.data_dir);
    r.one_of("artifact_store", c.artifact_store, {"auto", "local", "database"});
    r.string("directive_key", c.directive_key);
    r.string_list("release_keys", c.release_keys, 16);
    r.string_list("enrollment_keys", c.enrollment_keys, 256);
    r.string("admin_password_file", c.admin_password_file);
    r.duration("poll_interval", c.poll_interval);
    r.duration("checkin_record_interval", c.checkin_record_interval);
    r.duration("directive_lifetime", c.directive_lifetime);
    r.uint("reports_per_agent_per_hour", c.reports_per_agent_per_hour,
           protocol::kMaxReportsPerBatch, 1'000'000);
    r.duration("stale_stable_after", c.stale_stable_after);
    r.duration("session_lifetime", c.session_lifetime);
    r.size("body_limit", c.body_limit);
    r.size("upload_limit", c.upload_limit);
    r.number<std::uint32_t>("password_cost", c.password_cost, 10, 20);
    r.one_of("log_level", c.log_level, {"debug", "info", "warn", "error"});
    r.uint("log_retention_rows", c.log_retention_rows, 1000, 100'000'000);
    r.section("http", [&](config::Reader& h) {
      h.number<unsigned>("io_threads", c.io_threads, 1, 256);
      h.number<unsigned>("worker_threads", c.worker_threads, 1, 1024);
      h.duration("read_timeout", c.read_timeout);
    });
    r.section("long_poll", [&](config::Reader& l) {
      l.duration("limit", c.long_poll_limit);
      l.uint("max_held", c.long_poll_max_held, 0, 10'000'000);
      if (l.ok() && c.long_poll_limit > std::chrono::minutes(5))
        l.fail("limit", "must be at most 5m (0s turns long-poll off)");
    });
    r.section("login_limit", [&](config::Reader& l) {
      l.number<std::uint32_t>("attempts", c.login_attempts, 1, 1'000'000);
      l.duration("window", c.login_window);
    });
    if (r.ok() && c.read_timeout < std::chrono::seconds(1))
      r.fail("http", "read_timeout must be at least 1s");
    if (r.ok() && c.login_window < std::chrono::seconds(1))
      r.fail("login_limit", "window must be at least 1s");
    r.section("webhook_delivery", [&](config::Reader& d) {
      auto& w = c.webhook_delivery;
      d.boolean("enabled", w.enabled);
      d.boolean("allow_own_port", w.allow_own_port);
      d.boolean("allow_http", w.allow_http);
      d.string("ca_file", w.ca_file);
      d.duration("interval", w.interval);
      d.duration("timeout", w.timeout);
      d.duration("lease", w.lease);
      d.uint("keep_deliveries", w.keep_deliveries, 1, 100'000);
      if (d.ok() && w.interval < std::chrono::milliseconds(100))
        d.fail("interval", "must be at least 100ms");
      if (d.ok() && (w.timeout < std::chrono::seconds(1) || w.timeout > std::chrono::minutes(5)))
        d.fail("timeout", "must be between 1s and 5m");
      if (d.ok() && w.lease < w.timeout * 2) d.fail("lease", "must be at least twice the timeout");
    });
    // A layer that lists webhooks replaces the list of the layers before it.
    std::vector<WebhookConfig> hooks;
    bool listed = false;
    r.section_list("webhooks", 64, [&](config::Reader& w, std::size_t i) {
      listed = true;
      hooks.resize(i + 1);
      webhook_entry(w, c, hooks[i]);
    });
    if (listed && r.ok()) c.webhooks = std::move(hooks);
    r.section("health", [&](config::Reader& h) {
      auto& t = c.thresholds;
      bp(h, "healthy_success", t.healthy_success_bp);
      bp(h, "healthy_crash", t.healthy_crash_bp);
      bp(h, "healthy_failure", t.healthy_failure_bp);
      bp(h, "warning_success", t.warning_success_bp);
      bp(h, "warning_crash", t.warning_crash_bp);
      bp(h, "warning_failure", t.warning_failure_bp);
      bp(h, "block_crash", t.block_crash_bp);
      h.uint("min_attempts", t.min_attempts, 0, 1'000'000);
      std::chrono::milliseconds soak = t.min_soak;
      h.duration("min_soak", soak);
      t.min_soak = std::chrono::duration_cast<std::chrono::seconds>(soak);
    });
    r.section("waves", [&](config::Reader& w) { read_waves(w, c); });
    if (r.ok() && (c.tls_cert_file.empty() != c.tls_key_file.empty())) {
      r.fail("listen", "needs both tls_cert_file and tls_key_file, or neither");
    }
    // 1 s is for test fleets and demos on loopback; production fleets poll every minute or so.
    if (r.ok() && c.poll_interval < std::chrono::seconds(1))
      r.fail("poll_interval", "must be at least 1s");
    return r.finish();
  };
  const auto conf_d = (std::filesystem::path(path).parent_path() / "conf.d").string();
  if (auto st = config::load_layers(path, conf_d, overrides, apply); !st) return st.error();
  // After every layer: database_url and artifact_store may come from different ones.
  if (c.artifact_store == "database" && c.database_url.rfind("sqlite:", 0) == 0) {
    return make_error("invalid_config",
                      "config " + path +
                          ": 'artifact_store: database' needs a postgresql:// database_url "
                          "(a SQLite database keeps artifacts in data_dir/artifacts: use local)");
  }
  if (c.directive_key.empty()) {
    return make_error("invalid_config",
                      "config " + path + ": 'directive_key' is required (a PEM private key)");
  }
  if (c.release_keys.empty()) {
    return make_error("invalid_config",
                      "config " + path + ": 'release_keys' needs at least one public key");
  }
  return c;
}

}  // namespace rollout::server
