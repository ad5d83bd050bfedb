// Storage behind one interface. SQLite (embedded default) implements it now; PostgreSQL is a
// second implementation of the same interface, run against the same typed test suite.
// Every method is thread-safe. transaction() runs `fn` atomically: the calls it makes on this
// Store from the same thread are part of the transaction, other threads wait (SQLite: BEGIN
// IMMEDIATE on one connection), so a promote and a rollback of the same release can never
// interleave. An error from `fn` (or a failed commit) rolls everything back.
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/error.hpp"
#include "server-plugin/model.hpp"

namespace rollout::server {

class Store {
 public:
  virtual ~Store() = default;

  virtual Status transaction(const std::function<Status()>& fn) = 0;
  virtual int schema_version() = 0;

  // Releases. insert_release fails with "duplicate_release" for an existing (version, os, arch).
  virtual Status insert_release(const Release& r) = 0;
  virtual Expected<std::vector<Release>> list_releases() = 0;
  virtual Expected<std::optional<Release>> get_release(const ReleaseKey& key) = 0;
  virtual Expected<std::optional<Release>> find_release_by_sha256(const std::string& sha256) = 0;
  virtual Status set_promoted(const ReleaseKey& key, std::int64_t at, std::uint64_t seq) = 0;
  virtual Status set_blocked(const ReleaseKey& key, const std::string& reason) = 0;
  virtual Expected<std::uint64_t> max_promotion_seq() = 0;

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
  // inside transaction() together with the decision's side effects, so the winner's audit row
  // and rollback commit with it and the loser adds nothing.
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

// "sqlite:PATH" (or "sqlite::memory:" for tests). Runs migrations; refuses a database whose schema
// is newer than this binary knows.
Expected<std::unique_ptr<Store>> open_store(const std::string& url);

}  // namespace rollout::server
