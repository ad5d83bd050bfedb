// pg::Pool against the real cluster: the bound holds under threads, exhaustion is a clear error,
// a waiter gets the connection given back, and broken connections are replaced.
#include "server-plugin/store/postgres/pg_pool.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <mutex>
#include <set>
#include <thread>
#include <vector>

#include "tests/testing/postgres/pg_cluster.hpp"

namespace rollout::server::pg {
namespace {

using testing::eventually;
using testing::PgCluster;

class PgPool : public ::testing::Test {
 protected:
  PgCluster& cluster = PgCluster::get();
  const std::string db = cluster.create_database();

  std::unique_ptr<Pool> make(int max, std::chrono::milliseconds timeout) {
    auto p = Pool::open({cluster.url(db), max, timeout});
    if (!p) throw std::runtime_error(p.error().message);
    return std::move(p).value();
  }
  int pid_of(Pool::Lease& lease) {
    auto r = lease->exec("SELECT pg_backend_pid()");
    return r ? static_cast<int>(*r->i64(0, 0)) : -1;
  }
  // Terminates a backend and returns once it has exited.
  void terminate(int pid) {
    auto admin = Conn::open(cluster.url(db));
    ASSERT_TRUE(admin) << admin.error().message;
    auto r = admin->query("SELECT pg_terminate_backend($1, 30000)", Params(pid));
    ASSERT_TRUE(r) << r.error().message;
    ASSERT_TRUE(*r->boolean(0, 0));
  }
};

TEST_F(PgPool, BadOptionsAreRefusedNamingTheField) {
  auto zero = Pool::open({cluster.url(db), 0, std::chrono::milliseconds(10)});
  ASSERT_FALSE(zero);
  EXPECT_EQ(zero.error().code, "invalid_config");
  EXPECT_NE(zero.error().message.find("max_connections"), std::string::npos);
  auto many = Pool::open({cluster.url(db), kMaxPoolConnections + 1, std::chrono::seconds(1)});
  ASSERT_FALSE(many);
  EXPECT_NE(many.error().message.find("max_connections"), std::string::npos);
  auto negative = Pool::open({cluster.url(db), 2, std::chrono::milliseconds(-1)});
  ASSERT_FALSE(negative);
  EXPECT_NE(negative.error().message.find("acquire_timeout"), std::string::npos);
  auto url = Pool::open({"sqlite:/tmp/x.db", 2, std::chrono::seconds(1)});
  ASSERT_FALSE(url);
  EXPECT_EQ(url.error().code, "invalid_url");
  // A URL that parses but reaches no database fails at open, not at the first request.
  auto unreachable = Pool::open({cluster.url("no_such_db"), 2, std::chrono::seconds(1)});
  ASSERT_FALSE(unreachable);
  EXPECT_EQ(unreachable.error().code, "storage");
  EXPECT_NE(unreachable.error().message.find("no_such_db"), std::string::npos);
}

TEST_F(PgPool, ThreadsNeverHoldMoreThanMaxConnections) {
  constexpr int kMax = 3, kThreads = 8, kRounds = 25;
  auto pool = make(kMax, std::chrono::seconds(60));
  std::atomic<int> in_use{0}, most{0}, failures{0};
  std::mutex mu;
  std::set<int> pids;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < kRounds; ++i) {
        auto lease = pool->acquire();
        if (!lease) {
          ++failures;
          continue;
        }
        const int now = ++in_use;
        for (int seen = most.load(); now > seen && !most.compare_exchange_weak(seen, now);) {
        }
        auto r = (*lease)->exec("SELECT pg_backend_pid()");
        if (!r) {
          ++failures;
        } else {
          std::lock_guard lock(mu);
          pids.insert(static_cast<int>(*r->i64(0, 0)));
        }
        --in_use;
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(failures.load(), 0);
  EXPECT_LE(most.load(), kMax);
  EXPECT_LE(static_cast<int>(pids.size()), kMax);
  EXPECT_LE(pool->open_connections(), kMax);
  EXPECT_EQ(pool->idle_connections(), pool->open_connections());
}

TEST_F(PgPool, AnExhaustedPoolSaysSoAndRecoversWhenALeaseEnds) {
  auto pool = make(2, std::chrono::milliseconds(0));
  auto a = pool->acquire();
  auto b = pool->acquire();
  ASSERT_TRUE(a && b);
  auto c = pool->acquire();
  ASSERT_FALSE(c);
  EXPECT_EQ(c.error().code, "pool_exhausted");
  EXPECT_NE(c.error().message.find("all 2 database connections"), std::string::npos)
      << c.error().message;
  const int pid = pid_of(*a);
  { auto gone = std::move(a).value(); }
  auto d = pool->acquire();
  ASSERT_TRUE(d) << d.error().message;
  EXPECT_EQ(pid_of(*d), pid);  // the same connection, kept open
  EXPECT_EQ(pool->open_connections(), 2);
}

TEST_F(PgPool, AWaiterGetsTheConnectionGivenBack) {
  auto pool = make(1, std::chrono::seconds(60));
  auto held = pool->acquire();
  ASSERT_TRUE(held);
  const int pid = pid_of(*held);
  int got = 0;
  std::thread waiter([&] {
    auto lease = pool->acquire();
    got = lease ? pid_of(*lease) : -1;
  });
  ASSERT_TRUE(eventually([&] { return pool->waiting() == 1; }));
  { auto release = std::move(held).value(); }
  waiter.join();
  EXPECT_EQ(got, pid);
  EXPECT_EQ(pool->open_connections(), 1);
}

TEST_F(PgPool, AConnectionKilledWhileIdleIsReplacedAtTheNextAcquire) {
  auto pool = make(1, std::chrono::seconds(10));
  int first = 0;
  {
    auto lease = pool->acquire();
    ASSERT_TRUE(lease);
    first = pid_of(*lease);
  }
  terminate(first);
  auto lease = pool->acquire();
  ASSERT_TRUE(lease) << lease.error().message;
  const int second = pid_of(*lease);
  EXPECT_GT(second, 0);
  EXPECT_NE(second, first);
  EXPECT_EQ(pool->open_connections(), 1);
}

TEST_F(PgPool, AConnectionLostDuringALeaseIsDroppedWhenTheLeaseEnds) {
  auto pool = make(1, std::chrono::seconds(10));
  int first = 0;
  {
    auto lease = pool->acquire();
    ASSERT_TRUE(lease);
    first = pid_of(*lease);
    terminate(first);
    auto r = (*lease)->exec("SELECT 1");
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().code, "storage");
  }
  EXPECT_EQ(pool->open_connections(), 0);
  auto lease = pool->acquire();
  ASSERT_TRUE(lease) << lease.error().message;
  EXPECT_NE(pid_of(*lease), first);
}

TEST_F(PgPool, ALeaseEndingInsideATransactionRollsItBack) {
  auto pool = make(1, std::chrono::seconds(10));
  {
    auto lease = pool->acquire();
    ASSERT_TRUE(lease);
    ASSERT_TRUE((*lease)->exec("CREATE TABLE t (v BIGINT)"));
    ASSERT_TRUE((*lease)->exec("BEGIN"));
    ASSERT_TRUE((*lease)->exec("INSERT INTO t VALUES (1)"));
  }  // an early return in the middle of a transaction
  auto lease = pool->acquire();
  ASSERT_TRUE(lease);
  EXPECT_FALSE((*lease)->in_transaction());
  auto n = (*lease)->exec("SELECT count(*) FROM t");
  ASSERT_TRUE(n) << n.error().message;
  EXPECT_EQ(*n->i64(0, 0), 0);
}

}  // namespace
}  // namespace rollout::server::pg
