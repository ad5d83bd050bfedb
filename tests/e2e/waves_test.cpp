// Stable rollouts in waves with real processes (issue #13): rollout-server with a compressed
// schedule (seconds), real rollout-agent processes updating real rollout-demo-agent builds. A
// release that crashes is let in to wave 1 only and rolled back by the server itself; a healthy
// one advances through every wave and completes. Asserts each agent's final version, who was
// ever sent the release, and the audit trail; a webhook receiver on loopback gets the signed
// events of each rollout in the order they happened.
#include <signal.h>

#include <algorithm>
#include <ctime>
#include <map>
#include <set>

#include "server-plugin/webhooks.hpp"
#include "tests/agent/fleet_fixture.hpp"
#include "tests/testing/webhook_receiver.hpp"

namespace rollout::agent::test {
namespace {

constexpr const char* kHookSecret = "waves-e2e-webhook-secret-0123";
// The audit actions a webhook is told of, and the types the test's webhook subscribes to.
const std::map<std::string, std::string> kHookTypes = {
    {"promote", "release.promoted"},          {"rollback", "release.rolled_back"},
    {"rollout_paused", "rollout.paused"},     {"rollout_resumed", "rollout.resumed"},
    {"rollout_advanced", "rollout.advanced"}, {"rollout_completed", "rollout.completed"},
};

std::int64_t wall_now() {
  return static_cast<std::int64_t>(std::time(nullptr));
}

class WavesE2e : public StableFleet {
 protected:
  // The receiver listens before the server starts: its URL is in the server's config.
  void SetUp() override {
    receiver_ = std::make_unique<rollout::testing::WebhookReceiver>(kHookSecret, wall_now);
    StableFleet::SetUp();
  }

  std::string server_extra_config() override {
    return "poll_interval: 1s\n"
           "waves:\n  steps: [20%, 50%, 100%]\n  min_first_wave: 2\n  soak: 3s\n"
           "  hysteresis: 2s\n  evaluate_interval: 1s\n"
           "health:\n  min_attempts: 2\n"
           "webhooks:\n  - url: " +
           receiver_->url() + "\n    secret: " + kHookSecret +
           "\n    events: [release.promoted, release.rolled_back, rollout.paused, "
           "rollout.resumed, rollout.advanced, rollout.completed]\n"
           "webhook_delivery:\n  allow_http: true\n  interval: 1s\n";
  }

  // The bodies the receiver got, waiting (bounded) until one is `type` for `version`.
  std::vector<bj::object> hook_bodies_until(const std::string& type, const std::string& version) {
    const bool got = receiver_->wait_for(
        [&](const std::vector<std::string>& bodies) {
          for (const auto& b : bodies) {
            const bj::value v = bj::parse(b);
            if (v.at("type").as_string() == type &&
                v.at("release").at("version").as_string() == version)
              return true;
          }
          return false;
        },
        std::chrono::seconds(60));
    EXPECT_TRUE(got) << "no " << type << " for " << version;
    std::vector<bj::object> out;
    for (const auto& b : receiver_->bodies()) out.push_back(bj::parse(b).as_object());
    return out;
  }

  // Every request the receiver got verifies with the secret (webhooks::verify_signature), no
  // event came twice and they came in the audit trail's order.
  void expect_signed_once_in_order() {
    const auto received = receiver_->received();
    EXPECT_FALSE(received.empty());
    for (const auto& r : received) {
      EXPECT_TRUE(
          rollout::server::webhooks::verify_signature(r.signature, kHookSecret, r.body, wall_now())
              .ok())
          << r.signature << " " << r.body;
    }
    EXPECT_EQ(receiver_->refused(), 0);
    std::int64_t last = 0;
    for (const auto& b : receiver_->bodies()) {
      const auto id = bj::parse(b).at("audit_id").as_int64();
      EXPECT_GT(id, last) << b;
      last = id;
    }
  }

