#include <algorithm>
#include <array>
#include <boost/asio.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <condition_variable>
#include <cstdio>
#include <map>
#include <mutex>
#include <thread>

#include "common/log.hpp"
#include "server-plugin/http/server.hpp"

namespace rollout::http {
namespace {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace bhttp = beast::http;
using tcp = net::ip::tcp;
constexpr auto use_tuple = net::as_tuple(net::use_awaitable);
constexpr std::chrono::seconds kWriteTimeout{60};
constexpr std::size_t kFileChunk = 64 * 1024;
// The most asked of a BodySource at once (each read may be a database round trip).
constexpr std::size_t kSourceChunk = 256 * 1024;
// After refusing a request whose body is still arriving, keep reading (and discarding) for a
// bounded time before closing: closing a socket with unread input makes the kernel send a RST,
// which can destroy the refusal in the client's receive buffer before the client reads it
// (nginx's "lingering close"). Each read waits at most kLingerRead; the whole drain kLingerTotal.
constexpr std::chrono::seconds kLingerRead{2};
constexpr std::chrono::seconds kLingerTotal{10};
// A body must arrive at this average rate at least (beyond read_timeout): an upload on a slow link
// finishes, a client that dribbles a byte now and then cannot hold a connection for hours.
constexpr std::uint64_t kMinBodyBytesPerSecond = 16 * 1024;

const log::Logger kLog("http");

// Lets shutdown() close an idle connection safely: the closure runs on the connection's strand,
// where the session coroutine also runs, and checks `alive` before touching the stream.
// A FileRange's bytes as a BodySource, so one loop (write_source) sends every streamed body. Owns
// the open file, positioned at the range's start. A file that shrinks under it ends early.
class FileSource final : public BodySource {
 public:
  FileSource(std::FILE* f, std::uint64_t length) : f_(f, &std::fclose), length_(length) {}
  std::uint64_t size() const override { return length_; }
  Expected<std::string> read(std::size_t max) override {
    std::string out(static_cast<std::size_t>(std::min<std::uint64_t>(max, length_ - done_)), '\0');
    const std::size_t got = out.empty() ? 0 : std::fread(out.data(), 1, out.size(), f_.get());
    out.resize(got);
    done_ += got;
    return out;
  }

 private:
  std::unique_ptr<std::FILE, int (*)(std::FILE*)> f_;
  const std::uint64_t length_;
  std::uint64_t done_ = 0;
};

struct ConnHandle {
  net::any_io_executor strand;
  std::function<void()> cancel;  // only called on the strand
  bool alive = true;             // only touched on the strand
  // While a Deferred answer is awaited: ends the wait (shutdown). Only touched on the strand.
  std::function<void()> end_hold;
};

// What one held request waits on, on its connection's strand: the timer at the hold's limit,
// cancelled early by an answer, the client's going away, or shutdown.
struct HoldWait {
  explicit HoldWait(const net::any_io_executor& ex) : timer(ex) {}
  net::steady_timer timer;
  bool ended = false;  // the client went away or the server stops
};

}  // namespace

struct Server::Impl {
  ServerOptions opt;
  Handler handler;
  net::io_context ioc;
  net::thread_pool workers;
  std::optional<net::ssl::context> tls;
  tcp::acceptor acceptor{ioc};
  std::vector<std::thread> threads;
  std::atomic<bool> stopping{false};

  std::mutex mu;  // guards conns, busy, next_id, done
  std::condition_variable cv;
  std::map<std::uint64_t, std::shared_ptr<ConnHandle>> conns;
  std::map<std::uint64_t, bool> busy;
  std::uint64_t next_id = 0;
  bool done = false;
  std::once_flag shutdown_once;

  Impl(ServerOptions o, Handler h)
      : opt(std::move(o)),
        handler(std::move(h)),
        ioc(static_cast<int>(opt.io_threads)),
        workers(opt.worker_threads) {}

