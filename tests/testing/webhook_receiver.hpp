// A webhook receiver on loopback for the tests (issue #13): the project's HTTP host on a free
// port of 127.0.0.1, answering POST /hook. Every request's X-Rollout-Signature is checked with
// webhooks::verify_signature against the secret; the verified bodies are kept in arrival order,
// the others only counted (every request is kept with its header, to check again) (and answered
// 401, so the server retries them). Header-only: only the test programs that link
// rollout::http_server (server_tests, e2e_tests) include it.
#pragma once

#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "server-plugin/http/server.hpp"
#include "server-plugin/webhooks.hpp"

namespace rollout::testing {

class WebhookReceiver {
 public:
  struct Request {
    std::string signature;  // the X-Rollout-Signature header ("" when missing)
    std::string body;
  };

  // `now` is the clock the signature's timestamp is judged against (the server's clock).
  WebhookReceiver(std::string secret, std::function<std::int64_t()> now)
      : secret_(std::move(secret)), now_(std::move(now)) {
    ::rollout::http::ServerOptions o;
    o.address = "127.0.0.1";
    o.port = 0;
    o.worker_threads = 1;
    server_ =
        std::make_unique<::rollout::http::Server>(o, [this](const ::rollout::http::Request& r) {
          std::lock_guard lock(mu_);
          auto sig = r.header("X-Rollout-Signature");
          received_.push_back({sig ? std::string(*sig) : std::string(), r.body});
          const bool ok = sig &&
                          server::webhooks::verify_signature(*sig, secret_, r.body, now_()).ok() &&
                          r.method == "POST" && r.target == "/hook";
          if (ok)
            bodies_.push_back(r.body);
          else
            ++refused_;
          return ::rollout::http::json_response(ok ? 200 : 401, "{}");
        });
    EXPECT_TRUE(server_->start().ok());
  }
  ~WebhookReceiver() { server_->shutdown(); }
  WebhookReceiver(const WebhookReceiver&) = delete;
  WebhookReceiver& operator=(const WebhookReceiver&) = delete;

  std::uint16_t port() const { return server_->port(); }
  std::string url() const { return "http://127.0.0.1:" + std::to_string(port()) + "/hook"; }

  // Waits (bounded, `limit`) until `done` holds for the verified bodies so far; whether it did.
  bool wait_for(const std::function<bool(const std::vector<std::string>&)>& done,
                std::chrono::milliseconds limit = std::chrono::seconds(10)) {
    const auto deadline = std::chrono::steady_clock::now() + limit;
    for (;;) {
      {
        std::lock_guard lock(mu_);
        if (done(bodies_)) return true;
      }
      if (std::chrono::steady_clock::now() >= deadline) return false;
      std::this_thread::sleep_for(std::chrono::milliseconds(25));
    }
  }

  // The event types received so far, waiting (bounded) until there are at least `n`.
  std::vector<std::string> types(std::size_t n) {
    wait_for([n](const std::vector<std::string>& b) { return b.size() >= n; });
    std::vector<std::string> out;
    for (const auto& b : bodies()) out.emplace_back(boost::json::parse(b).at("type").as_string());
    return out;
  }
  std::vector<std::string> bodies() {
    std::lock_guard lock(mu_);
    return bodies_;
  }
  // Every request so far, verified or not, in arrival order.
  std::vector<Request> received() {
    std::lock_guard lock(mu_);
    return received_;
  }
  int refused() {
    std::lock_guard lock(mu_);
    return refused_;
  }

 private:
  const std::string secret_;
  std::function<std::int64_t()> now_;
  std::mutex mu_;
  std::vector<std::string> bodies_;
  std::vector<Request> received_;
  int refused_ = 0;
  std::unique_ptr<::rollout::http::Server> server_;
};

}  // namespace rollout::testing
