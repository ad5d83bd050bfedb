// Long-poll check-ins (RFC 7240 `wait` preference): the agent asks the server to hold its
// check-in open (`Prefer: wait=N`) and the server answers early when it has something for the
// agent, so a rollback reaches it in seconds rather than a poll interval later. A server that
// holds says so on its answer (`Preference-Applied: wait=M`, M <= N); an answer without it (an
// old server, or one at its cap of held connections) means: not held, poll at the interval.
// Headers, not the body: both sides refuse unknown JSON keys, and old peers ignore a preference.
//
// This decides, on the controller's thread and on its clock, whether a check-in asks to be held
// and what its answer means for the next one:
// - Only at rest: while an update is under way (downloading to probation) check-ins are plain, at
//   the short interval the server gives.
// - After a held answer the next check-in starts at once. A server that answers held check-ins
//   at once, again and again (say a directive this agent will not act on), does not make it
//   check in every second: after kQuickAnswers such answers in a row it polls at the interval.
// - A path that does not hold (a proxy that cuts the held request or answers 502/504/408, a
//   timeout or reset of a held request) makes the agent check in plainly for 30 min (doubling up
//   to 4 h while it keeps failing), logged once per fallback, and then ask again.
// Not thread-safe: the controller's loop owns it.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <utility>

#include "common/http/client.hpp"

namespace rollout::agent {

class LongPoll {
 public:
  using Steady = std::chrono::steady_clock::time_point;
  // The held request's timeout is its wait plus this: the server answers by the wait it granted.
  static constexpr std::chrono::seconds kTimeoutMargin{15};
  static constexpr std::chrono::seconds kQuick{5};  // a held check-in answered sooner: "at once"
  static constexpr int kQuickAnswers = 2;
  static constexpr std::chrono::minutes kFirstFallback{30};
  static constexpr std::chrono::hours kMaxFallback{4};

  // `wait` 0: never ask (plain polling).
  explicit LongPoll(std::chrono::seconds wait) : wait_(wait) {}

  // The hold to ask of a check-in starting at `now`, or nullopt for a plain one.
  std::optional<std::chrono::seconds> ask(Steady now, bool at_rest);
  // Whether the answer to a check-in sent at `sent` that asked to be held lets the next one
  // start at once (it was held and the server is not answering every one at once).
  bool answered(const net::JsonResult& answer, Steady sent, Steady now);
  // A check-in that asked to be held failed: falls back to plain check-ins (true) when the
  // failure looks like a path that cuts held requests.
  bool failed(const Expected<net::JsonResult>& result, Steady now);

  bool falling_back(Steady now) const { return fallback_until_ && now < *fallback_until_; }

  // M of `Preference-Applied: wait=M` on an answer; nullopt when the answer was not held.
  static std::optional<std::chrono::seconds> granted(const net::JsonResult& answer);
  // The request header that asks for a hold of `wait`.
  static std::pair<std::string, std::string> prefer(std::chrono::seconds wait);

 private:
  std::chrono::seconds wait_;
  std::optional<Steady> fallback_until_;
  std::chrono::minutes fallback_{0};  // the last fallback's length; 0 once a hold worked
  int quick_answers_ = 0;
};

}  // namespace rollout::agent
