// Two Store objects on one database, used from several threads at once: what two server
// instances sharing a database do. Decisions made through both happen in one order, sequences
// are never handed out twice, and a report batch delivered to both counts once. Parameterised
// over the backends (store_backends.hpp); the counts are fixed and nothing waits on a clock.
#include <gtest/gtest.h>

#include <atomic>
#include <barrier>
#include <set>
#include <thread>

#include "server-plugin/store.hpp"
#include "tests/server/store_backends.hpp"
#include "tests/testing/testing.hpp"

namespace rollout::server {
namespace {

using testing::Backend;

class TwoStores : public ::testing::TestWithParam<Backend> {
 protected:
  void SetUp() override {
    const auto url = GetParam().url(dir_.path());
    for (auto* s : {&a_, &b_}) {
      auto opened = open_store(url);
      ASSERT_TRUE(opened.ok()) << opened.error().message;
      *s = std::move(opened.value());
    }
  }

  // Runs each job on its own thread, all released at once.
  static void together(const std::vector<std::function<void()>>& jobs) {
    std::barrier start(static_cast<std::ptrdiff_t>(jobs.size()));
    std::vector<std::thread> threads;
    for (const auto& job : jobs) {
      threads.emplace_back([&start, &job] {
        start.arrive_and_wait();
        job();
      });
    }
    for (auto& t : threads) t.join();
  }

