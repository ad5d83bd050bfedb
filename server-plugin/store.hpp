// Storage behind one interface. SQLite (embedded default) implements it now; PostgreSQL is a
// second implementation of the same interface, run against the same typed test suite.
//
// StoreOps is every read and write. Two things offer it:
// - Store: each call on its own (autocommit), from any thread; every method is thread-safe.
// - Tx: the calls of one transaction. Store::transaction(fn) runs `fn` with a Tx and commits what
//   it did through that Tx atomically, or nothing when `fn` (or the commit) fails. The Tx is a
//   value handed to the body, not a property of the calling thread, so a backend with a pool of
//   connections (PostgreSQL) keeps the body on the one connection that holds its locks.
// Inside a body, calling the Store itself (or starting another transaction on it) is an error,
// "store call inside a transaction: use the Tx", never a silent join or a deadlock.
//
// Conflicts: two transactions that cannot both commit (SQLite: the write lock stayed busy past
// the busy timeout; PostgreSQL: a serialization failure or deadlock) fail with the error code
// "conflict" and change nothing. The caller that owns the decision runs it again through
// with_conflict_retry; after that the HTTP answer is 503 "busy" with Retry-After.
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/error.hpp"
#include "server-plugin/model.hpp"

namespace rollout::server {

namespace artifacts {
class ArtifactStore;
}

// The error code of a retryable conflict (see above).
inline constexpr const char* kConflict = "conflict";

class StoreOps {
 public:
  virtual ~StoreOps() = default;

  // Releases. insert_release fails with "duplicate_release" for an existing (version, os, arch).
  virtual Status insert_release(const Release& r) = 0;
  virtual Expected<std::vector<Release>> list_releases() = 0;
  virtual Expected<std::optional<Release>> get_release(const ReleaseKey& key) = 0;
  virtual Expected<std::optional<Release>> find_release_by_sha256(const std::string& sha256) = 0;
  virtual Status set_promoted(const ReleaseKey& key, std::int64_t at, std::uint64_t seq) = 0;
  virtual Status set_blocked(const ReleaseKey& key, const std::string& reason) = 0;
  // The next promotion sequence, one more than any handed out before: atomic in one statement,
  // so two servers promoting at once never get the same one (releases.promotion_seq is UNIQUE).
  // Rolled back with the caller's transaction when it fails.
  virtual Expected<std::uint64_t> next_promotion_seq() = 0;

  // Agents.
  virtual Status insert_agent(const Agent& a) = 0;
  virtual Expected<std::optional<Agent>> get_agent(const std::string& id) = 0;
  virtual Expected<std::optional<Agent>> find_agent_by_token_hash(const std::string& hash) = 0;
  virtual Expected<std::optional<Agent>> find_agent_by_machine_id(
      const std::string& machine_id) = 0;
  virtual Expected<std::vector<Agent>> list_agents() = 0;
  // Every agent in exactly one group, a few hundred groups for a fleet of any size: the rollouts
  // table resolves the channel of a group, not of each agent.
  virtual Expected<std::vector<AgentGroup>> agent_population() = 0;
  // Updates the fields an agent reports at check-in (version, state, floor, last_checkin_at).
  virtual Status update_agent_checkin(const Agent& a) = 0;
  virtual Status set_agent_token(const std::string& id, const std::string& token_hash) = 0;
  // Raises the agent's last_sequence by one in one statement and returns it: the sequence of the
  // directive about to be signed, never handed out twice for an agent. not_found without it.
  virtual Expected<std::uint64_t> next_directive_sequence(const std::string& agent_id) = 0;
  // Stores the directive issued and raises last_sequence to its sequence.
  virtual Status set_agent_directive(const std::string& id, const DirectiveRecord& d) = 0;

  // Releases each agent may report on (model.hpp AgentRelease). add_agent_release keeps the
  // first row of an (agent, release): another directive or check-in for it changes nothing.
  virtual Status add_agent_release(const AgentRelease& r) = 0;
  virtual Expected<std::optional<AgentRelease>> get_agent_release(const std::string& agent_id,
                                                                  const ReleaseKey& key) = 0;
  virtual Expected<std::vector<AgentRelease>> list_agent_releases(const std::string& agent_id) = 0;

