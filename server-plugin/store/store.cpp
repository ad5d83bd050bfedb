// What every backend shares: the transaction guard, the autocommit forwarding of each call, and
// the conflict retry.
#include <algorithm>
#include <exception>
#include <type_traits>

#include "server-plugin/store.hpp"

#include "server-plugin/artifacts/artifact_store.hpp"

namespace rollout::server {

namespace {

// The Stores whose transaction body this thread is running (innermost last). A body that calls
// its Store instead of its Tx would, on SQLite, join the transaction through the connection's
// recursive lock and, on a pool, deadlock against its own row locks: both are refused here.
thread_local std::vector<const Store*> t_in_body;

Error inside_transaction() {
  return make_error("internal", "store call inside a transaction: use the Tx");
}

}  // namespace

Expected<std::unique_ptr<artifacts::ArtifactStore>> Store::database_artifacts() {
  return make_error("invalid_config",
                    "artifact_store: database needs a postgresql:// database_url; this database "
                    "keeps artifacts in data_dir/artifacts (artifact_store: local)");
}

Status Store::watch_targets(std::function<void()>) {
  return {};
}

bool Store::in_own_transaction() const {
  return std::find(t_in_body.begin(), t_in_body.end(), this) != t_in_body.end();
}

Status Store::transaction(const std::function<Status(Tx&)>& fn) {
  if (in_own_transaction()) {
    return make_error("internal",
                      "transaction inside a transaction: use the Tx the outer one was given");
  }
  t_in_body.push_back(this);
  struct Pop {
    ~Pop() { t_in_body.pop_back(); }
  } pop;
  return run_transaction([&](Tx& tx) -> Status {
    try {
      return fn(tx);
    } catch (const std::exception& e) {
      return make_error("internal", std::string("transaction body threw: ") + e.what());
    } catch (...) {
      return make_error("internal", "transaction body threw");
    }
  });
}

template <class F>
auto Store::autocommit(F&& f) {
  using R = std::invoke_result_t<F, StoreOps&>;
  if (in_own_transaction()) return R(inside_transaction());
  std::optional<R> out;
  const Status st = run_autocommit([&](StoreOps& c) -> Status {
    out.emplace(f(c));
    return {};
  });
  if (!st) return R(st.error());
  return std::move(*out);
}

Status with_conflict_retry(int max_attempts, const std::function<Status()>& fn) {
  Status last;
  for (int i = 0; i < std::max(1, max_attempts); ++i) {
    last = fn();
    if (last || last.error().code != kConflict) return last;
  }
  return last;
}

Status Store::insert_release(const Release& r) {
  return autocommit([&](StoreOps& c) { return c.insert_release(r); });
}

Expected<std::vector<Release>> Store::list_releases() {
  return autocommit([&](StoreOps& c) { return c.list_releases(); });
}

Expected<std::optional<Release>> Store::get_release(const ReleaseKey& key) {
  return autocommit([&](StoreOps& c) { return c.get_release(key); });
}

Expected<std::optional<Release>> Store::find_release_by_sha256(const std::string& sha256) {
  return autocommit([&](StoreOps& c) { return c.find_release_by_sha256(sha256); });
}

Status Store::set_promoted(const ReleaseKey& key, std::int64_t at, std::uint64_t seq) {
  return autocommit([&](StoreOps& c) { return c.set_promoted(key, at, seq); });
}

Status Store::set_blocked(const ReleaseKey& key, const std::string& reason) {
  return autocommit([&](StoreOps& c) { return c.set_blocked(key, reason); });
}

Expected<std::uint64_t> Store::next_promotion_seq() {
  return autocommit([&](StoreOps& c) { return c.next_promotion_seq(); });
}

Status Store::insert_agent(const Agent& a) {
  return autocommit([&](StoreOps& c) { return c.insert_agent(a); });
}

Expected<std::optional<Agent>> Store::get_agent(const std::string& id) {
  return autocommit([&](StoreOps& c) { return c.get_agent(id); });
}

Expected<std::optional<Agent>> Store::find_agent_by_token_hash(const std::string& hash) {
  return autocommit([&](StoreOps& c) { return c.find_agent_by_token_hash(hash); });
}

Expected<std::optional<Agent>> Store::find_agent_by_machine_id(const std::string& machine_id) {
  return autocommit([&](StoreOps& c) { return c.find_agent_by_machine_id(machine_id); });
}

Expected<std::vector<Agent>> Store::list_agents() {
  return autocommit([&](StoreOps& c) { return c.list_agents(); });
}

Expected<std::vector<AgentGroup>> Store::agent_population() {
  return autocommit([&](StoreOps& c) { return c.agent_population(); });
}

Status Store::update_agent_checkin(const Agent& a) {
  return autocommit([&](StoreOps& c) { return c.update_agent_checkin(a); });
}

Status Store::set_agent_token(const std::string& id, const std::string& token_hash) {
  return autocommit([&](StoreOps& c) { return c.set_agent_token(id, token_hash); });
}

Expected<std::uint64_t> Store::next_directive_sequence(const std::string& agent_id) {
  return autocommit([&](StoreOps& c) { return c.next_directive_sequence(agent_id); });
}

Status Store::set_agent_directive(const std::string& id, const DirectiveRecord& d) {
  return autocommit([&](StoreOps& c) { return c.set_agent_directive(id, d); });
}

Status Store::add_agent_release(const AgentRelease& r) {
  return autocommit([&](StoreOps& c) { return c.add_agent_release(r); });
}

Expected<std::optional<AgentRelease>> Store::get_agent_release(const std::string& agent_id,
                                                               const ReleaseKey& key) {
  return autocommit([&](StoreOps& c) { return c.get_agent_release(agent_id, key); });
}

Expected<std::vector<AgentRelease>> Store::list_agent_releases(const std::string& agent_id) {
  return autocommit([&](StoreOps& c) { return c.list_agent_releases(agent_id); });
}

Expected<std::vector<std::string>> Store::record_attempts(const std::vector<Attempt>& attempts) {
  return autocommit([&](StoreOps& c) { return c.record_attempts(attempts); });
}

Expected<CountsByRelease> Store::release_counts(std::optional<std::int64_t> since) {
  return autocommit([&](StoreOps& c) { return c.release_counts(since); });
}

Expected<std::vector<FailurePattern>> Store::failure_patterns(const ReleaseKey& key,
                                                              std::int64_t since_24h) {
  return autocommit([&](StoreOps& c) { return c.failure_patterns(key, since_24h); });
}

Expected<std::vector<Attempt>> Store::agent_attempts(const std::string& agent_id,
                                                     std::size_t limit) {
  return autocommit([&](StoreOps& c) { return c.agent_attempts(agent_id, limit); });
}

Expected<std::uint64_t> Store::attempt_count() {
  return autocommit([&](StoreOps& c) { return c.attempt_count(); });
}

Expected<bool> Store::has_attempt(const std::string& id) {
  return autocommit([&](StoreOps& c) { return c.has_attempt(id); });
}

Expected<AttemptWindow> Store::agent_attempt_window(const std::string& agent_id,
                                                    std::int64_t since) {
  return autocommit([&](StoreOps& c) { return c.agent_attempt_window(agent_id, since); });
}

Expected<std::vector<AgentOutcome>> Store::latest_outcomes(const ReleaseKey& key) {
  return autocommit([&](StoreOps& c) { return c.latest_outcomes(key); });
}

Status Store::insert_rollout(const RolloutRecord& r) {
  return autocommit([&](StoreOps& c) { return c.insert_rollout(r); });
}

Expected<std::optional<RolloutRecord>> Store::get_rollout(const ReleaseKey& key,
                                                          const std::string& group) {
  return autocommit([&](StoreOps& c) { return c.get_rollout(key, group); });
}

Expected<std::vector<RolloutRecord>> Store::list_rollouts(const ReleaseKey& key) {
  return autocommit([&](StoreOps& c) { return c.list_rollouts(key); });
}

Expected<std::vector<RolloutRecord>> Store::list_rollout_records() {
  return autocommit([&](StoreOps& c) { return c.list_rollout_records(); });
}

Expected<bool> Store::update_rollout(const RolloutRecord& r, std::uint64_t expected_rev) {
  return autocommit([&](StoreOps& c) { return c.update_rollout(r, expected_rev); });
}

Expected<std::int64_t> Store::append_event(const Event& e) {
  return autocommit([&](StoreOps& c) { return c.append_event(e); });
}

Expected<std::vector<Event>> Store::list_events(std::int64_t before_id, std::size_t limit,
                                                const std::optional<ReleaseKey>& key) {
  return autocommit([&](StoreOps& c) { return c.list_events(before_id, limit, key); });
}

Expected<std::vector<Event>> Store::events_after(std::int64_t after_id, std::size_t limit) {
  return autocommit([&](StoreOps& c) { return c.events_after(after_id, limit); });
}

Status Store::insert_webhook(const Webhook& w) {
  return autocommit([&](StoreOps& c) { return c.insert_webhook(w); });
}

Status Store::sync_config_webhooks(const std::vector<Webhook>& hooks) {
  return autocommit([&](StoreOps& c) { return c.sync_config_webhooks(hooks); });
}

Expected<std::vector<Webhook>> Store::list_webhooks() {
  return autocommit([&](StoreOps& c) { return c.list_webhooks(); });
}

Expected<std::optional<Webhook>> Store::get_webhook(const std::string& id) {
  return autocommit([&](StoreOps& c) { return c.get_webhook(id); });
}

Expected<bool> Store::delete_webhook(const std::string& id) {
  return autocommit([&](StoreOps& c) { return c.delete_webhook(id); });
}

Expected<bool> Store::update_webhook_cursor(const std::string& id, std::int64_t expected_cursor,
                                            std::int64_t cursor, std::uint32_t attempts,
                                            std::int64_t next_attempt_at) {
  return autocommit([&](StoreOps& c) {
    return c.update_webhook_cursor(id, expected_cursor, cursor, attempts, next_attempt_at);
  });
}

Status Store::add_webhook_delivery(const WebhookDelivery& d, std::size_t keep) {
  return autocommit([&](StoreOps& c) { return c.add_webhook_delivery(d, keep); });
}

Expected<std::vector<WebhookDelivery>> Store::list_webhook_deliveries(const std::string& id,
                                                                      std::size_t limit) {
  return autocommit([&](StoreOps& c) { return c.list_webhook_deliveries(id, limit); });
}

Expected<bool> Store::take_lease(const std::string& name, const std::string& holder,
                                 std::int64_t now, std::int64_t expires_at) {
  return autocommit([&](StoreOps& c) { return c.take_lease(name, holder, now, expires_at); });
}

Expected<std::optional<std::string>> Store::get_watch(const std::string& subject) {
  return autocommit([&](StoreOps& c) { return c.get_watch(subject); });
}

Expected<bool> Store::swap_watch(const std::string& subject,
                                 const std::optional<std::string>& expected,
                                 const std::string& value) {
  return autocommit([&](StoreOps& c) { return c.swap_watch(subject, expected, value); });
}

Status Store::insert_user(const User& u) {
  return autocommit([&](StoreOps& c) { return c.insert_user(u); });
}

Expected<std::optional<User>> Store::get_user(const std::string& username) {
  return autocommit([&](StoreOps& c) { return c.get_user(username); });
}

Expected<std::size_t> Store::user_count() {
  return autocommit([&](StoreOps& c) { return c.user_count(); });
}

Status Store::insert_session(const Session& s) {
  return autocommit([&](StoreOps& c) { return c.insert_session(s); });
}

Expected<std::optional<Session>> Store::get_session(const std::string& token_hash) {
  return autocommit([&](StoreOps& c) { return c.get_session(token_hash); });
}

Status Store::delete_session(const std::string& token_hash) {
  return autocommit([&](StoreOps& c) { return c.delete_session(token_hash); });
}

Status Store::insert_api_token(const ApiToken& t) {
  return autocommit([&](StoreOps& c) { return c.insert_api_token(t); });
}

Expected<std::optional<ApiToken>> Store::get_api_token(const std::string& token_hash) {
  return autocommit([&](StoreOps& c) { return c.get_api_token(token_hash); });
}

Expected<RateDecision> Store::take_rate_token(const std::string& key, std::int64_t now,
                                              std::uint32_t capacity, double refill_per_second) {
  return autocommit(
      [&](StoreOps& c) { return c.take_rate_token(key, now, capacity, refill_per_second); });
}

Status Store::return_rate_token(const std::string& key, double refill_per_second) {
  return autocommit([&](StoreOps& c) { return c.return_rate_token(key, refill_per_second); });
}

Status Store::put_policy(const Policy& p) {
  return autocommit([&](StoreOps& c) { return c.put_policy(p); });
}

Expected<std::vector<Policy>> Store::list_policies() {
  return autocommit([&](StoreOps& c) { return c.list_policies(); });
}

Status Store::append_log(const LogEntry& e) {
  return autocommit([&](StoreOps& c) { return c.append_log(e); });
}

Status Store::trim_logs(std::uint64_t keep) {
  return autocommit([&](StoreOps& c) { return c.trim_logs(keep); });
}

Expected<std::vector<LogEntry>> Store::query_logs(const std::string& q,
                                                  const std::string& min_level, std::size_t limit) {
  return autocommit([&](StoreOps& c) { return c.query_logs(q, min_level, limit); });
}

}  // namespace rollout::server