  std::uint64_t add(std::shared_ptr<ConnHandle> h) {
    std::lock_guard lock(mu);
    const auto id = ++next_id;
    conns.emplace(id, std::move(h));
    busy[id] = false;
    return id;
  }
  void remove(std::uint64_t id) {
    std::lock_guard lock(mu);
    conns.erase(id);
    busy.erase(id);
    cv.notify_all();
  }
  void set_busy(std::uint64_t id, bool b) {
    std::lock_guard lock(mu);
    busy[id] = b;
  }

  Response call_handler(const Request& req) {
    try {
      return handler(req);
    } catch (const std::exception& e) {
      kLog.error("handler threw", {{"target", req.target}, {"what", e.what()}});
    } catch (...) {
      kLog.error("handler threw", {{"target", req.target}});
    }
    return error_response(500, "internal", "internal server error");
  }

  // A refusal is the safe answer when admission itself fails.
  Admission call_admit(const Request& head) {
    try {
      return opt.admit(head);
    } catch (const std::exception& e) {
      kLog.error("admission threw", {{"target", head.target}, {"what", e.what()}});
    } catch (...) {
      kLog.error("admission threw", {{"target", head.target}});
    }
    return {error_response(500, "internal", "internal server error"), 0, nullptr};
  }

  static Request request_of(const bhttp::request_header<>& in, const std::string& remote,
                            bool is_tls) {
    Request req;
    req.method = std::string(in.method_string());
    req.target = std::string(in.target());
    for (const auto& f : in)
      req.headers.push_back({std::string(f.name_string()), std::string(f.value())});
    req.remote_addr = remote;
    req.tls = is_tls;
    req.can_defer = true;
    return req;
  }

  template <class Stream>
  net::awaitable<bool> write_response(Stream& stream, const Response& res, bool keep_alive,
                                      unsigned version, bool head) {
    auto& lowest = beast::get_lowest_layer(stream);
    if (!res.file && res.source)
      co_return co_await write_source(stream, res, *res.source, keep_alive, version, head);
    if (!res.file) {
      bhttp::response<bhttp::string_body> out{static_cast<bhttp::status>(res.status), version};
      for (const auto& h : res.headers) out.set(h.name, h.value);
      out.keep_alive(keep_alive);
      if (!head) out.body() = res.body;
      out.prepare_payload();
      if (head) out.content_length(res.body.size());
      lowest.expires_after(kWriteTimeout);
      auto [ec, n] = co_await bhttp::async_write(stream, out, use_tuple);
      co_return !ec;
    }
    std::FILE* f = std::fopen(res.file->path.c_str(), "rb");
    if (f == nullptr || std::fseek(f, static_cast<long>(res.file->offset), SEEK_SET) != 0) {
      if (f) std::fclose(f);
      auto err = error_response(500, "internal", "artifact unreadable");
      co_return co_await write_response(stream, err, false, version, head);
    }
    FileSource src(f, res.file->length);
    co_return co_await write_source(stream, res, src, keep_alive, version, head);
  }

  // A body pulled from a BodySource: a fixed Content-Length of source->size(), then each piece
  // read on a worker thread (a read may block on the database) and written from the strand. A
  // source that fails or ends early drops the connection: the client gets a short body.
  template <class Stream>
  net::awaitable<bool> write_source(Stream& stream, const Response& res, BodySource& src,
                                    bool keep_alive, unsigned version, bool head) {
    auto& lowest = beast::get_lowest_layer(stream);
    const std::uint64_t length = src.size();
    bhttp::response<bhttp::buffer_body> out{static_cast<bhttp::status>(res.status), version};
    for (const auto& h : res.headers) out.set(h.name, h.value);
    out.keep_alive(keep_alive);
    out.content_length(length);
    out.body().data = nullptr;
    out.body().more = !head && length > 0;
    bhttp::response_serializer<bhttp::buffer_body> sr{out};
    lowest.expires_after(kWriteTimeout);
    auto [hec, hn] = co_await bhttp::async_write_header(stream, sr, use_tuple);
    if (hec) co_return false;
    if (head) co_return true;
    std::uint64_t left = length;
    while (left > 0) {
      const auto want = static_cast<std::size_t>(std::min<std::uint64_t>(left, kSourceChunk));
      Piece piece = co_await net::co_spawn(
          workers, [&]() -> net::awaitable<Piece> { co_return read_source(src, want); },
          net::use_awaitable);
      if (!piece.error.empty() || piece.bytes.empty() || piece.bytes.size() > left) {
        kLog.warn("response body source failed; closing the connection",
                  {{"error", piece.error.empty() ? std::string("ended early") : piece.error}});
        co_return false;
      }
      left -= piece.bytes.size();
      out.body().data = piece.bytes.data();
      out.body().size = piece.bytes.size();
      out.body().more = left > 0;
      lowest.expires_after(kWriteTimeout);
      auto [ec, n] = co_await bhttp::async_write(stream, sr, use_tuple);
      if (ec == bhttp::error::need_buffer) continue;
      if (ec) co_return false;
    }
    co_return true;
  }

