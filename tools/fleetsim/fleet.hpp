// The simulated agents of one thread (a Shard): each enrolls once, then checks in on its own
// timer with the agent's ±20 % jitter, verifies any directive with the agent's own
// verify_directive, records when it first received each (action, version, sequence), pretends to
// apply it after --apply-delay and reports an outcome drawn from the mix. All of a shard's state
// lives on its io_context's thread; the only shared values are the atomics in Shared.
// With --long-poll N, every check-in after the first asks to be held (Prefer: wait=N) with a
// request timeout above the hold, and a held answer (Preference-Applied) without a directive is
// followed by the next check-in at once, as the real agent does; an answer that is not held
// falls back to the interval. A held check-in occupies its connection, so such a fleet runs with
// --connections per-agent, as a real one does.
#pragma once

#include <atomic>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/json/object.hpp>
#include <cstdint>
#include <map>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "common/signed_document.hpp"
#include "tools/fleetsim/http_pool.hpp"
#include "tools/fleetsim/options.hpp"

namespace rollout::fleetsim {

// Counts that all shards add to while they run (read by the main thread).
struct Shared {
  std::atomic<std::uint32_t> enrolled{0};
  std::atomic<std::uint32_t> ready{0};  // enrolled and one check-in answered
  // Set by the main thread once every agent is ready: latencies from then on are the steady
  // fleet's, apart from the enrollment burst.
  std::atomic<bool> all_ready{false};
};

struct Stats {
  std::uint64_t enroll_sent = 0, enroll_failed = 0;
  std::map<std::string, std::uint64_t> enroll_failures;
  std::uint64_t checkins_sent = 0, checkins_answered = 0, checkins_failed = 0;
  std::uint64_t checkins_held = 0;  // answered with Preference-Applied (long-poll)
  std::map<std::string, std::uint64_t> checkin_failures;  // by reason
  std::vector<std::uint32_t> latency_us;                  // answered check-ins
  std::vector<std::uint32_t> latency_after_ready_us;      // those answered after all_ready
  std::uint64_t directives_verified = 0;
  std::map<std::string, std::uint64_t> verification_failures;  // by error code
  std::map<std::string, std::uint64_t> outcomes;               // reported outcome -> count
  std::uint64_t reports_sent = 0, reports_acknowledged = 0, reports_failed = 0;
  std::map<std::string, std::uint64_t> report_failures;
  // (action, version) -> for every agent that received it, the first time (Unix seconds).
  std::map<std::pair<std::string, std::string>, std::vector<double>> first_receipts;

  void merge(Stats&& other);
};

class Shard {
 public:
  // `first_index` and `stride` pick this shard's agents out of 0..agents-1.
  Shard(const Options& options, Shared& shared, const KeyRing& directive_keys,
        const KeyRing& release_keys, boost::asio::ssl::context* ssl,
        boost::asio::ip::tcp::resolver::results_type endpoints, std::uint32_t first_index,
        std::uint32_t stride, std::size_t connections, std::string run_id);
  ~Shard();

  void run();   // on this shard's thread, until stop()
  void stop();  // from any thread: closes the connections and ends run()
  // After run() returned: the counts, with each agent's first receipts folded in.
  Stats take_stats();

 private:
  struct Agent;
  void enroll(Agent& a);
  void schedule_checkin(Agent& a, std::chrono::milliseconds after);
  void checkin(Agent& a);
  void checkin_answered(Agent& a, HttpAnswer answer);
  void handle_directive(Agent& a, const boost::json::object& envelope);
  void apply(Agent& a, std::string action, std::string version, std::uint64_t sequence);
  std::chrono::milliseconds jitter(std::chrono::milliseconds base);
  std::chrono::milliseconds interval(const Agent& a) const;

  const Options& options_;
  Shared& shared_;
  const KeyRing& directive_keys_;
  const KeyRing& release_keys_;
  boost::asio::io_context io_;
  std::unique_ptr<Pool> pool_;
  std::vector<std::unique_ptr<Agent>> agents_;
  std::mt19937_64 rng_;
  Stats stats_;
  bool stopping_ = false;
};

}  // namespace rollout::fleetsim
