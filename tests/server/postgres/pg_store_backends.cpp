// pg_tests runs the store suites (tests/server/suites/) against PostgreSQL: each parameter is a
// fresh database on the program's cluster (tests/testing/postgres/pg_cluster.hpp), over TCP
// with a password as a server would connect.
#include "tests/server/store_backends.hpp"
#include "tests/testing/postgres/pg_cluster.hpp"

namespace rollout::testing {

std::vector<Backend> store_backends() {
  return {Backend{"postgres", [](const std::filesystem::path&) {
                    auto& cluster = PgCluster::get();
                    return cluster.url(cluster.create_database());
                  }}};
}

}  // namespace rollout::testing
