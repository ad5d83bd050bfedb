#include <gtest/gtest.h>

#include <algorithm>
#include <thread>

#include "common/http/client.hpp"
#include "tests/testing/scripted_server.hpp"

namespace rollout::net {
namespace {

using testing::ScriptedConnection;
using testing::ScriptedRequest;
using testing::ScriptedServer;

TransportOptions test_options() {
  TransportOptions o;
  o.allow_plain_http = true;  // the scripted server speaks plain HTTP on loopback
  o.connect_timeout = std::chrono::seconds(5);
  o.request_timeout = std::chrono::seconds(20);
  return o;
}

struct Collected {
  std::string bytes;
  int restarts = 0;
  DownloadSink sink() {
    return [this](const char* d, std::size_t n) -> Status {
      bytes.append(d, n);
      return {};
    };
  }
  RestartHook restart() {
    return [this]() -> Status {
      ++restarts;
      bytes.clear();
      return {};
    };
  }
};

const std::string kBlob = [] {
  std::string s;
  for (int i = 0; i < 100000; ++i) s += static_cast<char>('A' + i % 23);
  return s;
}();

TEST(Transport, RefusesPlainHttpUnlessAllowed) {
  TransportOptions o;
  auto t = make_curl_transport(o);
  auto r = t->post_json("http://127.0.0.1:9/api", "{}", "");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, "invalid_url");
  EXPECT_EQ(check_url_allowed("ftp://x", o).error().code, "invalid_url");
  EXPECT_TRUE(check_url_allowed("https://x", o).ok());
}

// The check sees the address libcurl resolved and connects to, also for a name, and a refusal
// means no connection at all: the server never gets a request.
TEST(Transport, ConnectCheckSeesTheResolvedAddressAndRefusesBeforeConnecting) {
  ScriptedServer server([](const ScriptedRequest&, ScriptedConnection& c) {
    c.write(ScriptedServer::response(200, "{}"));
  });
  std::vector<std::pair<std::string, std::uint16_t>> seen;
  auto o = test_options();
  bool allow = false;
  o.connect_check = [&](std::string_view address, std::uint16_t port) -> Status {
    seen.emplace_back(std::string(address), port);
    if (allow && address == "127.0.0.1") return {};
    return make_error("forbidden_target", "refused " + std::string(address));
  };
  auto t = make_curl_transport(o);
  const std::string by_name = "http://localhost:" + std::to_string(server.port()) + "/hook";
  auto refused = t->post_json(by_name, "{}", "");
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.error().code, "forbidden_target") << refused.error().message;
  EXPECT_TRUE(server.requests().empty());
  ASSERT_FALSE(seen.empty());
  bool saw_loopback = false;
  for (const auto& [address, port] : seen) {
    EXPECT_EQ(port, server.port());
    saw_loopback = saw_loopback || address == "127.0.0.1" || address == "::1";
  }
  EXPECT_TRUE(saw_loopback);  // the name was resolved before the check
  allow = true;
  auto ok = t->post_json(server.url("/hook"), "{}", "");
  ASSERT_TRUE(ok.ok()) << ok.error().message;
  EXPECT_EQ(ok->status, 200);
  EXPECT_EQ(server.requests().size(), 1u);
}

TEST(Transport, PostsJsonWithBearerTokenAndReadsRetryAfter) {
  ScriptedServer server([](const ScriptedRequest&, ScriptedConnection& c) {
    c.write(ScriptedServer::response(503, "{\"error\":\"busy\",\"message\":\"later\"}",
                                     "Retry-After: 120\r\n"));
  });
  auto t = make_curl_transport(test_options());
  auto r = t->post_json(server.url("/api/agent/v1/checkin"), "{\"a\":1}", "tok123");
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(r->status, 503);
  ASSERT_TRUE(r->retry_after.has_value());
  EXPECT_EQ(r->retry_after->count(), 120);
  const auto reqs = server.requests();
  ASSERT_EQ(reqs.size(), 1u);
  EXPECT_EQ(reqs[0].method, "POST");
  EXPECT_EQ(reqs[0].headers.at("authorization"), "Bearer tok123");
  EXPECT_EQ(reqs[0].body, "{\"a\":1}");
}

