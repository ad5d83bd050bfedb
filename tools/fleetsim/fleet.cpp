#include "tools/fleetsim/fleet.hpp"

#include <boost/asio/post.hpp>
#include <boost/json/serialize.hpp>
#include <optional>

#include "common/protocol.hpp"
#include "common/release.hpp"
#include "common/time.hpp"

namespace rollout::fleetsim {

namespace asio = boost::asio;
using std::chrono::milliseconds;

namespace {

double unix_now() {
  return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
}

// What a failed HTTP exchange is counted as: the transport's reason or the HTTP status.
std::string failure_reason(const HttpAnswer& a) {
  if (!a.failure.empty()) return a.failure;
  return "http_" + std::to_string(a.status);
}

}  // namespace

struct Shard::Agent {
  explicit Agent(asio::io_context& io) : timer(io), apply_timer(io) {}
  std::uint32_t index = 0;
  protocol::EnrollRequest enrollment;
  std::string agent_id, token;
  std::string current_version;
  std::uint64_t last_sequence = 0;
  std::optional<std::string> pending_version;  // while pretending to apply
  std::optional<milliseconds> server_interval;
  bool answered_once = false;
  bool in_flight = false;     // a check-in is on its way: never two at once for one agent
  bool checkin_soon = false;  // check in again as soon as the one in flight is answered
  asio::steady_timer timer, apply_timer;
  // "action version sequence" -> first receipt (Unix seconds)
  std::map<std::string, double> receipts;
  std::map<std::string, std::pair<std::string, std::string>> receipt_keys;
};

void Stats::merge(Stats&& o) {
  auto add = [](auto& into, const auto& from) {
    for (const auto& [k, v] : from) into[k] += v;
  };
  enroll_sent += o.enroll_sent;
  enroll_failed += o.enroll_failed;
  add(enroll_failures, o.enroll_failures);
  checkins_sent += o.checkins_sent;
  checkins_answered += o.checkins_answered;
  checkins_failed += o.checkins_failed;
  checkins_held += o.checkins_held;
  add(checkin_failures, o.checkin_failures);
  latency_us.insert(latency_us.end(), o.latency_us.begin(), o.latency_us.end());
  latency_after_ready_us.insert(latency_after_ready_us.end(), o.latency_after_ready_us.begin(),
                                o.latency_after_ready_us.end());
  directives_verified += o.directives_verified;
  add(verification_failures, o.verification_failures);
  add(outcomes, o.outcomes);
  reports_sent += o.reports_sent;
  reports_acknowledged += o.reports_acknowledged;
  reports_failed += o.reports_failed;
  add(report_failures, o.report_failures);
  for (auto& [k, v] : o.first_receipts) {
    auto& into = first_receipts[k];
    into.insert(into.end(), v.begin(), v.end());
  }
}

Shard::Shard(const Options& options, Shared& shared, const KeyRing& directive_keys,
             const KeyRing& release_keys, asio::ssl::context* ssl,
             asio::ip::tcp::resolver::results_type endpoints, std::uint32_t first_index,
             std::uint32_t stride, std::size_t connections, std::string run_id)
    : options_(options),
      shared_(shared),
      directive_keys_(directive_keys),
      release_keys_(release_keys),
      rng_(std::random_device{}()) {
  PoolConfig pc{options.host, options.port, options.tls, connections, options.request_timeout};
  pool_ = std::make_unique<Pool>(io_, ssl, pc, std::move(endpoints));
  for (std::uint32_t i = first_index; i < options.agents; i += stride) {
    auto a = std::make_unique<Agent>(io_);
    a->index = i;
    auto& e = a->enrollment;
    e.enrollment_key = options.enrollment_key;
    const std::string n = std::to_string(i + 1);
    e.hostname = options.name_prefix + "-" + run_id.substr(0, 8) + "-" + n;
    e.machine_id = run_id + "-" + n;  // distinct per agent and per run
    e.os = options.os;
    e.arch = options.arch;
    e.current_version = options.version;
    if (options.clients > 0) e.client = "client-" + std::to_string(i % options.clients + 1);
    if (options.sites > 0) e.site = "site-" + std::to_string(i % options.sites + 1);
    // Spread evenly: agent i is beta when the running share crosses a whole agent.
    const auto beta_before = static_cast<std::uint64_t>(i) * options.beta_percent / 100;
    const auto beta_after = static_cast<std::uint64_t>(i + 1) * options.beta_percent / 100;
    e.channel_hint = beta_after > beta_before ? "beta" : "stable";
    a->current_version = options.version;
    agents_.push_back(std::move(a));
  }
}

Shard::~Shard() = default;

void Shard::run() {
  for (auto& a : agents_) enroll(*a);
  io_.run();
}

void Shard::stop() {
  asio::post(io_, [this] {
    stopping_ = true;
    for (auto& a : agents_) {
      a->timer.cancel();
      a->apply_timer.cancel();
    }
    pool_->close();
    io_.stop();
  });
}

milliseconds Shard::jitter(milliseconds base) {
  const auto spread = base.count() / 5;  // ±20 %, as the agent's Controller::jitter
  if (spread <= 0) return base;
  std::uniform_int_distribution<std::int64_t> d(-spread, spread);
  return milliseconds(base.count() + d(rng_));
}

milliseconds Shard::interval(const Agent& a) const {
  if (options_.interval) return *options_.interval;
  return a.server_interval.value_or(milliseconds(60000));
}

void Shard::enroll(Agent& a) {
  ++stats_.enroll_sent;
  pool_->submit({"/api/agent/v1/enroll", a.enrollment.to_json(), "", "", milliseconds(0)},
                [this, &a](HttpAnswer ans) {
                  if (stopping_) return;
                  std::optional<protocol::EnrollResponse> r;
                  std::string reason;
                  if (!ans.failure.empty() || ans.status != 200) {
                    reason = failure_reason(ans);
                  } else if (auto parsed = protocol::EnrollResponse::parse(ans.body); !parsed) {
                    reason = "bad_answer";
                  } else {
                    r = std::move(parsed).value();
                  }
                  if (!r) {
                    ++stats_.enroll_failed;
                    ++stats_.enroll_failures[reason];
                    a.timer.expires_after(jitter(milliseconds(2000)));
                    a.timer.async_wait([this, &a](boost::system::error_code ec) {
                      if (!ec && !stopping_) enroll(a);
                    });
                    return;
                  }
                  a.agent_id = r->agent_id;
                  a.token = r->token;
                  shared_.enrolled.fetch_add(1);
                  checkin(a);  // the agent checks in right after enrolling
                });
}

void Shard::schedule_checkin(Agent& a, milliseconds after) {
  a.timer.expires_after(after);
  a.timer.async_wait([this, &a](boost::system::error_code ec) {
    if (!ec && !stopping_) checkin(a);
  });
}

void Shard::checkin(Agent& a) {
  protocol::CheckinRequest c;
  c.agent_id = a.agent_id;
  c.current_version = a.current_version;
  c.os = options_.os;
  c.arch = options_.arch;
  c.state = a.pending_version ? "downloading" : "idle";
  c.pending_version = a.pending_version;
  c.last_sequence = a.last_sequence;
  ++stats_.checkins_sent;
  a.in_flight = true;
  HttpRequest req{"/api/agent/v1/checkin", c.to_json(), a.token, "", milliseconds(0)};
  // The first check-in is a plain one (the agent is ready once it is answered); then held ones.
  if (options_.long_poll_s > 0 && a.answered_once) {
    req.prefer = "wait=" + std::to_string(options_.long_poll_s);
    req.timeout = std::chrono::seconds(options_.long_poll_s) + options_.request_timeout;
  }
  pool_->submit(std::move(req),
                [this, &a](HttpAnswer ans) { checkin_answered(a, std::move(ans)); });
}

void Shard::checkin_answered(Agent& a, HttpAnswer ans) {
  if (stopping_) return;
  a.in_flight = false;
  std::optional<protocol::CheckinResponse> r;
  std::string reason;
  if (!ans.failure.empty() || ans.status != 200) {
    reason = failure_reason(ans);
  } else if (auto parsed = protocol::CheckinResponse::parse(ans.body); !parsed) {
    reason = "bad_answer";
  } else {
    r = std::move(parsed).value();
  }
  if (!r) {
    ++stats_.checkins_failed;
    ++stats_.checkin_failures[reason];
    schedule_checkin(a, jitter(interval(a)));
    return;
  }
  ++stats_.checkins_answered;
  const bool held = !ans.preference_applied.empty();
  if (held) ++stats_.checkins_held;
  const auto us = static_cast<std::uint32_t>(std::min<std::int64_t>(
      std::chrono::duration_cast<std::chrono::microseconds>(ans.latency).count(), UINT32_MAX));
  stats_.latency_us.push_back(us);
  if (shared_.all_ready.load(std::memory_order_relaxed))
    stats_.latency_after_ready_us.push_back(us);
  a.server_interval = std::clamp<milliseconds>(std::chrono::seconds(r->poll_interval_s),
                                               milliseconds(500), std::chrono::hours(24));
  if (r->directive) handle_directive(a, *r->directive);
  if (a.checkin_soon) {
    a.checkin_soon = false;
    if (!a.answered_once) {
      a.answered_once = true;
      shared_.ready.fetch_add(1);
    }
    schedule_checkin(a, milliseconds(0));
    return;
  }
  if (held && !r->directive && a.answered_once) {
    schedule_checkin(a, milliseconds(0));  // long-poll: the next held check-in at once
    return;
  }
  if (!a.answered_once) {
    a.answered_once = true;
    shared_.ready.fetch_add(1);
    if (options_.long_poll_s > 0) {
      schedule_checkin(a, milliseconds(0));  // from now on held
      return;
    }
    // All agents enrolled within moments of each other; a real fleet's check-ins are spread over
    // the interval, so the second one lands anywhere in it and the jitter applies from then on.
    std::uniform_int_distribution<std::int64_t> d(0,
                                                  std::max<std::int64_t>(interval(a).count(), 1));
    schedule_checkin(a, milliseconds(d(rng_)));
    return;
  }
  schedule_checkin(a, jitter(interval(a)));
}

void Shard::handle_directive(Agent& a, const boost::json::object& envelope) {
  auto v = verify_directive(boost::json::serialize(envelope), directive_keys_, release_keys_);
  if (!v) {
    ++stats_.verification_failures[v.error().code];
    return;
  }
  const auto& d = v->directive;
  if (d.agent_id != a.agent_id) {
    ++stats_.verification_failures["other_agent"];
    return;
  }
  ++stats_.directives_verified;
  if (d.action == DirectiveAction::none || !v->release) return;
  const std::string action(to_string(d.action));
  const std::string version = v->release->manifest.version.str();
  const std::string key = action + " " + version + " " + std::to_string(d.sequence);
  if (a.receipts.emplace(key, unix_now()).second) a.receipt_keys[key] = {action, version};
  if (a.pending_version || d.sequence <= a.last_sequence) return;
  a.pending_version = version;
  a.apply_timer.expires_after(options_.apply_delay);
  a.apply_timer.async_wait(
      [this, &a, action, version, seq = d.sequence](boost::system::error_code ec) {
        if (!ec && !stopping_) apply(a, action, version, seq);
      });
}

void Shard::apply(Agent& a, std::string action, std::string version, std::uint64_t sequence) {
  const auto& mix = options_.outcomes;
  std::uniform_int_distribution<std::uint32_t> d(0, mix.success + mix.failure + mix.crash - 1);
  const auto draw = d(rng_);
  const std::string outcome = draw < mix.success                 ? "success"
                              : draw < mix.success + mix.failure ? "failure"
                                                                 : "crash";
  protocol::Report r;
  r.id = protocol::new_uuid();
  r.agent_id = a.agent_id;
  r.version = version;
  r.from_version = a.current_version;
  r.os = options_.os;
  r.arch = options_.arch;
  r.outcome = outcome;
  r.directive_sequence = sequence;
  r.occurred_at = format_rfc3339(std::chrono::system_clock::now());
  if (outcome == "failure") {
    r.stage = "download";
    r.error_code = "simulated_failure";
    r.message = "rollout-fleetsim: simulated " + action + " failure";
  } else if (outcome == "crash") {
    r.signal = 11;
    r.stderr_tail = "rollout-fleetsim: simulated crash";
  } else {
    a.current_version = version;  // installed; a failure or crash leaves the old one running
  }
  a.last_sequence = sequence;
  a.pending_version.reset();
  ++stats_.outcomes[outcome];
  ++stats_.reports_sent;
  pool_->submit(
      {"/api/agent/v1/reports", protocol::ReportBatch{{r}}.to_json(), a.token, "", milliseconds(0)},
      [this](HttpAnswer ans) {
        if (stopping_) return;
        if (ans.failure.empty() && ans.status == 200 && protocol::ReportAck::parse(ans.body)) {
          ++stats_.reports_acknowledged;
          return;
        }
        ++stats_.reports_failed;
        ++stats_.report_failures[ans.failure.empty() && ans.status == 200 ? "bad_answer"
                                                                          : failure_reason(ans)];
      });
  // The agent checks in soon after an update so the server sees the new version.
  if (a.in_flight) {
    a.checkin_soon = true;
  } else {
    schedule_checkin(a, milliseconds(0));
  }
}

Stats Shard::take_stats() {
  for (auto& a : agents_) {
    std::map<std::pair<std::string, std::string>, double> first;
    for (const auto& [key, t] : a->receipts) {
      const auto& av = a->receipt_keys[key];
      auto it = first.find(av);
      if (it == first.end() || t < it->second) first[av] = t;
    }
    for (const auto& [av, t] : first) stats_.first_receipts[av].push_back(t);
  }
  return std::move(stats_);
}

}  // namespace rollout::fleetsim
