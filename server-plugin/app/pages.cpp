// The pages (/updates, /agents/{id}, /policies, /logs, /login) and their static assets, served
// from the bytes embedded at build time (web/assets.hpp). Pages hold no data, so they need no
// login: their scripts call the JSON API, which does. Every answer carries a strict
// Content-Security-Policy (scripts and styles only from this origin, nothing inline) and an
// ETag so a browser revalidates instead of downloading again.
#include <map>
#include <mutex>
#include <string>

#include "common/crypto.hpp"
#include "server-plugin/app/handlers.hpp"
#include "server-plugin/web/assets.hpp"

namespace rollout::server::handlers {
namespace {

constexpr const char* kCsp =
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'";

const web::Asset* find_asset(std::string_view name) {
  for (const auto& a : web::assets())
    if (a.name == name) return &a;
  return nullptr;
}

// Strong ETag per asset: the SHA-256 of its bytes, computed once.
const std::string& etag_of(const web::Asset& a) {
  static std::mutex mu;
  static std::map<std::string_view, std::string> cache;
  std::lock_guard lock(mu);
  auto [it, fresh] = cache.try_emplace(a.name);
  if (fresh) it->second = "\"" + crypto::sha256_hex(a.bytes).substr(0, 32) + "\"";
  return it->second;
}

void security_headers(http::Response& r) {
  r.set_header("Content-Security-Policy", kCsp);
  r.set_header("X-Frame-Options", "DENY");
  r.set_header("Referrer-Policy", "same-origin");
}

http::Response not_found(std::string_view what) {
  auto r = http::error_response(404, "not_found", "no such asset: " + std::string(what));
  security_headers(r);
  return r;
}

http::Response serve(const Ctx& c, std::string_view name) {
  const web::Asset* a = find_asset(name);
  if (!a) return not_found(name);
  http::Response r;
  const std::string& etag = etag_of(*a);
  security_headers(r);
  r.set_header("ETag", etag);
  // Names are not content-hashed, so the browser must revalidate; the ETag makes that cheap.
  r.set_header("Cache-Control", "no-cache");
  if (auto inm = c.req.header("If-None-Match"); inm && *inm == etag) {
    r.status = 304;
    return r;
  }
  r.status = 200;
  r.set_header("Content-Type", std::string(a->content_type));
  r.body = std::string(a->bytes);
  return r;
}

}  // namespace

http::Response page_updates(AppState&, Ctx& c) {
  return serve(c, "updates.html");
}
http::Response page_agent(AppState&, Ctx& c) {
  return serve(c, "agent.html");
}
http::Response page_policies(AppState&, Ctx& c) {
  return serve(c, "policies.html");
}
http::Response page_logs(AppState&, Ctx& c) {
  return serve(c, "logs.html");
}
http::Response page_login(AppState&, Ctx& c) {
  return serve(c, "login.html");
}

http::Response page_root(AppState&, Ctx&) {
  http::Response r;
  r.status = 302;
  r.set_header("Location", "/updates");
  security_headers(r);
  return r;
}

http::Response page_asset(AppState&, Ctx& c) {
  const std::string& name = c.params.at("name");
  // Pages are not assets: only files a page loads (css, js) are served under /assets/.
  if (name.ends_with(".html")) return not_found(name);
  return serve(c, name);
}

}  // namespace rollout::server::handlers
