#include "agent/config.hpp"

#include "common/config.hpp"
#include "common/release.hpp"
#include "platform/fs.hpp"
#include "platform/host.hpp"

namespace rollout::agent {

Expected<AgentConfig> load_agent_config(const std::string& path,
                                        const std::vector<std::string>& overrides) {
  AgentConfig c;
  auto apply = [&c](config::Reader& r) -> Status {
    r.string("server_url", c.server_url, 2048);
    r.string("enrollment_key", c.enrollment_key, 256);
    r.string("state_dir", c.state_dir);
    r.string("install_root", c.install_root);
    r.string("executable", c.executable, 255);
    std::string pointer(platform::to_string(c.version_pointer));
    r.one_of("version_pointer", pointer, {"symlink", "file"});
    if (r.ok()) c.version_pointer = platform::parse_pointer_kind(pointer).value();
    r.string_list("arguments", c.arguments, 64);
    r.string_list("launcher", c.launcher, 16);
    r.string_list("release_keys", c.release_keys, 16);
    r.string_list("directive_keys", c.directive_keys, 16);
    r.string("product", c.product, 64);
    r.one_of("channel_hint", c.channel_hint, {"beta", "stable"});
    r.string("client", c.client, 128);
    r.string("site", c.site, 128);
    r.string("hostname", c.hostname, 255);
    r.string("machine_id", c.machine_id, 128);
    r.one_of("os", c.os, {"linux", "windows"});
    r.one_of("arch", c.arch, {"x86_64", "aarch64"});
    r.duration("poll_interval", c.poll_interval);
    std::chrono::milliseconds wait = c.long_poll_wait;
    r.duration("long_poll_wait", wait);
    if (r.ok() && (wait > std::chrono::minutes(5) || wait.count() % 1000 != 0)) {
      r.fail("long_poll_wait", "must be whole seconds from 0s (plain polling) to 300s");
    }
    c.long_poll_wait = std::chrono::duration_cast<std::chrono::seconds>(wait);
    r.duration("probation", c.probation);
    r.number<std::uint32_t>("crash_limit", c.crash_limit, 1, 100);
    r.size("max_bandwidth", c.max_bandwidth);
    r.string("proxy", c.proxy, 2048);
    r.string("ca_file", c.ca_file);
    r.duration("clock_tolerance", c.clock_tolerance);
    r.duration("low_speed_time", c.low_speed_time);
    r.number<std::uint32_t>("low_speed_bytes", c.low_speed_bytes, 1, 1u << 30);
    r.duration("request_timeout", c.request_timeout);
    if (r.ok() && (c.request_timeout < std::chrono::seconds(1) ||
                   c.request_timeout > std::chrono::minutes(10))) {
      r.fail("request_timeout", "must be between 1s and 10m");
    }
    r.duration("max_backoff", c.max_backoff);
    r.boolean("allow_plain_http", c.allow_plain_http);
    r.one_of("log_level", c.log_level, {"debug", "info", "warn", "error"});
    r.string("log_file", c.log_file);
    r.size("log_file_max_size", c.log_file_max_size);
    if (r.ok() && (c.log_file_max_size < 4096 || c.log_file_max_size > (1ull << 30))) {
      r.fail("log_file_max_size", "must be between 4KiB and 1GiB");
    }
    r.number<std::uint32_t>("log_file_count", c.log_file_count, 2, 100);
    if (r.ok() && !valid_product(c.product)) {
      r.fail("product", "must be a release manifest's product name: 1 to 64 of [a-z0-9._-]");
    }
    if (r.ok() && (c.executable.find_first_of("/\\") != std::string::npos || c.executable == "." ||
                   c.executable == "..")) {
      r.fail("executable", "must be a file name inside the version directory, not a path");
    }
    return r.finish();
  };
  const std::string conf_d = platform::join_path(platform::parent_dir(path), "conf.d");
  if (auto st = config::load_layers(path, conf_d, overrides, apply); !st) {
    return make_error("invalid_config", st.error().message);
  }
  auto required = [&path](const std::string& value, const char* key) -> Status {
    if (value.empty()) {
      return make_error("invalid_config", "config " + path + ": '" + key + "' is required");
    }
    return {};
  };
  if (auto st = required(c.server_url, "server_url"); !st) return st.error();
  if (auto st = required(c.state_dir, "state_dir"); !st) return st.error();
  if (auto st = required(c.install_root, "install_root"); !st) return st.error();
  if (c.server_url.rfind("https://", 0) != 0) {
    if (c.server_url.rfind("http://", 0) != 0) {
      return make_error("invalid_config",
                        "config " + path + ": 'server_url' must be an https:// URL");
    }
    if (!c.allow_plain_http) {
      return make_error("invalid_config", "config " + path +
                                              ": 'server_url' is plain http://; set "
                                              "allow_plain_http: true only for tests");
    }
  }
  if (c.release_keys.empty()) return required("", "release_keys").error();
  if (c.directive_keys.empty()) return required("", "directive_keys").error();
  if (c.os.empty()) c.os = platform::build_os();
  if (c.arch.empty()) c.arch = platform::build_arch();
  while (c.server_url.size() > 8 && c.server_url.back() == '/') c.server_url.pop_back();
  return c;
}

}  // namespace rollout::agent
