#include "server-plugin/api/router.hpp"

#include <boost/url/parse.hpp>

namespace rollout::api {
namespace {

std::vector<std::string> split_pattern(std::string_view p) {
  std::vector<std::string> out;
  std::size_t pos = 0;
  while (pos < p.size()) {
    if (p[pos] == '/') {
      ++pos;
      continue;
    }
    const auto next = p.find('/', pos);
    out.emplace_back(
        p.substr(pos, next == std::string_view::npos ? std::string_view::npos : next - pos));
    pos = next == std::string_view::npos ? p.size() : next;
  }
  return out;
}

bool safe_param(const std::string& v) {
  if (v.empty() || v == "." || v == "..") return false;
  return v.find_first_of(std::string_view("/\\\0", 3)) == std::string::npos;
}

}  // namespace

std::optional<Target> parse_target(std::string_view target) {
  auto parsed = boost::urls::parse_origin_form(target);
  if (!parsed) return std::nullopt;
  Target t;
  t.path = std::string(parsed->path());
  for (auto seg : parsed->segments()) {
    if (seg.empty()) continue;
    t.segments.push_back(std::string(seg));
  }
  for (auto param : parsed->params()) {
    t.query[std::string(param.key)] = param.has_value ? std::string(param.value) : std::string();
  }
  return t;
}

void Router::add(std::string method, std::string pattern, int id) {
  routes_.push_back({std::move(method), std::move(pattern), id});
}

bool Router::match_path(const RouteSpec& route, const Target& target,
                        std::map<std::string, std::string>* params) const {
  const auto parts = split_pattern(route.pattern);
  if (parts.size() != target.segments.size()) return false;
  for (std::size_t i = 0; i < parts.size(); ++i) {
    const auto& part = parts[i];
    const auto& seg = target.segments[i];
    if (part.size() > 2 && part.front() == '{' && part.back() == '}') {
      if (!safe_param(seg)) return false;
      if (params) (*params)[part.substr(1, part.size() - 2)] = seg;
    } else if (part != seg) {
      return false;
    }
  }
  return true;
}

Router::Result Router::match(std::string_view method, const Target& target, Match& out) const {
  bool path_seen = false;
  for (const auto& r : routes_) {
    std::map<std::string, std::string> params;
    if (!match_path(r, target, &params)) continue;
    path_seen = true;
    if (r.method == method || (method == "HEAD" && r.method == "GET")) {
      out.id = r.id;
      out.params = std::move(params);
      return Result::found;
    }
  }
  return path_seen ? Result::method_not_allowed : Result::not_found;
}

std::vector<std::string> Router::allowed_methods(const Target& target) const {
  std::vector<std::string> out;
  for (const auto& r : routes_) {
    if (match_path(r, target, nullptr)) out.push_back(r.method);
  }
  return out;
}

}  // namespace rollout::api