// A server holding the answer back (a long-poll check-in) for longer than the transport's
// request timeout and low-speed window: the request's own timeout replaces both, and its extra
// headers go out as given.
TEST(Transport, ARequestsOwnTimeoutOutlastsTheTransportsAndTheLowSpeedWindow) {
  ScriptedServer server([](const ScriptedRequest&, ScriptedConnection& c) {
    for (int i = 0; i < 25 && !c.stopping(); ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(100));  // 2.5 s without a byte
    }
    c.write(ScriptedServer::response(200, "{}", "Preference-Applied: wait=2\r\n"));
  });
  auto o = test_options();
  o.request_timeout = std::chrono::seconds(1);
  o.low_speed_bytes = 100;
  o.low_speed_time = std::chrono::seconds(1);
  auto t = make_curl_transport(o);
  Request held;
  held.method = "POST";
  held.url = server.url("/api/agent/v1/checkin");
  held.body = "{}";
  held.headers = {{"Prefer", "wait=2"}};
  held.timeout = std::chrono::seconds(20);
  auto r = t->send(held);
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(r->status, 200);
  const std::pair<std::string, std::string> applied{"preference-applied", "wait=2"};
  EXPECT_NE(std::find(r->headers.begin(), r->headers.end(), applied), r->headers.end());
  EXPECT_EQ(server.requests().at(0).headers.at("prefer"), "wait=2");
  // The same request bound by the transport's timeout does not get its answer.
  held.timeout.reset();
  auto cut = t->send(held);
  ASSERT_FALSE(cut.ok());
  EXPECT_EQ(cut.error().code, "timeout") << cut.error().message;
}

// A held request ends when its owner cancels it (a stop), long before the server would answer
// or the request's timeout: the cancel check is polled while no byte arrives.
TEST(Transport, AHeldRequestStopsWhenCancelled) {
  ScriptedServer server([](const ScriptedRequest&, ScriptedConnection& c) {
    for (int i = 0; i < 600 && !c.stopping(); ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(100));  // a minute at most
    }
    c.write(ScriptedServer::response(200, "{}"));
  });
  auto t = make_curl_transport(test_options());
  Request held;
  held.method = "POST";
  held.url = server.url("/api/agent/v1/checkin");
  held.body = "{}";
  held.timeout = std::chrono::seconds(120);
  const auto start = std::chrono::steady_clock::now();
  // Cancelled once the request has sat silent for a while: the check is still being polled.
  held.cancelled = [&] {
    return std::chrono::steady_clock::now() - start > std::chrono::milliseconds(1500);
  };
  auto r = t->send(held);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, "cancelled") << r.error().message;
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(30))
      << "ended by the server or a timeout, not by the cancel";
}

TEST(Transport, OversizedJsonAnswerIsRefused) {
  ScriptedServer server([](const ScriptedRequest&, ScriptedConnection& c) {
    c.write(ScriptedServer::response(200, std::string(4096, 'x')));
  });
  auto o = test_options();
  o.max_json_response = 1024;
  auto r = make_curl_transport(o)->post_json(server.url(), "{}", "");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, "too_large");
}

TEST(Transport, DownloadsWholeBody) {
  ScriptedServer server([](const ScriptedRequest&, ScriptedConnection& c) {
    c.write(ScriptedServer::response(200, kBlob, "", "application/octet-stream"));
  });
  Collected got;
  auto r = make_curl_transport(test_options())
               ->download(server.url("/a"), "t", 0, kBlob.size(), got.sink(), got.restart());
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(got.bytes, kBlob);
  EXPECT_EQ(r->received, kBlob.size());
}

