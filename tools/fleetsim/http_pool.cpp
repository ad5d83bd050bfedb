#include "tools/fleetsim/http_pool.hpp"

#include <openssl/ssl.h>

#include <boost/asio/connect.hpp>
#include <boost/asio/ip/address.hpp>
#include <boost/asio/ssl/host_name_verification.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <optional>

namespace rollout::fleetsim {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using Clock = std::chrono::steady_clock;

class Pool::Connection : public std::enable_shared_from_this<Pool::Connection> {
 public:
  explicit Connection(Pool& pool) : pool_(pool) {}

  void run(Job job) {
    job_ = std::move(job);
    retried_ = false;
    start();
  }

  void close() {
    beast::error_code ec;
    if (tls_) beast::get_lowest_layer(*tls_).socket().close(ec);
    if (plain_) plain_->socket().close(ec);
    tls_.reset();
    plain_.reset();
    connected_ = false;
  }

 private:
  beast::tcp_stream& tcp() { return tls_ ? beast::get_lowest_layer(*tls_) : *plain_; }

  void start() {
    if (connected_) return write();
    close();
    if (pool_.config_.tls) {
      tls_.emplace(pool_.io_, *pool_.ssl_);
      // SNI only for names; the certificate is checked against the name or the IP address.
      beast::error_code ec;
      (void)asio::ip::make_address(pool_.config_.host, ec);
      if (ec) SSL_set_tlsext_host_name(tls_->native_handle(), pool_.config_.host.c_str());
      tls_->set_verify_mode(asio::ssl::verify_peer);
      tls_->set_verify_callback(asio::ssl::host_name_verification(pool_.config_.host));
    } else {
      plain_.emplace(pool_.io_);
    }
    tcp().expires_after(pool_.config_.timeout);
    tcp().async_connect(pool_.endpoints_,
                        [self = shared_from_this()](beast::error_code ec, const auto&) {
                          if (ec) return self->fail(ec, "connect");
                          self->handshake();
                        });
  }

  void handshake() {
    if (!tls_) {
      connected_ = true;
      reused_ = false;
      return write();
    }
    tcp().expires_after(pool_.config_.timeout);
    tls_->async_handshake(asio::ssl::stream_base::client,
                          [self = shared_from_this()](beast::error_code ec) {
                            if (ec) return self->fail(ec, "tls");
                            self->connected_ = true;
                            self->reused_ = false;
                            self->write();
                          });
  }

  void write() {
    req_ = {};
    req_.method(http::verb::post);
    req_.target(job_.request.target);
    req_.version(11);
    req_.set(http::field::host, pool_.config_.host + ":" + pool_.config_.port);
    req_.set(http::field::user_agent, "rollout-fleetsim");
    req_.set(http::field::content_type, "application/json");
    if (!job_.request.token.empty()) {
      req_.set(http::field::authorization, "Bearer " + job_.request.token);
    }
    if (!job_.request.prefer.empty()) req_.set(http::field::prefer, job_.request.prefer);
    req_.keep_alive(true);
    req_.body() = job_.request.body;
    req_.prepare_payload();
    started_ = Clock::now();
    tcp().expires_after(job_.request.timeout.count() > 0 ? job_.request.timeout
                                                         : pool_.config_.timeout);
    auto done = [self = shared_from_this()](beast::error_code ec, std::size_t) {
      if (ec) return self->fail(ec, "io");
      self->read();
    };
    if (tls_) {
      http::async_write(*tls_, req_, std::move(done));
    } else {
      http::async_write(*plain_, req_, std::move(done));
    }
  }

  void read() {
    parser_.emplace();
    parser_->body_limit(kMaxResponseBody);
    parser_->header_limit(kMaxResponseHeader);
    auto done = [self = shared_from_this()](beast::error_code ec, std::size_t) {
      if (ec) return self->fail(ec, "bad_http");
      self->finish();
    };
    if (tls_) {
      http::async_read(*tls_, buffer_, *parser_, std::move(done));
    } else {
      http::async_read(*plain_, buffer_, *parser_, std::move(done));
    }
  }

  void finish() {
    auto res = parser_->release();
    HttpAnswer a;
    a.status = res.result_int();
    a.body = std::move(res.body());
    a.preference_applied = std::string(res[http::field::preference_applied]);
    a.latency = Clock::now() - started_;
    reused_ = true;
    if (!res.keep_alive()) close();
    complete(std::move(a));
  }

  void fail(beast::error_code ec, const char* stage) {
    const bool server_closed = ec == http::error::end_of_stream ||
                               ec == asio::error::connection_reset ||
                               ec == asio::error::broken_pipe || ec == asio::error::eof ||
                               ec == asio::ssl::error::stream_truncated;
    const bool was_reused = reused_ && connected_;
    close();
    buffer_.clear();
    if (pool_.closed_) return;
    if (was_reused && server_closed && !retried_) {
      retried_ = true;  // the server dropped an idle keep-alive connection: once more, fresh
      return start();
    }
    HttpAnswer a;
    if (ec == beast::error::timeout) {
      a.failure = "timeout";
    } else if (ec == http::error::body_limit || ec == http::error::header_limit) {
      a.failure = "too_large";
    } else if (server_closed) {
      a.failure = "closed";
    } else {
      a.failure = stage;
    }
    a.latency = Clock::now() - started_;
    complete(std::move(a));
  }

  void complete(HttpAnswer a) {
    auto done = std::move(job_.done);
    job_ = {};
    pool_.idle(this);  // may hand this connection its next job before the callback queues more
    if (done) done(std::move(a));
  }

  Pool& pool_;
  std::optional<beast::ssl_stream<beast::tcp_stream>> tls_;
  std::optional<beast::tcp_stream> plain_;
  beast::flat_buffer buffer_;
  http::request<http::string_body> req_;
  std::optional<http::response_parser<http::string_body>> parser_;
  Job job_;
  Clock::time_point started_{};
  bool connected_ = false, reused_ = false, retried_ = false;
};

Pool::Pool(asio::io_context& io, asio::ssl::context* ssl, PoolConfig config,
           asio::ip::tcp::resolver::results_type endpoints)
    : io_(io), ssl_(ssl), config_(std::move(config)), endpoints_(std::move(endpoints)) {
  for (std::size_t i = 0; i < config_.connections; ++i) {
    connections_.push_back(std::make_shared<Connection>(*this));
    idle_.push_back(connections_.back().get());
  }
}

Pool::~Pool() {
  close();
}

void Pool::submit(HttpRequest request, HttpCallback done) {
  if (closed_) return;
  if (idle_.empty()) {
    queue_.push_back(Job{std::move(request), std::move(done)});
    return;
  }
  auto* c = idle_.back();
  idle_.pop_back();
  c->run(Job{std::move(request), std::move(done)});
}

void Pool::idle(Connection* c) {
  if (closed_) return;
  if (!queue_.empty()) {
    auto job = std::move(queue_.front());
    queue_.pop_front();
    // Posted, so a long queue never recurses through completion handlers.
    asio::post(io_, [c, job = std::move(job)]() mutable { c->run(std::move(job)); });
    return;
  }
  idle_.push_back(c);
}

void Pool::close() {
  closed_ = true;
  queue_.clear();
  for (auto& c : connections_) c->close();
}

}  // namespace rollout::fleetsim