  // One read of a BodySource, as a value a coroutine can hand back across executors.
  struct Piece {
    std::string bytes;
    std::string error;  // empty when the read worked
  };
  static Piece read_source(BodySource& src, std::size_t want) {
    try {
      auto got = src.read(want);
      if (!got) return {{}, got.error().code + ": " + got.error().message};
      return {std::move(got.value()), {}};
    } catch (const std::exception& e) {
      return {{}, std::string("body source threw: ") + e.what()};
    } catch (...) {
      return {{}, "body source threw"};
    }
  }

  // Reads the body of an admitted request whose headers are in: refuses a declared length over
  // `limit` before reading any of it, answers "Expect: 100-continue", and gives
  // each read of the body read_timeout, within a deadline set by kMinBodyBytesPerSecond. With a
  // buffer_body parser, each piece goes to `sink` as it arrives (nothing accumulates here).
  template <class Stream, class Body>
  net::awaitable<boost::system::error_code> read_body(Stream& stream, beast::flat_buffer& buffer,
                                                      bhttp::request_parser<Body>& p,
                                                      std::size_t limit, BodySink* sink) {
    auto& lowest = beast::get_lowest_layer(stream);
    if (p.content_length() && *p.content_length() > limit) co_return bhttp::error::body_limit;
    const std::uint64_t expected = p.content_length().value_or(limit);
    const auto deadline =
        std::chrono::steady_clock::now() + opt.read_timeout +
        std::chrono::seconds(static_cast<std::int64_t>(expected / kMinBodyBytesPerSecond));
    p.body_limit(limit);
    if (!p.is_done() && beast::iequals(p.get()[bhttp::field::expect], "100-continue")) {
      bhttp::response<bhttp::empty_body> cont{bhttp::status::continue_, p.get().version()};
      lowest.expires_after(kWriteTimeout);
      auto [wec, wn] = co_await bhttp::async_write(stream, cont, use_tuple);
      if (wec) co_return wec;
    }
    [[maybe_unused]] std::vector<char> piece(std::is_same_v<Body, bhttp::buffer_body> ? kFileChunk
                                                                                      : 0);
    while (!p.is_done()) {
      if constexpr (std::is_same_v<Body, bhttp::buffer_body>) {
        p.get().body().data = piece.data();
        p.get().body().size = piece.size();
      }
      lowest.expires_at(std::min(deadline, std::chrono::steady_clock::now() + opt.read_timeout));
      auto [ec, n] = co_await bhttp::async_read_some(stream, buffer, p, use_tuple);
      if constexpr (std::is_same_v<Body, bhttp::buffer_body>) {
        if (ec == bhttp::error::need_buffer) ec = {};
        const std::size_t got = piece.size() - p.get().body().size;
        if (!ec && got > 0) sink->write(std::string_view(piece.data(), got));
      } else {
        (void)sink;
      }
      if (ec) co_return ec;
    }
    co_return boost::system::error_code{};
  }

