// The typed store suite: every test here runs against every backend of the program that
// builds it (store_backends(): SQLite in server_tests, PostgreSQL in pg_tests), so one body
// says what both stores guarantee.
#include "server-plugin/store.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <csignal>
#include <limits>
#include <map>
#include <random>
#include <thread>

#include <sqlite3.h>
#include <sys/wait.h>
#include <unistd.h>

#include "tests/server/store_backends.hpp"
#include "tests/testing/testing.hpp"

namespace rollout::server {
namespace {

// The same suite runs against every backend (store_backends.hpp).
using testing::Backend;

class StoreTest : public ::testing::TestWithParam<Backend> {
 protected:
  void SetUp() override {
    url_ = GetParam().url(dir_.path());
    auto s = open_store(url_);
    ASSERT_TRUE(s.ok()) << s.error().message;
    store_ = std::move(s.value());
  }
  void reopen() {
    store_.reset();
    auto s = open_store(url_);
    ASSERT_TRUE(s.ok()) << s.error().message;
    store_ = std::move(s.value());
  }

  Release release(const std::string& version, const std::string& os = "linux") {
    return testing::sample_release(version, os);
  }

  Attempt attempt(const std::string& id, const std::string& agent, const std::string& version,
                  const std::string& outcome, const std::string& occurred,
                  std::int64_t received = 5000) {
    Attempt a = testing::sample_attempt(id, agent, {version, "linux", "x86_64"}, outcome, occurred,
                                        received);
    if (outcome != "success") {
      a.stage = outcome == "crash" ? "probation" : "download";
      a.error_code = outcome == "crash" ? "crash_limit" : "network";
      a.message = outcome + " of " + agent;
    }
    return a;
  }

