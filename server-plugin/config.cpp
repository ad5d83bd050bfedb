#include "server-plugin/config.hpp"

#include <cmath>
#include <filesystem>

#include "common/config.hpp"
#include "common/protocol.hpp"

namespace rollout::server {
namespace {

// Ratio thresholds are stored as basis points.
void bp(config::Reader& r, std::string_view key, std::uint32_t& out) {
  double v = out / 10000.0;
  r.ratio(key, v);
  out = static_cast<std::uint32_t>(std::lround(v * 10000.0));
}

}  // namespace

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
    r.section("login_limit", [&](config::Reader& l) {
      l.number<std::uint32_t>("attempts", c.login_attempts, 1, 1'000'000);
      l.duration("window", c.login_window);
    });
    if (r.ok() && c.read_timeout < std::chrono::seconds(1))
      r.fail("http", "read_timeout must be at least 1s");
    if (r.ok() && c.login_window < std::chrono::seconds(1))
      r.fail("login_limit", "window must be at least 1s");
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