  // Answers a request that will not be read to its end, then closes the connection without
  // losing that answer to a RST (see kLingerRead).
  template <class Stream>
  net::awaitable<void> refuse(Stream& stream, const Response& res) {
    if (!co_await write_response(stream, res, false, 11, false)) co_return;
    auto& lowest = beast::get_lowest_layer(stream);
    if constexpr (std::is_same_v<Stream, beast::tcp_stream>) {
      boost::system::error_code ignored;
      lowest.socket().shutdown(tcp::socket::shutdown_send, ignored);
    }
    std::array<char, 16 * 1024> sink{};
    const auto until = std::chrono::steady_clock::now() + kLingerTotal;
    while (!stopping && std::chrono::steady_clock::now() < until) {
      lowest.expires_after(kLingerRead);
      auto [ec, n] = co_await stream.async_read_some(net::buffer(sink), use_tuple);
      if (ec) break;  // the client closed (the usual end), timed out or the server stops
    }
  }

  // Waits for a Deferred answer on the connection's strand (no thread held), and returns what to
  // send: the answer, or the at-limit response once the limit passes, the client closes its end
  // (the socket turns readable: a FIN, or bytes of a request it should not have sent yet) or
  // the server stops.
  template <class Stream>
  net::awaitable<Response> hold(Stream& stream, ConnHandle& conn, std::shared_ptr<Deferred> d) {
    auto& socket = beast::get_lowest_layer(stream).socket();
    auto w = std::make_shared<HoldWait>(socket.get_executor());
    const auto deadline = std::chrono::steady_clock::now() + d->limit();
    const auto strand = socket.get_executor();
    d->on_answer([w, strand] { net::post(strand, [w] { w->timer.cancel(); }); });
    conn.end_hold = [w] {
      w->ended = true;
      w->timer.cancel();
    };
    socket.async_wait(tcp::socket::wait_read, [w](boost::system::error_code ec) {
      if (ec == net::error::operation_aborted) return;
      w->ended = true;
      w->timer.cancel();
    });
    while (d->open() && !w->ended && !stopping && std::chrono::steady_clock::now() < deadline) {
      w->timer.expires_at(deadline);
      (void)co_await w->timer.async_wait(use_tuple);
    }
    conn.end_hold = nullptr;
    boost::system::error_code ignored;
    socket.cancel(ignored);  // the readability wait
    co_return d->finish();
  }

  // `remote` is a reference on purpose: GCC 12 relocates a by-value std::string coroutine
  // parameter bitwise, leaving its small-string pointer aimed at the old frame (ASan: bad free).
  // The caller co_awaits this coroutine, so the referent outlives it.
  template <class Stream>
  net::awaitable<void> serve(Stream& stream, ConnHandle& conn, std::uint64_t id, bool is_tls,
                             const std::string& remote) {
    beast::flat_buffer buffer;
    auto& lowest = beast::get_lowest_layer(stream);
    for (;;) {
      set_busy(id, false);
      if (stopping) break;
      bhttp::request_parser<bhttp::string_body> parser;
      // No cap while the headers are read: Beast would refuse a large Content-Length with 413
      // before the application could say 401. read_body() applies the cap before any body byte.
      parser.body_limit(boost::none);
      parser.header_limit(static_cast<std::uint32_t>(opt.header_limit));
      lowest.expires_after(opt.read_timeout);
      auto [ec, n] = co_await bhttp::async_read_header(stream, buffer, parser, use_tuple);
      set_busy(id, true);
      std::size_t limit = opt.body_limit;
      // An upload the application streams: the same parser, moved onto a body that hands each
      // piece to the sink instead of keeping it.
      std::optional<bhttp::request_parser<bhttp::buffer_body>> streamed;
      std::shared_ptr<BodySink> sink;
      if (!ec && !parser.is_done()) {
        // Headers only: the application decides who may send this body before any of it is read.
        if (opt.admit) {
          Request head = request_of(parser.get(), remote, is_tls);
          Admission a = co_await net::co_spawn(
              workers, [&]() -> net::awaitable<Admission> { co_return call_admit(head); },
              net::use_awaitable);
          if (a.refusal) {
            co_await refuse(stream, *a.refusal);
            break;
          }
          limit = std::min(limit, a.body_limit);
          sink = std::move(a.sink);
        } else if (opt.body_limit_for) {
          const auto& h = parser.get();
          limit = std::min(limit, opt.body_limit_for(h.method_string(), h.target()));
        }
        if (sink) {
          streamed.emplace(std::move(parser));
          ec = co_await read_body(stream, buffer, *streamed, limit, sink.get());
        } else {
          ec = co_await read_body(stream, buffer, parser, limit, nullptr);
        }
      }
      if (ec == bhttp::error::body_limit) {
        co_await refuse(stream, error_response(413, "too_large",
                                               "request body exceeds " + std::to_string(limit) +
                                                   " bytes for this route"));
        break;
      }
      if (ec == bhttp::error::header_limit) {
        co_await refuse(stream, error_response(431, "too_large", "request headers too large"));
        break;
      }
      if (ec && ec.category() == bhttp::make_error_code(bhttp::error::end_of_stream).category() &&
          ec != bhttp::error::end_of_stream && ec != bhttp::error::partial_message) {
        co_await refuse(
            stream, error_response(400, "bad_request", "malformed HTTP request: " + ec.message()));
        break;
      }
      if (ec) break;  // closed, timed out or cancelled
      const bhttp::request_header<>& in =
          streamed ? static_cast<const bhttp::request_header<>&>(streamed->get()) : parser.get();
      Request req = request_of(in, remote, is_tls);
      if (streamed) {
        req.sink = std::move(sink);
      } else {
        req.body = std::move(parser.get().body());
      }
      Response res = co_await net::co_spawn(
          workers, [&]() -> net::awaitable<Response> { co_return call_handler(req); },
          net::use_awaitable);
      req.sink.reset();  // an upload's temporary file goes now, not with the next request
      if (auto d = std::move(res.deferred)) res = co_await hold(stream, conn, std::move(d));
      const bool keep =
          (streamed ? streamed->get().keep_alive() : parser.get().keep_alive()) && !stopping;
      const bool ok = co_await write_response(stream, res, keep, in.version(),
                                              in.method() == bhttp::verb::head);
      if (!ok || !keep) break;
    }
  }

