// The webhook outbox on a real SQLite store with a scripted Sender, timed by a FakeClock: events
// in order, the filter, retries on the backoff schedule, giving up, a restart resuming at the
// cursor, two servers delivering each event once, the health detector recording a transition
// once, and the worker's wake-ups.
#include "server-plugin/notifier.hpp"

#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <deque>
#include <mutex>

#include "tests/server/store_backends.hpp"
#include "tests/testing/testing.hpp"

namespace rollout::server::notify {
namespace {

namespace bj = boost::json;

constexpr const char* kSecret = "0123456789abcdef-secret";

// Records every post; answers from a script (default 200). Verifies each signature itself.
class ScriptedSender final : public Sender {
 public:
  explicit ScriptedSender(std::function<std::int64_t()> now) : now_(std::move(now)) {}
  SendResult post(const std::string& url, const std::string& body,
                  const std::string& signature) override {
    std::lock_guard lock(mu_);
    EXPECT_TRUE(webhooks::verify_signature(signature, kSecret, body, now_())) << signature;
    posts.push_back({url, body});
    std::int64_t status = 200;
    if (!script.empty()) {
      status = script.front();
      script.pop_front();
    } else if (always_fail) {
      status = 503;
    }
    return {status, status == 200 ? "" : "HTTP " + std::to_string(status)};
  }
  std::vector<std::string> types() {
    std::lock_guard lock(mu_);
    std::vector<std::string> out;
    for (const auto& p : posts) out.emplace_back(bj::parse(p.second).at("type").as_string());
    return out;
  }
  std::vector<std::int64_t> audit_ids() {
    std::lock_guard lock(mu_);
    std::vector<std::int64_t> out;
    for (const auto& p : posts) out.push_back(bj::parse(p.second).at("audit_id").as_int64());
    return out;
  }

  std::mutex mu_;
  std::vector<std::pair<std::string, std::string>> posts;
  std::deque<std::int64_t> script;
  bool always_fail = false;
  std::function<std::int64_t()> now_;
};

class Notifier : public ::testing::Test {
 protected:
  void SetUp() override {
    url_ = "sqlite:" + (dir_.path() / "n.db").string();
    store_ = open_store(url_).value();
  }

  std::int64_t now() const {
    return std::chrono::duration_cast<std::chrono::seconds>(clock_.now().time_since_epoch())
        .count();
  }

  OutboxOptions options(const std::string& instance = "a") {
    OutboxOptions o;
    o.instance = instance;
    return o;
  }

  std::unique_ptr<Outbox> outbox(Store& store, Sender& sender, const std::string& instance = "a") {
    return std::make_unique<Outbox>(store, sender, options(instance), [this] { return now(); });
  }

  void add_hook(const std::string& id, std::vector<std::string> events = {"*"}) {
    Webhook w;
    w.id = id;
    w.url = "https://hooks.example.net/" + id;
    w.secret = kSecret;
    w.events = std::move(events);
    w.source = "api";
    w.created_at = now();
    ASSERT_TRUE(store_->insert_webhook(w).ok());
  }

  std::int64_t event(const std::string& action, const std::string& version = "1.2.0",
                     const std::string& user = "alice") {
    Event e;
    e.at = now();
    e.user = user;
    e.action = action;
    e.version = version;
    e.os = "linux";
    e.arch = "x86_64";
    e.reason = action + " because";
    e.health_json = R"({"status":"critical","success":7,"failure":0,"crash":3})";
    e.detail_json = R"({"rule":"critical","wave":1})";
    return store_->append_event(e).value();
  }

  Webhook hook(const std::string& id) { return store_->get_webhook(id).value().value(); }

