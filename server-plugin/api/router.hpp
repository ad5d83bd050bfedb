// Maps (method, path) to a route. Patterns are literal segments and "{name}" parameters
// ("/api/updates/rollouts/{version}/promote"). Paths are split and percent-decoded with Boost.URL;
// a decoded parameter containing '/', '\\', a NUL or equal to "." / ".." never matches, so a
// parameter can not smuggle a path into a file name. The route table is also what the OpenAPI
// test compares against. Built once at start-up, then read-only: safe to share between threads.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace rollout::api {

struct RouteSpec {
  std::string method;
  std::string pattern;
  int id = 0;  // the caller's handler index
};

struct Match {
  int id = 0;
  std::map<std::string, std::string> params;
};

struct Target {
  std::string path;  // percent-decoded path
  std::vector<std::string> segments;
  std::map<std::string, std::string> query;  // decoded; the last value wins for repeated keys
};

// Parses an origin-form request target ("/a/b?x=1"). nullopt when malformed.
std::optional<Target> parse_target(std::string_view target);

class Router {
 public:
  void add(std::string method, std::string pattern, int id);

  enum class Result { found, not_found, method_not_allowed };
  Result match(std::string_view method, const Target& target, Match& out) const;
  std::vector<std::string> allowed_methods(const Target& target) const;
  const std::vector<RouteSpec>& routes() const { return routes_; }

 private:
  bool match_path(const RouteSpec& route, const Target& target,
                  std::map<std::string, std::string>* params) const;
  std::vector<RouteSpec> routes_;
};

}  // namespace rollout::api
