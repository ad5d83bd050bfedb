// server_tests runs the store suites (suites/) against SQLite; pg_tests runs them against
// PostgreSQL (postgres/pg_store_backends.cpp).
#include "tests/server/store_backends.hpp"

namespace rollout::testing {

std::vector<Backend> store_backends() {
  return {Backend{"sqlite", [](const std::filesystem::path& d) {
                    return "sqlite:" + (d / "rollout.db").string();
                  }}};
}

}  // namespace rollout::testing
