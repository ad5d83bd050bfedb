// The SQLite implementation of Store: one connection in WAL mode with synchronous=FULL (an
// acknowledged report survives a power cut), foreign keys on, a busy timeout, migrations at open.
//
// SqliteOps implements every call once, on that connection; it is both the Tx of a transaction
// and what the Store's autocommit calls run on. A recursive mutex serialises all access to the
// connection; a transaction holds it across BEGIN IMMEDIATE ... COMMIT, so another thread's call
// waits for the commit instead of landing inside it. Another SqliteStore (another server) on the
// same file waits for SQLite's write lock up to the busy timeout, then gets "conflict".
#pragma once

#include <functional>
#include <mutex>

#include "server-plugin/store.hpp"
#include "server-plugin/store/sqlite/db.hpp"
#include "server-plugin/store/window_counts_cache.hpp"

namespace rollout::server::sqlite {

class SqliteOps final : public Tx {
 public:
  explicit SqliteOps(Db db) : db_(std::move(db)) {}

  // Runs `fn` atomically: its own BEGIN IMMEDIATE ... COMMIT, or, when a transaction is open
  // already (a call through the Tx, or one operation of several statements such as
  // record_attempts made inside one), simply part of it. Store::transaction refuses a nested
  // transaction before it gets here; this join is for the store's own multi-statement calls.
  // A top-level transaction that commits after one of the calls that decide a check-in wrote
  // (targets_changed_) then calls the watcher, outside mu_; a joined one leaves that to the
  // outermost. The six such calls run through transaction() even on their own, so an
  // autocommit call is a top-level transaction of one statement and notifies the same way.
  Status transaction(const std::function<Status()>& fn);

  // Store::watch_targets: `fn` after each such commit on the committing thread.
  void watch_targets(std::function<void()> fn);

  Status lock_release(const ReleaseKey& key) override;

  Status insert_release(const Release& r) override;
  Expected<std::vector<Release>> list_releases() override;
  Expected<std::optional<Release>> get_release(const ReleaseKey& key) override;
  Expected<std::optional<Release>> find_release_by_sha256(const std::string& sha256) override;
  Status set_promoted(const ReleaseKey& key, std::int64_t at, std::uint64_t seq) override;
  Status set_blocked(const ReleaseKey& key, const std::string& reason) override;
  Expected<std::uint64_t> next_promotion_seq() override;

  Status insert_agent(const Agent& a) override;
  Expected<std::optional<Agent>> get_agent(const std::string& id) override;
  Expected<std::optional<Agent>> find_agent_by_token_hash(const std::string& hash) override;
  Expected<std::optional<Agent>> find_agent_by_machine_id(const std::string& machine_id) override;
  Expected<std::vector<Agent>> list_agents() override;
  Expected<std::vector<AgentGroup>> agent_population() override;
  Status update_agent_checkin(const Agent& a) override;
  Status set_agent_token(const std::string& id, const std::string& token_hash) override;
  Expected<std::uint64_t> next_directive_sequence(const std::string& agent_id) override;
  Status set_agent_directive(const std::string& id, const DirectiveRecord& d) override;

  Status add_agent_release(const AgentRelease& r) override;
  Expected<std::optional<AgentRelease>> get_agent_release(const std::string& agent_id,
                                                          const ReleaseKey& key) override;
  Expected<std::vector<AgentRelease>> list_agent_releases(const std::string& agent_id) override;

  Expected<std::vector<std::string>> record_attempts(const std::vector<Attempt>& attempts) override;
  Expected<CountsByRelease> release_counts(std::optional<std::int64_t> since) override;
  Expected<std::vector<FailurePattern>> failure_patterns(const ReleaseKey& key,
                                                         std::int64_t since_24h) override;
  Expected<std::vector<Attempt>> agent_attempts(const std::string& agent_id,
                                                std::size_t limit) override;
  Expected<std::uint64_t> attempt_count() override;
  Expected<bool> has_attempt(const std::string& id) override;
  Expected<AttemptWindow> agent_attempt_window(const std::string& agent_id,
                                               std::int64_t since) override;

  Expected<std::vector<AgentOutcome>> latest_outcomes(const ReleaseKey& key) override;