  rollout::testing::TempDir dir_;
  std::string url_;
  std::unique_ptr<Store> store_;
  platform::FakeClock clock_;
};

TEST_F(Notifier, DeliversInOrderWhatTheFilterWantsAndMovesTheCursorPastTheRest) {
  event("promote", "1.0.0");  // before the webhook existed: not delivered
  add_hook("h", {"release.promoted", "release.rolled_back"});
  ScriptedSender sender([this] { return now(); });
  auto box = outbox(*store_, sender);
  const auto p = event("promote");
  event("publish");
  event("rollout_paused");
  const auto rb = event("rollback", "1.2.0", "system");
  const auto last = event("user_add");
  auto r = box->tick();
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_TRUE(r->leader);
  EXPECT_EQ(r->delivered, 2u);
  EXPECT_EQ(sender.types(), (std::vector<std::string>{"release.promoted", "release.rolled_back"}));
  EXPECT_EQ(sender.audit_ids(), (std::vector<std::int64_t>{p, rb}));
  EXPECT_EQ(hook("h").cursor, last);
  const bj::value b = bj::parse(sender.posts[1].second);
  EXPECT_EQ(b.at("actor").as_string(), "system");
  EXPECT_EQ(b.at("health").at("status").as_string(), "Critical");
  EXPECT_EQ(b.at("health").at("crash").as_int64(), 3);
  EXPECT_EQ(b.at("release").at("version").as_string(), "1.2.0");
  EXPECT_EQ(b.at("rule").as_string(), "critical");
  EXPECT_EQ(b.at("id").as_string(), "evt_" + std::to_string(rb));
  auto log = store_->list_webhook_deliveries("h", 10).value();
  ASSERT_EQ(log.size(), 2u);
  EXPECT_EQ(log[0].outcome, "delivered");
  EXPECT_EQ(log[0].event_id, rb);
  // Nothing new: another tick sends nothing.
  EXPECT_EQ(box->tick()->delivered, 0u);
  EXPECT_EQ(sender.posts.size(), 2u);
}

TEST_F(Notifier, AFailureIsRetriedOnTheScheduleAndNothingOvertakesIt) {
  add_hook("h");
  ScriptedSender sender([this] { return now(); });
  sender.script = {500, 0};  // two failures, then 200s
  auto box = outbox(*store_, sender);
  const auto first = event("promote");
  const auto second = event("rollback");
  auto r = box->tick();
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->failed, 1u);
  EXPECT_EQ(sender.posts.size(), 1u);  // the second waits behind the first
  ASSERT_TRUE(r->next_retry_at);
  const auto delay1 = *r->next_retry_at - now();
  EXPECT_GE(delay1, 10);
  EXPECT_LE(delay1, 12);  // 10 s + up to 20 % jitter
  clock_.advance(std::chrono::seconds(delay1 - 1));
  EXPECT_EQ(box->tick()->failed, 0u);  // not due yet
  EXPECT_EQ(sender.posts.size(), 1u);
  clock_.advance(std::chrono::seconds(1));
  r = box->tick();
  EXPECT_EQ(r->failed, 1u);
  const auto delay2 = *r->next_retry_at - now();
  EXPECT_GE(delay2, 30);
  EXPECT_LE(delay2, 36);
  EXPECT_EQ(hook("h").attempts, 2u);
  clock_.advance(std::chrono::seconds(delay2));
  r = box->tick();
  EXPECT_EQ(r->delivered, 2u);
  EXPECT_EQ(sender.audit_ids(), (std::vector<std::int64_t>{first, first, first, second}));
  EXPECT_EQ(hook("h").cursor, second);
  EXPECT_EQ(hook("h").attempts, 0u);
  auto log = store_->list_webhook_deliveries("h", 10).value();
  ASSERT_EQ(log.size(), 4u);  // newest first
  EXPECT_EQ(log[3].outcome, "failed");
  EXPECT_EQ(log[3].attempt, 1u);
  EXPECT_EQ(log[3].status, 500);
  EXPECT_EQ(log[2].attempt, 2u);
  EXPECT_EQ(log[2].status, 0);
  EXPECT_EQ(log[1].outcome, "delivered");
  EXPECT_EQ(log[1].attempt, 3u);
}

TEST_F(Notifier, GivesUpAfterTheLastAttemptLogsItAndGoesOn) {
  add_hook("h");
  ScriptedSender sender([this] { return now(); });
  sender.always_fail = true;
  auto box = outbox(*store_, sender);
  const auto doomed = event("promote");
  const auto start = now();
  std::size_t gave_up = 0;
  for (int i = 0; i < 100 && gave_up == 0; ++i) {
    auto r = box->tick();
    ASSERT_TRUE(r.ok());
    gave_up += r->gave_up;
    if (r->next_retry_at) clock_.advance(std::chrono::seconds(*r->next_retry_at - now()));
  }
  EXPECT_EQ(gave_up, 1u);
  EXPECT_EQ(sender.posts.size(), webhooks::kMaxAttempts);
  const auto span = now() - start;
  EXPECT_GT(span, 20 * 3600);  // about a day of tries
  EXPECT_LT(span, 36 * 3600);
  EXPECT_EQ(hook("h").cursor, doomed);
  auto log = store_->list_webhook_deliveries("h", 1).value();
  ASSERT_EQ(log.size(), 1u);
  EXPECT_EQ(log[0].outcome, "gave_up");
  EXPECT_EQ(log[0].attempt, webhooks::kMaxAttempts);
  // The next event goes out at once.
  sender.always_fail = false;
  const auto next = event("rollback");
  EXPECT_EQ(box->tick()->delivered, 1u);
  EXPECT_EQ(sender.audit_ids().back(), next);
}

TEST_F(Notifier, ARestartResumesAtTheCursorWithItsPendingRetry) {
  add_hook("h");
  {
    ScriptedSender sender([this] { return now(); });
    auto box = outbox(*store_, sender);
    event("promote");
    ASSERT_EQ(box->tick()->delivered, 1u);
    sender.script = {502};
    event("rollback");
    ASSERT_EQ(box->tick()->failed, 1u);
  }
  store_.reset();  // the server stops
  store_ = open_store(url_).value();
  const auto pending = hook("h");
  EXPECT_EQ(pending.attempts, 1u);
  ScriptedSender sender([this] { return now(); });
  auto box = outbox(*store_, sender, "after-restart");
  clock_.advance(std::chrono::seconds(61));  // the old lease (60 s) ran out too
  auto r = box->tick();
  ASSERT_TRUE(r.ok());
  EXPECT_TRUE(r->leader);
  EXPECT_EQ(sender.types(), std::vector<std::string>{"release.rolled_back"});
  EXPECT_EQ(store_->list_webhook_deliveries("h", 1).value()[0].attempt, 2u);
}

TEST_F(Notifier, TwoServersOnOneDatabaseDeliverEachEventOnce) {
  add_hook("h");
  auto other = open_store(url_).value();
  ScriptedSender sender([this] { return now(); });
  auto a = outbox(*store_, sender, "a");
  auto b = outbox(*other, sender, "b");
  std::vector<std::int64_t> ids;
  for (int i = 0; i < 6; ++i) {
    ids.push_back(event(i % 2 ? "rollback" : "promote"));
    auto ra = a->tick();
    auto rb = b->tick();
    ASSERT_TRUE(ra.ok() && rb.ok());
    EXPECT_TRUE(ra->leader);
    EXPECT_FALSE(rb->leader);
    clock_.advance(std::chrono::seconds(10));
  }
  EXPECT_EQ(sender.audit_ids(), ids);
  // Server a goes away: once its lease expires, b delivers, still each event once.
  ids.push_back(event("promote"));
  EXPECT_FALSE(b->tick()->leader);
  clock_.advance(std::chrono::seconds(61));
  auto rb = b->tick();
  EXPECT_TRUE(rb->leader);
  EXPECT_EQ(rb->delivered, 1u);
  EXPECT_EQ(sender.audit_ids(), ids);
  // A clean stop gives the lease up: the other server takes over at once.
  b->release();
  ids.push_back(event("rollback"));
  auto ra = a->tick();
  EXPECT_TRUE(ra->leader);
  EXPECT_EQ(ra->delivered, 1u);
  EXPECT_EQ(sender.audit_ids(), ids);
}

TEST_F(Notifier, ADeletedWebhookStopsAndTheLogIsBounded) {
  add_hook("h");
  ScriptedSender sender([this] { return now(); });
  auto o = options();
  o.keep_deliveries = 3;
  Outbox box(*store_, sender, o, [this] { return now(); });
  for (int i = 0; i < 5; ++i) event("promote");
  EXPECT_EQ(box.tick()->delivered, 5u);
  EXPECT_EQ(store_->list_webhook_deliveries("h", 100).value().size(), 3u);
  EXPECT_TRUE(store_->delete_webhook("h").value());
  EXPECT_TRUE(store_->list_webhook_deliveries("h", 100).value().empty());
  event("promote");
  EXPECT_FALSE(box.tick()->leader);  // no webhook: no work, no lease taken
  EXPECT_EQ(sender.posts.size(), 5u);
}

TEST_F(Notifier, AHealthTransitionBecomesOneAuditEventEvenWithTwoServers) {
  Release r;
  r.key = {"2.0.0", "linux", "x86_64"};
  r.product = "rollout-agent";
  r.sha256 = std::string(64, 'a');
  r.manifest = "{}";
  r.created_at = now();
  ASSERT_TRUE(store_->insert_release(r).ok());
  auto other = open_store(url_).value();
  const Thresholds t;
  EXPECT_EQ(detect_transitions(*store_, t, std::chrono::hours(24 * 7), now()).value(), 0u);
  std::vector<Attempt> crashes;
  for (int i = 0; i < 10; ++i) {
    crashes.push_back(testing::sample_attempt("r" + std::to_string(i), "agent-" + std::to_string(i),
                                              r.key, i < 7 ? "success" : "crash",
                                              "2026-01-01T00:00:00Z", now()));
  }
  ASSERT_TRUE(store_->record_attempts(crashes).ok());
  EXPECT_EQ(detect_transitions(*other, t, std::chrono::hours(24 * 7), now()).value(), 1u);
  EXPECT_EQ(detect_transitions(*store_, t, std::chrono::hours(24 * 7), now()).value(), 0u);
  EXPECT_EQ(detect_transitions(*other, t, std::chrono::hours(24 * 7), now()).value(), 0u);
  auto events = store_->events_after(0, 10).value();
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].action, "release_blocked");
  EXPECT_EQ(events[0].user, "system");
  EXPECT_EQ(event_type(events[0]), "release.blocked");
  EXPECT_NE(events[0].reason.find("crash 30.0 %"), std::string::npos) << events[0].reason;
  // A week later stable (none) is behind this beta: once.
  clock_.advance(std::chrono::hours(24 * 8));
  EXPECT_EQ(detect_transitions(*store_, t, std::chrono::hours(24 * 7), now()).value(), 1u);
  EXPECT_EQ(detect_transitions(*other, t, std::chrono::hours(24 * 7), now()).value(), 0u);
  events = store_->events_after(events[0].id, 10).value();
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].action, "stable_behind_beta");
  EXPECT_EQ(event_type(events[0]), "stable.behind_beta");
}

TEST_F(Notifier, TheWorkerTicksAtStartOnEachIntervalAndWhenNotified) {
  add_hook("h");
  ScriptedSender sender([this] { return now(); });
  auto box = outbox(*store_, sender);
  clock_.set_auto_advance(false);
  Worker worker(*box, clock_, std::chrono::seconds(5));
  worker.start();
  auto waits_reach = [&](std::uint64_t n) {
    for (int i = 0; i < 1000 && clock_.waits() < n; ++i)
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    return clock_.waits() >= n && clock_.await_waiters(1);
  };
  ASSERT_TRUE(waits_reach(1));
  EXPECT_EQ(worker.ticks(), 1u);
  event("promote");
  worker.notify();  // an audit event was committed
  ASSERT_TRUE(waits_reach(2));
  EXPECT_EQ(worker.ticks(), 2u);
  EXPECT_EQ(sender.posts.size(), 1u);
  event("rollback");
  clock_.advance(std::chrono::seconds(5));  // the interval, without a notification
  ASSERT_TRUE(waits_reach(3));
  EXPECT_EQ(worker.ticks(), 3u);
  EXPECT_EQ(sender.posts.size(), 2u);
  worker.stop();
}

}  // namespace
}  // namespace rollout::server::notify
