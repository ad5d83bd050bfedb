// What only the PostgreSQL Store has (the behaviour both backends share is the suites in
// tests/server/suites/, which pg_tests runs on PostgreSQL): the pool_size URL parameter, a
// deadlock between two transactions that is a "conflict" and leaves nothing of the loser, and
// what keys the last-24h counts cache.
#include "server-plugin/store/postgres/pg_store.hpp"
#include "server-plugin/store/postgres/pg_store_rows.hpp"

#include <gtest/gtest.h>

#include <latch>
#include <thread>
#include <vector>

#include "tests/server/store_backends.hpp"
#include "tests/testing/postgres/pg_cluster.hpp"

namespace rollout::server::pg {
namespace {

using testing::PgCluster;

TEST(PgStoreUrl, PoolSizeIsTakenOffTheUrlAndGarbageIsRefusedNamingIt) {
  auto plain = parse_store_url("postgresql://u:p@127.0.0.1/db");
  ASSERT_TRUE(plain);
  EXPECT_EQ(plain->url, "postgresql://u:p@127.0.0.1/db");
  EXPECT_EQ(plain->pool_size, kDefaultPoolSize);
  auto sized = parse_store_url("postgresql://u:p@127.0.0.1/db?sslmode=require&pool_size=3&x=y");
  ASSERT_TRUE(sized);
  EXPECT_EQ(sized->url, "postgresql://u:p@127.0.0.1/db?sslmode=require&x=y");
  EXPECT_EQ(sized->pool_size, 3);
  auto only = parse_store_url("postgresql://u:p@127.0.0.1/db?pool_size=1000");
  ASSERT_TRUE(only);
  EXPECT_EQ(only->url, "postgresql://u:p@127.0.0.1/db");
  EXPECT_EQ(only->pool_size, 1000);

  for (const char* bad : {"0", "1001", "-1", "x", "8x", "", " 8", "99999999999999999999"}) {
    const std::string url = std::string("postgresql://u:s3cret@127.0.0.1/db?pool_size=") + bad;
    auto p = parse_store_url(url);
    ASSERT_FALSE(p) << bad;
    EXPECT_EQ(p.error().code, "invalid_config");
    EXPECT_NE(p.error().message.find("database_url: pool_size"), std::string::npos)
        << p.error().message;
    EXPECT_EQ(p.error().message.find("s3cret"), std::string::npos);
    // open_store refuses it before any connection is tried.
    EXPECT_EQ(open_store(url).error().code, "invalid_config") << bad;
  }
  EXPECT_FALSE(parse_store_url("postgresql://h/" + std::string(kMaxUrlLength, 'd')));
}

TEST(PgStore, NeverHoldsMoreConnectionsThanPoolSize) {
  auto& cluster = PgCluster::get();
  const auto db = cluster.create_database();
  auto store = open_store(cluster.url(db) + "?pool_size=2");
  ASSERT_TRUE(store) << store.error().message;
  std::vector<std::thread> threads;
  for (int t = 0; t < 6; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 20; ++i) {
        ASSERT_TRUE((*store)->insert_agent(
            rollout::testing::sample_agent("a" + std::to_string(t) + "-" + std::to_string(i))));
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ((*store)->list_agents().value().size(), 120u);
  auto admin = Conn::open(cluster.url(db));
  ASSERT_TRUE(admin) << admin.error().message;
  auto n = admin->query(
      "SELECT count(*) FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()",
      Params(db));
  ASSERT_TRUE(n) << n.error().message;
  EXPECT_LE(*n->i64(0, 0), 2);
}

// An attempt's occurred_at is kept as microseconds (occurred_at_us) and read back as the text it
// was: whole seconds without a fraction, a fraction as long as it needs.
TEST(PgStoreTime, OccurredAtRoundTripsThroughMicroseconds) {
  for (const char* t :
       {"2026-11-24T10:00:00Z", "2026-11-24T10:00:00.5Z", "2026-11-24T10:00:00.000001Z",
        "1970-01-01T00:00:00Z", "2026-11-24T23:59:59.999999Z"}) {
    auto us = rfc3339_to_us(t);
    ASSERT_TRUE(us) << t;
    EXPECT_EQ(us_to_rfc3339(*us), t);
  }
  EXPECT_EQ(*rfc3339_to_us("2026-11-24T10:00:00.5Z") - *rfc3339_to_us("2026-11-24T10:00:00Z"),
            500000);
  // Digits past microseconds are dropped, not rounded into the seconds.
  EXPECT_EQ(us_to_rfc3339(*rfc3339_to_us("2026-11-24T10:00:00.9999999Z")),
            "2026-11-24T10:00:00.999999Z");
}

// The protocol checks occurred_at before it gets here; should garbage reach the store anyway,
// the batch is refused naming the field and stores nothing.
TEST(PgStore, AnAttemptWithAGarbageTimeStoresNothingOfItsBatch) {
  auto& cluster = PgCluster::get();
  auto store = open_store(cluster.url(cluster.create_database()));
  ASSERT_TRUE(store) << store.error().message;
  Attempt good;
  good.id = "00000000-0000-4000-8000-000000000001";
  good.agent_id = "a1";
  good.release = {"1.0.0", "linux", "x86_64"};
  good.outcome = "success";
  good.occurred_at = "2026-11-24T10:00:00Z";
  good.received_at = 5;
  Attempt bad = good;
  bad.id = "00000000-0000-4000-8000-000000000002";
  bad.occurred_at = "yesterday\x01";
  auto r = (*store)->record_attempts({good, bad});
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message.find("occurred_at"), std::string::npos) << r.error().message;
  EXPECT_EQ((*store)->attempt_count().value(), 0u);
}

// Two transactions that lock two releases in opposite orders: PostgreSQL breaks the deadlock by
// failing one of them, which is a "conflict" (retry it), and the audit row it wrote is gone.
TEST(PgStore, ADeadlockIsAConflictAndTheLoserLeavesNothing) {
  auto& cluster = PgCluster::get();
  auto store = open_store(cluster.url(cluster.create_database()));
  ASSERT_TRUE(store) << store.error().message;
  const auto a = rollout::testing::sample_release("1.0.0");
  const auto b = rollout::testing::sample_release("1.0.1");
  ASSERT_TRUE((*store)->insert_release(a));
  ASSERT_TRUE((*store)->insert_release(b));

  std::latch both_hold_one(2);
  Status results[2];
  auto job = [&](int i, const ReleaseKey& first, const ReleaseKey& second) {
    results[i] = (*store)->transaction([&](Tx& tx) -> Status {
      // Something of each before the deadlock, to see the loser's go.
      auto st = tx.lock_release(first);
      if (st) st = tx.insert_agent(rollout::testing::sample_agent("agent" + std::to_string(i)));
      both_hold_one.arrive_and_wait();  // also on a failure, so the other never waits forever
      if (!st) return st;
      if (st = tx.lock_release(second); !st) return st;
      Event e;
      e.at = 1;
      e.user = "u" + std::to_string(i);
      e.action = "rollback";
      if (auto id = tx.append_event(e); !id) return id.error();
      return {};
    });
  };
  std::thread t0(job, 0, a.key, b.key);
  std::thread t1(job, 1, b.key, a.key);
  t0.join();
  t1.join();
  const int ok = (results[0] ? 1 : 0) + (results[1] ? 1 : 0);
  EXPECT_EQ(ok, 1);
  for (const auto& r : results) {
    if (!r) {
      EXPECT_EQ(r.error().code, kConflict) << r.error().message;
    }
  }
  EXPECT_EQ((*store)->list_events(0, 10, std::nullopt).value().size(), 1u);
  EXPECT_EQ((*store)->list_agents().value().size(), 1u);
}

// The last-24h counts are answered from the store's cache while the 'attempts' counter stands
// still, and counted again when it moves (as every batch of any server moves it, see the suites)
// or when the window starts elsewhere (it slides with the clock). Shown with a row slipped in
// behind the store's back, which only a fresh count sees.
TEST(PgStore, WindowCountsAreCachedUntilTheAttemptsCounterMovesOrTheWindowSlides) {
  auto& cluster = PgCluster::get();
  const auto db = cluster.create_database();
  auto store = open_store(cluster.url(db));
  ASSERT_TRUE(store) << store.error().message;
  const ReleaseKey key{"1.0.0", "linux", "x86_64"};
  ASSERT_TRUE((*store)->record_attempts({testing::sample_attempt(
      "00000000-0000-4000-8000-000000000001", "a1", key, "success", "2026-11-24T10:00:00Z", 100)}));
  EXPECT_EQ((*store)->release_counts(50).value()[key].success, 1u);

  auto behind = Conn::open(cluster.url(db));
  ASSERT_TRUE(behind) << behind.error().message;
  auto slip_in = [&](const std::string& agent) {
    ASSERT_TRUE(behind->query(
        "INSERT INTO update_attempts (id, agent_id, version, os, arch, outcome, occurred_at_us, "
        "received_at) VALUES ($1, $1, '1.0.0', 'linux', 'x86_64', 'success', 0, 100)",
        Params(agent)));
  };
  slip_in("a2");
  EXPECT_EQ((*store)->release_counts(50).value()[key].success, 1u) << "the cached answer";
  EXPECT_EQ((*store)->release_counts(std::nullopt).value()[key].success, 1u)
      << "all time is latest_attempts, never cached";
  auto in_tx = (*store)->transaction([&](Tx& tx) -> Status {
    EXPECT_EQ(tx.release_counts(50).value()[key].success, 2u) << "no cache in a transaction";
    return {};
  });
  ASSERT_TRUE(in_tx) << in_tx.error().message;
  EXPECT_EQ((*store)->release_counts(50).value()[key].success, 1u) << "still the cached answer";
  ASSERT_TRUE(behind->query("UPDATE counters SET value = value + 1 WHERE name = 'attempts'"));
  EXPECT_EQ((*store)->release_counts(50).value()[key].success, 2u) << "the counter moved";
  slip_in("a3");
  EXPECT_EQ((*store)->release_counts(50).value()[key].success, 2u) << "cached again";
  EXPECT_EQ((*store)->release_counts(51).value()[key].success, 3u) << "the window slid";
}

}  // namespace
}  // namespace rollout::server::pg