TEST(Transport, ResumesWithRangeFromOffset) {
  ScriptedServer server([](const ScriptedRequest& req, ScriptedConnection& c) {
    const auto& range = req.headers.at("range");  // "bytes=40000-"
    const std::size_t from = std::stoul(range.substr(6));
    const std::string part = kBlob.substr(from);
    c.write(ScriptedServer::response(206, part,
                                     "Content-Range: bytes " + std::to_string(from) + "-" +
                                         std::to_string(kBlob.size() - 1) + "/" +
                                         std::to_string(kBlob.size()) + "\r\n",
                                     "application/octet-stream"));
  });
  Collected got;
  got.bytes = kBlob.substr(0, 40000);
  auto r = make_curl_transport(test_options())
               ->download(server.url("/a"), "t", 40000, kBlob.size(), got.sink(), got.restart());
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(r->status, 206);
  EXPECT_EQ(got.bytes, kBlob);
  EXPECT_EQ(server.requests().at(0).headers.at("range"), "bytes=40000-");
}

TEST(Transport, RangeIgnoredByServerRestartsFromZero) {
  ScriptedServer server([](const ScriptedRequest&, ScriptedConnection& c) {
    c.write(ScriptedServer::response(200, kBlob, "", "application/octet-stream"));
  });
  Collected got;
  got.bytes = "stale partial bytes";
  auto r = make_curl_transport(test_options())
               ->download(server.url("/a"), "t", 19, kBlob.size(), got.sink(), got.restart());
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_TRUE(r->restarted);
  EXPECT_EQ(got.restarts, 1);
  EXPECT_EQ(got.bytes, kBlob);
}

TEST(Transport, WrongContentRangeIsRefused) {
  ScriptedServer server([](const ScriptedRequest&, ScriptedConnection& c) {
    c.write(ScriptedServer::response(206, kBlob.substr(10),
                                     "Content-Range: bytes 10-99999/100000\r\n"));
  });
  Collected got;
  auto r = make_curl_transport(test_options())
               ->download(server.url("/a"), "t", 500, kBlob.size(), got.sink(), got.restart());
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, "protocol");
  EXPECT_TRUE(got.bytes.empty());
}

TEST(Transport, BodyLongerThanSignedSizeStopsAtTheCap) {
  ScriptedServer server([](const ScriptedRequest&, ScriptedConnection& c) {
    c.write(ScriptedServer::response(200, kBlob, "", "application/octet-stream"));
  });
  Collected got;
  auto r = make_curl_transport(test_options())
               ->download(server.url("/a"), "t", 0, 5000, got.sink(), got.restart());
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, "too_large");
  EXPECT_LE(got.bytes.size(), 5000u);
}

TEST(Transport, EndlessChunkedBodyStopsAtTheCap) {
  ScriptedServer server([](const ScriptedRequest&, ScriptedConnection& c) {
    if (!c.write("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n")) return;
    const std::string chunk = "1000\r\n" + std::string(4096, 'z') + "\r\n";
    while (c.write(chunk)) {
    }
  });
  Collected got;
  auto r = make_curl_transport(test_options())
               ->download(server.url("/a"), "t", 0, 1 << 20, got.sink(), got.restart());
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, "too_large");
  EXPECT_LE(got.bytes.size(), 1u << 20);
}

TEST(Transport, DripFeedingServerTimesOut) {
  ScriptedServer server([](const ScriptedRequest&, ScriptedConnection& c) {
    if (!c.write("HTTP/1.1 200 OK\r\nContent-Length: 100000\r\n\r\n")) return;
    c.drip(kBlob, std::chrono::milliseconds(1000));
  });
  auto o = test_options();
  o.low_speed_bytes = 100;
  o.low_speed_time = std::chrono::seconds(2);
  Collected got;
  auto r = make_curl_transport(o)->download(server.url("/a"), "t", 0, kBlob.size(), got.sink(),
                                            got.restart());
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, "timeout");
}