  net::awaitable<void> plain_session(tcp::socket sock) {
    beast::tcp_stream stream(std::move(sock));
    auto handle = std::make_shared<ConnHandle>();
    handle->strand = stream.get_executor();
    handle->cancel = [&stream] { stream.socket().close(); };
    const auto id = add(handle);
    boost::system::error_code rec;
    auto ep = stream.socket().remote_endpoint(rec);
    const std::string remote = rec ? std::string() : ep.address().to_string();
    co_await serve(stream, *handle, id, false, remote);
    boost::system::error_code ignored;
    stream.socket().shutdown(tcp::socket::shutdown_send, ignored);
    handle->alive = false;
    remove(id);
  }

  net::awaitable<void> tls_session(tcp::socket sock) {
    beast::ssl_stream<beast::tcp_stream> stream(beast::tcp_stream(std::move(sock)), *tls);
    auto handle = std::make_shared<ConnHandle>();
    handle->strand = stream.get_executor();
    handle->cancel = [&stream] { beast::get_lowest_layer(stream).socket().close(); };
    const auto id = add(handle);
    boost::system::error_code rec;
    auto ep = beast::get_lowest_layer(stream).socket().remote_endpoint(rec);
    beast::get_lowest_layer(stream).expires_after(opt.read_timeout);
    auto [ec] = co_await stream.async_handshake(net::ssl::stream_base::server, use_tuple);
    if (!ec) {
      const std::string remote = rec ? std::string() : ep.address().to_string();
      co_await serve(stream, *handle, id, true, remote);
      beast::get_lowest_layer(stream).expires_after(std::chrono::seconds(5));
      co_await stream.async_shutdown(use_tuple);
    }
    handle->alive = false;
    remove(id);
  }

