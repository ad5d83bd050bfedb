// The pages and their assets: every one is served from the embedded bytes with the right
// content type and a strict Content-Security-Policy, without a login; assets revalidate by ETag;
// unknown names and traversal attempts are 404s; /api/auth/me hands a reloaded page its CSRF token.
#include <filesystem>
#include <fstream>
#include <sstream>

#include "tests/server/app_fixture.hpp"

namespace rollout::server::testing {
namespace {

class Pages : public AppFixture {};

std::string source_asset(const std::string& name) {
  std::ifstream in(std::string(ROLLOUT_SOURCE_DIR) + "/server-plugin/web/assets/" + name,
                   std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

void expect_strict_csp(const http::Response& r) {
  const auto csp = std::string(r.header("Content-Security-Policy").value_or(""));
  EXPECT_NE(csp.find("script-src 'self'"), std::string::npos) << csp;
  EXPECT_NE(csp.find("default-src 'none'"), std::string::npos) << csp;
  EXPECT_EQ(csp.find("unsafe-inline"), std::string::npos) << csp;
  EXPECT_EQ(csp.find("unsafe-eval"), std::string::npos) << csp;
}

TEST_F(Pages, EveryPageIsServedAsHtmlWithAStrictCspAndNoLogin) {
  const std::pair<const char*, const char*> pages[] = {{"/updates", "updates.html"},
                                                       {"/agents/some-agent-id", "agent.html"},
                                                       {"/policies", "policies.html"},
                                                       {"/logs", "logs.html"},
                                                       {"/login", "login.html"}};
  for (const auto& [path, file] : pages) {
    auto r = call("GET", path);
    EXPECT_EQ(r.status, 200u) << path;
    EXPECT_EQ(r.header("Content-Type").value_or(""), "text/html; charset=utf-8") << path;
    EXPECT_EQ(r.body, source_asset(file)) << path;
    expect_strict_csp(r);
    EXPECT_EQ(r.header("X-Frame-Options").value_or(""), "DENY");
    // No inline script: every <script> loads a file from /assets/.
    EXPECT_EQ(r.body.find("<script>"), std::string::npos) << path;
  }
}

TEST_F(Pages, RootRedirectsToUpdates) {
  auto r = call("GET", "/");
  EXPECT_EQ(r.status, 302u);
  EXPECT_EQ(r.header("Location").value_or(""), "/updates");
}

TEST_F(Pages, EveryAssetIsServedWithItsTypeAndRevalidatesByEtag) {
  namespace fs = std::filesystem;
  int seen = 0;
  for (const auto& e :
       fs::directory_iterator(std::string(ROLLOUT_SOURCE_DIR) + "/server-plugin/web/assets")) {
    const std::string name = e.path().filename().string();
    if (e.path().extension() == ".html") continue;  // pages are served by their own paths
    ++seen;
    auto r = call("GET", "/assets/" + name);
    ASSERT_EQ(r.status, 200u) << name;
    const std::string type(r.header("Content-Type").value_or(""));
    if (e.path().extension() == ".js") {
      EXPECT_EQ(type, "text/javascript; charset=utf-8") << name;
    } else if (e.path().extension() == ".css") {
      EXPECT_EQ(type, "text/css; charset=utf-8") << name;
    }
    EXPECT_EQ(r.body, source_asset(name)) << name;
    expect_strict_csp(r);
    EXPECT_EQ(r.header("Cache-Control").value_or(""), "no-cache") << name;
    const std::string etag(r.header("ETag").value_or(""));
    ASSERT_FALSE(etag.empty()) << name;
    auto again = call("GET", "/assets/" + name, "", {{"If-None-Match", etag}});
    EXPECT_EQ(again.status, 304u) << name;
    EXPECT_TRUE(again.body.empty()) << name;
    auto stale = call("GET", "/assets/" + name, "", {{"If-None-Match", "\"other\""}});
    EXPECT_EQ(stale.status, 200u) << name;
  }
  EXPECT_GE(seen, 2);
}

TEST_F(Pages, UnknownAssetsAndTraversalAre404) {
  for (const char* target :
       {"/assets/nope.js", "/assets/..%2Fapp.cpp", "/assets/%2e%2e", "/assets/../app.cpp",
        "/assets/..%5Capp.css", "/assets/updates.html", "/assets/", "/assets/app.css%00",
        "/assets/sub/app.css", "/updates/extra"}) {
    auto r = call("GET", target);
    EXPECT_TRUE(r.status == 404u || r.status == 400u) << target << " -> " << r.status;
    EXPECT_EQ(r.body.find("script-src"), std::string::npos) << target;  // no asset bytes leak
  }
}

TEST_F(Pages, PagesAreReadOnly) {
  EXPECT_EQ(call("POST", "/updates").status, 405u);
  EXPECT_EQ(call("DELETE", "/assets/app.css").status, 405u);
}

TEST_F(Pages, MeGivesAReloadedPageItsSessionsCsrfToken) {
  const Session s = admin();
  auto r = as(s, "GET", "/api/auth/me");
  ASSERT_EQ(r.status, 200u) << r.body;
  auto me = bj::parse(r.body).as_object();
  EXPECT_EQ(me["username"].as_string(), "admin");
  EXPECT_EQ(me["role"].as_string(), "admin");
  EXPECT_EQ(me["csrf_token"].as_string(), s.csrf);
  EXPECT_EQ(call("GET", "/api/auth/me").status, 401u);
}

}  // namespace
}  // namespace rollout::server::testing
