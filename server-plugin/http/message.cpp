#include "server-plugin/http/message.hpp"

#include <strings.h>
#include <boost/json.hpp>

namespace rollout::http {
namespace {
bool iequals(std::string_view a, std::string_view b) {
  return a.size() == b.size() && ::strncasecmp(a.data(), b.data(), a.size()) == 0;
}

std::optional<std::string_view> find_header(const std::vector<Header>& headers,
                                            std::string_view name) {
  for (const auto& h : headers) {
    if (iequals(h.name, name)) return std::string_view(h.value);
  }
  return std::nullopt;
}
}  // namespace

std::optional<std::string_view> Request::header(std::string_view name) const {
  return find_header(headers, name);
}

std::optional<std::string_view> Response::header(std::string_view name) const {
  return find_header(headers, name);
}

void Response::set_header(std::string name, std::string value) {
  for (auto& h : headers) {
    if (iequals(h.name, name)) {
      h.value = std::move(value);
      return;
    }
  }
  headers.push_back({std::move(name), std::move(value)});
}

Deferred::Deferred(std::chrono::milliseconds limit, Response at_limit,
                   std::function<void()> on_close)
    : limit_(limit), at_limit_(std::move(at_limit)), on_close_(std::move(on_close)) {}

Deferred::~Deferred() {
  const std::lock_guard lock(mu_);
  close_locked();
}

void Deferred::close_locked() {
  finished_ = true;
  if (auto f = std::move(on_close_)) {
    on_close_ = nullptr;
    f();
  }
}

bool Deferred::answer(Response r) {
  std::function<void()> ready;
  {
    const std::lock_guard lock(mu_);
    if (finished_ || answer_) return false;
    answer_ = std::move(r);
    ready = ready_;
  }
  if (ready) ready();
  return true;
}

bool Deferred::open() const {
  const std::lock_guard lock(mu_);
  return !finished_ && !answer_;
}

void Deferred::on_answer(std::function<void()> ready) {
  bool now = false;
  {
    const std::lock_guard lock(mu_);
    ready_ = ready;
    now = answer_.has_value();
  }
  if (now && ready) ready();
}

Response Deferred::finish() {
  const std::lock_guard lock(mu_);
  Response out = answer_ ? std::move(*answer_) : std::move(at_limit_);
  answer_.reset();
  ready_ = nullptr;
  close_locked();
  return out;
}

Response json_response(unsigned status, std::string body) {
  Response r;
  r.status = status;
  r.body = std::move(body);
  r.set_header("Content-Type", "application/json");
  return r;
}

Response error_response(unsigned status, std::string_view code, std::string_view message) {
  boost::json::object o;
  o["error"] = code;
  o["message"] = message;
  return json_response(status, boost::json::serialize(o));
}

}  // namespace rollout::http
