#include "agent/long_poll.hpp"

#include <algorithm>
#include <string_view>

#include "common/log.hpp"
#include "common/protocol.hpp"

namespace rollout::agent {

namespace {

const log::Logger& logger() {
  static const log::Logger l("long_poll");
  return l;
}

// What a failed held check-in says about the path: a proxy or load balancer with a shorter idle
// timeout than the hold answers 504 (or 502, 408) or cuts the connection; a middlebox that
// drops idle connections shows as a timeout. Anything else (a refusal, an unreadable answer, a
// busy server's 503) is not about holding and only backs off as usual.
std::optional<std::string> cut_by_the_path(const Expected<net::JsonResult>& r) {
  if (!r) {
    const auto& code = r.error().code;
    if (code == "timeout" || code == "network") return code + ": " + r.error().message;
    return std::nullopt;
  }
  if (r->status == 502 || r->status == 504 || r->status == 408) {
    return "HTTP " + std::to_string(r->status);
  }
  return std::nullopt;
}

}  // namespace

std::optional<std::chrono::seconds> LongPoll::granted(const net::JsonResult& answer) {
  for (const auto& [name, value] : answer.headers) {
    if (name != "preference-applied") continue;
    if (auto w = protocol::parse_wait_preference(value)) return std::chrono::seconds(*w);
  }
  return std::nullopt;
}

std::pair<std::string, std::string> LongPoll::prefer(std::chrono::seconds wait) {
  return {"Prefer", "wait=" + std::to_string(wait.count())};
}

std::optional<std::chrono::seconds> LongPoll::ask(Steady now, bool at_rest) {
  if (wait_.count() <= 0 || !at_rest) return std::nullopt;
  if (fallback_until_) {
    if (now < *fallback_until_) return std::nullopt;
    fallback_until_.reset();
    logger().info("asking the server to hold check-ins again",
                  {{"wait_s", std::to_string(wait_.count())}});
  }
  return wait_;
}

bool LongPoll::answered(const net::JsonResult& answer, Steady sent, Steady now) {
  if (!granted(answer)) {
    quick_answers_ = 0;  // not held (an old server, or one at its cap): poll at the interval
    return false;
  }
  fallback_ = std::chrono::minutes(0);
  if (now - sent >= kQuick) {
    quick_answers_ = 0;
    return true;
  }
  return ++quick_answers_ < kQuickAnswers;
}

bool LongPoll::failed(const Expected<net::JsonResult>& result, Steady now) {
  quick_answers_ = 0;
  const auto why = cut_by_the_path(result);
  if (!why) return false;
  fallback_ = fallback_.count() == 0
                  ? std::chrono::duration_cast<std::chrono::minutes>(kFirstFallback)
                  : std::min<std::chrono::minutes>(fallback_ * 2, kMaxFallback);
  fallback_until_ = now + fallback_;
  logger().warn(
      "a held check-in failed: the way to the server may not keep a request open that long "
      "(a proxy's idle timeout?); checking in without holding for a while",
      {{"error", why->substr(0, 300)},
       {"wait_s", std::to_string(wait_.count())},
       {"for_min", std::to_string(fallback_.count())}});
  return true;
}

}  // namespace rollout::agent
