// docs/openapi.yaml describes exactly the routes the server serves: none missing, none invented.
#include <gtest/gtest.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <set>

#include "server-plugin/app.hpp"

namespace rollout::server {
namespace {

TEST(OpenApi, DocumentMatchesTheServedRoutes) {
  const YAML::Node doc = YAML::LoadFile(std::string(ROLLOUT_SOURCE_DIR) + "/docs/openapi.yaml");
  ASSERT_EQ(doc["openapi"].as<std::string>().substr(0, 2), "3.");
  std::set<std::pair<std::string, std::string>> documented;
  for (const auto& path : doc["paths"]) {
    for (const auto& op : path.second) {
      std::string method = op.first.as<std::string>();
      std::transform(method.begin(), method.end(), method.begin(), ::toupper);
      documented.emplace(method, path.first.as<std::string>());
    }
  }
  std::set<std::pair<std::string, std::string>> served;
  for (const auto& r : route_table()) served.emplace(r.method, r.pattern);
  for (const auto& r : served) {
    EXPECT_TRUE(documented.contains(r))
        << r.first << " " << r.second << " is served but not documented";
  }
  for (const auto& d : documented) {
    EXPECT_TRUE(served.contains(d))
        << d.first << " " << d.second << " is documented but not served";
  }
}

}  // namespace
}  // namespace rollout::server
