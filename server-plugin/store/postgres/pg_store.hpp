// The PostgreSQL implementation of Store, on a pg::Pool of connections (issue #14).
//
// PgOps implements every call once, on one leased connection: it is the Tx of a transaction
// (the body's calls all run on the connection that holds its locks) and what each autocommit
// call runs on (a connection leased for that call alone). The store's own multi-statement calls
// (record_attempts, sync_config_webhooks, delete_webhook, add_webhook_delivery) run in their own
// BEGIN ... COMMIT, or as part of the caller's transaction when there is one.
//
// Isolation: READ COMMITTED. Every decision in the server is already written to be safe there:
// a conditional update (update_rollout's rev, update_webhook_cursor, swap_watch, take_lease), a
// counter raised in one UPDATE ... RETURNING (next_promotion_seq, next_directive_sequence), an
// upsert keyed on the report id, or a list-then-write under lock_release's SELECT ... FOR
// UPDATE. Under READ COMMITTED a second writer waits for the first one's row lock and then sees
// its result, which is what SQLite's single write lock gives; REPEATABLE READ or SERIALIZABLE
// would instead fail the second writer with a serialization failure that every caller would have
// to retry for no gain. What can still fail is a deadlock (40P01), and a serialization failure
// if a DBA forces a stricter default: both are "conflict" (pg_conn.hpp), and the transaction
// changed nothing.
//
// watch_targets: insert_release, set_promoted, set_blocked, insert_rollout, update_rollout (when
// it wrote) and put_policy each run SELECT pg_notify('rollout_targets', '') in the transaction of
// their write (PgOps::atomic makes one for a call on its own), so PostgreSQL tells every
// listening server at commit and nobody on rollback; the store's Listener (pg_listener.hpp), on
// a connection of its own, LISTENs and calls the watcher.
//
// Error codes are the SQLite store's for the same situations: a duplicate key is
// duplicate_release / duplicate_rollout / duplicate_user / duplicate_webhook where SQLite says
// so, and plain "constraint" elsewhere (PostgreSQL's unique_violation mapped back).
//
// database_url: postgresql://user:password@host:port/db?sslmode=...&pool_size=N. pool_size
// (1..kMaxPoolConnections, default 8) is this store's and removed before libpq sees the URL;
// every other parameter is libpq's.
#pragma once

#include <memory>
#include <mutex>
#include <string>

#include "server-plugin/store.hpp"
#include "server-plugin/store/postgres/pg_listener.hpp"
#include "server-plugin/store/postgres/pg_pool.hpp"
#include "server-plugin/store/window_counts_cache.hpp"

namespace rollout::server::pg {

inline constexpr int kDefaultPoolSize = 8;

// The NOTIFY channel of watch_targets, shared by every server on the database.
inline constexpr const char* kTargetsChannel = "rollout_targets";

// Splits pool_size off a database_url: the URL libpq gets and the pool's size. Errors name the
// field.
struct PgUrl {
  std::string url;
  int pool_size = kDefaultPoolSize;
};
Expected<PgUrl> parse_store_url(const std::string& url);

class PgOps final : public Tx {
 public:
  // `window_cache`: the store's last-24h counts cache, shared by its connections.
  PgOps(Conn& conn, WindowCountsCache& window_cache) : c_(conn), window_cache_(window_cache) {}

  // Runs `fn` in its own BEGIN ... COMMIT, or inside the transaction already open on the
  // connection.
  Status atomic(const std::function<Status()>& fn);

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
  // A prepared statement by name (pg_conn.hpp: one SQL text per name).
  Expected<Result> q(const char* name, const char* sql, const Params& p = Params());
  // A write whose only interesting outcome is ok or not; unique_violation comes back as
  // "constraint", SQLite's code for it.
  Status run(const char* name, const char* sql, const Params& p = Params());
  Expected<std::optional<Agent>> agent_where(const char* name, const char* sql,
                                             const std::string& value);
  // NOTIFY kTargetsChannel, delivered when the open transaction commits.
  Status notify_targets();

  Conn& c_;
  WindowCountsCache& window_cache_;
};

class PgStore final : public Store {
 public:
  // Opens the pool, runs the migrations under their advisory lock.
  static Expected<std::unique_ptr<Store>> open(const std::string& url);
  int schema_version() override { return schema_version_; }
  // A PgArtifactStore (pg_artifacts.hpp) on this store's pool.
  Expected<std::unique_ptr<artifacts::ArtifactStore>> database_artifacts() override;
  Status watch_targets(std::function<void()> fn) override;

 protected:
  Status run_transaction(const std::function<Status(Tx&)>& fn) override;
  Status run_autocommit(const std::function<Status(StoreOps&)>& fn) override;

 private:
  PgStore(std::shared_ptr<Pool> pool, std::string url, int schema_version)
      : pool_(std::move(pool)), url_(std::move(url)), schema_version_(schema_version) {}
  std::shared_ptr<Pool> pool_;  // shared with the artifact store
  const std::string url_;       // libpq's, for the listener's connection

  const int schema_version_;
  WindowCountsCache window_cache_;      // release_counts(since) outside transactions
  std::mutex watch_mu_;                 // serialises watch_targets
  std::unique_ptr<Listener> listener_;  // guarded by watch_mu_; null while nobody watches
};

}  // namespace rollout::server::pg