  // Update attempts. Idempotent by report id, all in one durable transaction: the ids returned
  // are stored (now or before) when this returns; a replayed id keeps its first report.
  // occurred_at must be RFC 3339 UTC as common/time.hpp parses it (protocol parsing checks); it
  // is kept to the microsecond (SCHEMA.md), and a batch with one that does not parse is refused
  // naming occurred_at, nothing stored.
  virtual Expected<std::vector<std::string>> record_attempts(
      const std::vector<Attempt>& attempts) = 0;
  // Each agent counted once per release by its latest outcome; `since` limits to attempts
  // received at or after that time.
  virtual Expected<CountsByRelease> release_counts(std::optional<std::int64_t> since) = 0;
  virtual Expected<std::vector<FailurePattern>> failure_patterns(const ReleaseKey& key,
                                                                 std::int64_t since_24h) = 0;
  virtual Expected<std::vector<Attempt>> agent_attempts(const std::string& agent_id,
                                                        std::size_t limit) = 0;
  virtual Expected<std::uint64_t> attempt_count() = 0;
  // Whether a report id is stored already (a replay), whoever sent it.
  virtual Expected<bool> has_attempt(const std::string& id) = 0;
  // The attempts agent_id added with received_at >= since: the per-agent hourly cap.
  virtual Expected<AttemptWindow> agent_attempt_window(const std::string& agent_id,
                                                       std::int64_t since) = 0;

  // Each agent's latest final outcome for the release (one row per agent).
  virtual Expected<std::vector<AgentOutcome>> latest_outcomes(const ReleaseKey& key) = 0;

  // Rollouts in waves, one row per (release, rollout group). insert_rollout fails with
  // "duplicate_rollout" for an existing (key, group). get_rollout reads one group's row,
  // list_rollouts every group's row of one release (default first, then by group).
  // update_rollout writes `r` (its rev must be expected_rev + 1) only if the stored row still has
  // rev == expected_rev: false when another writer got there first, and nothing changed. Call it
  // on the Tx of a transaction() together with the decision's side effects, so the winner's
  // audit row and rollback commit with it and the loser adds nothing.
  virtual Status insert_rollout(const RolloutRecord& r) = 0;
  virtual Expected<std::optional<RolloutRecord>> get_rollout(const ReleaseKey& key,
                                                             const std::string& group) = 0;
  Expected<std::optional<RolloutRecord>> get_rollout(const ReleaseKey& key) {
    return get_rollout(key, "default");
  }
  virtual Expected<std::vector<RolloutRecord>> list_rollouts(const ReleaseKey& key) = 0;
  virtual Expected<std::vector<RolloutRecord>> list_rollout_records() = 0;
  virtual Expected<bool> update_rollout(const RolloutRecord& r, std::uint64_t expected_rev) = 0;

  // Audit trail: append-only.
  virtual Expected<std::int64_t> append_event(const Event& e) = 0;
  // Newest first; before_id 0 = from the newest. Filtered to one release when key is given.
  virtual Expected<std::vector<Event>> list_events(std::int64_t before_id, std::size_t limit,
                                                   const std::optional<ReleaseKey>& key) = 0;

  // The events after `after_id`, oldest first: what a webhook's cursor has not passed yet.
  virtual Expected<std::vector<Event>> events_after(std::int64_t after_id, std::size_t limit) = 0;