  Status insert_rollout(const RolloutRecord& r) override;
  using StoreOps::get_rollout;
  Expected<std::optional<RolloutRecord>> get_rollout(const ReleaseKey& key,
                                                     const std::string& group) override;
  Expected<std::vector<RolloutRecord>> list_rollouts(const ReleaseKey& key) override;
  Expected<std::vector<RolloutRecord>> list_rollout_records() override;
  Expected<bool> update_rollout(const RolloutRecord& r, std::uint64_t expected_rev) override;

  Expected<std::int64_t> append_event(const Event& e) override;
  Expected<std::vector<Event>> list_events(std::int64_t before_id, std::size_t limit,
                                           const std::optional<ReleaseKey>& key) override;

  Expected<std::vector<Event>> events_after(std::int64_t after_id, std::size_t limit) override;

  Status insert_webhook(const Webhook& w) override;
  Status sync_config_webhooks(const std::vector<Webhook>& hooks) override;
  Expected<std::vector<Webhook>> list_webhooks() override;
  Expected<std::optional<Webhook>> get_webhook(const std::string& id) override;
  Expected<bool> delete_webhook(const std::string& id) override;
  Expected<bool> update_webhook_cursor(const std::string& id, std::int64_t expected_cursor,
                                       std::int64_t cursor, std::uint32_t attempts,
                                       std::int64_t next_attempt_at) override;
  Status add_webhook_delivery(const WebhookDelivery& d, std::size_t keep) override;
  Expected<std::vector<WebhookDelivery>> list_webhook_deliveries(const std::string& id,
                                                                 std::size_t limit) override;
  Expected<bool> take_lease(const std::string& name, const std::string& holder, std::int64_t now,
                            std::int64_t expires_at) override;
  Expected<std::optional<std::string>> get_watch(const std::string& subject) override;
  Expected<bool> swap_watch(const std::string& subject, const std::optional<std::string>& expected,
                            const std::string& value) override;

  Status insert_user(const User& u) override;
  Expected<std::optional<User>> get_user(const std::string& username) override;
  Expected<std::size_t> user_count() override;
  Status insert_session(const Session& s) override;
  Expected<std::optional<Session>> get_session(const std::string& token_hash) override;
  Status delete_session(const std::string& token_hash) override;
  Status insert_api_token(const ApiToken& t) override;
  Expected<std::optional<ApiToken>> get_api_token(const std::string& token_hash) override;
  Expected<RateDecision> take_rate_token(const std::string& key, std::int64_t now,
                                         std::uint32_t capacity, double refill_per_second) override;
  Status return_rate_token(const std::string& key, double refill_per_second) override;

  Status put_policy(const Policy& p) override;
  Expected<std::vector<Policy>> list_policies() override;

  Status append_log(const LogEntry& e) override;
  Status trim_logs(std::uint64_t keep) override;
  Expected<std::vector<LogEntry>> query_logs(const std::string& q, const std::string& min_level,
                                             std::size_t limit) override;

 private:
  Expected<std::optional<Agent>> agent_where(std::string_view where, const std::string& value);

  std::recursive_mutex mu_;  // guards db_, in_tx_ and targets_changed_
  Db db_;
  int in_tx_ = 0;
  // The open top-level transaction changed what a check-in decides (set by insert_release,
  // set_promoted, set_blocked, insert_rollout, update_rollout when it wrote, put_policy).
  bool targets_changed_ = false;
  // Held while the watcher runs, so a replaced watcher is never called after watch_targets
  // returns. Never taken with mu_ held.
  std::mutex watch_mu_;
  std::function<void()> watcher_;  // guarded by watch_mu_
  // The last windowed release_counts (store/window_counts_cache.hpp), keyed on the 'attempts'
  // counter; filled and used only outside transactions.
  WindowCountsCache window_cache_;
};

class SqliteStore final : public Store {
 public:
  static Expected<std::unique_ptr<Store>> open(const std::string& path);
  int schema_version() override { return schema_version_; }
  Status watch_targets(std::function<void()> fn) override;

 protected:
  Status run_transaction(const std::function<Status(Tx&)>& fn) override;
  Status run_autocommit(const std::function<Status(StoreOps&)>& fn) override;

 private:
  SqliteStore(Db db, int schema_version) : ops_(std::move(db)), schema_version_(schema_version) {}
  SqliteOps ops_;
  const int schema_version_;
};

// The audit trail's rows as list_events and events_after select them (kEventColumns, in order).
inline constexpr const char* kEventColumns =
    "id, at, user, action, version, os, arch, reason, force, health, detail";
Expected<std::vector<Event>> read_events(Stmt& s);

}  // namespace rollout::server::sqlite