  testing::TempDir dir_;
  std::string url_;
  std::unique_ptr<Store> store_;
};

TEST_P(StoreTest, MigrationsAreIdempotentAndSurviveReopen) {
  const int v = store_->schema_version();
  EXPECT_GE(v, 1);
  ASSERT_TRUE(store_->insert_release(release("1.0.0")).ok());
  reopen();
  EXPECT_EQ(store_->schema_version(), v);
  auto r = store_->get_release({"1.0.0", "linux", "x86_64"});
  ASSERT_TRUE(r.ok());
  ASSERT_TRUE(r->has_value()) << "data survives close and reopen";
}

TEST_P(StoreTest, ReleasesAreUniqueAndPromotable) {
  ASSERT_TRUE(store_->insert_release(release("1.0.0")).ok());
  auto dup = store_->insert_release(release("1.0.0"));
  ASSERT_FALSE(dup.ok());
  EXPECT_EQ(dup.error().code, "duplicate_release");
  ASSERT_TRUE(store_->insert_release(release("1.0.0", "windows")).ok())
      << "os/arch are part of the key";
  ASSERT_TRUE(store_->set_promoted({"1.0.0", "linux", "x86_64"}, 2000, 1).ok());
  ASSERT_TRUE(store_->set_blocked({"1.0.0", "windows", "x86_64"}, "bad build").ok());
  EXPECT_FALSE(store_->set_blocked({"9.9.9", "linux", "x86_64"}, "x").ok());
  auto all = store_->list_releases().value();
  ASSERT_EQ(all.size(), 2u);
  auto lin = store_->get_release({"1.0.0", "linux", "x86_64"}).value().value();
  EXPECT_EQ(lin.promoted_at, 2000);
  EXPECT_EQ(lin.promotion_seq, 1u);
  EXPECT_EQ(store_->next_promotion_seq().value(), 1u) << "set_promoted does not take from it";
  EXPECT_EQ(store_->next_promotion_seq().value(), 2u);
  auto win = store_->get_release({"1.0.0", "windows", "x86_64"}).value().value();
  EXPECT_TRUE(win.blocked);
  EXPECT_EQ(win.blocked_reason, "bad build");
  EXPECT_TRUE(store_->find_release_by_sha256(lin.sha256).value().has_value());
}

TEST_P(StoreTest, ReplayedReportsChangeNoCounts) {
  std::vector<Attempt> batch = {
      attempt("00000000-0000-4000-8000-000000000001", "a1", "1.0.0", "success",
              "2026-11-24T10:00:00Z"),
      attempt("00000000-0000-4000-8000-000000000002", "a2", "1.0.0", "crash",
              "2026-11-24T10:00:00Z"),
  };
  auto ids = store_->record_attempts(batch);
  ASSERT_TRUE(ids.ok()) << ids.error().message;
  EXPECT_EQ(ids->size(), 2u);
  auto again = store_->record_attempts(batch);
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again->size(), 2u) << "replays are acknowledged";
  EXPECT_EQ(store_->attempt_count().value(), 2u);
  auto counts = store_->release_counts(std::nullopt).value();
  const auto& c = counts[{"1.0.0", "linux", "x86_64"}];
  EXPECT_EQ(c.success, 1u);
  EXPECT_EQ(c.crash, 1u);
  EXPECT_EQ(c.total(), 2u);
}

TEST_P(StoreTest, EachAgentCountsOnceByItsLatestOutcome) {
  ASSERT_TRUE(store_
                  ->record_attempts({
                      attempt("00000000-0000-4000-8000-000000000011", "a1", "1.0.0", "failure",
                              "2026-11-24T10:00:00Z"),
                      attempt("00000000-0000-4000-8000-000000000012", "a1", "1.0.0", "success",
                              "2026-11-24T11:00:00Z"),
                      attempt("00000000-0000-4000-8000-000000000013", "a2", "1.0.0", "success",
                              "2026-11-24T09:00:00Z"),
                      // Arrives later but happened earlier: it does not override a2's success.
                      attempt("00000000-0000-4000-8000-000000000014", "a2", "1.0.0", "failure",
                              "2026-11-24T08:00:00Z", 9000),
                      attempt("00000000-0000-4000-8000-000000000015", "a3", "2.0.0", "crash",
                              "2026-11-24T10:00:00Z"),
                  })
                  .ok());
  auto counts = store_->release_counts(std::nullopt).value();
  const auto& c = counts[{"1.0.0", "linux", "x86_64"}];
  EXPECT_EQ(c.success, 2u);
  EXPECT_EQ(c.failure, 0u);
  EXPECT_EQ(counts[(ReleaseKey{"2.0.0", "linux", "x86_64"})].crash, 1u);
  auto recent = store_->release_counts(8000).value();
  EXPECT_EQ(recent[(ReleaseKey{"1.0.0", "linux", "x86_64"})].failure, 1u)
      << "last-24h window by arrival";
  EXPECT_EQ(recent[(ReleaseKey{"1.0.0", "linux", "x86_64"})].success, 0u);
}

// The agent's clock decides "latest", including fractions of a second, which plain text order of
// "10:00:00Z" and "10:00:00.5Z" would get wrong ('Z' sorts after '.').
TEST_P(StoreTest, LatestOutcomeHonoursFractionalSeconds) {
  ASSERT_TRUE(store_
                  ->record_attempts({
                      attempt("00000000-0000-4000-8000-000000000031", "a1", "1.0.0", "success",
                              "2026-11-24T10:00:00.5Z"),
                      // Arrives later, happened half a second earlier.
                      attempt("00000000-0000-4000-8000-000000000032", "a1", "1.0.0", "failure",
                              "2026-11-24T10:00:00Z"),
                      attempt("00000000-0000-4000-8000-000000000033", "a2", "1.0.0", "crash",
                              "2026-11-24T10:00:00.25Z"),
                      attempt("00000000-0000-4000-8000-000000000034", "a2", "1.0.0", "failure",
                              "2026-11-24T10:00:00.3Z"),
                      // Same instant: arrival order breaks the tie.
                      attempt("00000000-0000-4000-8000-000000000035", "a3", "1.0.0", "failure",
                              "2026-11-24T10:00:01Z"),
                      attempt("00000000-0000-4000-8000-000000000036", "a3", "1.0.0", "success",
                              "2026-11-24T10:00:01Z"),
                  })
                  .ok());
  const auto c = store_->release_counts(std::nullopt).value()[{"1.0.0", "linux", "x86_64"}];
  EXPECT_EQ(c.success, 2u) << "a1 and a3";
  EXPECT_EQ(c.failure, 1u) << "a2: .3 is after .25";
  EXPECT_EQ(c.crash, 0u);
}

// Several servers on one database: the last-24h counts one store caches must not hide attempts
// another store recorded (the cache is keyed on a counter bumped with every batch, not on
// anything one connection saw).
TEST_P(StoreTest, WindowCountsSeeAttemptsRecordedThroughAnotherStore) {
  auto b = open_store(url_);
  ASSERT_TRUE(b.ok()) << b.error().message;
  const ReleaseKey key{"1.0.0", "linux", "x86_64"};
  const std::int64_t since = 4000;
  EXPECT_TRUE(store_->release_counts(since).value().empty());
  EXPECT_TRUE(store_->release_counts(since).value().empty()) << "answered again (cached)";
  ASSERT_TRUE((*b)->record_attempts({attempt("00000000-0000-4000-8000-0000000000b1", "a1", "1.0.0",
                                             "success", "2026-11-24T10:00:00Z")})
                  .ok());
  EXPECT_EQ(store_->release_counts(since).value()[key].success, 1u);
  ASSERT_TRUE((*b)->record_attempts({attempt("00000000-0000-4000-8000-0000000000b2", "a1", "1.0.0",
                                             "crash", "2026-11-24T10:00:01Z")})
                  .ok());
  const auto c = store_->release_counts(since).value()[key];
  EXPECT_EQ(c.success, 0u);
  EXPECT_EQ(c.crash, 1u) << "a1's later report, through B";
  EXPECT_EQ((*b)->release_counts(since).value()[key].crash, 1u);
}

TEST_P(StoreTest, OccurredAtMustBeRfc3339AndChangesNothingOtherwise) {
  auto st = store_->record_attempts(
      {attempt("00000000-0000-4000-8000-0000000000c1", "a1", "1.0.0", "success",
               "2026-11-24T10:00:00Z"),
       attempt("00000000-0000-4000-8000-0000000000c2", "a1", "1.0.0", "success", "yesterday")});
  ASSERT_FALSE(st.ok());
  EXPECT_NE(st.error().message.find("occurred_at"), std::string::npos) << st.error().message;
  EXPECT_EQ(store_->attempt_count().value(), 0u);
}

// The login rate limit's bucket (Store::take_rate_token): a burst, then one token per interval,
// Retry-After until the next; keys independent; a given-back token spends again.
TEST_P(StoreTest, RateTokensRefillAtTheirRate) {
  const double per_second = 5.0 / 60.0;  // 5 per minute: one every 12 s
  const std::int64_t t0 = 1'000'000;
  for (int i = 0; i < 5; ++i)
    EXPECT_TRUE(store_->take_rate_token("ip|alice", t0, 5, per_second).value().allowed) << i;
  auto d = store_->take_rate_token("ip|alice", t0, 5, per_second).value();
  EXPECT_FALSE(d.allowed);
  EXPECT_EQ(d.retry_after, 12);
  EXPECT_TRUE(store_->take_rate_token("ip|bob", t0, 5, per_second).value().allowed);
  EXPECT_FALSE(store_->take_rate_token("ip|alice", t0 + 11, 5, per_second).value().allowed);
  EXPECT_EQ(store_->take_rate_token("ip|alice", t0 + 11, 5, per_second).value().retry_after, 1);
  EXPECT_TRUE(store_->take_rate_token("ip|alice", t0 + 12, 5, per_second).value().allowed);
  EXPECT_FALSE(store_->take_rate_token("ip|alice", t0 + 12, 5, per_second).value().allowed);
  ASSERT_TRUE(store_->return_rate_token("ip|alice", per_second).ok());
  EXPECT_TRUE(store_->take_rate_token("ip|alice", t0 + 12, 5, per_second).value().allowed);
  ASSERT_TRUE(store_->return_rate_token("nobody", per_second).ok()) << "unknown key: nothing";
  reopen();
  EXPECT_FALSE(store_->take_rate_token("ip|alice", t0 + 12, 5, per_second).value().allowed)
      << "a restart does not reset the limit";
}

TEST_P(StoreTest, RateTokensAreOneLimitForTwoStores) {
  auto b = open_store(url_);
  ASSERT_TRUE(b.ok()) << b.error().message;
  int allowed = 0;
  for (int i = 0; i < 10; ++i) {
    Store& s = i % 2 ? **b : *store_;
    allowed += s.take_rate_token("k", 500, 3, 0.001).value().allowed ? 1 : 0;
  }
  EXPECT_EQ(allowed, 3);
}

TEST_P(StoreTest, RateTokensRefuseBadKeysAndRatesAndStayBounded) {
  EXPECT_EQ(store_->take_rate_token(std::string(Store::kRateKeyMax + 1, 'x'), 1, 5, 1).error().code,
            "invalid_argument");
  EXPECT_NE(store_->take_rate_token("", 1, 5, 1).error().message.find("rate limit key"),
            std::string::npos);
  EXPECT_EQ(store_->take_rate_token("k", 1, 0, 1).error().code, "invalid_argument");
  EXPECT_EQ(store_->take_rate_token("k", 1, 5, 0).error().code, "invalid_argument");
  EXPECT_EQ(store_->take_rate_token("k", 1, 5, std::nan("")).error().code, "invalid_argument");
  EXPECT_TRUE(store_->take_rate_token(std::string("\0\xff\n'\";--", 9), 1, 5, 1).value().allowed)
      << "any bytes are just a key";
  // A stranger with many addresses: the table keeps at most kRateRowsMax rows, and the key
  // limited hardest (its bucket empty) survives the flood.
  const std::int64_t t0 = 10'000;
  const double slow = 1.0 / 3600;
  for (int i = 0; i < 5; ++i) ASSERT_TRUE(store_->take_rate_token("attacker", t0, 5, slow).ok());
  ASSERT_TRUE(store_
                  ->transaction([&](Tx& tx) -> Status {
                    for (std::size_t i = 0; i < Store::kRateRowsMax + 500; ++i) {
                      auto d = tx.take_rate_token("flood-" + std::to_string(i), t0, 5, slow);
                      if (!d) return d.error();
                    }
                    return {};
                  })
                  .ok());
  EXPECT_FALSE(store_->take_rate_token("attacker", t0, 5, slow).value().allowed);
  // Rows counted with the raw API (SQLite only; another backend's own test reads its table).
  auto rows = [&]() -> std::int64_t {
    if (url_.rfind("sqlite:", 0) != 0) return 0;
    sqlite3* db = nullptr;
    std::int64_t n = -1;
    sqlite3_stmt* q = nullptr;
    if (sqlite3_open(url_.substr(7).c_str(), &db) == SQLITE_OK &&
        sqlite3_prepare_v2(db, "SELECT COUNT(*) FROM rate_limits", -1, &q, nullptr) == SQLITE_OK &&
        sqlite3_step(q) == SQLITE_ROW) {
      n = sqlite3_column_int64(q, 0);
    }
    sqlite3_finalize(q);
    sqlite3_close(db);
    return n;
  };
  EXPECT_LE(rows(), static_cast<std::int64_t>(Store::kRateRowsMax));
  EXPECT_GE(rows(), 0);
  // Full buckets are dropped: two hours later every flood row has refilled and is gone; the
  // attacker's (five hours ahead) is still there.
  EXPECT_TRUE(store_->take_rate_token("late", t0 + 2 * 3600, 5, slow).value().allowed);
  if (url_.rfind("sqlite:", 0) == 0) {
    EXPECT_EQ(rows(), 2) << "attacker and late";
  }
  // The attacker's bucket was remembered through the flood: two tokens back after two hours.
  EXPECT_TRUE(store_->take_rate_token("attacker", t0 + 2 * 3600, 5, slow).value().allowed);
  EXPECT_TRUE(store_->take_rate_token("attacker", t0 + 2 * 3600, 5, slow).value().allowed);
  EXPECT_FALSE(store_->take_rate_token("attacker", t0 + 2 * 3600, 5, slow).value().allowed);
}

// A replayed id keeps its first report: a retransmission cannot rewrite history.
TEST_P(StoreTest, ReplayedIdKeepsTheFirstReport) {
  const std::string id = "00000000-0000-4000-8000-000000000041";
  ASSERT_TRUE(
      store_->record_attempts({attempt(id, "a1", "1.0.0", "crash", "2026-11-24T10:00:00Z")}).ok());
  auto replay =
      store_->record_attempts({attempt(id, "a1", "1.0.0", "success", "2026-11-24T11:00:00Z"),
                               attempt("00000000-0000-4000-8000-000000000042", "a2", "1.0.0",
                                       "success", "2026-11-24T11:00:00Z")});
  ASSERT_TRUE(replay.ok());
  EXPECT_EQ(*replay, (std::vector<std::string>{id, "00000000-0000-4000-8000-000000000042"}))
      << "both acknowledged: one stored before, one now";
  const auto c = store_->release_counts(std::nullopt).value()[{"1.0.0", "linux", "x86_64"}];
  EXPECT_EQ(c.crash, 1u);
  EXPECT_EQ(c.success, 1u);
  EXPECT_EQ(store_->agent_attempts("a1", 10).value().at(0).outcome, "crash");
}

// A batch is all or nothing: a bad report in it leaves none of the batch stored.
TEST_P(StoreTest, ABatchIsOneTransaction) {
  auto bad = attempt("00000000-0000-4000-8000-000000000052", "a2", "1.0.0", "success",
                     "2026-11-24T10:00:00Z");
  bad.outcome = "exploded";
  auto st = store_->record_attempts({attempt("00000000-0000-4000-8000-000000000051", "a1", "1.0.0",
                                             "success", "2026-11-24T10:00:00Z"),
                                     bad});
  EXPECT_FALSE(st.ok());
  EXPECT_EQ(store_->attempt_count().value(), 0u);
}

// Acknowledged means durable: a process killed right after record_attempts returns (no
// destructor, no close) loses nothing. (Power loss is SQLite's synchronous=FULL contract.)
TEST_P(StoreTest, AcknowledgedReportsSurviveAKilledProcess) {
  store_.reset();
  const pid_t pid = fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    auto child = open_store(url_);
    if (!child) _exit(2);
    auto ok = child.value()->record_attempts({attempt("00000000-0000-4000-8000-000000000061", "a1",
                                                      "1.0.0", "success", "2026-11-24T10:00:00Z")});
    if (!ok) _exit(3);
    std::raise(SIGKILL);
    _exit(4);
  }
  int wstatus = 0;
  ASSERT_EQ(waitpid(pid, &wstatus, 0), pid);
  ASSERT_TRUE(WIFSIGNALED(wstatus)) << "child exit code " << WEXITSTATUS(wstatus);
  reopen();
  EXPECT_EQ(store_->attempt_count().value(), 1u);
  const auto c = store_->release_counts(std::nullopt).value()[{"1.0.0", "linux", "x86_64"}];
  EXPECT_EQ(c.success, 1u);
}