  // Webhooks (issue #13). insert_webhook starts the cursor at the newest event (a new webhook
  // is told what happens from now on); "duplicate_webhook" for an existing id.
  virtual Status insert_webhook(const Webhook& w) = 0;
  // The config's webhooks: new ones inserted as above, known ones get the URL and filter of the
  // config (their cursor kept), config webhooks no longer listed are removed with their log.
  virtual Status sync_config_webhooks(const std::vector<Webhook>& hooks) = 0;
  virtual Expected<std::vector<Webhook>> list_webhooks() = 0;
  virtual Expected<std::optional<Webhook>> get_webhook(const std::string& id) = 0;
  // False when there was no such webhook. Removes its delivery log too.
  virtual Expected<bool> delete_webhook(const std::string& id) = 0;
  // Moves a webhook's place only if its cursor is still `expected_cursor` (another server, or
  // a delete, did not get there first); false otherwise.
  virtual Expected<bool> update_webhook_cursor(const std::string& id, std::int64_t expected_cursor,
                                               std::int64_t cursor, std::uint32_t attempts,
                                               std::int64_t next_attempt_at) = 0;
  // Appends to the delivery log and keeps only the newest `keep` rows of that webhook.
  virtual Status add_webhook_delivery(const WebhookDelivery& d, std::size_t keep) = 0;
  // Newest first.
  virtual Expected<std::vector<WebhookDelivery>> list_webhook_deliveries(const std::string& id,
                                                                         std::size_t limit) = 0;
  // The lease `name` for `holder` until `expires_at`, if it is free (expired) or already
  // holder's: one conditional update, so of several servers exactly one holds it.
  virtual Expected<bool> take_lease(const std::string& name, const std::string& holder,
                                    std::int64_t now, std::int64_t expires_at) = 0;
  // The health detector's last-seen state per subject. swap_watch sets `value` only if the
  // stored one is still `expected` (nullopt: no row yet); true when this call changed it.
  virtual Expected<std::optional<std::string>> get_watch(const std::string& subject) = 0;
  virtual Expected<bool> swap_watch(const std::string& subject,
                                    const std::optional<std::string>& expected,
                                    const std::string& value) = 0;

  // Users, sessions, API tokens.
  virtual Status insert_user(const User& u) = 0;
  virtual Expected<std::optional<User>> get_user(const std::string& username) = 0;
  virtual Expected<std::size_t> user_count() = 0;
  virtual Status insert_session(const Session& s) = 0;
  virtual Expected<std::optional<Session>> get_session(const std::string& token_hash) = 0;
  virtual Status delete_session(const std::string& token_hash) = 0;
  virtual Status insert_api_token(const ApiToken& t) = 0;
  virtual Expected<std::optional<ApiToken>> get_api_token(const std::string& token_hash) = 0;
  // The login rate limit, shared by every server on the database: a token bucket per key (at
  // most kRateKeyMax bytes) holding `capacity` tokens, refilled at `refill_per_second`; `now` in
  // Unix seconds. take_rate_token spends a token if there is one, in one conditional upsert (no
  // two servers spend the same token); return_rate_token gives one back (never above capacity).
  // Rows of full buckets are dropped, and beyond kRateRowsMax rows the fullest go first, so
  // strangers cannot grow the table without bound.
  static constexpr std::size_t kRateKeyMax = 256;
  static constexpr std::size_t kRateRowsMax = 10000;
  virtual Expected<RateDecision> take_rate_token(const std::string& key, std::int64_t now,
                                                 std::uint32_t capacity,
                                                 double refill_per_second) = 0;
  virtual Status return_rate_token(const std::string& key, double refill_per_second) = 0;

  // Policies: one row per (scope, scope_id).
  virtual Status put_policy(const Policy& p) = 0;
  virtual Expected<std::vector<Policy>> list_policies() = 0;

  // Server log entries. trim_logs keeps the newest `keep` entries and deletes the rest: anyone
  // who can make the server log (a stranger's refused request, an endpoint's refused report)
  // must not be able to grow the table without bound.
  virtual Status append_log(const LogEntry& e) = 0;
  virtual Status trim_logs(std::uint64_t keep) = 0;
  virtual Expected<std::vector<LogEntry>> query_logs(const std::string& q,
                                                     const std::string& min_level,
                                                     std::size_t limit) = 0;
};

// The calls of one transaction (see the top of this file). Valid only while its body runs.
class Tx : public StoreOps {
 public:
  // Takes the release row's lock for the rest of the transaction, so that a list-then-write
  // decision about the release (a rollback, a promotion) cannot interleave with another one
  // (PostgreSQL: SELECT ... FOR UPDATE; SQLite: BEGIN IMMEDIATE holds the database's write lock
  // already). not_found when there is no such release.
  virtual Status lock_release(const ReleaseKey& key) = 0;
};

class Store : public StoreOps {
 public:
  // Runs `fn` atomically on a Tx (see the top of this file). An error from `fn`, an exception out
  // of it, or a failed commit rolls everything back and is returned.
  Status transaction(const std::function<Status(Tx&)>& fn);
  virtual int schema_version() = 0;
  // Artifacts kept in this database (artifact_store: database, artifacts/artifact_store.hpp),
  // on the store's own connections; the store must outlive it. "invalid_config" from a backend
  // that keeps artifacts in files (SQLite).
  virtual Expected<std::unique_ptr<artifacts::ArtifactStore>> database_artifacts();

