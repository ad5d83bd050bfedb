// A download's progress travels with the check-in and is what /api/agents/{id} (and so the agent
// page) shows as the agent's state: "downloading 43 %" (issue #10 §3).
#include "tests/server/app_fixture.hpp"

namespace rollout::server::testing {
namespace {

class Progress : public AppFixture {};

std::string state_of(const http::Response& r) {
  return std::string(bj::parse(r.body).as_object().at("state").as_string());
}

TEST_F(Progress, TheAgentDetailShowsADownloadsPercentage) {
  auto a = enroll("downloader", "1.0.0");
  protocol::CheckinRequest c{a.id, a.version, "linux",      "x86_64", "downloading",
                             0,    0,         std::nullopt, 43};
  auto r =
      call("POST", "/api/agent/v1/checkin", c.to_json(), {{"Authorization", "Bearer " + a.token}});
  ASSERT_EQ(r.status, 200u) << r.body;
  auto detail = as(admin(), "GET", "/api/agents/" + a.id);
  ASSERT_EQ(detail.status, 200u) << detail.body;
  EXPECT_EQ(state_of(detail), "downloading 43 %");

  checkin(a, "idle");  // done: the percentage goes with the download
  EXPECT_EQ(state_of(as(admin(), "GET", "/api/agents/" + a.id)), "idle");
}

TEST_F(Progress, APercentageOutsideADownloadOrAbove100IsRefused) {
  auto a = enroll("liar", "1.0.0");
  for (auto [state, pct] :
       {std::pair<const char*, std::uint32_t>{"idle", 10}, {"downloading", 101}}) {
    protocol::CheckinRequest c{a.id, a.version, "linux", "x86_64", state, 0, 0, std::nullopt, pct};
    auto r = call("POST", "/api/agent/v1/checkin", c.to_json(),
                  {{"Authorization", "Bearer " + a.token}});
    EXPECT_EQ(r.status, 400u) << state << " " << pct << ": " << r.body;
  }
  EXPECT_EQ(state_of(as(admin(), "GET", "/api/agents/" + a.id)), "idle");
}

}  // namespace
}  // namespace rollout::server::testing
