// The server application: every route of the HTTP API and the pages, behind one call. The
// standalone host (rollout-server) and the C ABI plugin both construct one App from the config
// and feed it transport-neutral requests. `host_identity` is set only by a plugin host that has
// already authenticated the user; otherwise the App authenticates by itself (agent tokens, API
// tokens, its session cookie). A host that reads bodies itself calls admit() once the headers are
// in and reads the body only when admitted: who the caller is and whether the route is theirs is
// decided before anything they send is read. handle() checks everything again, so a host that
// skips admit() is still safe, only slower to refuse. admit() and handle() are thread-safe.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <cstdint>
#include <functional>

#include "common/error.hpp"
#include "server-plugin/config.hpp"
#include "server-plugin/http/message.hpp"

namespace rollout::server {

struct Identity {
  std::string user;
  std::string role;  // viewer | operator | admin
};

class App {
 public:
  virtual ~App() = default;
  virtual http::Response handle(const http::Request& request,
                                const std::optional<Identity>& host_identity) = 0;
  // The largest body the route behind `method` and `target` accepts (uploads take more than
  // JSON calls), so that a host can refuse an oversized request from its headers alone, before
  // reading the body. handle() enforces the same limit on whatever reaches it.
  virtual std::size_t body_limit(std::string_view method, std::string_view target) const = 0;
  // The header-phase step for a request with a body: `head` carries the method, target, headers,
  // remote address and TLS flag (its body is ignored). Authenticates the caller the way handle()
  // would (agent token; or session cookie plus CSRF header, or API token, or the host's identity)
  // and checks the route's role and a declared Content-Length against the route's cap. Unknown
  // routes are admitted with the JSON cap: handle() answers them without needing the body.
  virtual http::Admission admit(const http::Request& head,
                                const std::optional<Identity>& host_identity) = 0;
  // Evaluates the stable rollouts in waves now and applies the gate's decisions; the number of
  // transitions. The App does this by itself every waves.evaluate_interval (on a thread of its
  // own, unless the interval is 0) and after each report batch. Thread-safe; with several
  // servers on one database each decision still happens once.
  virtual Expected<std::size_t> evaluate_rollouts() = 0;
};

// One route: method, path pattern (e.g. "/api/updates/rollouts/{version}/promote") and who may
// call it: "open", "agent", "viewer", "operator" or "admin".
struct RouteSpec {
  std::string method;
  std::string pattern;
  std::string access;
};

// Every route the App serves, in the order it matches them.
std::vector<RouteSpec> route_table();

// Loads and validates the YAML config at `config_path`, opens storage (running migrations) and
// loads keys. Errors name the file, line and key.
Expected<std::unique_ptr<App>> make_app(const std::string& config_path);
// The same from an already loaded config; `now` (Unix seconds) lets tests move the clock.
Expected<std::unique_ptr<App>> make_app_from(ServerConfig config,
                                             std::function<std::int64_t()> now);

}  // namespace rollout::server