// Several servers starting on a fresh database at once: every one opens and the schema is built
// once.
TEST_P(StoreTest, ConcurrentFirstOpensAllSucceed) {
  store_.reset();
  testing::TempDir fresh_dir;
  const auto fresh = GetParam().url(fresh_dir.path());
  std::vector<std::thread> threads;
  std::atomic<int> opened{0};
  std::vector<std::string> errors(4);
  for (std::size_t i = 0; i < errors.size(); ++i) {
    threads.emplace_back([&, i] {
      auto s = open_store(fresh);
      if (s) {
        ++opened;
      } else {
        errors[i] = s.error().message;
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(opened, 4) << errors[0] << errors[1] << errors[2] << errors[3];
}

TEST_P(StoreTest, FailurePatternsGroupByStageAndCode) {
  ASSERT_TRUE(store_
                  ->record_attempts({
                      attempt("00000000-0000-4000-8000-000000000021", "a1", "1.0.0", "crash",
                              "2026-11-24T10:00:00Z", 1000),
                      attempt("00000000-0000-4000-8000-000000000022", "a2", "1.0.0", "crash",
                              "2026-11-24T10:00:00Z", 9000),
                      attempt("00000000-0000-4000-8000-000000000023", "a3", "1.0.0", "failure",
                              "2026-11-24T10:00:00Z", 9000),
                      attempt("00000000-0000-4000-8000-000000000024", "a4", "1.0.0", "success",
                              "2026-11-24T10:00:00Z", 9000),
                  })
                  .ok());
  auto p = store_->failure_patterns({"1.0.0", "linux", "x86_64"}, 5000).value();
  ASSERT_EQ(p.size(), 2u);
  EXPECT_EQ(p[0].outcome, "crash");
  EXPECT_EQ(p[0].stage, "probation");
  EXPECT_EQ(p[0].error_code, "crash_limit");
  EXPECT_EQ(p[0].count, 2u);
  EXPECT_EQ(p[0].count_24h, 1u);
  EXPECT_EQ(p[0].first_seen, 1000);
  EXPECT_EQ(p[0].last_seen, 9000);
  EXPECT_EQ(p[0].sample_message, "crash of a2") << "the newest evidence";
  EXPECT_EQ(p[1].outcome, "failure");
}

TEST_P(StoreTest, AgentsAndDirectives) {
  Agent a;
  a.id = "agent-1";
  a.token_hash = "h1";
  a.hostname = "host";
  a.machine_id = "m1";
  a.os = "linux";
  a.arch = "x86_64";
  a.current_version = "1.0.0";
  a.enrolled_at = 1;
  ASSERT_TRUE(store_->insert_agent(a).ok());
  EXPECT_EQ(store_->find_agent_by_token_hash("h1").value()->id, "agent-1");
  EXPECT_FALSE(store_->find_agent_by_token_hash("nope").value().has_value());
  EXPECT_EQ(store_->find_agent_by_machine_id("m1").value()->id, "agent-1");
  a.current_version = "1.1.0";
  a.state = "committed";
  a.security_floor = 3;
  a.last_checkin_at = 77;
  ASSERT_TRUE(store_->update_agent_checkin(a).ok());
  a.security_floor = 1;
  ASSERT_TRUE(store_->update_agent_checkin(a).ok());
  ASSERT_TRUE(
      store_->set_agent_directive("agent-1", {"1.2.0", "install", 5, 999, "{\"x\":1}"}).ok());
  auto got = store_->get_agent("agent-1").value().value();
  EXPECT_EQ(got.current_version, "1.1.0");
  EXPECT_EQ(got.security_floor, 3u) << "the floor never goes down";
  EXPECT_EQ(got.last_sequence, 5u);
  ASSERT_TRUE(got.directive.has_value());
  EXPECT_EQ(got.directive->envelope, "{\"x\":1}");
  ASSERT_TRUE(store_->set_agent_directive("agent-1", {"1.0.0", "downgrade", 3, 999, "{}"}).ok());
  EXPECT_EQ(store_->get_agent("agent-1").value()->last_sequence, 5u) << "sequence never goes down";
  EXPECT_EQ(store_->list_agents().value().size(), 1u);
}

TEST_P(StoreTest, AuditTrailIsAppendOnlyAndPaged) {
  for (int i = 0; i < 5; ++i) {
    Event e;
    e.at = 100 + i;
    e.user = "ops";
    e.action = i % 2 ? "promote" : "rollback";
    e.version = i < 3 ? "1.0.0" : "2.0.0";
    e.os = "linux";
    e.arch = "x86_64";
    e.reason = "r" + std::to_string(i);
    ASSERT_TRUE(store_->append_event(e).ok());
  }
  auto page = store_->list_events(0, 2, std::nullopt).value();
  ASSERT_EQ(page.size(), 2u);
  EXPECT_EQ(page[0].reason, "r4") << "newest first";
  auto next = store_->list_events(page[1].id, 10, std::nullopt).value();
  EXPECT_EQ(next.size(), 3u);
  auto one = store_->list_events(0, 10, ReleaseKey{"1.0.0", "linux", "x86_64"}).value();
  EXPECT_EQ(one.size(), 3u);
}

TEST_P(StoreTest, ConcurrentTransactionsEndConsistent) {
  ASSERT_TRUE(store_->insert_release(release("1.0.0")).ok());
  const ReleaseKey key{"1.0.0", "linux", "x86_64"};
  // Two racing read-check-write transactions: "promote unless blocked" and "block unless promoted".
  std::atomic<int> promoted{0}, blocked{0};
  auto promote = [&] {
    auto st = store_->transaction([&](Tx& tx) -> Status {
      auto r = tx.get_release(key).value().value();
      if (r.blocked) return make_error("blocked", "blocked");
      std::this_thread::yield();
      if (auto s = tx.set_promoted(key, 1, 1); !s) return s;
      ++promoted;
      return {};
    });
    (void)st;
  };
  auto block = [&] {
    auto st = store_->transaction([&](Tx& tx) -> Status {
      auto r = tx.get_release(key).value().value();
      if (r.promoted_at) return make_error("promoted", "promoted");
      std::this_thread::yield();
      if (auto s = tx.set_blocked(key, "x"); !s) return s;
      ++blocked;
      return {};
    });
    (void)st;
  };
  std::thread t1(promote), t2(block);
  t1.join();
  t2.join();
  EXPECT_EQ(promoted + blocked, 1) << "exactly one of the two won";
  auto r = store_->get_release(key).value().value();
  EXPECT_NE(r.promoted_at.has_value(), r.blocked);
}

TEST_P(StoreTest, FailedTransactionChangesNothing) {
  auto st = store_->transaction([&](Tx& tx) -> Status {
    if (auto s = tx.insert_release(release("3.0.0")); !s) return s;
    return make_error("nope", "abort");
  });
  EXPECT_FALSE(st.ok());
  EXPECT_FALSE(store_->get_release({"3.0.0", "linux", "x86_64"}).value().has_value());
}

TEST_P(StoreTest, UsersSessionsTokensPoliciesLogs) {
  ASSERT_TRUE(store_->insert_user({"alice", "hash", "operator"}).ok());
  EXPECT_FALSE(store_->insert_user({"alice", "hash", "operator"}).ok());
  EXPECT_FALSE(store_->insert_user({"bob", "hash", "root"}).ok()) << "unknown role";
  EXPECT_EQ(store_->user_count().value(), 1u);
  ASSERT_TRUE(store_->insert_session({"sh", "alice", "csrf", 100}).ok());
  EXPECT_EQ(store_->get_session("sh").value()->csrf_token, "csrf");
  ASSERT_TRUE(store_->delete_session("sh").ok());
  EXPECT_FALSE(store_->get_session("sh").value().has_value());
  ASSERT_TRUE(store_->insert_api_token({"th", "alice", "ci", 5}).ok());
  EXPECT_EQ(store_->get_api_token("th").value()->username, "alice");

  ASSERT_TRUE(
      store_->put_policy({"default", "", "stable", "22:00", "04:00", "all_at_once", std::nullopt})
          .ok());
  ASSERT_TRUE(store_
                  ->put_policy({"site", "hq", "beta", std::nullopt, std::nullopt, std::nullopt,
                                std::nullopt})
                  .ok());
  ASSERT_TRUE(store_
                  ->put_policy({"site", "hq", "stable", std::nullopt, std::nullopt, std::nullopt,
                                std::nullopt})
                  .ok());
  auto policies = store_->list_policies().value();
  ASSERT_EQ(policies.size(), 2u);
  EXPECT_EQ(policies[1].channel, "stable") << "put replaces";
  EXPECT_EQ(policies[0].rollout, "all_at_once");
  EXPECT_FALSE(policies[1].rollout.has_value());
  EXPECT_FALSE(
      store_
          ->put_policy(
              {"client", "acme", std::nullopt, std::nullopt, std::nullopt, "sometimes", {}})
          .ok())
      << "a rollout style is waves or all_at_once";

  ASSERT_TRUE(store_->append_log({0, 1, "info", "rollout", "promoted 1.0.0", "{}"}).ok());
  ASSERT_TRUE(
      store_->append_log({0, 2, "error", "agent-api", "report failure 50%_off", "{}"}).ok());
  EXPECT_EQ(store_->query_logs("", "", 10).value().size(), 2u);
  EXPECT_EQ(store_->query_logs("ROLLOUT", "", 10).value().size(), 1u);
  EXPECT_EQ(store_->query_logs("", "warn", 10).value().size(), 1u);
  EXPECT_EQ(store_->query_logs("%_", "", 10).value().size(), 1u) << "wildcards are literal";
}

TEST_P(StoreTest, TrimLogsKeepsTheNewestEntries) {
  for (int i = 1; i <= 30; ++i)
    ASSERT_TRUE(store_->append_log({0, i, "info", "t", "entry " + std::to_string(i), "{}"}).ok());
  ASSERT_TRUE(store_->trim_logs(40).ok());
  EXPECT_EQ(store_->query_logs("", "", 100).value().size(), 30u) << "fewer than keep: all stay";
  ASSERT_TRUE(store_->trim_logs(10).ok());
  auto kept = store_->query_logs("", "", 100).value();
  ASSERT_EQ(kept.size(), 10u);
  EXPECT_EQ(kept.front().message, "entry 30") << "newest first";
  EXPECT_EQ(kept.back().message, "entry 21");
  ASSERT_TRUE(store_->append_log({0, 31, "info", "t", "entry 31", "{}"}).ok());
  ASSERT_TRUE(store_->trim_logs(10).ok());
  EXPECT_EQ(store_->query_logs("", "", 100).value().back().message, "entry 22");
}

// The all-time counts come from latest_attempts, kept by record_attempts; the windowed counts
// rank the attempts themselves. With a window that holds everything both must agree, whatever the
// order, ties, fractions and replays of the reports.
TEST_P(StoreTest, KeptLatestOutcomesAgreeWithRankingEveryAttempt) {
  std::mt19937 rng(20261127);
  const char* outcomes[] = {"success", "failure", "crash"};
  const char* times[] = {"2026-11-24T10:00:00Z", "2026-11-24T10:00:00.5Z",
                         "2026-11-24T10:00:00.25Z", "2026-11-24T09:59:59.999Z",
                         "2026-11-24T10:00:01Z"};
  std::vector<Attempt> sent;
  for (int batch = 0; batch < 40; ++batch) {
    std::vector<Attempt> b;
    for (int i = 0; i < 8; ++i) {
      const int n = static_cast<int>(sent.size());
      if (n > 0 && rng() % 6 == 0) {  // a replay of an earlier report
        b.push_back(sent[rng() % static_cast<unsigned>(n)]);
        continue;
      }
      auto a = attempt("id-" + std::to_string(n), "a" + std::to_string(rng() % 7),
                       rng() % 2 ? "1.0.0" : "2.0.0", outcomes[rng() % 3], times[rng() % 5],
                       static_cast<std::int64_t>(batch));
      sent.push_back(a);
      b.push_back(a);
    }
    ASSERT_TRUE(store_->record_attempts(b).ok());
    ASSERT_EQ(store_->release_counts(std::nullopt).value(),
              store_->release_counts(std::numeric_limits<std::int64_t>::min()).value())
        << "after batch " << batch;
  }
}

// Windowed counts may be answered from a cache: it must follow every new report, differ per
// window, and never keep what a rolled-back transaction saw.
TEST_P(StoreTest, WindowedCountsFollowNewReportsAndIgnoreRolledBackOnes) {
  auto counts_in = [](StoreOps& db, std::int64_t since) {
    return db.release_counts(since).value()[{"1.0.0", "linux", "x86_64"}];
  };
  auto in_window = [&](std::int64_t since) { return counts_in(*store_, since); };
  ASSERT_TRUE(
      store_
          ->record_attempts({attempt("w1", "a1", "1.0.0", "success", "2026-11-24T10:00:00Z", 100)})
          .ok());
  EXPECT_EQ(in_window(50), (Counts{1, 0, 0}));
  EXPECT_EQ(in_window(50), (Counts{1, 0, 0})) << "asked again";
  ASSERT_TRUE(
      store_
          ->record_attempts({attempt("w2", "a2", "1.0.0", "failure", "2026-11-24T10:00:00Z", 200)})
          .ok());
  EXPECT_EQ(in_window(50), (Counts{1, 1, 0})) << "a new report is seen";
  EXPECT_EQ(in_window(150), (Counts{0, 1, 0})) << "another window";
  auto st = store_->transaction([&](Tx& tx) -> Status {
    if (auto r = tx.record_attempts(
            {attempt("w3", "a3", "1.0.0", "crash", "2026-11-24T10:00:00Z", 300)});
        !r)
      return r.error();
    EXPECT_EQ(counts_in(tx, 50), (Counts{1, 1, 1})) << "inside the transaction";
    return make_error("test", "roll back");
  });
  ASSERT_FALSE(st.ok());
  // No read between: what the transaction saw must not answer for the rowid reused here.
  ASSERT_TRUE(
      store_
          ->record_attempts({attempt("w4", "a4", "1.0.0", "success", "2026-11-24T10:00:00Z", 300)})
          .ok());
  EXPECT_EQ(in_window(50), (Counts{2, 1, 0})) << "a report that reuses the rolled-back rowid";
}

TEST_P(StoreTest, AgentPopulationGroupsByWhatDecidesTheChannel) {
  auto add = [&](const std::string& id, const std::string& version, const std::string& site,
                 const std::string& hint) {
    Agent a;
    a.id = id;
    a.token_hash = "h-" + id;
    a.hostname = id;
    a.machine_id = "m-" + id;
    a.os = "linux";
    a.arch = "x86_64";
    a.current_version = version;
    a.client = "acme";
    a.site = site;
    a.channel_hint = hint;
    a.enrolled_at = 1;
    ASSERT_TRUE(store_->insert_agent(a).ok());
  };
  for (int i = 0; i < 5; ++i) add("hq-" + std::to_string(i), "1.0.0", "hq", "");
  add("lab-1", "1.0.0", "lab", "beta");
  add("lab-2", "1.0.0", "lab", "beta");
  add("lab-3", "1.1.0", "lab", "beta");
  ASSERT_TRUE(store_
                  ->put_policy({"agent", "hq-4", "beta", std::nullopt, std::nullopt, std::nullopt,
                                std::nullopt})
                  .ok());
  auto groups = store_->agent_population().value();
  std::map<std::string, std::uint64_t> by;
  std::uint64_t total = 0;
  for (const auto& g : groups) {
    by[g.version + "/" + g.site + "/" + g.channel_hint + "/" + g.agent_id] += g.count;
    total += g.count;
  }
  EXPECT_EQ(total, 8u) << "every agent in exactly one group";
  EXPECT_EQ(by["1.0.0/hq//"], 4u);
  EXPECT_EQ(by["1.0.0/hq//hq-4"], 1u) << "an agent with its own policy stands alone";
  EXPECT_EQ(by["1.0.0/lab/beta/"], 2u);
  EXPECT_EQ(by["1.1.0/lab/beta/"], 1u);
  EXPECT_EQ(groups.size(), 4u);
}

// What each agent may report on: the first row of an (agent, release) is kept, rows are per
// agent and per platform, and a missing one reads as absent.
TEST_P(StoreTest, AgentReleasesKeepTheirFirstRow) {
  const ReleaseKey lin{"1.1.0", "linux", "x86_64"}, win{"1.1.0", "windows", "x86_64"};
  EXPECT_FALSE(store_->get_agent_release("a1", lin).value().has_value());
  ASSERT_TRUE(store_->add_agent_release({"a1", lin, "install", 100}).ok());
  ASSERT_TRUE(store_->add_agent_release({"a1", lin, "running", 200}).ok()) << "a no-op";
  ASSERT_TRUE(
      store_->add_agent_release({"a1", {"1.0.0", "linux", "x86_64"}, "downgrade", 300}).ok());
  ASSERT_TRUE(store_->add_agent_release({"a2", win, "running", 150}).ok());
  auto first = store_->get_agent_release("a1", lin).value();
  ASSERT_TRUE(first.has_value());
  EXPECT_EQ(first->how, "install");
  EXPECT_EQ(first->first_at, 100);
  EXPECT_FALSE(store_->get_agent_release("a1", win).value().has_value()) << "per platform";
  EXPECT_FALSE(store_->get_agent_release("a2", lin).value().has_value()) << "per agent";
  auto all = store_->list_agent_releases("a1").value();
  ASSERT_EQ(all.size(), 2u);
  EXPECT_EQ(all[0].release, lin);
  EXPECT_EQ(all[1].how, "downgrade");
  EXPECT_FALSE(store_->add_agent_release({"a1", win, "guessed", 1}).ok())
      << "how is one of install | downgrade | running";
  // Inside a failed transaction nothing stays.
  auto st = store_->transaction([&](Tx& tx) -> Status {
    if (auto s = tx.add_agent_release({"a3", lin, "install", 1}); !s) return s;
    return make_error("test", "roll back");
  });
  EXPECT_FALSE(st.ok());
  EXPECT_TRUE(store_->list_agent_releases("a3").value().empty());
}

// The hourly cap's reads: an agent's rows since a time (and the oldest of them), and whether a
// report id is stored.
TEST_P(StoreTest, AgentAttemptWindowAndKnownIds) {
  std::vector<Attempt> batch;
  for (auto [id, agent, received] :
       {std::tuple{"00000000-0000-4000-8000-000000000011", "a1", 1000},
        std::tuple{"00000000-0000-4000-8000-000000000012", "a1", 2000},
        std::tuple{"00000000-0000-4000-8000-000000000013", "a1", 3000},
        std::tuple{"00000000-0000-4000-8000-000000000014", "a2", 2500}}) {
    batch.push_back(attempt(id, agent, "1.0.0", "success", "2026-11-24T10:00:00Z", received));
  }
  ASSERT_TRUE(store_->record_attempts(batch).ok());
  auto w = store_->agent_attempt_window("a1", 1500).value();
  EXPECT_EQ(w.count, 2u);
  EXPECT_EQ(w.oldest_received_at, 2000);
  EXPECT_EQ(store_->agent_attempt_window("a1", 0).value().count, 3u);
  auto none = store_->agent_attempt_window("a3", 0).value();
  EXPECT_EQ(none.count, 0u);
  EXPECT_EQ(none.oldest_received_at, 0);
  EXPECT_TRUE(store_->has_attempt("00000000-0000-4000-8000-000000000014").value());
  EXPECT_FALSE(store_->has_attempt("00000000-0000-4000-8000-000000000099").value());
}

RolloutRecord rollout_row(const std::string& version) {
  return testing::sample_rollout({version, "linux", "x86_64"});
}

TEST_P(StoreTest, RolloutsAreCreatedReadAndUpdatedOnlyAtTheirRevision) {
  const RolloutRecord r = rollout_row("1.1.0");
  ASSERT_TRUE(store_->insert_rollout(r).ok());
  auto dup = store_->insert_rollout(r);
  ASSERT_FALSE(dup.ok());
  EXPECT_EQ(dup.error().code, "duplicate_rollout");
  auto got = store_->get_rollout(r.key).value();
  ASSERT_TRUE(got.has_value());
  EXPECT_EQ(got->previous_version, "1.0.0");
  EXPECT_EQ(got->plan_json, r.plan_json);
  EXPECT_EQ(got->thresholds_json, r.thresholds_json);
  EXPECT_EQ(got->memory_json, r.memory_json);
  EXPECT_EQ(got->state, "rolling_out");
  EXPECT_EQ(got->rev, 1u);
  EXPECT_FALSE(store_->get_rollout({"9.9.9", "linux", "x86_64"}).value().has_value());

  RolloutRecord paused = r;
  paused.state = "paused";
  paused.rule = "warning";
  paused.reason = "health is Warning";
  paused.rev = 2;
  paused.updated_at = 200;
  EXPECT_TRUE(store_->update_rollout(paused, 1).value());
  // A second writer that read revision 1 too loses and changes nothing.
  RolloutRecord late = r;
  late.state = "complete";
  late.rev = 2;
  EXPECT_FALSE(store_->update_rollout(late, 1).value());
  // The new row must be the next revision.
  RolloutRecord skip = paused;
  skip.rev = 5;
  EXPECT_FALSE(store_->update_rollout(skip, 2).ok());
  reopen();
  got = store_->get_rollout(r.key).value();
  ASSERT_TRUE(got.has_value());
  EXPECT_EQ(got->state, "paused");
  EXPECT_EQ(got->rule, "warning");
  EXPECT_EQ(got->reason, "health is Warning");
  EXPECT_EQ(got->rev, 2u);
  EXPECT_EQ(got->updated_at, 200);
  ASSERT_TRUE(store_->insert_rollout(rollout_row("1.2.0")).ok());
  EXPECT_EQ(store_->list_rollout_records().value().size(), 2u);
}

TEST_P(StoreTest, EachRolloutGroupIsItsOwnRowWithItsOwnRevision) {
  RolloutRecord def = rollout_row("1.1.0");
  RolloutRecord lab = def;
  lab.group = "site:lab";
  lab.plan_json = R"({"steps_bp":[10000]})";
  ASSERT_TRUE(store_->insert_rollout(def).ok());
  ASSERT_TRUE(store_->insert_rollout(lab).ok());
  auto dup = store_->insert_rollout(lab);
  ASSERT_FALSE(dup.ok());
  EXPECT_EQ(dup.error().code, "duplicate_rollout");
  EXPECT_NE(dup.error().message.find("site:lab"), std::string::npos) << dup.error().message;
  // Pausing the lab group leaves the default group's row (and revision) alone.
  RolloutRecord paused = lab;
  paused.state = "paused";
  paused.rev = 2;
  EXPECT_TRUE(store_->update_rollout(paused, 1).value());
  EXPECT_FALSE(store_->update_rollout(paused, 1).value()) << "its revision moved on";
  reopen();
  EXPECT_EQ(store_->get_rollout(def.key).value()->state, "rolling_out");
  EXPECT_EQ(store_->get_rollout(def.key).value()->rev, 1u);
  auto got = store_->get_rollout(def.key, "site:lab").value();
  ASSERT_TRUE(got.has_value());
  EXPECT_EQ(got->group, "site:lab");
  EXPECT_EQ(got->state, "paused");
  EXPECT_EQ(got->plan_json, lab.plan_json);
  EXPECT_FALSE(store_->get_rollout(def.key, "site:other").value().has_value());
  // A release's rows, the default group first; the other release's rows are not among them.
  RolloutRecord a = def;
  a.group = "agent:a";
  ASSERT_TRUE(store_->insert_rollout(a).ok());
  ASSERT_TRUE(store_->insert_rollout(rollout_row("1.2.0")).ok());
  auto rows = store_->list_rollouts(def.key).value();
  ASSERT_EQ(rows.size(), 3u);
  EXPECT_EQ(rows[0].group, "default");
  EXPECT_EQ(rows[1].group, "agent:a");
  EXPECT_EQ(rows[2].group, "site:lab");
  EXPECT_EQ(store_->list_rollout_records().value().size(), 4u);
}

TEST_P(StoreTest, APolicysWavePlanIsStoredAndCleared) {
  Policy p{"site",
           "lab",
           std::nullopt,
           std::nullopt,
           std::nullopt,
           std::nullopt,
           std::string(R"({"soak_s":60})")};
  ASSERT_TRUE(store_->put_policy(p).ok());
  reopen();
  auto got = store_->list_policies().value();
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].waves, p.waves);
  p.waves.reset();
  ASSERT_TRUE(store_->put_policy(p).ok());
  EXPECT_FALSE(store_->list_policies().value()[0].waves.has_value());
}

TEST_P(StoreTest, AnUnknownRolloutStateIsRefused) {
  RolloutRecord r = rollout_row("1.1.0");
  r.state = "dancing";
  EXPECT_FALSE(store_->insert_rollout(r).ok());
  EXPECT_TRUE(store_->list_rollout_records().value().empty());
}

TEST_P(StoreTest, ARolloutDecisionRacedFromTwoConnectionsHappensOnce) {
  ASSERT_TRUE(store_->insert_rollout(rollout_row("1.1.0")).ok());
  auto other = open_store(url_);
  ASSERT_TRUE(other.ok()) << other.error().message;
  std::atomic<int> won{0};
  // Both read revision 1 first, then race the conditional update with its audit row.
  const RolloutRecord seen_a = store_->get_rollout({"1.1.0", "linux", "x86_64"}).value().value();
  const RolloutRecord seen_b = (*other)->get_rollout({"1.1.0", "linux", "x86_64"}).value().value();
  auto decide = [&](Store& st, const RolloutRecord& seen) {
    auto done = st.transaction([&](Tx& tx) -> Status {
      RolloutRecord next = seen;
      next.memory_json = R"({"wave":1})";
      next.rev = seen.rev + 1;
      auto w = tx.update_rollout(next, seen.rev);
      if (!w) return w.error();
      if (!*w) return {};
      ++won;
      Event e;
      e.at = 1;
      e.user = "system";
      e.action = "rollout_advanced";
      e.version = "1.1.0";
      auto id = tx.append_event(e);
      return id ? Status{} : Status(id.error());
    });
    EXPECT_TRUE(done.ok()) << done.error().message;
  };
  std::thread a([&] { decide(*store_, seen_a); }), b([&] { decide(**other, seen_b); });
  a.join();
  b.join();
  EXPECT_EQ(won, 1);
  EXPECT_EQ(store_->list_events(0, 10, std::nullopt).value().size(), 1u);
  EXPECT_EQ(store_->get_rollout({"1.1.0", "linux", "x86_64"}).value()->rev, 2u);
}

TEST_P(StoreTest, LatestOutcomesAreOneRowPerAgent) {
  ASSERT_TRUE(store_
                  ->record_attempts({attempt("r1", "a", "1.1.0", "crash", "2026-01-01T00:00:01Z"),
                                     attempt("r2", "a", "1.1.0", "success", "2026-01-01T00:00:02Z"),
                                     attempt("r3", "b", "1.1.0", "failure", "2026-01-01T00:00:01Z"),
                                     attempt("r4", "c", "1.2.0", "crash", "2026-01-01T00:00:01Z")})
                  .ok());
  std::map<std::string, std::string> got;
  for (const auto& o : store_->latest_outcomes({"1.1.0", "linux", "x86_64"}).value())
    got[o.agent_id] = o.outcome;
  EXPECT_EQ(got, (std::map<std::string, std::string>{{"a", "success"}, {"b", "failure"}}));
}

// Transactions are values: inside a body the Tx is the way in. The Store itself refuses, loudly,
// instead of joining (SQLite's recursive lock would) or deadlocking (a pool would), and so does a
// nested transaction; neither changes anything.
TEST_P(StoreTest, TheStoreRefusesCallsFromInsideItsOwnTransaction) {
  ASSERT_TRUE(store_->insert_release(release("1.0.0")).ok());
  std::optional<Error> read, write, nested;
  auto st = store_->transaction([&](Tx& tx) -> Status {
    if (auto r = store_->get_release({"1.0.0", "linux", "x86_64"}); !r) read = r.error();
    if (auto w = store_->insert_release(release("2.0.0")); !w) write = w.error();
    auto inner = store_->transaction([&](Tx&) -> Status { return {}; });
    if (!inner) nested = inner.error();
    return tx.insert_release(release("3.0.0"));
  });
  ASSERT_TRUE(st.ok()) << st.error().message;
  ASSERT_TRUE(read && write && nested);
  EXPECT_EQ(read->message, "store call inside a transaction: use the Tx");
  EXPECT_EQ(write->message, "store call inside a transaction: use the Tx");
  EXPECT_NE(nested->message.find("transaction inside a transaction"), std::string::npos)
      << nested->message;
  EXPECT_FALSE(store_->get_release({"2.0.0", "linux", "x86_64"}).value().has_value());
  EXPECT_TRUE(store_->get_release({"3.0.0", "linux", "x86_64"}).value().has_value())
      << "the Tx's own write committed";
  EXPECT_TRUE(store_->get_release({"1.0.0", "linux", "x86_64"}).ok()) << "usable again after it";
}

TEST_P(StoreTest, ABodyThatThrowsRollsBack) {
  auto st = store_->transaction([&](Tx& tx) -> Status {
    if (auto w = tx.insert_release(release("1.0.0")); !w) return w;
    throw std::runtime_error("boom");
  });
  ASSERT_FALSE(st.ok());
  EXPECT_NE(st.error().message.find("boom"), std::string::npos);
  EXPECT_FALSE(store_->get_release({"1.0.0", "linux", "x86_64"}).value().has_value());
  EXPECT_TRUE(store_->transaction([](Tx&) -> Status { return {}; }).ok()) << "not left marked";
}

// The directive sequence is the store's: one step per directive, counting from the stored
// last_sequence, and the Tx's step rolls back with its transaction.
TEST_P(StoreTest, DirectiveSequencesComeFromTheStore) {
  ASSERT_TRUE(store_->insert_agent(testing::sample_agent("a1")).ok());
  EXPECT_EQ(store_->next_directive_sequence("a1").value(), 1u);
  EXPECT_EQ(store_->next_directive_sequence("a1").value(), 2u);
  EXPECT_EQ(store_->get_agent("a1").value()->last_sequence, 2u);
  ASSERT_TRUE(store_->set_agent_directive("a1", {"1.1.0", "install", 7, 99, "{}"}).ok());
  EXPECT_EQ(store_->next_directive_sequence("a1").value(), 8u) << "after a stored directive's";
  auto st = store_->transaction([&](Tx& tx) -> Status {
    EXPECT_EQ(tx.next_directive_sequence("a1").value(), 9u);
    return make_error("test", "roll back");
  });
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(store_->next_directive_sequence("a1").value(), 9u) << "the rolled back one again";
  auto none = store_->next_directive_sequence("nobody");
  ASSERT_FALSE(none.ok());
  EXPECT_EQ(none.error().code, "not_found");
}

// The promotion sequence likewise, and no two promoted releases may share one.
TEST_P(StoreTest, PromotionSequencesAreTheStoresAndUnique) {
  ASSERT_TRUE(store_->insert_release(release("1.0.0")).ok());
  ASSERT_TRUE(store_->insert_release(release("1.1.0")).ok());
  const auto seq = store_->next_promotion_seq().value();
  EXPECT_EQ(seq, 1u);
  ASSERT_TRUE(store_->set_promoted({"1.0.0", "linux", "x86_64"}, 10, seq).ok());
  auto twice = store_->set_promoted({"1.1.0", "linux", "x86_64"}, 11, seq);
  ASSERT_FALSE(twice.ok()) << "promotion_seq is unique among promoted releases";
  EXPECT_EQ(twice.error().code, "constraint");
  auto st = store_->transaction([&](Tx& tx) -> Status {
    EXPECT_EQ(tx.next_promotion_seq().value(), 2u);
    return make_error("test", "roll back");
  });
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(store_->next_promotion_seq().value(), 2u);
}

TEST_P(StoreTest, LockingAReleaseNeedsTheRelease) {
  ASSERT_TRUE(store_->insert_release(release("1.0.0")).ok());
  auto st = store_->transaction([&](Tx& tx) -> Status {
    if (auto l = tx.lock_release({"1.0.0", "linux", "x86_64"}); !l) return l;
    auto missing = tx.lock_release({"9.9.9", "linux", "x86_64"});
    EXPECT_EQ(missing.ok() ? "ok" : missing.error().code, "not_found");
    return {};
  });
  EXPECT_TRUE(st.ok()) << st.error().message;
}

INSTANTIATE_TEST_SUITE_P(Backends, StoreTest, ::testing::ValuesIn(testing::store_backends()),
                         testing::backend_name);

}  // namespace
}  // namespace rollout::server
