// Store::watch_targets on every backend (store_backends.hpp): which commits call the watcher
// and which never do. SQLite calls it on the committing thread, PostgreSQL on its listener
// thread, so every expectation waits (bounded) for a call. "Nothing was called" is shown by
// order rather than by waiting: after the calls that must not notify comes one committed marker
// change that must, and the count went up by exactly one.
#include "server-plugin/store.hpp"

#include <gtest/gtest.h>

#include <stdexcept>

#include "tests/server/store_backends.hpp"
#include "tests/server/targets_watcher.hpp"
#include "tests/testing/testing.hpp"

namespace rollout::server {
namespace {

using testing::Backend;
using testing::TargetsWatcher;

const ReleaseKey kBase{"1.0.0", "linux", "x86_64"};

RolloutRecord rollout_of(const ReleaseKey& key) {
  return testing::sample_rollout(key, "0.9.0");
}

RolloutRecord next_rev(RolloutRecord r) {
  ++r.rev;
  r.updated_at += 1;
  r.rule = "advanced";
  return r;
}

Event audit_row(const std::string& action) {
  Event e;
  e.at = 1;
  e.user = "test";
  e.action = action;
  e.version = kBase.version;
  e.os = kBase.os;
  e.arch = kBase.arch;
  return e;
}

class TargetsFeed : public ::testing::TestWithParam<Backend> {
 protected:
  void SetUp() override {
    auto s = open_store(GetParam().url(dir_.path()));
    ASSERT_TRUE(s.ok()) << s.error().message;
    store_ = std::move(s.value());
    // What the tests change, made before anyone watches.
    ASSERT_TRUE(store_->insert_release(testing::sample_release(kBase.version)).ok());
    ASSERT_TRUE(store_->insert_rollout(rollout_of(kBase)).ok());
    ASSERT_TRUE(store_->insert_agent(testing::sample_agent("a1")).ok());
    auto st = store_->watch_targets(TargetsWatcher::fn(watcher_));
    ASSERT_TRUE(st.ok()) << st.error().message;
  }

  // A committed change that calls the watcher: a policy with a channel of its own each time.
  Status marker() {
    return store_->put_policy({"site", "marker", "m" + std::to_string(++markers_), std::nullopt,
                               std::nullopt, std::nullopt, std::nullopt});
  }

  // Nothing since `before` called the watcher: the marker's commit is the one call after it.
  void expect_only_the_marker_after(int before) {
    ASSERT_TRUE(marker().ok());
    ASSERT_TRUE(watcher_->reached(before + 1)) << "the marker's commit called nothing";
    EXPECT_EQ(watcher_->calls(), before + 1) << "something before the marker called the watcher";
  }