// A stalled transfer (headers, then nothing) must still stop when its owner cancels it, long
// before the low-speed timeout: the agent cancels a download on SIGTERM.
TEST(Transport, AStalledDownloadStopsWhenCancelled) {
  ScriptedServer server([](const ScriptedRequest&, ScriptedConnection& c) {
    if (!c.write("HTTP/1.1 200 OK\r\nContent-Length: 100000\r\n\r\n" + kBlob.substr(0, 10))) return;
    c.drip(kBlob.substr(10), std::chrono::milliseconds(60'000));
  });
  auto o = test_options();
  o.low_speed_time = std::chrono::seconds(600);
  Collected got;
  int polls = 0;
  auto r = make_curl_transport(o)->download(server.url("/a"), "t", 0, kBlob.size(), got.sink(),
                                            got.restart(), [&] {
                                              // Cancel only once bytes have arrived and the
                                              // transfer has then gone quiet.
                                              return !got.bytes.empty() && ++polls > 1;
                                            });
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, "cancelled");
  // The headers' 10 bytes, and the first drip if it came before the cancel: which of the two is
  // a race between the drip and curl's progress poll, and either proves the point.
  EXPECT_TRUE(got.bytes == kBlob.substr(0, 10) || got.bytes == kBlob.substr(0, 11)) << got.bytes;
}

// Under a bandwidth cap curl pauses after a burst to bring the average down; a cancel must still
// stop it during such a pause.
TEST(Transport, ARateLimitedDownloadStopsWhenCancelled) {
  std::string big(4'000'000, 'x');
  ScriptedServer server([&big](const ScriptedRequest&, ScriptedConnection& c) {
    c.write(ScriptedServer::response(200, big, "", "application/octet-stream"));
  });
  auto o = test_options();
  o.max_bandwidth = 50'000;
  o.low_speed_time = std::chrono::seconds(600);
  std::uint64_t received = 0;
  const auto start = std::chrono::steady_clock::now();
  auto r = make_curl_transport(o)->download(
      server.url("/a"), "t", 0, big.size(),
      [&](const char*, std::size_t n) -> Status {
        received += n;
        return {};
      },
      [] { return Status{}; },
      [&] { return std::chrono::steady_clock::now() - start > std::chrono::seconds(3); });
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, "cancelled");
  EXPECT_LT(received, big.size());
}

TEST(Transport, CutConnectionKeepsPartialBytesForResume) {
  ScriptedServer server([](const ScriptedRequest&, ScriptedConnection& c) {
    c.write("HTTP/1.1 200 OK\r\nContent-Length: 100000\r\n\r\n" + kBlob.substr(0, 30000));
  });
  Collected got;
  auto r = make_curl_transport(test_options())
               ->download(server.url("/a"), "t", 0, kBlob.size(), got.sink(), got.restart());
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, "network");
  EXPECT_EQ(got.bytes, kBlob.substr(0, 30000));
}

TEST(Transport, ErrorStatusAndHtmlAreNotDelivered) {
  ScriptedServer server([](const ScriptedRequest&, ScriptedConnection& c) {
    c.write(ScriptedServer::response(500, "<html>oops</html>", "", "text/html"));
  });
  Collected got;
  auto r = make_curl_transport(test_options())
               ->download(server.url("/a"), "t", 0, kBlob.size(), got.sink(), got.restart());
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, "http_status");
  EXPECT_TRUE(got.bytes.empty());
}

TEST(Transport, BandwidthCapIsAppliedWithoutBreakingTheTransfer) {
  ScriptedServer server([](const ScriptedRequest&, ScriptedConnection& c) {
    c.write(ScriptedServer::response(200, kBlob, "", "application/octet-stream"));
  });
  auto o = test_options();
  o.max_bandwidth = 200000;
  int progress_calls = 0;
  o.on_progress = [&] { ++progress_calls; };
  Collected got;
  auto r = make_curl_transport(o)->download(server.url("/a"), "t", 0, kBlob.size(), got.sink(),
                                            got.restart());
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(got.bytes, kBlob);
  EXPECT_GT(progress_calls, 0);
}

}  // namespace
}  // namespace rollout::net