  // The webhook types of `version` in the order of the audit trail, up to the audit id `upto`.
  std::vector<std::string> audit_types(const std::string& version, std::int64_t upto) {
    std::vector<std::pair<std::int64_t, std::string>> rows;
    const bj::value v = api("/api/updates/events");
    for (const auto& e : v.at("events").as_array()) {
      auto t = kHookTypes.find(std::string(e.at("action").as_string()));
      if (t == kHookTypes.end() || e.at("version").as_string() != version) continue;
      if (e.at("id").as_int64() <= upto) rows.emplace_back(e.at("id").as_int64(), t->second);
    }
    std::sort(rows.begin(), rows.end());
    std::vector<std::string> out;
    for (auto& r : rows) out.push_back(r.second);
    return out;
  }

  static std::vector<std::string> types_of(const std::vector<bj::object>& bodies,
                                           const std::string& version) {
    std::vector<std::string> out;
    for (const auto& b : bodies)
      if (b.at("release").at("version").as_string() == version)
        out.emplace_back(b.at("type").as_string());
    return out;
  }

  std::unique_ptr<rollout::testing::WebhookReceiver> receiver_;

  std::vector<AgentSandbox*> fleet(int n) {
    std::vector<AgentSandbox*> out;
    for (int i = 0; i < n; ++i)
      out.push_back(&sandbox("stable-" + std::to_string(i), "1.0.0", "stable"));
    for (auto* a : out) start(*a);
    return out;
  }

  bool all_on(const std::vector<AgentSandbox*>& agents, const std::string& version) {
    return eventually([&] {
      for (auto* a : agents) {
        if (a->running_version() != version || a->current_link() != "versions/" + version)
          return false;
      }
      return true;
    });
  }

  // Agents whose log shows the server ever sent them `version` (a directive names it).
  std::set<std::string> sent(const std::vector<AgentSandbox*>& agents, const std::string& version) {
    std::set<std::string> out;
    for (auto* a : agents) {
      if (a->log_text().find(version) != std::string::npos) out.insert(a->name);
    }
    return out;
  }

  std::vector<bj::object> events(const std::string& action) {
    std::vector<bj::object> out;
    const bj::value v = api("/api/updates/events");
    for (const auto& e : v.at("events").as_array())
      if (e.at("action").as_string() == action) out.push_back(e.as_object());
    return out;
  }