  net::awaitable<void> accept_loop() {
    for (;;) {
      auto [ec, sock] = co_await acceptor.async_accept(net::make_strand(ioc), use_tuple);
      if (ec) {
        if (stopping || ec == net::error::operation_aborted) co_return;
        // e.g. EMFILE: keep serving the connections we have, and try again a little later
        // instead of spinning on an accept that fails at once.
        net::steady_timer pause(acceptor.get_executor(), std::chrono::milliseconds(50));
        (void)co_await pause.async_wait(use_tuple);
        continue;
      }
      auto ex = sock.get_executor();
      if (tls) {
        net::co_spawn(ex, tls_session(std::move(sock)), net::detached);
      } else {
        net::co_spawn(ex, plain_session(std::move(sock)), net::detached);
      }
    }
  }
};

Server::Server(ServerOptions options, Handler handler)
    : impl_(std::make_unique<Impl>(std::move(options), std::move(handler))) {}

Server::~Server() {
  shutdown();
}

Status Server::start() {
  auto& s = *impl_;
  boost::system::error_code ec;
  if (!s.opt.tls_cert_file.empty() || !s.opt.tls_key_file.empty()) {
    s.tls.emplace(net::ssl::context::tls_server);
    s.tls->set_options(net::ssl::context::default_workarounds | net::ssl::context::no_sslv2 |
                       net::ssl::context::no_sslv3 | net::ssl::context::no_tlsv1 |
                       net::ssl::context::no_tlsv1_1 | net::ssl::context::single_dh_use);
    s.tls->use_certificate_chain_file(s.opt.tls_cert_file, ec);
    if (ec)
      return make_error("tls",
                        "cannot load TLS certificate " + s.opt.tls_cert_file + ": " + ec.message());
    s.tls->use_private_key_file(s.opt.tls_key_file, net::ssl::context::pem, ec);
    if (ec)
      return make_error("tls", "cannot load TLS key " + s.opt.tls_key_file + ": " + ec.message());
  }
  auto addr = net::ip::make_address(s.opt.address, ec);
  if (ec)
    return make_error("invalid_address",
                      "listen address '" + s.opt.address + "' is not an IP address");
  tcp::endpoint ep(addr, s.opt.port);
  s.acceptor.open(ep.protocol(), ec);
  if (!ec) s.acceptor.set_option(net::socket_base::reuse_address(true), ec);
  if (!ec) s.acceptor.bind(ep, ec);
  if (!ec) s.acceptor.listen(net::socket_base::max_listen_connections, ec);
  if (ec) {
    return make_error("listen_failed", "cannot listen on " + s.opt.address + ":" +
                                           std::to_string(s.opt.port) + ": " + ec.message());
  }
  net::co_spawn(s.ioc, s.accept_loop(), net::detached);
  for (unsigned i = 0; i < std::max(1u, s.opt.io_threads); ++i) {
    s.threads.emplace_back([&s] { s.ioc.run(); });
  }
  return {};
}

std::uint16_t Server::port() const {
  boost::system::error_code ec;
  auto ep = impl_->acceptor.local_endpoint(ec);
  return ec ? 0 : ep.port();
}

void Server::shutdown() {
  auto& s = *impl_;
  std::call_once(s.shutdown_once, [&s] {
    s.stopping = true;
    net::post(s.acceptor.get_executor(), [&s] {
      boost::system::error_code ignored;
      s.acceptor.close(ignored);
    });
    std::unique_lock lock(s.mu);
    for (auto& entry : s.conns) {
      std::shared_ptr<ConnHandle> h = entry.second;
      if (s.busy[entry.first]) {
        // Finishes its request, then sees `stopping`; a held one is answered now.
        net::post(h->strand, [h] {
          if (h->alive && h->end_hold) h->end_hold();
        });
        continue;
      }
      net::post(h->strand, [h] {
        if (h->alive) h->cancel();
      });
    }
    const auto deadline = std::chrono::steady_clock::now() + s.opt.shutdown_grace;
    s.cv.wait_until(lock, deadline, [&s] { return s.conns.empty(); });
    lock.unlock();
    s.ioc.stop();
    for (auto& t : s.threads) {
      if (t.joinable()) t.join();
    }
    s.workers.join();
    lock.lock();
    s.done = true;
    s.cv.notify_all();
  });
}

void Server::wait() {
  std::unique_lock lock(impl_->mu);
  impl_->cv.wait(lock, [this] { return impl_->done; });
}

}  // namespace rollout::http
