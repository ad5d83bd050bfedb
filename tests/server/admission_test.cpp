// Who the caller is is decided from the headers, before the server reads anything they send:
// every route that takes a body (the list comes from the router, so a route added later is
// covered without editing this file) refuses a caller without the right credentials with
// 401/403 while the client has sent nothing but headers announcing 200 MiB.
#include <gtest/gtest.h>

#include <boost/asio.hpp>

#include "tests/server/app_fixture.hpp"

namespace rollout::server::testing {
namespace {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;

constexpr std::uint64_t kAnnounced = 200ull << 20;

// Sends `head` (headers only, never a body) and returns what the server answers until it closes
// or 10 s pass: the server must answer from the headers alone.
std::string headers_only(std::uint16_t port, const std::string& head) {
  asio::io_context ioc;
  tcp::socket sock(ioc);
  sock.connect({asio::ip::make_address("127.0.0.1"), port});
  asio::write(sock, asio::buffer(head));
  std::string out;
  std::array<char, 4096> buf{};
  std::function<void()> read_more = [&] {
    sock.async_read_some(asio::buffer(buf), [&](boost::system::error_code ec, std::size_t n) {
      if (ec) return;
      out.append(buf.data(), n);
      // An admitted upload gets "100 Continue" and would then wait for the body: stop there.
      if (out.find("HTTP/1.1 100 Continue\r\n\r\n") != std::string::npos) return;
      read_more();
    });
  };
  read_more();
  ioc.run_for(std::chrono::seconds(10));
  return out;
}

std::string concrete(std::string pattern) {
  for (const auto& [param, value] :
       std::vector<std::pair<std::string, std::string>>{{"{version}", "1.0.0"},
                                                        {"{id}", "some-agent"},
                                                        {"{name}", "app.js"},
                                                        {"{sha256}", std::string(64, 'a')}}) {
    if (auto at = pattern.find(param); at != std::string::npos)
      pattern.replace(at, param.size(), value);
  }
  return pattern;
}

unsigned status_of(const std::string& answer) {
  if (answer.rfind("HTTP/1.1 ", 0) != 0) return 0;
  return static_cast<unsigned>(std::stoul(answer.substr(9, 3)));
}

class Admission : public AppFixture {
 protected:
  std::string head(const RouteSpec& r, const std::string& extra) {
    return r.method + " " + concrete(r.pattern) +
           " HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: " +
           std::to_string(kAnnounced) + "\r\nExpect: 100-continue\r\n" + extra + "\r\n";
  }
  unsigned send(const RouteSpec& r, const std::string& extra, std::string* answer = nullptr) {
    const std::string out = headers_only(loopback_->port(), head(r, extra));
    if (answer) *answer = out;
    return status_of(out);
  }
  static std::string session(const Session& s, bool with_csrf) {
    return "Cookie: rollout_session=" + s.cookie + "\r\n" +
           (with_csrf ? "X-CSRF-Token: " + s.csrf + "\r\n" : "");
  }
  std::vector<RouteSpec> with_body() {
    std::vector<RouteSpec> out;
    for (const auto& r : route_table())
      if (r.method != "GET") out.push_back(r);
    return out;
  }
};

TEST_F(Admission, EveryRouteWithABodyRefusesAWrongCallerFromTheHeaders) {
  const auto routes = with_body();
  ASSERT_GE(routes.size(), 10u) << "the router lists every POST/PUT route";
  const Session viewer = user_with_role("vera", "viewer");
  const Session admin_session = admin();
  const std::map<std::string, int> rank{{"viewer", 1}, {"operator", 2}, {"admin", 3}};
  for (const auto& r : routes) {
    SCOPED_TRACE(r.method + " " + r.pattern + " (" + r.access + ")");
    std::string answer;
    if (r.access == "open") {
      // Nobody to authenticate: the route's cap still refuses the announced size unread.
      EXPECT_EQ(send(r, "", &answer), 413u) << answer;
      continue;
    }
    EXPECT_EQ(send(r, "", &answer), 401u) << answer;
    EXPECT_NE(answer.find("Connection: close"), std::string::npos) << answer;
    EXPECT_EQ(answer.find("100 Continue"), std::string::npos) << "no invitation to send the body";
    EXPECT_EQ(send(r, "Authorization: Bearer not-a-token\r\n"), 401u);
    if (r.access == "agent") {
      // A user's session is no agent token.
      EXPECT_EQ(send(r, session(admin_session, true)), 401u);
      continue;
    }
    EXPECT_EQ(send(r, session(viewer, false), &answer), 403u) << "no CSRF header: " << answer;
    EXPECT_NE(answer.find("\"csrf\""), std::string::npos) << answer;
    if (rank.at(r.access) > 1) {
      EXPECT_EQ(send(r, session(viewer, true), &answer), 403u) << "viewer's role: " << answer;
      EXPECT_NE(answer.find("\"forbidden\""), std::string::npos) << answer;
    }
    // The right caller: now the announced size decides, still unread (a streamed upload, whose
    // size the signed manifest fixes, is publish_stream_test's).
    EXPECT_EQ(send(r, session(admin_session, true), &answer), 413u) << answer;
  }
}

TEST_F(Admission, RefusalsFromTheHeadersChangeNothingAndCountAsAuthFailures) {
  const auto before = store()->list_events(0, 100, std::nullopt).value().size();
  for (const auto& r : with_body()) {
    if (r.access != "open") {
      EXPECT_EQ(send(r, ""), 401u) << r.pattern;
    }
  }
  EXPECT_EQ(store()->list_events(0, 100, std::nullopt).value().size(), before);
  auto m = as(admin(), "GET", "/metrics");
  EXPECT_EQ(m.body.find("rollout_auth_failures_total 0\n"), std::string::npos) << m.body;
}

// Through App::admit directly, as a plugin host calls it: the same decisions, no socket.
TEST_F(Admission, AdmitDecidesFromHeadersAndIgnoresTheBody) {
  http::Request head;
  head.method = "POST";
  head.target = "/api/updates/rollouts/1.0.0/promote";
  head.body = "ignored";
  auto anonymous = app_->admit(head, std::nullopt);
  ASSERT_TRUE(anonymous.refusal);
  EXPECT_EQ(anonymous.refusal->status, 401u);
  auto host_viewer = app_->admit(head, Identity{"alice", "viewer"});
  ASSERT_TRUE(host_viewer.refusal);
  EXPECT_EQ(host_viewer.refusal->status, 403u);
  auto host_operator = app_->admit(head, Identity{"bob", "operator"});
  EXPECT_FALSE(host_operator.refusal);
  EXPECT_EQ(host_operator.body_limit, cfg_.body_limit);
  head.headers.push_back({"Content-Length", std::to_string(cfg_.body_limit + 1)});
  auto too_big = app_->admit(head, Identity{"bob", "operator"});
  ASSERT_TRUE(too_big.refusal);
  EXPECT_EQ(too_big.refusal->status, 413u);
  head.target = "/no/such/route";
  EXPECT_FALSE(app_->admit(head, std::nullopt).refusal) << "handle() answers 404 without a body";
}

}  // namespace
}  // namespace rollout::server::testing
