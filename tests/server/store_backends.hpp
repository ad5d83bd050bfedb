// The backends every store suite runs against (suites/store_suite.cpp,
// suites/two_stores_suite.cpp): each parameter makes a fresh store URL (a file in the test's
// directory, or a fresh database). And the rows those suites build.
#pragma once

#include <filesystem>
#include <functional>
#include <ostream>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "common/error.hpp"
#include "server-plugin/model.hpp"

namespace rollout::testing {

struct Backend {
  std::string name;
  std::function<std::string(const std::filesystem::path& dir)> url;
};

// Names the backend in test output instead of dumping the struct's bytes.
inline void PrintTo(const Backend& b, std::ostream* os) {
  *os << b.name;
}

// The backends of this test program: store_backends.cpp (server_tests: SQLite) or
// postgres/pg_store_backends.cpp (pg_tests: PostgreSQL on the program's cluster). The suites in
// suites/ are built into both programs.
std::vector<Backend> store_backends();

// Behind the store's back, on a database of this program's backend (a test that breaks the
// schema on purpose): runs `statements` (several, separated by ';'), and counts a table's rows
// (-1 when that fails, with a test failure).
Status run_sql(const std::string& url, const std::string& statements);
std::int64_t count_rows(const std::string& url, const std::string& table);
// SQL for run_sql that makes every later INSERT into `table` fail with `message`.
std::string refuse_inserts_sql(const std::string& table, const std::string& message);

// A release and an agent with every required field, for the suites to vary.
inline server::Release sample_release(const std::string& version, const std::string& os = "linux") {
  server::Release r;
  r.key = {version, os, "x86_64"};
  r.product = "rollout-agent";
  r.size = 10;
  r.sha256 = std::string(63, 'a') + version.back();
  r.security_version = 1;
  r.manifest = "{}";
  r.created_at = 1000;
  r.published_by = "admin";
  return r;
}

// An attempt with the fields every report has; a failure's details are the caller's to add.
inline server::Attempt sample_attempt(const std::string& id, const std::string& agent,
                                      const server::ReleaseKey& release, const std::string& outcome,
                                      const std::string& occurred_at, std::int64_t received_at) {
  server::Attempt a;
  a.id = id;
  a.agent_id = agent;
  a.release = release;
  a.outcome = outcome;
  a.occurred_at = occurred_at;
  a.received_at = received_at;
  return a;
}

// A stable rollout in waves of `key` from `previous`, at its first wave (rev 1).
inline server::RolloutRecord sample_rollout(const server::ReleaseKey& key,
                                            const std::string& previous = "1.0.0") {
  server::RolloutRecord r;
  r.key = key;
  r.previous_version = previous;
  r.plan_json = R"({"steps_bp":[100,10000]})";
  r.thresholds_json = "[120,10000]";
  r.memory_json = R"({"wave":0})";
  r.state = "rolling_out";
  r.rule = "started";
  r.rev = 1;
  r.started_at = 100;
  r.updated_at = 100;
  return r;
}

inline server::Agent sample_agent(const std::string& id) {
  server::Agent a;
  a.id = id;
  a.token_hash = "token-" + id;
  a.hostname = id;
  a.machine_id = "machine-" + id;
  a.os = "linux";
  a.arch = "x86_64";
  a.current_version = "1.0.0";
  a.enrolled_at = 1;
  return a;
}

// For INSTANTIATE_TEST_SUITE_P: the test's name ends with the backend's.
inline std::string backend_name(const ::testing::TestParamInfo<Backend>& info) {
  return info.param.name;
}

}  // namespace rollout::testing
