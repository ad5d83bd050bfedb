#include <gtest/gtest.h>

#include <atomic>
#include <boost/asio.hpp>
#include <future>
#include <mutex>
#include <set>
#include <thread>

#include "server-plugin/http/server.hpp"
#include "tests/testing/testing.hpp"

namespace rollout::http {
namespace {

namespace net = boost::asio;
using tcp = net::ip::tcp;

// Sends raw bytes on a fresh connection and returns everything the server sends back until it
// closes the connection (or `until` appears).
std::string raw_exchange(std::uint16_t port, const std::string& bytes,
                         const std::string& until = "") {
  net::io_context ioc;
  tcp::socket sock(ioc);
  sock.connect({net::ip::make_address("127.0.0.1"), port});
  net::write(sock, net::buffer(bytes));
  std::string out;
  char buf[4096];
  boost::system::error_code ec;
  for (;;) {
    const std::size_t n = sock.read_some(net::buffer(buf), ec);
    if (ec) break;
    out.append(buf, n);
    if (!until.empty() && out.find(until) != std::string::npos) break;
  }
  return out;
}

ServerOptions local_options() {
  ServerOptions o;
  o.port = 0;
  o.body_limit = 1024;
  o.shutdown_grace = std::chrono::seconds(20);
  return o;
}

TEST(HttpServer, ServesHandlerResponsesOnOneKeepAliveConnection) {
  int calls = 0;
  Server server(local_options(), [&](const Request& r) {
    ++calls;
    return json_response(200, "{\"path\":\"" + r.target + "\"}");
  });
  ASSERT_TRUE(server.start().ok());
  const std::string two =
      "GET /a HTTP/1.1\r\nHost: x\r\n\r\nGET /b HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
  const std::string out = raw_exchange(server.port(), two);
  EXPECT_NE(out.find("{\"path\":\"/a\"}"), std::string::npos);
  EXPECT_NE(out.find("{\"path\":\"/b\"}"), std::string::npos);
  EXPECT_EQ(calls, 2);
  server.shutdown();
}

// A Deferred answer (a held long-poll request) holds no thread: with one I/O thread and one
// worker, fifty requests wait at once and each gets the answer another thread gives it; one
// nobody answers gets its at-limit response. Nothing here is timed but the 1 s limit.
TEST(HttpServer, DeferredAnswersWaitWithoutAThreadAndComeFromAnyThread) {
  std::mutex mu;
  std::vector<std::shared_ptr<Deferred>> held;
  auto o = local_options();
  o.io_threads = 1;
  o.worker_threads = 1;
  Server server(o, [&](const Request& r) {
    Response res;
    res.deferred = std::make_shared<Deferred>(
        r.target == "/lonely" ? std::chrono::seconds(1) : std::chrono::seconds(60),
        json_response(200, "{\"at\":\"limit\"}"));
    if (r.target != "/lonely") {
      const std::lock_guard lock(mu);
      held.push_back(res.deferred);
    }
    return res;
  });
  ASSERT_TRUE(server.start().ok());
  const std::string lonely =
      raw_exchange(server.port(), "GET /lonely HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
  EXPECT_NE(lonely.find("{\"at\":\"limit\"}"), std::string::npos) << lonely;
  constexpr int kHeld = 50;
  std::vector<std::future<std::string>> answers;
  for (int i = 0; i < kHeld; ++i) {
    answers.push_back(std::async(std::launch::async, [&server, i] {
      return raw_exchange(server.port(), "GET /" + std::to_string(i) +
                                             " HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    }));
  }
  for (int i = 0; i < 3000; ++i) {
    {
      const std::lock_guard lock(mu);
      if (held.size() == kHeld) break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  std::thread answerer([&] {
    const std::lock_guard lock(mu);
    for (auto& d : held) EXPECT_TRUE(d->answer(json_response(200, "{\"at\":\"once\"}")));
  });
  answerer.join();
  for (auto& f : answers) {
    const std::string out = f.get();
    EXPECT_NE(out.find("{\"at\":\"once\"}"), std::string::npos) << out;
  }
  const std::lock_guard lock(mu);
  ASSERT_EQ(held.size(), static_cast<std::size_t>(kHeld));
  EXPECT_FALSE(held[0]->answer(json_response(200, "{}")))
      << "sent already: a second answer is refused";
  server.shutdown();
}

TEST(HttpServer, OversizedBodyIs413AndNeverReachesTheHandler) {
  bool called = false;
  Server server(local_options(), [&](const Request&) {
    called = true;
    return json_response(200, "{}");
  });
  ASSERT_TRUE(server.start().ok());
  const std::string body(4096, 'x');
  const std::string out = raw_exchange(
      server.port(), "POST /api HTTP/1.1\r\nHost: x\r\nContent-Length: 4096\r\n\r\n" + body);
  EXPECT_EQ(out.rfind("HTTP/1.1 413", 0), 0u) << out;
  EXPECT_NE(out.find("\"error\":\"too_large\""), std::string::npos);
  EXPECT_FALSE(called);
}

// A route-specific limit (uploads larger than JSON calls) is applied from the headers alone.
ServerOptions routed_options() {
  auto o = local_options();
  o.body_limit = 64 * 1024;
  o.body_limit_for = [](std::string_view, std::string_view target) -> std::size_t {
    return target == "/upload" ? 4096 : 100;
  };
  return o;
}

std::string post(const std::string& target, const std::string& body,
                 const std::string& extra_headers = "") {
  return "POST " + target + " HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Length: " +
         std::to_string(body.size()) + "\r\n" + extra_headers + "\r\n" + body;
}

TEST(HttpServer, EachRouteGetsItsOwnBodyLimit) {
  std::atomic<int> calls{0};
  Server server(routed_options(), [&](const Request& r) {
    ++calls;
    return json_response(200, "{\"got\":" + std::to_string(r.body.size()) + "}");
  });
  ASSERT_TRUE(server.start().ok());
  const std::string kb2(2048, 'x');
  const std::string refused = raw_exchange(server.port(), post("/json", kb2));
  EXPECT_EQ(refused.rfind("HTTP/1.1 413", 0), 0u);
  EXPECT_NE(refused.find("exceeds 100 bytes for this route"), std::string::npos) << refused;
  EXPECT_EQ(calls.load(), 0);
  const std::string out = raw_exchange(server.port(), post("/upload", kb2));
  EXPECT_EQ(out.rfind("HTTP/1.1 200", 0), 0u) << out;
  EXPECT_NE(out.find("{\"got\":2048}"), std::string::npos);
  // The limit also holds for a chunked body, which declares no length up front.
  const std::string chunked =
      "POST /json HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n800\r\n" + kb2 +
      "\r\n0\r\n\r\n";
  EXPECT_EQ(raw_exchange(server.port(), chunked).rfind("HTTP/1.1 413", 0), 0u);
  EXPECT_EQ(calls.load(), 1);
}

TEST(HttpServer, TheRefusalOfALargeBodyStillInFlightReachesTheClient) {
  // The client sends its whole 8 MiB body before it reads: a server that closed at once, with
  // the body unread, would reset the connection and the 413 could be lost.
  Server server(routed_options(), [](const Request&) { return json_response(200, "{}"); });
  ASSERT_TRUE(server.start().ok());
  const std::string out = raw_exchange(server.port(), post("/upload", std::string(8 << 20, 'x')));
  EXPECT_EQ(out.rfind("HTTP/1.1 413", 0), 0u) << out.substr(0, 200);
}

// The application's header phase: a refusal goes out at once and neither the body nor the
// handler is reached; an admitted body streamed to a sink arrives there in bounded pieces and
// never in Request::body.
struct CountingSink final : BodySink {
  std::atomic<std::size_t> total{0}, largest{0};
  void write(std::string_view chunk) override {
    total += chunk.size();
    if (chunk.size() > largest) largest = chunk.size();
  }
};

TEST(HttpServer, AdmissionRefusesFromTheHeadersOrStreamsTheBodyToASink) {
  auto o = local_options();
  o.body_limit = 64 << 20;
  auto sink = std::make_shared<CountingSink>();
  std::atomic<int> admitted{0};
  o.admit = [&](const Request& head) {
    ++admitted;
    Admission a;
    if (!head.header("Authorization")) {
      a.refusal = error_response(401, "unauthorized", "who are you?");
      return a;
    }
    a.body_limit = 32 << 20;
    a.sink = sink;
    return a;
  };
  std::atomic<int> calls{0};
  std::atomic<std::size_t> in_memory{1};
  Server server(o, [&](const Request& r) {
    ++calls;
    in_memory = r.body.size();
    return json_response(200, r.sink.get() == sink.get() ? "{\"sink\":true}" : "{}");
  });
  ASSERT_TRUE(server.start().ok());
  // Only headers announcing 200 MiB: the refusal arrives, and no "100 Continue" invites the body.
  const std::string refused = raw_exchange(
      server.port(),
      "POST /up HTTP/1.1\r\nHost: x\r\nContent-Length: 209715200\r\nExpect: 100-continue\r\n\r\n");
  EXPECT_EQ(refused.rfind("HTTP/1.1 401", 0), 0u) << refused;
  EXPECT_EQ(refused.find("100 Continue"), std::string::npos);
  EXPECT_EQ(calls.load(), 0);
  const std::string body(5 << 20, 'z');
  const std::string out = raw_exchange(server.port(), post("/up", body, "Authorization: x\r\n"));
  EXPECT_EQ(out.rfind("HTTP/1.1 200", 0), 0u) << out.substr(0, 200);
  EXPECT_NE(out.find("{\"sink\":true}"), std::string::npos);
  EXPECT_EQ(sink->total.load(), body.size());
  EXPECT_LE(sink->largest.load(), 64u * 1024) << "pieces, not the whole body";
  EXPECT_EQ(in_memory.load(), 0u);
  // A request without a body is not asked about (the handler authenticates it anyway).
  const int before = admitted.load();
  raw_exchange(server.port(), "GET /x HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
  EXPECT_EQ(admitted.load(), before);
}

TEST(HttpServer, ABodyDribbledBelowTheMinimumRateIsCutOff) {
  // read_timeout 1 s and a 100-byte body: the whole body is due within about 1 s, however often
  // a byte arrives, while dribbling it at one byte every 200 ms would take 20 s.
  auto o = routed_options();
  o.read_timeout = std::chrono::seconds(1);
  std::atomic<bool> called{false};
  Server server(o, [&](const Request&) {
    called = true;
    return json_response(200, "{}");
  });
  ASSERT_TRUE(server.start().ok());
  net::io_context ioc;
  tcp::socket sock(ioc);
  sock.connect({net::ip::make_address("127.0.0.1"), server.port()});
  net::write(
      sock,
      net::buffer(std::string("POST /json HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n")));
  int sent = 0;
  boost::system::error_code ec;
  for (; sent < 100 && !ec; ++sent) {
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
    net::write(sock, net::buffer("x", 1), ec);
  }
  EXPECT_TRUE(ec) << "the server was still reading after the whole drip";
  EXPECT_FALSE(called.load());
}

TEST(HttpServer, ExpectContinueIsAnsweredOrRefusedFromTheHeaders) {
  Server server(routed_options(), [](const Request& r) {
    return json_response(200, "{\"got\":" + std::to_string(r.body.size()) + "}");
  });
  ASSERT_TRUE(server.start().ok());
  net::io_context ioc;
  tcp::socket sock(ioc);
  sock.connect({net::ip::make_address("127.0.0.1"), server.port()});
  const std::string body(1000, 'y');
  const std::string request = post("/upload", body, "Expect: 100-continue\r\n");
  net::write(sock, net::buffer(request.substr(0, request.size() - body.size())));
  std::string got(25, '\0');
  net::read(sock, net::buffer(got));
  EXPECT_EQ(got, "HTTP/1.1 100 Continue\r\n\r\n");
  net::write(sock, net::buffer(body));
  std::string rest;
  boost::system::error_code ec;
  net::read(sock, net::dynamic_buffer(rest), ec);
  EXPECT_EQ(rest.rfind("HTTP/1.1 200", 0), 0u) << rest;
  EXPECT_NE(rest.find("{\"got\":1000}"), std::string::npos);
  // Too large: the final answer comes at once, and no 100 Continue invites the body.
  const std::string refused =
      raw_exchange(server.port(),
                   "POST /json HTTP/1.1\r\nHost: x\r\nContent-Length: 5000\r\n"
                   "Expect: 100-continue\r\n\r\n");
  EXPECT_EQ(refused.rfind("HTTP/1.1 413", 0), 0u) << refused;
}

TEST(HttpServer, GarbageRequestIs400) {
  Server server(local_options(), [](const Request&) { return json_response(200, "{}"); });
  ASSERT_TRUE(server.start().ok());
  const std::string out = raw_exchange(server.port(), "\x01\x02 NOT HTTP\r\n\r\n");
  EXPECT_EQ(out.rfind("HTTP/1.1 400", 0), 0u) << out;
}

TEST(HttpServer, HandlerExceptionIs500) {
  Server server(local_options(), [](const Request&) -> Response { throw std::runtime_error("x"); });
  ASSERT_TRUE(server.start().ok());
  const std::string out =
      raw_exchange(server.port(), "GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
  EXPECT_EQ(out.rfind("HTTP/1.1 500", 0), 0u) << out;
}

TEST(HttpServer, StreamsAFileRange) {
  testing::TempDir dir;
  std::string content;
  for (int i = 0; i < 200000; ++i) content += static_cast<char>('a' + i % 26);
  testing::write_file(dir / "blob", content);
  Server server(local_options(), [&](const Request&) {
    Response r;
    r.status = 206;
    r.file = FileRange{(dir / "blob").string(), 1000, 150000};
    return r;
  });
  ASSERT_TRUE(server.start().ok());
  const std::string out =
      raw_exchange(server.port(), "GET /f HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
  const auto split = out.find("\r\n\r\n");
  ASSERT_NE(split, std::string::npos);
  EXPECT_EQ(out.rfind("HTTP/1.1 206", 0), 0u);
  EXPECT_EQ(out.substr(split + 4), content.substr(1000, 150000));
}

TEST(HttpServer, ShutdownLetsAnInFlightRequestFinishAndClosesIdleConnections) {
  std::promise<void> entered;
  std::promise<void> release;
  auto released = release.get_future().share();
  Server server(local_options(), [&](const Request& r) {
    if (r.target == "/slow") {
      entered.set_value();
      released.wait();
    }
    return json_response(200, "{\"done\":true}");
  });
  ASSERT_TRUE(server.start().ok());
  const auto port = server.port();

  // An idle keep-alive connection: it must be closed by shutdown, not left hanging.
  net::io_context ioc;
  tcp::socket idle(ioc);
  idle.connect({net::ip::make_address("127.0.0.1"), port});

  auto inflight = std::async(std::launch::async, [port] {
    return raw_exchange(port, "GET /slow HTTP/1.1\r\nHost: x\r\n\r\n");
  });
  entered.get_future().wait();
  auto stopper = std::async(std::launch::async, [&] { server.shutdown(); });
  // The request is still in the handler while shutdown waits for it.
  EXPECT_EQ(stopper.wait_for(std::chrono::milliseconds(200)), std::future_status::timeout);
  release.set_value();
  stopper.get();
  const std::string out = inflight.get();
  EXPECT_EQ(out.rfind("HTTP/1.1 200", 0), 0u) << out;
  EXPECT_NE(out.find("Connection: close"), std::string::npos);
  char c;
  boost::system::error_code ec;
  idle.read_some(net::buffer(&c, 1), ec);
  EXPECT_TRUE(ec) << "idle connection should be closed by shutdown";
  tcp::socket late(ioc);
  late.connect({net::ip::make_address("127.0.0.1"), port}, ec);
  EXPECT_TRUE(ec) << "nothing accepts after shutdown";
}

TEST(HttpServer, ServesTlsWithTheConfiguredCertificate) {
  testing::TempDir dir;
  const auto key = (dir / "key.pem").string();
  const auto cert = (dir / "cert.pem").string();
  auto gen =
      testing::run({"/usr/bin/openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                    "ec_paramgen_curve:P-256", "-nodes", "-keyout", key, "-out", cert, "-days", "1",
                    "-subj", "/CN=localhost", "-addext", "subjectAltName=IP:127.0.0.1"});
  ASSERT_EQ(gen.exit_code, 0) << gen.err;
  auto opt = local_options();
  opt.tls_cert_file = cert;
  opt.tls_key_file = key;
  Server server(opt, [](const Request& r) {
    return json_response(200, r.tls ? "{\"tls\":true}" : "{\"tls\":false}");
  });
  ASSERT_TRUE(server.start().ok());
  auto res = testing::run({"/usr/bin/curl", "-sS", "--cacert", cert,
                           "https://127.0.0.1:" + std::to_string(server.port()) + "/"});
  EXPECT_EQ(res.exit_code, 0) << res.err;
  EXPECT_EQ(res.out, "{\"tls\":true}");
  // Plain HTTP to the TLS port gets nothing useful.
  auto plain = testing::run({"/usr/bin/curl", "-sS", "--max-time", "10",
                             "http://127.0.0.1:" + std::to_string(server.port()) + "/"});
  EXPECT_NE(plain.exit_code, 0);
}

TEST(HttpServer, BadTlsFilesAndAddressesAreClearErrors) {
  auto opt = local_options();
  opt.tls_cert_file = "/nonexistent/cert.pem";
  opt.tls_key_file = "/nonexistent/key.pem";
  Server a(opt, [](const Request&) { return Response{}; });
  auto st = a.start();
  ASSERT_FALSE(st.ok());
  EXPECT_NE(st.error().message.find("/nonexistent/cert.pem"), std::string::npos);
  auto opt2 = local_options();
  opt2.address = "not-an-ip";
  Server b(opt2, [](const Request&) { return Response{}; });
  EXPECT_EQ(b.start().error().code, "invalid_address");
}

// A body source that gives `size` bytes of a pattern in pieces of at most `piece`, and fails (or
// ends early, when `fail_with_error` is false) once `fail_at` bytes are out.
class PatternSource final : public BodySource {
 public:
  PatternSource(std::uint64_t size, std::uint64_t fail_at = UINT64_MAX, bool fail_with_error = true)
      : size_(size), fail_at_(fail_at), error_(fail_with_error) {}
  std::uint64_t size() const override { return size_; }
  Expected<std::string> read(std::size_t max) override {
    ++reads;
    {
      std::lock_guard lock(mu);
      threads.insert(std::this_thread::get_id());
    }
    if (at_ >= fail_at_) {
      if (error_) return make_error("storage", "the database went away");
      return std::string();
    }
    const auto n = std::min<std::uint64_t>({max, 10'000, size_ - at_, fail_at_ - at_});
    std::string out;
    for (std::uint64_t i = 0; i < n; ++i) out.push_back(byte_at(at_ + i));
    at_ += n;
    return out;
  }
  static char byte_at(std::uint64_t i) { return static_cast<char>('a' + (i * 7) % 26); }
  std::atomic<int> reads{0};
  std::mutex mu;
  std::set<std::thread::id> threads;  // guarded by mu: where read() ran

 private:
  const std::uint64_t size_, fail_at_;
  const bool error_;
  std::uint64_t at_ = 0;
};

std::string pattern(std::uint64_t n) {
  std::string out;
  for (std::uint64_t i = 0; i < n; ++i) out.push_back(PatternSource::byte_at(i));
  return out;
}

// The bytes after the response's headers.
std::string body_of(const std::string& response) {
  const auto end = response.find("\r\n\r\n");
  return end == std::string::npos ? std::string() : response.substr(end + 4);
}

Handler source_handler(std::shared_ptr<PatternSource> src) {
  return [src](const Request&) {
    Response r;
    r.set_header("Content-Type", "application/octet-stream");
    r.source = src;
    return r;
  };
}

TEST(HttpServer, StreamsABodySourceWithItsLengthInPiecesReadOnTheWorkerPool) {
  const std::uint64_t size = 700 * 1024;  // several host pieces, many source pieces
  auto src = std::make_shared<PatternSource>(size);
  auto opt = local_options();
  opt.worker_threads = 1;  // so the handler's thread is the one worker
  std::thread::id worker;
  Server server(opt, [&, src](const Request& r) {
    {
      std::lock_guard lock(src->mu);
      worker = std::this_thread::get_id();
    }
    return source_handler(src)(r);
  });
  ASSERT_TRUE(server.start().ok());
  const std::string out =
      raw_exchange(server.port(), "GET /a HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
  EXPECT_EQ(out.rfind("HTTP/1.1 200", 0), 0u) << out.substr(0, 200);
  EXPECT_NE(out.find("Content-Length: " + std::to_string(size)), std::string::npos);
  EXPECT_TRUE(body_of(out) == pattern(size)) << "got " << body_of(out).size() << " bytes";
  EXPECT_GT(src->reads.load(), 3);
  std::lock_guard lock(src->mu);
  EXPECT_EQ(src->threads, std::set<std::thread::id>{worker})
      << "reads (which may block on a database) never run on an I/O thread";
}

TEST(HttpServer, HeadOfABodySourceSendsItsLengthAndReadsNothing) {
  auto src = std::make_shared<PatternSource>(5000);
  Server server(local_options(), source_handler(src));
  ASSERT_TRUE(server.start().ok());
  const std::string out =
      raw_exchange(server.port(), "HEAD /a HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
  EXPECT_EQ(out.rfind("HTTP/1.1 200", 0), 0u) << out;
  EXPECT_NE(out.find("Content-Length: 5000"), std::string::npos);
  EXPECT_EQ(body_of(out), "");
  EXPECT_EQ(src->reads.load(), 0);
}

// A source that fails (or ends early) mid-way: the client has the right bytes so far, fewer than
// Content-Length, and the connection is closed (a pipelined request after it goes unanswered).
TEST(HttpServer, ABodySourceFailingMidwayClosesTheConnectionWithAShortBody) {
  for (const bool with_error : {true, false}) {
    const std::uint64_t size = 300 * 1024, fail_at = 100 * 1024;
    auto src = std::make_shared<PatternSource>(size, fail_at, with_error);
    int calls = 0;
    Server server(local_options(), [&](const Request& r) {
      ++calls;
      return source_handler(src)(r);
    });
    ASSERT_TRUE(server.start().ok());
    const std::string out = raw_exchange(
        server.port(), "GET /a HTTP/1.1\r\nHost: x\r\n\r\nGET /b HTTP/1.1\r\nHost: x\r\n\r\n");
    EXPECT_EQ(out.rfind("HTTP/1.1 200", 0), 0u) << out.substr(0, 200);
    EXPECT_NE(out.find("Content-Length: " + std::to_string(size)), std::string::npos);
    const std::string body = body_of(out);
    EXPECT_EQ(body.size(), fail_at) << "error " << with_error;
    EXPECT_TRUE(body == pattern(fail_at)) << "never wrong bytes";
    EXPECT_EQ(calls, 1) << "the connection closed after the failed body";
    server.shutdown();
  }
}

}  // namespace
}  // namespace rollout::http
