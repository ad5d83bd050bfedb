#include "agent/long_poll.hpp"

#include <algorithm>
#include <cctype>
#include <string_view>

#include "common/log.hpp"

namespace rollout::agent {

namespace {

const log::Logger& logger() {
  static const log::Logger l("long_poll");
  return l;
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
  return s;
}

bool iequals(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) ==
                  std::tolower(static_cast<unsigned char>(y));
         });
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
    // A list of preferences ("wait=30, respond-async"), each maybe with parameters after ';'.
    std::string_view rest = value;
    while (!rest.empty()) {
      const auto comma = rest.find(',');
      std::string_view item = trim(rest.substr(0, comma));
      rest = comma == std::string_view::npos ? std::string_view() : rest.substr(comma + 1);
      item = trim(item.substr(0, item.find(';')));
      const auto eq = item.find('=');
      if (eq == std::string_view::npos || !iequals(trim(item.substr(0, eq)), "wait")) continue;
      std::string_view digits = trim(item.substr(eq + 1));
      if (digits.size() >= 2 && digits.front() == '"' && digits.back() == '"') {
        digits = digits.substr(1, digits.size() - 2);
      }
      if (digits.empty() || digits.size() > 6 ||
          !std::all_of(digits.begin(), digits.end(),
                       [](char c) { return std::isdigit(static_cast<unsigned char>(c)); })) {
        continue;
      }
      return std::chrono::seconds(std::stol(std::string(digits)));
    }
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
