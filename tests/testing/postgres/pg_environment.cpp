// The GoogleTest side of the test cluster (pg_cluster.hpp): an Environment, registered by this
// file, starts the program's one cluster before the first test and stops it after the last, and
// PgCluster::get() hands it to the tests. A program without GoogleTest (bench/rollouts_bench)
// links pg_cluster.cpp alone and calls PgCluster::start_new().
//
// Not thread-safe: get() from the test's main thread. A cluster that cannot start fails every
// test that asks for it, with the reason (never a skip).
#include <gtest/gtest.h>

#include <memory>
#include <stdexcept>
#include <string>

#include "tests/testing/postgres/pg_cluster.hpp"

namespace rollout::testing {
namespace {

std::unique_ptr<PgCluster> g_cluster;
std::string g_start_error = "the PostgreSQL test cluster is not running";

class PgEnvironment : public ::testing::Environment {
 public:
  void SetUp() override {
    try {
      g_cluster = PgCluster::start_new();
    } catch (const std::exception& e) {
      g_start_error = std::string("PostgreSQL test cluster: ") + e.what();
      // Not fatal, so every test still runs and fails on get() with this message: a missing
      // PostgreSQL is never mistaken for skipped tests.
      ADD_FAILURE() << g_start_error;
    }
  }
  void TearDown() override {
    g_cluster.reset();  // stops it
  }
};

[[maybe_unused]] ::testing::Environment* const kEnvironment =
    ::testing::AddGlobalTestEnvironment(new PgEnvironment);

}  // namespace

PgCluster& PgCluster::get() {
  if (!g_cluster || g_cluster->port() == 0) {
    throw std::runtime_error(g_start_error);
  }
  return *g_cluster;
}

}  // namespace rollout::testing
