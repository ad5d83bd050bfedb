// What only PostgreSQL's watch_targets does (the shared behaviour is suites/
// targets_feed_suite.cpp): another server's commit on the same database calls this one's
// watcher, and the listener's own connection, once killed, comes back and says so with one
// call. Waits are bounded (TargetsWatcher::kLiveness); none expects a speed.
#include <gtest/gtest.h>

#include "server-plugin/store.hpp"
#include "server-plugin/store/postgres/pg_conn.hpp"
#include "tests/server/store_backends.hpp"
#include "tests/server/targets_watcher.hpp"
#include "tests/testing/postgres/pg_cluster.hpp"

namespace rollout::server::pg {
namespace {

using testing::PgCluster;
using testing::TargetsWatcher;

const ReleaseKey kBase{"1.0.0", "linux", "x86_64"};

Policy marker_policy(int n) {
  return {"site",       "marker",    "m" + std::to_string(n), std::nullopt, std::nullopt,
          std::nullopt, std::nullopt};
}

// Terminates the backends of `url`'s database whose last statement was a LISTEN (the
// listener's connection; the pool's never LISTEN); how many.
std::int64_t kill_listeners(const std::string& url) {
  auto c = Conn::open(url);
  EXPECT_TRUE(c) << c.error().message;
  if (!c) return -1;
  // MATERIALIZED: the filter is done before any backend is terminated.
  auto r = c->exec(
      "WITH l AS MATERIALIZED (SELECT pid FROM pg_stat_activity WHERE datname = "
      "current_database() AND query LIKE 'LISTEN%' AND pid <> pg_backend_pid()) "
      "SELECT count(*) FROM l WHERE pg_terminate_backend(pid)");
  EXPECT_TRUE(r) << r.error().message;
  if (!r) return -1;
  auto n = r->i64(0, 0);
  return n ? *n : -1;
}

class PgTargetsFeed : public ::testing::Test {
 protected:
  void SetUp() override {
    auto& cluster = PgCluster::get();
    url_ = cluster.url(cluster.create_database());
    for (auto* s : {&a_, &b_}) {
      auto opened = open_store(url_);
      ASSERT_TRUE(opened.ok()) << opened.error().message;
      *s = std::move(opened.value());
    }
    ASSERT_TRUE(a_->insert_release(testing::sample_release(kBase.version)).ok());
    auto st = a_->watch_targets(TargetsWatcher::fn(watcher_));
    ASSERT_TRUE(st.ok()) << st.error().message;
  }

  std::string url_;
  std::unique_ptr<Store> a_, b_;
  std::shared_ptr<TargetsWatcher> watcher_ = std::make_shared<TargetsWatcher>();
};

TEST_F(PgTargetsFeed, AnotherServersCommitCallsTheWatcherAndItsRollbackDoesNot) {
  ASSERT_TRUE(b_->set_promoted(kBase, 2000, 1).ok());
  ASSERT_TRUE(watcher_->reached(1)) << "store b's promotion did not reach store a";
  auto rolled_back = b_->transaction([&](Tx& tx) -> Status {
    if (auto s = tx.set_blocked(kBase, "bad"); !s) return s;
    return make_error("test", "changed its mind");
  });
  ASSERT_FALSE(rolled_back.ok());
  ASSERT_TRUE(b_->put_policy(marker_policy(1)).ok());
  ASSERT_TRUE(watcher_->reached(2));
  EXPECT_EQ(watcher_->calls(), 2) << "the rolled back transaction called the watcher";
}

TEST_F(PgTargetsFeed, AKilledListenerConnectionComesBackCallsOnceAndHearsLaterCommits) {
  ASSERT_EQ(kill_listeners(url_), 1);
  ASSERT_TRUE(watcher_->reached(1)) << "no call after the listener's connection came back";
  // Back and listening: it called only after its LISTEN, so this commit is heard.
  ASSERT_TRUE(b_->put_policy(marker_policy(1)).ok());
  ASSERT_TRUE(watcher_->reached(2)) << "a commit after the reconnection called nothing";
  EXPECT_EQ(watcher_->calls(), 2);

  // Killed again (a new connection, the same way), still the same.
  ASSERT_EQ(kill_listeners(url_), 1);
  ASSERT_TRUE(watcher_->reached(3));
  ASSERT_TRUE(a_->put_policy(marker_policy(2)).ok());
  ASSERT_TRUE(watcher_->reached(4));
  EXPECT_EQ(watcher_->calls(), 4);
}

TEST_F(PgTargetsFeed, TheStoreStopsItsListenerWhileItWaitsToReconnect) {
  // Killed, then the store closed at once: the listener is in its backoff or reconnecting, and
  // the destructor stops and joins it there (a hang here would be the test's timeout).
  ASSERT_EQ(kill_listeners(url_), 1);
  a_.reset();
  ASSERT_TRUE(b_->watch_targets(TargetsWatcher::fn(watcher_)).ok());
  b_.reset();
}

}  // namespace
}  // namespace rollout::server::pg
