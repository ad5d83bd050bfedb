// How our programs talk to the rollout server: JSON requests (the agent's enroll, check-in and
// reports; rolloutctl's management calls) and artifact downloads. Behind an interface so tests can
// substitute a fake and callers never see libcurl. The libcurl implementation verifies TLS (peer
// and host) always, refuses plain http:// unless allow_plain_http is set (tests only), caps every
// response body, aborts a transfer slower than low_speed_bytes for low_speed_time, and can cap
// bandwidth. A request may carry its own timeout (a check-in the server holds open) and a cancel
// check polled at least once a second, so its owner can end it at once. Downloads stream into a
// caller callback (which hashes and writes), resume from an offset with a Range request, stop hard
// at max_bytes, and stop when the caller cancels. A Transport object is used from one thread at a
// time (a program that downloads on one thread and sends requests on another makes two).
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/error.hpp"

namespace rollout::net {

struct TransportOptions {
  bool allow_plain_http = false;
  std::string ca_file;  // empty: the system trust store
  std::string proxy;    // empty: libcurl's environment handling (https_proxy, no_proxy)
  std::chrono::seconds connect_timeout{15};
  std::chrono::seconds request_timeout{60};  // JSON requests only; downloads use low-speed limits
  std::uint32_t low_speed_bytes = 1024;      // abort below this many bytes/s ...
  std::chrono::seconds low_speed_time{30};   // ... sustained for this long
  std::uint64_t max_bandwidth = 0;           // bytes/s, 0 = unlimited
  std::size_t max_json_response = 1024 * 1024;
  std::string user_agent = "rollout-agent";
  // Called regularly during long transfers so the single-threaded agent can keep supervising
  // its managed process.
  std::function<void()> on_progress;
  // When set, every address libcurl is about to connect to (after its own DNS resolution, for
  // every attempt and redirect) is passed here first, and a refusal fails the request with that
  // error: a name that resolves to a forbidden address is refused at the socket, so DNS
  // rebinding cannot slip past a check made earlier. A proxy would hide the real target, so
  // with a check set no proxy is used (the environment's included).
  std::function<Status(std::string_view address, std::uint16_t port)> connect_check;
};

// Polled while a transfer runs, also while no byte arrives (at least once a second): returning
// true aborts the transfer with the error "cancelled". May be empty.
using CancelCheck = std::function<bool()>;

struct Request {
  std::string method = "GET";
  std::string url;
  // Sent as application/json when not empty or when method is not GET, unless `headers` names
  // another Content-Type.
  std::string body;
  std::string bearer_token;
  std::vector<std::pair<std::string, std::string>> headers;  // extra request headers
  // Replaces TransportOptions::request_timeout for this request: one the server may hold open
  // (Prefer: wait=N) needs longer. Such a request may also stay silent for that long (the
  // low-speed abort does not apply to it).
  std::optional<std::chrono::seconds> timeout;
  CancelCheck cancelled;  // may be empty
};

struct JsonResult {
  long status = 0;
  std::string body;
  std::optional<std::chrono::seconds> retry_after;
  std::vector<std::string> set_cookies;  // values of Set-Cookie headers, in order
  std::vector<std::pair<std::string, std::string>> headers;  // all of them (lower-case names)
};

struct DownloadResult {
  long status = 0;             // 200 or 206
  std::uint64_t received = 0;  // bytes handed to the sink by this call
  bool restarted = false;      // a Range was asked but the server sent the whole body (200)
};

// Receives downloaded bytes in order. Returning an error aborts the transfer with that error.
using DownloadSink = std::function<Status(const char* data, std::size_t size)>;
// Called when the server answered 200 to a Range request: the sink must start again from 0.
using RestartHook = std::function<Status()>;

class Transport {
 public:
  virtual ~Transport() = default;
  // Sends one request whose answer is small (capped at max_json_response). Transport failures
  // are errors ("network", "timeout", "tls", "invalid_url"); any HTTP status is a JsonResult.
  virtual Expected<JsonResult> send(const Request& request) = 0;
  // POSTs a JSON body to url with "Authorization: Bearer <token>" when token is not empty.
  Expected<JsonResult> post_json(const std::string& url, std::string_view body,
                                 const std::string& token);
  // GETs url from byte `offset` (Range when offset > 0), handing at most `max_bytes` bytes in
  // total (counted from 0) to sink. More data than that is the error "too_large"; `cancelled`
  // returning true stops it with "cancelled".
  virtual Expected<DownloadResult> download(const std::string& url, const std::string& token,
                                            std::uint64_t offset, std::uint64_t max_bytes,
                                            const DownloadSink& sink, const RestartHook& restart,
                                            const CancelCheck& cancelled) = 0;
  Expected<DownloadResult> download(const std::string& url, const std::string& token,
                                    std::uint64_t offset, std::uint64_t max_bytes,
                                    const DownloadSink& sink, const RestartHook& restart) {
    return download(url, token, offset, max_bytes, sink, restart, CancelCheck{});
  }
};

// Error code "invalid_url" when the URL is not https:// (or http:// with allow_plain_http).
Status check_url_allowed(std::string_view url, const TransportOptions& options);

std::unique_ptr<Transport> make_curl_transport(TransportOptions options);

}  // namespace rollout::net
