// The server's records, independent of any database: releases, agents, update attempts, audit
// events, users, sessions, tokens, policies and log entries. Times are Unix seconds (server
// clock) unless named otherwise. Plain values.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <tuple>
#include <vector>

#include "server-plugin/health.hpp"

namespace rollout::server {

struct ReleaseKey {
  std::string version;
  std::string os;
  std::string arch;
  friend auto operator<=>(const ReleaseKey&, const ReleaseKey&) = default;
};

struct Release {
  ReleaseKey key;
  std::string product;
  std::uint64_t size = 0;
  std::string sha256;
  std::uint64_t security_version = 0;
  std::string manifest;  // the signed envelope JSON, as published
  std::int64_t created_at = 0;
  std::string published_by;
  // Promotion: set when promoted to stable; the highest promotion_seq among non-blocked releases
  // of an (os, arch) is the stable target.
  std::optional<std::int64_t> promoted_at;
  std::uint64_t promotion_seq = 0;
  bool blocked = false;
  std::string blocked_reason;
};

struct DirectiveRecord {
  std::string version;  // target version
  std::string action;   // install | downgrade
  std::uint64_t sequence = 0;
  std::int64_t expires_at = 0;
  std::string envelope;  // signed directive JSON, re-sent until it expires
};

struct Agent {
  std::string id;
  std::string token_hash;
  std::string hostname;
  std::string machine_id;
  std::string os;
  std::string arch;
  std::string current_version;
  std::string client;
  std::string site;
  std::string channel_hint;
  std::string state = "idle";
  std::uint64_t security_floor = 0;
  std::uint64_t last_sequence = 0;  // the highest directive sequence issued to it
  std::int64_t enrolled_at = 0;
  std::int64_t last_checkin_at = 0;
  std::optional<DirectiveRecord> directive;  // the last one issued
};

struct Attempt {
  std::string id;  // report UUID
  std::string agent_id;
  ReleaseKey release;
  std::string from_version;
  std::string outcome;
  std::string stage;
  std::string error_code;
  std::string message;
  std::optional<std::int64_t> exit_code;
  std::optional<std::int64_t> signal;
  std::string stderr_tail;
  std::string occurred_at;  // RFC 3339, agent clock
  std::int64_t received_at = 0;
};

// A release an agent may report on: one the server directed it to (an install or downgrade
// directive it signed) or one the agent said it was running at check-in while that version was a
// published release of the agent's own os/arch. Kept for good: a later rollback or block of the
// release does not take it away, so reports about a release that went bad still count.
struct AgentRelease {
  std::string agent_id;
  ReleaseKey release;
  std::string how;  // install | downgrade | running: how the agent first came to it
  std::int64_t first_at = 0;
};

// The attempts one agent added in a window: how many, and when the oldest of them arrived.
struct AttemptWindow {
  std::uint64_t count = 0;
  std::int64_t oldest_received_at = 0;  // 0 when count is 0
};

struct FailurePattern {
  std::string outcome;  // failure | crash
  std::string stage;
  std::string error_code;
  std::uint64_t count = 0;
  std::uint64_t count_24h = 0;
  std::int64_t first_seen = 0;
  std::int64_t last_seen = 0;
  std::string sample_message;
  std::string sample_stderr;
};

struct Event {
  std::int64_t id = 0;
  std::int64_t at = 0;
  std::string user;
  // publish | promote | rollback | policy_update | user_add | token_create | webhook_add |
  // webhook_delete | release_critical | release_blocked | stable_behind_beta (the last three by
  // the webhook detector, actor "system")
  std::string action;
  std::string version;
  std::string os;
  std::string arch;
  std::string reason;
  bool force = false;
  std::string health_json;  // snapshot at that moment
  std::string detail_json;
};

struct User {
  std::string username;
  std::string password_hash;
  std::string role;  // viewer | operator | admin
};

struct Session {
  std::string token_hash;
  std::string username;
  std::string csrf_token;
  std::int64_t expires_at = 0;
};

struct ApiToken {
  std::string token_hash;
  std::string username;
  std::string name;
  std::int64_t created_at = 0;
};

struct Policy {
  std::string scope;     // default | client | site | agent
  std::string scope_id;  // empty for default
  std::optional<std::string> channel;
  std::optional<std::string> window_start;  // "HH:MM" UTC
  std::optional<std::string> window_end;
  // How a stable rollout in waves reaches these agents: "waves" (their hash decides their wave)
  // or "all_at_once" (let in with wave 1: a lab site, a client that wants fixes at once).
  std::optional<std::string> rollout;
  // The policy's own wave plan for its agents (steps, soak, on_critical, ...), as the canonical
  // JSON of app/policy_plan.hpp; none means inherited. A policy with one makes its agents a
  // rollout group of their own (README "Per-policy plans").
  std::optional<std::string> waves;
};

struct LogEntry {
  std::int64_t id = 0;
  std::int64_t at = 0;
  std::string level;
  std::string component;
  std::string message;
  std::string fields_json;
};

// A webhook subscription (issue #13) and its place in the audit trail: `cursor` is the id of the
// last event delivered or given up, `attempts` the failed tries of the next wanted event, due
// again at `next_attempt_at`. A config webhook (source "config") keeps its secret in the config,
// so `secret` is empty in the store.
struct Webhook {
  std::string id;
  std::string url;
  std::string secret;
  std::vector<std::string> events;
  std::string source;  // config | api
  std::string created_by;
  std::int64_t created_at = 0;
  std::int64_t cursor = 0;
  std::uint32_t attempts = 0;
  std::int64_t next_attempt_at = 0;
};

// One delivery attempt, as the admins' delivery log shows it.
struct WebhookDelivery {
  std::int64_t id = 0;
  std::string webhook_id;
  std::int64_t event_id = 0;
  std::string event_type;
  std::uint32_t attempt = 0;  // 1-based
  std::int64_t status = 0;    // HTTP status, 0 when no answer came
  std::string outcome;        // delivered | failed | gave_up
  std::string error;
  std::int64_t at = 0;
  std::int64_t duration_ms = 0;
};

using CountsByRelease = std::map<ReleaseKey, Counts>;

// A stable release's rollout in waves (issue #13), as stored: the plan and thresholds fixed when
// the promotion started it, the gate's memory, the state and a revision number. Every change is a
// conditional update on `rev` (Store::update_rollout), so with several servers on one database a
// decision is taken once. The plan, thresholds and memory are JSON the waves code reads and
// writes (server-plugin/app/wave_rollouts.cpp); the store keeps them as text.
struct RolloutRecord {
  ReleaseKey key;
  // The rollout group (README "Per-policy plans"): "default" (the server's plan) or the
  // policies whose plan its agents follow, nearest first ("site:lab", "site:lab,client:acme").
  std::string group = "default";
  std::string previous_version;  // the stable target before, for agents not yet let in
  std::string plan_json;
  std::string thresholds_json;
  std::string memory_json;
  std::string state = "rolling_out";  // rolling_out | paused | complete | rolled_back
  std::string rule;                   // the gate rule (or "manual") behind the state
  std::string reason;                 // why: the gate's message or the user's reason
  std::uint64_t rev = 1;
  std::int64_t started_at = 0;
  std::int64_t updated_at = 0;
};

// An agent's latest final outcome for one release.
struct AgentOutcome {
  std::string agent_id;
  std::string outcome;  // success | failure | crash
};

// Agents that run one version and share what decides their channel: client, site, enrollment
// hint, and their own id only when an agent-scoped policy names them (empty otherwise).
struct AgentGroup {
  std::string version;
  std::string os;
  std::string arch;
  std::string client;
  std::string site;
  std::string channel_hint;
  std::string agent_id;
  std::uint64_t count = 0;
};

// A rate limit's answer: allowed, or how many seconds until the next token (at least 1).
struct RateDecision {
  bool allowed = true;
  std::int64_t retry_after = 0;
};

}  // namespace rollout::server
