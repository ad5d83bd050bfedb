#include "server-plugin/api/router.hpp"

#include <gtest/gtest.h>

namespace rollout::api {
namespace {

Router make_router() {
  Router r;
  r.add("GET", "/api/updates/rollouts", 1);
  r.add("POST", "/api/updates/rollouts/{version}/promote", 2);
  r.add("GET", "/api/agents/{id}", 3);
  r.add("GET", "/api/agent/v1/artifacts/{sha256}", 4);
  return r;
}

Router::Result run(const Router& r, std::string_view method, std::string_view target, Match& m) {
  auto t = parse_target(target);
  if (!t) return Router::Result::not_found;
  return r.match(method, *t, m);
}

TEST(Router, MatchesLiteralAndParameterRoutes) {
  auto r = make_router();
  Match m;
  ASSERT_EQ(run(r, "GET", "/api/updates/rollouts", m), Router::Result::found);
  EXPECT_EQ(m.id, 1);
  ASSERT_EQ(run(r, "POST", "/api/updates/rollouts/1.2.3-rc.1/promote", m), Router::Result::found);
  EXPECT_EQ(m.id, 2);
  EXPECT_EQ(m.params.at("version"), "1.2.3-rc.1");
  ASSERT_EQ(run(r, "HEAD", "/api/agents/abc", m), Router::Result::found);
  EXPECT_EQ(m.params.at("id"), "abc");
}

TEST(Router, WrongMethodIs405AndUnknownPathIs404) {
  auto r = make_router();
  Match m;
  EXPECT_EQ(run(r, "DELETE", "/api/updates/rollouts", m), Router::Result::method_not_allowed);
  auto t = parse_target("/api/updates/rollouts");
  EXPECT_EQ(r.allowed_methods(*t), std::vector<std::string>{"GET"});
  EXPECT_EQ(run(r, "GET", "/api/nothing", m), Router::Result::not_found);
  EXPECT_EQ(run(r, "GET", "/api/updates/rollouts/x", m), Router::Result::not_found);
}

TEST(Router, EncodedTraversalNeverMatchesAParameter) {
  auto r = make_router();
  Match m;
  EXPECT_NE(run(r, "GET", "/api/agent/v1/artifacts/..", m), Router::Result::found);
  EXPECT_NE(run(r, "GET", "/api/agent/v1/artifacts/%2e%2e", m), Router::Result::found);
  EXPECT_NE(run(r, "GET", "/api/agent/v1/artifacts/..%2Fetc%2Fpasswd", m), Router::Result::found);
  EXPECT_NE(run(r, "GET", "/api/agent/v1/artifacts/a%5Cb", m), Router::Result::found);
  EXPECT_NE(run(r, "GET", "/api/agent/v1/artifacts/a%00b", m), Router::Result::found);
}

TEST(Router, ParsesQueryAndRejectsMalformedTargets) {
  auto t = parse_target("/api/logs?q=roll%20out&level=warn&limit=5");
  ASSERT_TRUE(t.has_value());
  EXPECT_EQ(t->query.at("q"), "roll out");
  EXPECT_EQ(t->query.at("level"), "warn");
  EXPECT_FALSE(parse_target("http://evil/abs").has_value());
  EXPECT_FALSE(parse_target("no-slash").has_value());
  EXPECT_FALSE(parse_target("/a b").has_value());
}

}  // namespace
}  // namespace rollout::api
