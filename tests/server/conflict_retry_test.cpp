// Retryable store conflicts: with_conflict_retry runs a decision again a bounded number of times,
// and a handler whose decision kept conflicting answers 503 "busy" with Retry-After having
// changed nothing. The conflicts come from a decorating Store that makes chosen commits fail
// after their body ran, as a transaction that lost to another server's would.
#include <gtest/gtest.h>

#include <atomic>

#include "server-plugin/app/handlers.hpp"
#include "server-plugin/store.hpp"
#include "tests/server/store_backends.hpp"
#include "tests/testing/testing.hpp"

namespace rollout::server {
namespace {

class ConflictingStore final : public Store {
 public:
  explicit ConflictingStore(std::unique_ptr<Store> inner) : inner_(std::move(inner)) {}
  int schema_version() override { return inner_->schema_version(); }

  std::atomic<int> fail_next{0};  // how many of the next commits lose
  std::atomic<int> bodies{0};     // transaction bodies run so far

 protected:
  Status run_transaction(const std::function<Status(Tx&)>& fn) override {
    return inner_->transaction([&](Tx& tx) -> Status {
      ++bodies;
      if (auto st = fn(tx); !st) return st;
      if (fail_next > 0) {
        --fail_next;
        return make_error(kConflict, "injected: another transaction won");  // rolled back
      }
      return {};
    });
  }
  Status run_autocommit(const std::function<Status(StoreOps&)>& fn) override { return fn(*inner_); }

 private:
  std::unique_ptr<Store> inner_;
};

TEST(ConflictRetry, ABodyThatConflictsNTimesRunsNPlusOneTimes) {
  for (int n = 0; n < kConflictAttempts; ++n) {
    int runs = 0;
    auto st = with_conflict_retry(kConflictAttempts, [&]() -> Status {
      return ++runs <= n ? Status(make_error(kConflict, "busy")) : Status{};
    });
    EXPECT_TRUE(st.ok()) << n;
    EXPECT_EQ(runs, n + 1);
  }
}

TEST(ConflictRetry, GivesUpAfterTheBoundAndOnlyRetriesConflicts) {
  int runs = 0;
  auto st = with_conflict_retry(kConflictAttempts, [&]() -> Status {
    ++runs;
    return make_error(kConflict, "busy");
  });
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.error().code, kConflict);
  EXPECT_EQ(runs, kConflictAttempts);
  runs = 0;
  st = with_conflict_retry(kConflictAttempts, [&]() -> Status {
    ++runs;
    return make_error("storage", "disk full");
  });
  EXPECT_EQ(st.error().code, "storage");
  EXPECT_EQ(runs, 1) << "only a conflict is worth another try";
}

class ConflictingApp : public ::testing::Test {
 protected:
  void SetUp() override {
    auto inner = open_store("sqlite:" + (dir_ / "rollout.db").string());
    ASSERT_TRUE(inner.ok()) << inner.error().message;
    auto store = std::make_unique<ConflictingStore>(std::move(inner.value()));
    store_ = store.get();
    s_.store = std::move(store);
    s_.now = [] { return std::int64_t{5000}; };
    // 1.0.0 and then 1.1.0 promoted: rolling 1.1.0 back falls back to 1.0.0.
    for (const auto* v : {"1.0.0", "1.1.0"}) {
      ASSERT_TRUE(s_.store->insert_release(rollout::testing::sample_release(v)).ok());
      const auto seq = s_.store->next_promotion_seq().value();
      ASSERT_TRUE(s_.store->set_promoted({v, "linux", "x86_64"}, 100, seq).ok());
    }
  }

  http::Response rollback(const std::string& version) {
    http::Request req;
    req.method = "POST";
    req.body = R"({"os":"linux","arch":"x86_64","reason":"bad build"})";
    Ctx c{req, {}, {{"version", version}}, Identity{"alice", "operator"}, std::nullopt};
    return handlers::rollback(s_, c);
  }

  std::size_t rollback_rows() {
    std::size_t n = 0;
    for (const auto& e : s_.store->list_events(0, 100, std::nullopt).value())
      n += e.action == "rollback" ? 1u : 0u;
    return n;
  }

  rollout::testing::TempDir dir_;
  AppState s_;
  ConflictingStore* store_ = nullptr;
};

TEST_F(ConflictingApp, ARollbackThatConflictsWithinTheBoundIsDoneOnce) {
  store_->fail_next = kConflictAttempts - 1;
  auto r = rollback("1.1.0");
  EXPECT_EQ(r.status, 200u) << r.body;
  EXPECT_EQ(store_->bodies, kConflictAttempts);
  EXPECT_TRUE(s_.store->get_release({"1.1.0", "linux", "x86_64"}).value()->blocked);
  EXPECT_EQ(rollback_rows(), 1u) << "the lost attempts left no audit row";
}

TEST_F(ConflictingApp, ARollbackThatKeepsConflictingIsA503AndChangesNothing) {
  store_->fail_next = kConflictAttempts;
  auto r = rollback("1.1.0");
  EXPECT_EQ(r.status, 503u) << r.body;
  EXPECT_NE(r.body.find(R"("error":"busy")"), std::string::npos) << r.body;
  EXPECT_EQ(r.header("Retry-After").value_or(""), "1");
  EXPECT_EQ(store_->bodies, kConflictAttempts);
  EXPECT_FALSE(s_.store->get_release({"1.1.0", "linux", "x86_64"}).value()->blocked);
  EXPECT_EQ(rollback_rows(), 0u);
}

}  // namespace
}  // namespace rollout::server
