// An audited action whose audit row cannot be written does not happen, and a storage failure is
// answered with its cause. The failure is injected from outside the App: a trigger, added to the
// test's database behind the server's back, that refuses every insert into rollout_events (and,
// for the read test, a table renamed away). On either backend (store_backends.hpp: run_sql).
#include <gtest/gtest.h>

#include "tests/server/app_fixture.hpp"

namespace rollout::server::testing {
namespace {

class AuditOrNothing : public AppFixture {
 protected:
  void sql(const std::string& statement) {
    auto st = rollout::testing::run_sql(cfg_.database_url, statement);
    EXPECT_TRUE(st.ok()) << st.error().message;
  }
  std::int64_t count(const std::string& table) {
    return rollout::testing::count_rows(cfg_.database_url, table);
  }
  void break_audit() {
    sql(rollout::testing::refuse_inserts_sql("rollout_events", "audit disk is gone"));
  }
  static void expect_cause(const http::Response& r) {
    EXPECT_EQ(r.status, 500u) << r.body;
    EXPECT_NE(r.body.find("audit disk is gone"), std::string::npos)
        << "the answer keeps the store's cause: " << r.body;
  }
};

TEST_F(AuditOrNothing, EveryAuditedActionFailsWholeWhenItsAuditRowCannotBeWritten) {
  const Session admin_session = admin();
  ASSERT_EQ(publish(admin_session, "1.0.0").status, 201u);
  ASSERT_EQ(publish(admin_session, "0.9.0").status, 201u);
  ASSERT_EQ(as(admin_session, "POST", "/api/updates/rollouts/0.9.0/promote",
               R"({"os":"linux","arch":"x86_64","force":true,"reason":"a stable to fall back to"})")
                .status,
            200u);
  const auto tokens = count("api_tokens");
  const auto users = count("users");
  const auto policies = store()->list_policies().value().size();
  const auto events = count("rollout_events");
  break_audit();

  expect_cause(publish(admin_session, "2.0.0"));
  EXPECT_FALSE(store()->get_release({"2.0.0", "linux", "x86_64"}).value()) << "not published";

  expect_cause(as(admin_session, "POST", "/api/updates/rollouts/1.0.0/promote",
                  R"({"os":"linux","arch":"x86_64","force":true,"reason":"r"})"));
  EXPECT_EQ(store()->get_release({"1.0.0", "linux", "x86_64"}).value()->promotion_seq, 0u);

  expect_cause(as(admin_session, "POST", "/api/updates/rollouts/1.0.0/rollback",
                  R"({"os":"linux","arch":"x86_64","reason":"r"})"));
  EXPECT_FALSE(store()->get_release({"1.0.0", "linux", "x86_64"}).value()->blocked);

  expect_cause(as(admin_session, "PUT", "/api/policies",
                  R"({"scope":"client","scope_id":"acme",)"
                  R"("channel":"beta"})"));
  EXPECT_EQ(store()->list_policies().value().size(), policies);

  expect_cause(as(admin_session, "POST", "/api/users",
                  R"({"username":"eve","password":"eve-password-123","role":"admin"})"));
  EXPECT_EQ(count("users"), users);

  expect_cause(as(admin_session, "POST", "/api/tokens", R"({"name":"ci"})"));
  EXPECT_EQ(count("api_tokens"), tokens) << "no token without its audit row";

  EXPECT_EQ(count("rollout_events"), events);
}

TEST_F(AuditOrNothing, ARolloutInWavesChangesOnlyWithItsAuditRow) {
  cfg_.waves.cumulative_bp = {5000, 10000};
  app_.reset();
  Start();
  const Session admin_session = admin();
  ASSERT_EQ(publish(admin_session, "0.9.0").status, 201u);
  ASSERT_EQ(publish(admin_session, "1.0.0").status, 201u);
  for (const char* v : {"0.9.0", "1.0.0"}) {
    ASSERT_EQ(as(admin_session, "POST", std::string("/api/updates/rollouts/") + v + "/promote",
                 R"({"os":"linux","arch":"x86_64","force":true,"reason":"r"})")
                  .status,
              200u);
  }
  const auto before = store()->get_rollout({"1.0.0", "linux", "x86_64"}).value().value();
  const auto events = count("rollout_events");
  break_audit();
  for (const char* action : {"pause", "advance", "all", "abort"}) {
    expect_cause(as(admin_session, "POST",
                    std::string("/api/updates/rollouts/1.0.0/waves/") + action,
                    R"({"os":"linux","arch":"x86_64","reason":"r"})"));
  }
  // The gate's own decision (wave 1 has no agent: it would advance) fails whole too.
  auto gate = app_->evaluate_rollouts();
  ASSERT_FALSE(gate.ok());
  EXPECT_NE(gate.error().message.find("audit disk is gone"), std::string::npos);
  const auto after = store()->get_rollout({"1.0.0", "linux", "x86_64"}).value().value();
  EXPECT_EQ(after.rev, before.rev);
  EXPECT_EQ(after.state, "rolling_out");
  EXPECT_EQ(after.memory_json, before.memory_json);
  EXPECT_FALSE(store()->get_release({"1.0.0", "linux", "x86_64"}).value()->blocked);
  EXPECT_EQ(count("rollout_events"), events);
}

TEST_F(AuditOrNothing, AFailedReadIsAnsweredWithItsCause) {
  const Session admin_session = admin();
  sql("ALTER TABLE policies RENAME TO policies_gone;");
  for (const char* target : {"/api/agents", "/api/updates/rollouts"}) {
    auto r = as(admin_session, "GET", target);
    EXPECT_EQ(r.status, 500u) << target << ": " << r.body;
    EXPECT_EQ(r.body.find("\"storage error\""), std::string::npos) << target << ": " << r.body;
    EXPECT_NE(r.body.find("policies"), std::string::npos)
        << target << " names what failed: " << r.body;
  }
}

}  // namespace
}  // namespace rollout::server::testing