  // The "targets changed" feed, which wakes held (long-poll) check-ins: `fn` is called after
  // every committed transaction, or autocommit call, that changed what an agent's check-in
  // decides: insert_release, set_promoted, set_blocked, insert_rollout, update_rollout (only when
  // it wrote: true) and put_policy. A transaction that rolls back calls nothing; reads and other
  // writes call nothing. Several commits close together may be answered by one call, so fn says
  // "read again", never how many or which.
  // - SQLite: this store's own commits; fn runs on the committing thread right after COMMIT,
  //   outside the store's lock (the committing call returns after fn does).
  // - PostgreSQL: each such write sends NOTIFY rollout_targets in its transaction, and a
  //   listener thread on a connection of its own (not the pool's) LISTENs, so a commit by any
  //   server on the database calls fn, on that thread. When that connection is lost the
  //   listener reconnects (100 ms doubling to 5 s) and then calls fn once, as changes may have
  //   been missed meanwhile. Starting to watch opens that connection and returns once it
  //   listens (an error when it cannot), so a commit after watch_targets returns is seen.
  // One watcher per store: a later call replaces fn, an empty fn stops watching. Once
  // watch_targets returns, the previous fn is not running and is never called again. fn must be
  // quick and must not call the store. The default (a Store that cannot watch, such as a test
  // fake) never calls fn; held check-ins then answer at their deadline.
  virtual Status watch_targets(std::function<void()> fn);