  std::string waves_state(const std::string& version) {
    auto r = row(version);
    if (r.empty() || !r.at("waves").is_object()) return {};
    return std::string(r.at("waves").at("state").as_string());
  }
};

TEST_F(WavesE2e, ACrashingReleaseReachesOnlyWaveOneAndIsRolledBackByTheServer) {
  auto agents = fleet(6);
  ASSERT_TRUE(all_on(agents, "1.0.0"));
  publish("1.1.0", "crash-at-start");
  promote("1.1.0");
  const auto w = row("1.1.0").at("waves").as_object();
  const auto first = w.at("per_wave").as_array()[0].at("agents").to_number<std::size_t>();
  // 20 % of the bucket space, raised to hold at least min_first_wave (the ids decide the rest).
  EXPECT_GE(first, 2u);
  ASSERT_TRUE(eventually([&] { return waves_state("1.1.0") == "rolled_back"; }))
      << bj::serialize(row("1.1.0"));
  EXPECT_TRUE(row("1.1.0").at("blocked").as_bool());
  EXPECT_TRUE(all_on(agents, "1.0.0")) << "every agent ends on the previous stable";
  // Only wave 1 was ever sent the release, and each of those reported its crash.
  const auto got = sent(agents, "1.1.0");
  EXPECT_EQ(got.size(), first);
  auto crashed = [&](AgentSandbox& a) {
    for (const auto& x : history(a)) {
      if (x.at("version").as_string() == "1.1.0" && x.at("outcome").as_string() == "crash")
        return true;
    }
    return false;
  };
  for (auto* a : agents) {
    if (got.count(a->name)) {
      EXPECT_TRUE(eventually([&] { return crashed(*a); })) << a->name;
    } else {
      EXPECT_TRUE(history(*a).empty()) << a->name;
    }
  }
  const std::string metrics = [&] {
    net::Request r;
    r.url = server_->base_url() + "/metrics";
    r.bearer_token = token_;
    auto answer = http_->send(r);
    return answer.ok() ? answer->body : std::string();
  }();
  EXPECT_NE(metrics.find("rollout_directives_total{action=\"install\"} " + std::to_string(first)),
            std::string::npos)
      << metrics;
  // The audit trail: the admin started it, the system rolled it back with its rule and snapshot.
  ASSERT_EQ(events("rollout_started").size(), 1u);
  EXPECT_EQ(events("rollout_started")[0].at("user").as_string(), "admin");
  auto rb = events("rollback");
  ASSERT_EQ(rb.size(), 1u);
  EXPECT_EQ(rb[0].at("user").as_string(), "system");
  const std::string rule(rb[0].at("detail").at("rule").as_string());
  EXPECT_TRUE(rule == "blocked" || rule == "critical") << rule;
  EXPECT_EQ(rb[0].at("detail").at("fallback_version").as_string(), "1.0.0");
  EXPECT_EQ(rb[0].at("detail").at("wave").as_int64(), 1);
  // The snapshot the gate judged: wave 1's crashes (the hysteresis may fire before the last one).
  const auto crashes = rb[0].at("health").at("crash").to_number<std::size_t>();
  EXPECT_GE(crashes, 1u);
  EXPECT_LE(crashes, first);
  EXPECT_NE(std::string(rb[0].at("reason").as_string()).find("rolled back automatically"),
            std::string::npos);
  EXPECT_TRUE(events("rollout_advanced").empty());
  // The webhook: signed events, each once, in order: promoted, the rollout's events as they
  // happened (the audit trail says which), rolled back by the system with its rule.
  const auto hooks = hook_bodies_until("release.rolled_back", "1.1.0");
  expect_signed_once_in_order();
  const auto got_types = types_of(hooks, "1.1.0");
  ASSERT_FALSE(got_types.empty());
  EXPECT_EQ(got_types.front(), "release.promoted");
  EXPECT_EQ(got_types.back(), "release.rolled_back");
  EXPECT_EQ(got_types, audit_types("1.1.0", rb[0].at("id").as_int64()));
  bj::object rolled;
  for (const auto& b : hooks)
    if (b.at("type").as_string() == "release.rolled_back") rolled = b;
  ASSERT_FALSE(rolled.empty());
  EXPECT_EQ(rolled.at("actor").as_string(), "system");
  EXPECT_EQ(rolled.at("rule").as_string(), rule);
  EXPECT_EQ(rolled.at("wave").as_int64(), 1);
  EXPECT_EQ(rolled.at("audit_id").as_int64(), rb[0].at("id").as_int64());
  EXPECT_EQ(rolled.at("detail").at("fallback_version").as_string(), "1.0.0");
  EXPECT_EQ(rolled.at("health").at("crash").to_number<std::size_t>(), crashes);
}

TEST_F(WavesE2e, AHealthyReleaseAdvancesThroughEveryWaveAndCompletes) {
  auto agents = fleet(6);
  ASSERT_TRUE(all_on(agents, "1.0.0"));
  publish("1.1.0");
  promote("1.1.0");
  ASSERT_TRUE(
      eventually([&] { return waves_state("1.1.0") == "complete"; }, std::chrono::seconds(150)))
      << bj::serialize(row("1.1.0"));
  EXPECT_TRUE(all_on(agents, "1.1.0"));
  const auto w = row("1.1.0").at("waves").as_object();
  EXPECT_EQ(w.at("wave").as_int64(), 3);
  // Each agent reports its success after it runs the version: wait (bounded) for the reports.
  EXPECT_TRUE(eventually([&] { return row("1.1.0").at("stable_agents").as_int64() == 6; }))
      << bj::serialize(row("1.1.0"));
  EXPECT_TRUE(eventually([&] { return count("1.1.0", "success") == 6; }))
      << count("1.1.0", "success");
  auto adv = events("rollout_advanced");
  ASSERT_EQ(adv.size(), 2u);
  for (const auto& e : adv) {
    EXPECT_EQ(e.at("user").as_string(), "system");
    // A wave whose buckets hold no agent beyond the ones before it passes at once.
    const std::string rule(e.at("detail").at("rule").as_string());
    EXPECT_TRUE(rule == "healthy_soaked" || rule == "no_new_agents") << rule;
  }
  auto done = events("rollout_completed");
  ASSERT_EQ(done.size(), 1u);
  EXPECT_EQ(done[0].at("user").as_string(), "system");
  EXPECT_TRUE(events("rollback").empty());
  // The webhook was told each step, signed, in order.
  const auto hooks = hook_bodies_until("rollout.completed", "1.1.0");
  expect_signed_once_in_order();
  EXPECT_EQ(types_of(hooks, "1.1.0"),
            (std::vector<std::string>{"release.promoted", "rollout.advanced", "rollout.advanced",
                                      "rollout.completed"}));
  EXPECT_EQ(types_of(hooks, "1.1.0"), audit_types("1.1.0", done[0].at("id").as_int64()));
}

TEST_F(WavesE2e, RolloutctlPausesResumesAndAdvances) {
  auto agents = fleet(3);
  ASSERT_TRUE(all_on(agents, "1.0.0"));
  publish("1.1.0");
  promote("1.1.0");
  auto p = ctl({"rollout", "pause", "1.1.0", "--os", "linux", "--arch", "x86_64", "--reason",
                "waiting for the vendor"});
  ASSERT_EQ(p.exit_code, 0) << p.err;
  EXPECT_NE(p.out.find("Rollout of 1.1.0: paused, wave 1 of 3"), std::string::npos) << p.out;
  auto again = ctl({"rollout", "pause", "1.1.0", "--os", "linux", "--arch", "x86_64"});
  EXPECT_EQ(again.exit_code, 1);
  EXPECT_NE(again.err.find("HTTP 409"), std::string::npos) << again.err;
  EXPECT_EQ(ctl({"rollout", "all", "1.1.0", "--os", "linux", "--arch", "x86_64"}).exit_code, 2)
      << "all needs a reason";
  EXPECT_EQ(ctl({"rollout", "jump", "1.1.0", "--os", "linux", "--arch", "x86_64"}).exit_code, 2);
  auto nogroup = ctl(
      {"rollout", "resume", "1.1.0", "--os", "linux", "--arch", "x86_64", "--group", "site:mars"});
  EXPECT_EQ(nogroup.exit_code, 1);
  EXPECT_NE(nogroup.err.find("HTTP 404"), std::string::npos) << nogroup.err;
  auto r = ctl(
      {"rollout", "resume", "1.1.0", "--os", "linux", "--arch", "x86_64", "--group", "default"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto all = ctl({"rollout", "all", "1.1.0", "--os", "linux", "--arch", "x86_64", "--reason",
                  "fix needed everywhere"});
  ASSERT_EQ(all.exit_code, 0) << all.err;
  EXPECT_NE(all.out.find("wave 3 of 3"), std::string::npos) << all.out;
  EXPECT_TRUE(all_on(agents, "1.1.0"));
  auto ab = ctl({"rollout", "abort", "1.1.0", "--os", "linux", "--arch", "x86_64", "--reason",
                 "changed our mind"});
  ASSERT_EQ(ab.exit_code, 0) << ab.err;
  EXPECT_NE(ab.out.find("aborted and rolled back"), std::string::npos) << ab.out;
  EXPECT_TRUE(all_on(agents, "1.0.0"));
}

}  // namespace
}  // namespace rollout::agent::test