  testing::TempDir dir_;
  std::unique_ptr<Store> store_;
  std::shared_ptr<TargetsWatcher> watcher_ = std::make_shared<TargetsWatcher>();
  int markers_ = 0;
};

TEST_P(TargetsFeed, EachCommittedWriteThatDecidesACheckInCallsTheWatcher) {
  const ReleaseKey next{"1.1.0", "linux", "x86_64"};
  int n = 0;
  auto called = [&](const Status& st, const char* what) {
    ASSERT_TRUE(st.ok()) << what << ": " << st.error().message;
    EXPECT_TRUE(watcher_->reached(++n)) << what << " called nothing";
  };
  called(store_->insert_release(testing::sample_release(next.version)), "insert_release");
  called(store_->set_promoted(next, 2000, 1), "set_promoted");
  called(store_->set_blocked(next, "bad"), "set_blocked");
  called(store_->insert_rollout(rollout_of(next)), "insert_rollout");
  auto wrote = store_->update_rollout(next_rev(rollout_of(next)), 1);
  ASSERT_TRUE(wrote.ok()) << wrote.error().message;
  ASSERT_TRUE(*wrote);
  called({}, "update_rollout");
  called(store_->put_policy(
             {"default", "", "stable", std::nullopt, std::nullopt, std::nullopt, std::nullopt}),
         "put_policy");
  // One call each, nothing extra.
  expect_only_the_marker_after(n);
}

TEST_P(TargetsFeed, ACommittedTransactionCallsOnceAfterItsCommit) {
  auto st = store_->transaction([&](Tx& tx) -> Status {
    if (auto l = tx.lock_release(kBase); !l) return l;
    if (auto s = tx.set_promoted(kBase, 2000, 1); !s) return s;
    auto w = tx.update_rollout(next_rev(rollout_of(kBase)), 1);
    if (!w) return w.error();
    if (!*w) return make_error("test", "update_rollout lost");
    if (auto e = tx.append_event(audit_row("promote")); !e) return e.error();
    // Not yet: nothing is committed (SQLite would call on this thread, PostgreSQL delivers at
    // commit).
    if (watcher_->calls() != 0) return make_error("test", "called before the commit");
    return tx.put_policy(
        {"default", "", "beta", std::nullopt, std::nullopt, std::nullopt, std::nullopt});
  });
  ASSERT_TRUE(st.ok()) << st.error().message;
  ASSERT_TRUE(watcher_->reached(1));
  // Three writes, one commit, one call.
  expect_only_the_marker_after(1);
}

TEST_P(TargetsFeed, ARolledBackTransactionOrAFailedWriteCallsNothing) {
  const ReleaseKey next{"1.1.0", "linux", "x86_64"};
  auto failed = store_->transaction([&](Tx& tx) -> Status {
    if (auto s = tx.insert_release(testing::sample_release(next.version)); !s) return s;
    if (auto s = tx.set_promoted(kBase, 2000, 1); !s) return s;
    if (auto s = tx.insert_rollout(rollout_of(next)); !s) return s;
    return make_error("test", "the decision changed its mind");
  });
  ASSERT_FALSE(failed.ok());
  EXPECT_EQ(failed.error().code, "test");
  auto threw = store_->transaction([&](Tx& tx) -> Status {
    if (auto s = tx.set_blocked(kBase, "bad"); !s) return s;
    throw std::runtime_error("body threw");
  });
  ASSERT_FALSE(threw.ok());
  // Calls on their own that fail change nothing and call nothing.
  EXPECT_EQ(store_->insert_release(testing::sample_release(kBase.version)).error().code,
            "duplicate_release");
  EXPECT_EQ(store_->set_promoted(next, 1, 1).error().code, "not_found");
  EXPECT_EQ(store_->insert_rollout(rollout_of(kBase)).error().code, "duplicate_rollout");
  auto rel = store_->get_release(next);
  ASSERT_TRUE(rel.ok());
  EXPECT_FALSE(rel->has_value()) << "rolled back";
  expect_only_the_marker_after(0);
}

TEST_P(TargetsFeed, ReadsAndOtherWritesCallNothing) {
  ASSERT_TRUE(store_->insert_agent(testing::sample_agent("a2")).ok());
  auto stored = store_->record_attempts(
      {testing::sample_attempt("r1", "a1", kBase, "success", "2024-05-01T10:00:00Z", 5000)});
  ASSERT_TRUE(stored.ok()) << stored.error().message;
  ASSERT_TRUE(store_->append_event(audit_row("note")).ok());
  ASSERT_TRUE(store_->append_log({0, 1, "info", "test", "hello", "{}"}).ok());
  ASSERT_TRUE(store_->list_releases().ok());
  ASSERT_TRUE(store_->get_rollout(kBase).ok());
  ASSERT_TRUE(store_->list_policies().ok());
  ASSERT_TRUE(store_->release_counts(std::nullopt).ok());
  auto tx = store_->transaction([&](Tx& t) -> Status {
    if (auto s = t.insert_agent(testing::sample_agent("a3")); !s) return s;
    auto seq = t.next_promotion_seq();  // a counter, not a promotion
    if (!seq) return seq.error();
    auto e = t.append_event(audit_row("note"));
    return e ? Status{} : Status(e.error());
  });
  ASSERT_TRUE(tx.ok()) << tx.error().message;
  expect_only_the_marker_after(0);
}

TEST_P(TargetsFeed, AnUpdateRolloutThatLostCallsNothing) {
  auto lost = store_->update_rollout(next_rev(next_rev(rollout_of(kBase))), 2);
  ASSERT_TRUE(lost.ok()) << lost.error().message;
  EXPECT_FALSE(*lost);
  auto in_tx = store_->transaction([&](Tx& tx) -> Status {
    auto w = tx.update_rollout(next_rev(next_rev(rollout_of(kBase))), 2);
    if (!w) return w.error();
    return *w ? make_error("test", "won at the wrong rev") : Status{};
  });
  ASSERT_TRUE(in_tx.ok()) << in_tx.error().message;
  expect_only_the_marker_after(0);
}

TEST_P(TargetsFeed, ALaterWatcherReplacesTheFirstAndAnEmptyOneStops) {
  auto second = std::make_shared<TargetsWatcher>();
  ASSERT_TRUE(store_->watch_targets(TargetsWatcher::fn(second)).ok());
  ASSERT_TRUE(marker().ok());
  ASSERT_TRUE(second->reached(1));
  ASSERT_TRUE(store_->watch_targets({}).ok());
  ASSERT_TRUE(marker().ok());  // nobody watches this one
  ASSERT_TRUE(store_->watch_targets(TargetsWatcher::fn(watcher_)).ok());
  ASSERT_TRUE(marker().ok());
  ASSERT_TRUE(watcher_->reached(1));
  EXPECT_EQ(watcher_->calls(), 1) << "the first watcher was called after it was replaced";
  EXPECT_EQ(second->calls(), 1) << "the second watcher was called after it was stopped";
}

INSTANTIATE_TEST_SUITE_P(Backends, TargetsFeed, ::testing::ValuesIn(testing::store_backends()),
                         testing::backend_name);

}  // namespace
}  // namespace rollout::server