  rollout::testing::TempDir dir_;
  std::unique_ptr<Store> a_, b_;
};

Event audit_row(const ReleaseKey& key, const std::string& action) {
  Event e;
  e.at = 1;
  e.user = "test";
  e.action = action;
  e.version = key.version;
  e.os = key.os;
  e.arch = key.arch;
  return e;
}

// The shape of the server's promote and rollback: the release row's lock, then the reads the
// decision rests on (neither acts on a rolled back release), then its writes and audit row, all
// in one transaction, retried on conflict.
Status decide(Store& store, const ReleaseKey& key, const std::string& action,
              const std::function<Status(Tx&)>& write) {
  return with_conflict_retry(kConflictAttempts, [&] {
    return store.transaction([&](Tx& tx) -> Status {
      if (auto l = tx.lock_release(key); !l) return l;
      auto rel = tx.get_release(key);
      if (!rel) return rel.error();
      if ((*rel)->blocked) return make_error("blocked", "rolled back already");
      if (auto w = write(tx); !w) return w;
      auto id = tx.append_event(audit_row(key, action));
      return id ? Status{} : Status(id.error());
    });
  });
}

Status promote(Store& store, const ReleaseKey& key) {
  return decide(store, key, "promote", [&](Tx& tx) -> Status {
    auto seq = tx.next_promotion_seq();
    if (!seq) return seq.error();
    return tx.set_promoted(key, 2, *seq);
  });
}

Status roll_back(Store& store, const ReleaseKey& key) {
  return decide(store, key, "rollback",
                [&](Tx& tx) -> Status { return tx.set_blocked(key, "bad build"); });
}

TEST_P(TwoStores, PromoteAndRollbackOfOneReleaseEndInOneOfTheTwoOrders) {
  constexpr int kRounds = 12;
  for (int round = 0; round < kRounds; ++round) {
    const auto rel = rollout::testing::sample_release("1." + std::to_string(round) + ".0");
    const ReleaseKey& key = rel.key;
    ASSERT_TRUE(a_->insert_release(rel).ok());
    // Each store promotes in one round and rolls back in the next.
    Store& promoter = round % 2 ? *a_ : *b_;
    Store& roller = round % 2 ? *b_ : *a_;
    Status promoted, rolled;
    together(
        {[&] { promoted = promote(promoter, key); }, [&] { rolled = roll_back(roller, key); }});
    ASSERT_TRUE(rolled.ok()) << rolled.error().message << " (round " << round << ")";
    const auto got = a_->get_release(key).value().value();
    EXPECT_TRUE(got.blocked);
    std::vector<std::string> trail;
    for (const auto& e : b_->list_events(0, 10, key).value()) trail.insert(trail.begin(), e.action);
    if (promoted.ok()) {
      // Promoted first, then rolled back.
      EXPECT_TRUE(got.promoted_at.has_value());
      EXPECT_EQ(trail, (std::vector<std::string>{"promote", "rollback"})) << "round " << round;
    } else {
      // Rolled back first: the promotion saw it and was refused, writing nothing.
      EXPECT_EQ(promoted.error().code, "blocked") << promoted.error().message;
      EXPECT_FALSE(got.promoted_at.has_value());
      EXPECT_EQ(got.promotion_seq, 0u);
      EXPECT_EQ(trail, (std::vector<std::string>{"rollback"})) << "round " << round;
    }
  }
  // Every promotion took its own sequence.
  std::set<std::uint64_t> seqs;
  std::size_t promoted = 0;
  for (const auto& r : a_->list_releases().value()) {
    if (r.promotion_seq == 0) continue;
    ++promoted;
    seqs.insert(r.promotion_seq);
  }
  EXPECT_EQ(seqs.size(), promoted);
}

TEST_P(TwoStores, DirectiveSequencesForOneAgentNeverRepeat) {
  constexpr int kThreadsPerStore = 4;
  constexpr int kEach = 200;
  ASSERT_TRUE(a_->insert_agent(rollout::testing::sample_agent("a1")).ok());
  std::vector<std::vector<std::uint64_t>> got(2 * kThreadsPerStore);
  std::vector<std::function<void()>> jobs;
  for (int t = 0; t < 2 * kThreadsPerStore; ++t) {
    Store& store = t % 2 ? *a_ : *b_;
    jobs.push_back([&, t] {
      for (int i = 0; i < kEach; ++i) {
        // Half on their own, half inside a transaction (as the check-in takes them).
        std::uint64_t seq = 0;
        auto st = with_conflict_retry(kConflictAttempts, [&]() -> Status {
          if (i % 2) {
            auto s = store.next_directive_sequence("a1");
            if (!s) return s.error();
            seq = *s;
            return {};
          }
          return store.transaction([&](Tx& tx) -> Status {
            auto s = tx.next_directive_sequence("a1");
            if (!s) return s.error();
            seq = *s;
            return {};
          });
        });
        EXPECT_TRUE(st.ok()) << st.error().message;
        if (st.ok()) got[static_cast<std::size_t>(t)].push_back(seq);
      }
    });
  }
  together(jobs);
  std::set<std::uint64_t> all;
  std::size_t handed = 0;
  for (const auto& g : got) {
    handed += g.size();
    all.insert(g.begin(), g.end());
  }
  constexpr std::size_t kTotal = 2 * kThreadsPerStore * kEach;
  EXPECT_EQ(handed, kTotal);
  EXPECT_EQ(all.size(), kTotal) << "no sequence handed out twice";
  EXPECT_EQ(*all.begin(), 1u);
  EXPECT_EQ(*all.rbegin(), kTotal) << "and none skipped";
  EXPECT_EQ(a_->get_agent("a1").value()->last_sequence, kTotal);
}

TEST_P(TwoStores, AReportBatchRecordedThroughBothCountsOnce) {
  constexpr int kAgents = 40;
  constexpr int kRounds = 5;
  for (int round = 0; round < kRounds; ++round) {
    std::vector<Attempt> batch;
    for (int i = 0; i < kAgents; ++i) {
      batch.push_back(testing::sample_attempt(
          "r" + std::to_string(round) + "-" + std::to_string(i), "agent-" + std::to_string(i),
          {"1." + std::to_string(round) + ".0", "linux", "x86_64"}, i % 4 ? "success" : "crash",
          "2026-11-24T10:00:00Z", 100 + round));
    }
    std::vector<Expected<std::vector<std::string>>> stored(4, std::vector<std::string>{});
    together({[&] { stored[0] = a_->record_attempts(batch); },
              [&] { stored[1] = b_->record_attempts(batch); },
              [&] { stored[2] = a_->record_attempts(batch); },
              [&] { stored[3] = b_->record_attempts(batch); }});
    for (const auto& s : stored) {
      ASSERT_TRUE(s.ok()) << s.error().message;
      EXPECT_EQ(s->size(), batch.size()) << "every delivery is acknowledged whole";
    }
    const auto c = b_->release_counts(std::nullopt).value()[batch.front().release];
    EXPECT_EQ(c.success, 30u) << "round " << round;
    EXPECT_EQ(c.crash, 10u) << "round " << round;
  }
  EXPECT_EQ(a_->attempt_count().value(), std::uint64_t{kAgents * kRounds});
}

// The last-24h counts cache (store/window_counts_cache.hpp) with two servers: A answers the same
// window over and over while A and B both record new attempts. A's answers never go back, and
// once the writers are done A's next answer has every attempt, whichever store recorded it.
TEST_P(TwoStores, WindowCountsOfOneStoreFollowBatchesCommittedThroughBoth) {
  constexpr int kBatches = 30;
  constexpr std::int64_t kSince = 50;
  const ReleaseKey key{"1.0.0", "linux", "x86_64"};
  auto writer = [&](Store& store, const std::string& name) {
    for (int i = 0; i < kBatches; ++i) {
      auto r = store.record_attempts({testing::sample_attempt(
          name + "-" + std::to_string(i), name + "-agent-" + std::to_string(i), key, "success",
          "2026-11-24T10:00:00Z", 100)});
      ASSERT_TRUE(r.ok()) << r.error().message;
    }
  };
  std::atomic<bool> writing{true};
  std::uint64_t reads = 0;
  together({[&] { writer(*a_, "a"); },
            [&] {
              writer(*b_, "b");
              writing = false;
            },
            [&] {
              std::uint64_t seen = 0;
              while (writing || reads == 0) {
                auto c = a_->release_counts(kSince);
                ASSERT_TRUE(c.ok()) << c.error().message;
                const std::uint64_t now = (*c)[key].success;
                EXPECT_GE(now, seen) << "an answer older than one already given";
                seen = now;
                ++reads;
              }
            }});
  EXPECT_GT(reads, 0u);
  EXPECT_EQ(a_->release_counts(kSince).value()[key].success, std::uint64_t{2 * kBatches});
  EXPECT_EQ(a_->release_counts(kSince).value()[key].success, std::uint64_t{2 * kBatches})
      << "asked again";
  EXPECT_EQ(b_->release_counts(kSince).value()[key].success, std::uint64_t{2 * kBatches});
  EXPECT_TRUE(a_->release_counts(101).value().empty()) << "a window that starts after them";
}

INSTANTIATE_TEST_SUITE_P(Backends, TwoStores,
                         ::testing::ValuesIn(rollout::testing::store_backends()),
                         rollout::testing::backend_name);

}  // namespace
}  // namespace rollout::server