  // Each call on its own (autocommit): store.cpp forwards it to run_autocommit, or refuses it
  // inside one of this Store's transaction bodies. A new StoreOps call gets a line here too.
  using StoreOps::get_rollout;
  Status insert_release(const Release& r) final;
  Expected<std::vector<Release>> list_releases() final;
  Expected<std::optional<Release>> get_release(const ReleaseKey& key) final;
  Expected<std::optional<Release>> find_release_by_sha256(const std::string& sha256) final;
  Status set_promoted(const ReleaseKey& key, std::int64_t at, std::uint64_t seq) final;
  Status set_blocked(const ReleaseKey& key, const std::string& reason) final;
  Expected<std::uint64_t> next_promotion_seq() final;
  Status insert_agent(const Agent& a) final;
  Expected<std::optional<Agent>> get_agent(const std::string& id) final;
  Expected<std::optional<Agent>> find_agent_by_token_hash(const std::string& hash) final;
  Expected<std::optional<Agent>> find_agent_by_machine_id(const std::string& machine_id) final;
  Expected<std::vector<Agent>> list_agents() final;
  Expected<std::vector<AgentGroup>> agent_population() final;
  Status update_agent_checkin(const Agent& a) final;
  Status set_agent_token(const std::string& id, const std::string& token_hash) final;
  Expected<std::uint64_t> next_directive_sequence(const std::string& agent_id) final;
  Status set_agent_directive(const std::string& id, const DirectiveRecord& d) final;
  Status add_agent_release(const AgentRelease& r) final;
  Expected<std::optional<AgentRelease>> get_agent_release(const std::string& agent_id,
                                                          const ReleaseKey& key) final;
  Expected<std::vector<AgentRelease>> list_agent_releases(const std::string& agent_id) final;
  Expected<std::vector<std::string>> record_attempts(const std::vector<Attempt>& attempts) final;
  Expected<CountsByRelease> release_counts(std::optional<std::int64_t> since) final;
  Expected<std::vector<FailurePattern>> failure_patterns(const ReleaseKey& key,
                                                         std::int64_t since_24h) final;
  Expected<std::vector<Attempt>> agent_attempts(const std::string& agent_id,
                                                std::size_t limit) final;
  Expected<std::uint64_t> attempt_count() final;
  Expected<bool> has_attempt(const std::string& id) final;
  Expected<AttemptWindow> agent_attempt_window(const std::string& agent_id,
                                               std::int64_t since) final;
  Expected<std::vector<AgentOutcome>> latest_outcomes(const ReleaseKey& key) final;
  Status insert_rollout(const RolloutRecord& r) final;
  Expected<std::optional<RolloutRecord>> get_rollout(const ReleaseKey& key,
                                                     const std::string& group) final;
  Expected<std::vector<RolloutRecord>> list_rollouts(const ReleaseKey& key) final;
  Expected<std::vector<RolloutRecord>> list_rollout_records() final;
  Expected<bool> update_rollout(const RolloutRecord& r, std::uint64_t expected_rev) final;
  Expected<std::int64_t> append_event(const Event& e) final;
  Expected<std::vector<Event>> list_events(std::int64_t before_id, std::size_t limit,
                                           const std::optional<ReleaseKey>& key) final;
  Expected<std::vector<Event>> events_after(std::int64_t after_id, std::size_t limit) final;
  Status insert_webhook(const Webhook& w) final;
  Status sync_config_webhooks(const std::vector<Webhook>& hooks) final;
  Expected<std::vector<Webhook>> list_webhooks() final;
  Expected<std::optional<Webhook>> get_webhook(const std::string& id) final;
  Expected<bool> delete_webhook(const std::string& id) final;
  Expected<bool> update_webhook_cursor(const std::string& id, std::int64_t expected_cursor,
                                       std::int64_t cursor, std::uint32_t attempts,
                                       std::int64_t next_attempt_at) final;
  Status add_webhook_delivery(const WebhookDelivery& d, std::size_t keep) final;
  Expected<std::vector<WebhookDelivery>> list_webhook_deliveries(const std::string& id,
                                                                 std::size_t limit) final;
  Expected<bool> take_lease(const std::string& name, const std::string& holder, std::int64_t now,
                            std::int64_t expires_at) final;
  Expected<std::optional<std::string>> get_watch(const std::string& subject) final;
  Expected<bool> swap_watch(const std::string& subject, const std::optional<std::string>& expected,
                            const std::string& value) final;
  Status insert_user(const User& u) final;
  Expected<std::optional<User>> get_user(const std::string& username) final;
  Expected<std::size_t> user_count() final;
  Status insert_session(const Session& s) final;
  Expected<std::optional<Session>> get_session(const std::string& token_hash) final;
  Status delete_session(const std::string& token_hash) final;
  Status insert_api_token(const ApiToken& t) final;
  Expected<std::optional<ApiToken>> get_api_token(const std::string& token_hash) final;
  Expected<RateDecision> take_rate_token(const std::string& key, std::int64_t now,
                                         std::uint32_t capacity, double refill_per_second) final;
  Status return_rate_token(const std::string& key, double refill_per_second) final;
  Status put_policy(const Policy& p) final;
  Expected<std::vector<Policy>> list_policies() final;
  Status append_log(const LogEntry& e) final;
  Status trim_logs(std::uint64_t keep) final;
  Expected<std::vector<LogEntry>> query_logs(const std::string& q, const std::string& min_level,
                                             std::size_t limit) final;

 protected:
  // The backend's two ways of running calls: `fn` inside BEGIN ... COMMIT (rolled back when it
  // fails), and `fn` on a connection outside any transaction (each call commits on its own).
  virtual Status run_transaction(const std::function<Status(Tx&)>& fn) = 0;
  virtual Status run_autocommit(const std::function<Status(StoreOps&)>& fn) = 0;

 private:
  template <class F>
  auto autocommit(F&& f);
  bool in_own_transaction() const;
};

// Runs `fn` (a whole decision: its transaction and nothing outside it) until it returns anything
// but a "conflict" error, at most max_attempts times; the last result.
inline constexpr int kConflictAttempts = 4;
Status with_conflict_retry(int max_attempts, const std::function<Status()>& fn);

// Chooses the backend from database_url (store/open_store.cpp): "sqlite:PATH" (or
// "sqlite::memory:" for tests), or "postgresql://..." (store/postgres/pg_store.hpp: libpq's URL,
// plus pool_size=N). Runs migrations; refuses a database whose schema is newer than
// this binary knows.
Expected<std::unique_ptr<Store>> open_store(const std::string& url);

}  // namespace rollout::server
