// The webhook Sender over the project's libcurl client, with the target check at the socket.
#include <mutex>

#include "common/http/client.hpp"
#include "server-plugin/notifier.hpp"

namespace rollout::server::notify {
namespace {

class CurlSender final : public Sender {
 public:
  CurlSender(const webhooks::TargetPolicy& policy, std::chrono::milliseconds timeout,
             const std::string& ca_file)
      : policy_(policy) {
    net::TransportOptions o;
    o.allow_plain_http = policy.allow_http;
    o.ca_file = ca_file;
    const auto secs = std::max<std::int64_t>(
        1, std::chrono::duration_cast<std::chrono::seconds>(timeout).count());
    o.connect_timeout = std::chrono::seconds(secs);
    o.request_timeout = std::chrono::seconds(secs);
    o.max_json_response = 64 * 1024;  // a receiver's answer is read only for the log
    o.user_agent = "rollout-server-webhooks";
    o.connect_check = [this](std::string_view address, std::uint16_t port) {
      return webhooks::check_address(address, port, policy_);
    };
    transport_ = net::make_curl_transport(std::move(o));
  }

  SendResult post(const std::string& url, const std::string& body,
                  const std::string& signature) override {
    // Checked again here (the config or the API checked it too): the scheme and a literal address.
    if (auto t = webhooks::parse_target(url, policy_); !t) return {0, t.error().message};
    net::Request req;
    req.method = "POST";
    req.url = url;
    req.body = body;
    req.headers = {{"Content-Type", "application/json"}, {"X-Rollout-Signature", signature}};
    std::lock_guard lock(mu_);
    auto r = transport_->send(req);
    if (!r) return {0, r.error().code + ": " + r.error().message};
    SendResult out;
    out.status = r->status;
    if (r->status < 200 || r->status >= 300) {
      out.error = "HTTP " + std::to_string(r->status);
      if (!r->body.empty()) out.error += ": " + r->body.substr(0, 200);
    }
    return out;
  }

 private:
  webhooks::TargetPolicy policy_;
  std::mutex mu_;  // the transport is used from one thread at a time
  std::unique_ptr<net::Transport> transport_;
};

}  // namespace

std::unique_ptr<Sender> make_curl_sender(const webhooks::TargetPolicy& policy,
                                         std::chrono::milliseconds timeout,
                                         const std::string& ca_file) {
  return std::make_unique<CurlSender>(policy, timeout, ca_file);
}

}  // namespace rollout::server::notify
