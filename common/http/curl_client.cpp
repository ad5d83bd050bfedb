#include <curl/curl.h>
#include <strings.h>

#include <boost/asio/ip/tcp.hpp>  // a portable reading of the sockaddr curl is about to use

#include <algorithm>
#include <cctype>
#include <cstring>
#include <ctime>
#include <mutex>

#include "common/http/client.hpp"

namespace rollout::net {

Status check_url_allowed(std::string_view url, const TransportOptions& options) {
  if (url.starts_with("https://")) return {};
  if (url.starts_with("http://") && options.allow_plain_http) return {};
  if (url.starts_with("http://")) {
    return make_error("invalid_url", "refusing plain http:// URL " +
                                         std::string(url.substr(0, 200)) +
                                         " (set allow_plain_http only for tests)");
  }
  return make_error("invalid_url",
                    "URL must start with https:// (got '" + std::string(url.substr(0, 200)) + "')");
}

namespace {

std::once_flag g_curl_init;

struct EasyDeleter {
  void operator()(CURL* c) const { curl_easy_cleanup(c); }
};
struct SlistDeleter {
  void operator()(curl_slist* l) const { curl_slist_free_all(l); }
};

std::string lower(std::string_view s) {
  std::string out(s);
  std::transform(out.begin(), out.end(), out.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return out;
}

std::string trim(std::string_view s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
  return std::string(s);
}

// State shared by the libcurl callbacks of one transfer.
struct Transfer {
  const TransportOptions* options = nullptr;
  CURL* easy = nullptr;
  // JSON mode
  std::string body;
  std::size_t body_cap = 0;
  // Download mode
  const DownloadSink* sink = nullptr;
  const RestartHook* restart = nullptr;
  const CancelCheck* cancelled = nullptr;
  std::uint64_t offset = 0;
  std::uint64_t max_bytes = 0;
  std::uint64_t received = 0;
  bool download = false;
  bool restarted = false;
  bool status_checked = false;
  bool deliver = false;  // 2xx body goes to the sink; anything else is kept (capped) in body
  // Headers
  std::optional<std::chrono::seconds> retry_after;
  std::optional<std::uint64_t> content_range_start;
  std::vector<std::string> set_cookies;
  std::vector<std::pair<std::string, std::string>> headers;
  // First error raised inside a callback; it explains a CURLE_WRITE_ERROR/ABORTED_BY_CALLBACK.
  std::optional<Error> error;
};

std::size_t on_header(char* data, std::size_t size, std::size_t n, void* user) {
  auto& t = *static_cast<Transfer*>(user);
  const std::string_view line(data, size * n);
  const auto colon = line.find(':');
  if (colon == std::string_view::npos) {
    if (line.starts_with("HTTP/")) {  // a new response (e.g. after 100-continue): reset
      t.retry_after.reset();
      t.content_range_start.reset();
      t.set_cookies.clear();
      t.headers.clear();
    }
    return size * n;
  }
  const std::string name = lower(trim(line.substr(0, colon)));
  const std::string value = trim(line.substr(colon + 1));
  if (t.headers.size() < 64) t.headers.emplace_back(name, value);
  if (name == "retry-after") {
    if (!value.empty() && std::all_of(value.begin(), value.end(), ::isdigit) && value.size() < 9) {
      t.retry_after = std::chrono::seconds(std::stoll(value));
    } else {
      const time_t when = curl_getdate(value.c_str(), nullptr);
      if (when > 0) {
        t.retry_after = std::chrono::seconds(std::max<time_t>(0, when - std::time(nullptr)));
      }
    }
  } else if (name == "set-cookie") {
    if (t.set_cookies.size() < 16) t.set_cookies.push_back(value);
  } else if (name == "content-range" && value.starts_with("bytes ")) {
    const std::string range = value.substr(6);
    const auto dash = range.find('-');
    if (dash != std::string::npos && dash > 0 && dash < 20 &&
        std::all_of(range.begin(), range.begin() + static_cast<long>(dash), ::isdigit)) {
      t.content_range_start = std::stoull(range.substr(0, dash));
    }
  }
  return size * n;
}

std::size_t on_write(char* data, std::size_t size, std::size_t n, void* user) {
  auto& t = *static_cast<Transfer*>(user);
  const std::size_t len = size * n;
  if (!t.download) {
    if (t.body.size() + len > t.body_cap) {
      t.error = make_error("too_large",
                           "server response exceeds " + std::to_string(t.body_cap) + " bytes");
      return 0;
    }
    t.body.append(data, len);
    return len;
  }
  if (!t.status_checked) {
    t.status_checked = true;
    long status = 0;
    curl_easy_getinfo(t.easy, CURLINFO_RESPONSE_CODE, &status);
    if (status == 206 && t.offset > 0) {
      if (t.content_range_start != t.offset) {
        t.error = make_error("protocol", "server answered a Range request for byte " +
                                             std::to_string(t.offset) + " with a different range");
        return 0;
      }
      t.deliver = true;
    } else if (status == 200) {
      if (t.offset > 0) {
        t.restarted = true;
        t.offset = 0;
        if (auto st = (*t.restart)(); !st) {
          t.error = st.error();
          return 0;
        }
      }
      t.deliver = true;
    } else {
      t.deliver = false;  // an error page: keep a little of it for the message
    }
  }
  if (!t.deliver) {
    if (t.body.size() < 512) t.body.append(data, std::min<std::size_t>(len, 512 - t.body.size()));
    return len;
  }
  if (t.offset + t.received + len > t.max_bytes) {
    t.error = make_error("too_large", "download is longer than the signed size of " +
                                          std::to_string(t.max_bytes) + " bytes");
    return 0;
  }
  if (auto st = (*t.sink)(data, len); !st) {
    t.error = st.error();
    return 0;
  }
  t.received += len;
  return len;
}

int on_progress(void* user, curl_off_t, curl_off_t, curl_off_t, curl_off_t) {
  auto& t = *static_cast<Transfer*>(user);
  if (t.options->on_progress) t.options->on_progress();
  if (t.cancelled && *t.cancelled && (*t.cancelled)()) {
    t.error = make_error("cancelled", "the transfer was cancelled");
    return 1;
  }
  return 0;
}

// CURLOPT_OPENSOCKETFUNCTION: the address curl resolved and is about to connect to, checked
// before the socket exists.
curl_socket_t on_open_socket(void* user, curlsocktype purpose, struct curl_sockaddr* addr) {
  auto& t = *static_cast<Transfer*>(user);
  if (purpose != CURLSOCKTYPE_IPCXN || !addr) return CURL_SOCKET_BAD;
  boost::asio::ip::tcp::endpoint endpoint;
  const auto family = endpoint.protocol().family();  // a default endpoint is IPv4
  if ((addr->family != family && addr->family != boost::asio::ip::tcp::v6().family()) ||
      addr->addrlen > endpoint.capacity()) {
    t.error = make_error("forbidden_target", "refusing a connection that is not IPv4 or IPv6");
    return CURL_SOCKET_BAD;
  }
  std::memcpy(endpoint.data(), &addr->addr, addr->addrlen);
  endpoint.resize(addr->addrlen);
  const std::string text = endpoint.address().to_string();
  const std::uint16_t port = endpoint.port();
  if (auto st = t.options->connect_check(text, port); !st) {
    t.error = st.error();
    return CURL_SOCKET_BAD;
  }
  return ::socket(addr->family, addr->socktype, addr->protocol);
}

class CurlTransport final : public Transport {
 public:
  explicit CurlTransport(TransportOptions options) : options_(std::move(options)) {
    std::call_once(g_curl_init, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
  }

  Expected<JsonResult> send(const Request& req) override {
    const std::string& url = req.url;
    if (auto st = check_url_allowed(url, options_); !st) return st.error();
    auto easy = handle();
    if (!easy) return make_error("internal", "curl_easy_init failed");
    Transfer t;
    t.options = &options_;
    t.easy = easy.get();
    t.body_cap = options_.max_json_response;
    const bool has_body = req.method != "GET" && req.method != "HEAD";
    std::unique_ptr<curl_slist, SlistDeleter> headers(
        curl_slist_append(nullptr, "Accept: application/json"));
    const bool own_type = std::any_of(req.headers.begin(), req.headers.end(), [](const auto& h) {
      return h.first.size() == 12 && ::strncasecmp(h.first.c_str(), "Content-Type", 12) == 0;
    });
    if (has_body && !own_type) {
      headers.reset(curl_slist_append(headers.release(), "Content-Type: application/json"));
    }
    if (!req.bearer_token.empty()) {
      headers.reset(curl_slist_append(headers.release(),
                                      ("Authorization: Bearer " + req.bearer_token).c_str()));
    }
    for (const auto& [name, value] : req.headers) {
      headers.reset(curl_slist_append(headers.release(), (name + ": " + value).c_str()));
    }
    common_setup(easy.get(), url, t);
    curl_easy_setopt(easy.get(), CURLOPT_HTTPHEADER, headers.get());
    if (has_body) {
      curl_easy_setopt(easy.get(), CURLOPT_POSTFIELDS, req.body.data());
      curl_easy_setopt(easy.get(), CURLOPT_POSTFIELDSIZE_LARGE,
                       static_cast<curl_off_t>(req.body.size()));
      if (req.method != "POST")
        curl_easy_setopt(easy.get(), CURLOPT_CUSTOMREQUEST, req.method.c_str());
    } else if (req.method == "HEAD") {
      curl_easy_setopt(easy.get(), CURLOPT_NOBODY, 1L);
    }
    t.cancelled = &req.cancelled;
    curl_easy_setopt(easy.get(), CURLOPT_TIMEOUT,
                     static_cast<long>(req.timeout.value_or(options_.request_timeout).count()));
    if (req.timeout) curl_easy_setopt(easy.get(), CURLOPT_LOW_SPEED_LIMIT, 0L);  // held: silent
    const CURLcode rc = curl_easy_perform(easy.get());
    if (rc != CURLE_OK) return transfer_error(rc, t, url);
    JsonResult r;
    curl_easy_getinfo(easy.get(), CURLINFO_RESPONSE_CODE, &r.status);
    r.body = std::move(t.body);
    r.retry_after = t.retry_after;
    r.set_cookies = std::move(t.set_cookies);
    r.headers = std::move(t.headers);
    return r;
  }

  Expected<DownloadResult> download(const std::string& url, const std::string& token,
                                    std::uint64_t offset, std::uint64_t max_bytes,
                                    const DownloadSink& sink, const RestartHook& restart,
                                    const CancelCheck& cancelled) override {
    if (auto st = check_url_allowed(url, options_); !st) return st.error();
    if (offset > max_bytes)
      return make_error("invalid_argument", "resume offset beyond signed size");
    auto easy = handle();
    if (!easy) return make_error("internal", "curl_easy_init failed");
    Transfer t;
    t.options = &options_;
    t.easy = easy.get();
    t.download = true;
    t.sink = &sink;
    t.restart = &restart;
    t.cancelled = &cancelled;
    t.offset = offset;
    t.max_bytes = max_bytes;
    std::unique_ptr<curl_slist, SlistDeleter> headers;
    if (!token.empty()) {
      headers.reset(curl_slist_append(nullptr, ("Authorization: Bearer " + token).c_str()));
    }
    common_setup(easy.get(), url, t);
    curl_easy_setopt(easy.get(), CURLOPT_HTTPHEADER, headers.get());
    if (offset > 0) {
      const std::string range = std::to_string(offset) + "-";
      curl_easy_setopt(easy.get(), CURLOPT_RANGE, range.c_str());
    }
    if (options_.max_bandwidth > 0) {
      curl_easy_setopt(easy.get(), CURLOPT_MAX_RECV_SPEED_LARGE,
                       static_cast<curl_off_t>(options_.max_bandwidth));
    }
    const CURLcode rc = curl_easy_perform(easy.get());
    if (rc != CURLE_OK) return transfer_error(rc, t, url);
    DownloadResult r;
    curl_easy_getinfo(easy.get(), CURLINFO_RESPONSE_CODE, &r.status);
    if (r.status != 200 && r.status != 206) {
      return make_error("http_status",
                        "download of " + url + " answered HTTP " + std::to_string(r.status));
    }
    if (r.status == 206 && offset == 0) {
      return make_error("protocol", "server sent a partial body to a request for the whole file");
    }
    r.received = t.received;
    r.restarted = t.restarted;
    return r;
  }

 private:
  void common_setup(CURL* easy, const std::string& url, Transfer& t) {
    curl_easy_setopt(easy, CURLOPT_URL, url.c_str());
    curl_easy_setopt(easy, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(easy, CURLOPT_PROTOCOLS_STR,
                     options_.allow_plain_http ? "http,https" : "https");
    curl_easy_setopt(easy, CURLOPT_FOLLOWLOCATION, 0L);
    curl_easy_setopt(easy, CURLOPT_PATH_AS_IS, 1L);  // send the path exactly as given
    curl_easy_setopt(easy, CURLOPT_SSL_VERIFYPEER, 1L);
    curl_easy_setopt(easy, CURLOPT_SSL_VERIFYHOST, 2L);
    curl_easy_setopt(easy, CURLOPT_SSLVERSION, static_cast<long>(CURL_SSLVERSION_TLSv1_2));
    if (!options_.ca_file.empty()) curl_easy_setopt(easy, CURLOPT_CAINFO, options_.ca_file.c_str());
    if (!options_.proxy.empty()) curl_easy_setopt(easy, CURLOPT_PROXY, options_.proxy.c_str());
    if (options_.connect_check) {
      curl_easy_setopt(easy, CURLOPT_PROXY, "");  // "" = no proxy, the environment's neither
      curl_easy_setopt(easy, CURLOPT_OPENSOCKETFUNCTION, &on_open_socket);
      curl_easy_setopt(easy, CURLOPT_OPENSOCKETDATA, &t);
    }
    curl_easy_setopt(easy, CURLOPT_CONNECTTIMEOUT,
                     static_cast<long>(options_.connect_timeout.count()));
    curl_easy_setopt(easy, CURLOPT_LOW_SPEED_LIMIT, static_cast<long>(options_.low_speed_bytes));
    curl_easy_setopt(easy, CURLOPT_LOW_SPEED_TIME,
                     static_cast<long>(options_.low_speed_time.count()));
    curl_easy_setopt(easy, CURLOPT_HEADERFUNCTION, &on_header);
    curl_easy_setopt(easy, CURLOPT_HEADERDATA, &t);
    curl_easy_setopt(easy, CURLOPT_WRITEFUNCTION, &on_write);
    curl_easy_setopt(easy, CURLOPT_WRITEDATA, &t);
    curl_easy_setopt(easy, CURLOPT_XFERINFOFUNCTION, &on_progress);
    curl_easy_setopt(easy, CURLOPT_XFERINFODATA, &t);
    curl_easy_setopt(easy, CURLOPT_NOPROGRESS, 0L);
    curl_easy_setopt(easy, CURLOPT_USERAGENT, options_.user_agent.c_str());
  }

  static Error transfer_error(CURLcode rc, const Transfer& t, const std::string& url) {
    if (t.error &&
        (rc == CURLE_WRITE_ERROR || rc == CURLE_ABORTED_BY_CALLBACK || rc == CURLE_COULDNT_CONNECT))
      return *t.error;
    std::string code = "network";
    if (rc == CURLE_OPERATION_TIMEDOUT) code = "timeout";
    if (rc == CURLE_PEER_FAILED_VERIFICATION || rc == CURLE_SSL_CONNECT_ERROR ||
        rc == CURLE_SSL_CACERT_BADFILE || rc == CURLE_SSL_CERTPROBLEM) {
      code = "tls";
    }
    if (rc == CURLE_UNSUPPORTED_PROTOCOL) code = "invalid_url";
    return make_error(code, "request to " + url + " failed: " + curl_easy_strerror(rc));
  }

  // One easy handle for every request, reset in between: its connection cache, TLS session and
  // loaded CA store survive, so a check-in reuses the connection (or at least resumes the TLS
  // session) instead of a full handshake with the CA file parsed again each time.
  struct Handle {
    CURL* easy;
    CURL* get() const { return easy; }
    explicit operator bool() const { return easy != nullptr; }
  };
  Handle handle() {
    if (!easy_) easy_.reset(curl_easy_init());
    if (easy_) curl_easy_reset(easy_.get());
    return Handle{easy_.get()};
  }

  TransportOptions options_;
  std::unique_ptr<CURL, EasyDeleter> easy_;
};

}  // namespace

Expected<JsonResult> Transport::post_json(const std::string& url, std::string_view body,
                                          const std::string& token) {
  Request req;
  req.method = "POST";
  req.url = url;
  req.body = std::string(body);
  req.bearer_token = token;
  return send(req);
}

std::unique_ptr<Transport> make_curl_transport(TransportOptions options) {
  return std::make_unique<CurlTransport>(std::move(options));
}

}  // namespace rollout::net
