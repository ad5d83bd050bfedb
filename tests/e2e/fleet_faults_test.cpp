// Faults of the whole system with real processes: the server killed with SIGKILL while 50 agents
// report, and network cuts, slow links and a partition between agents and server (a loopback TCP
// proxy the test controls).
#include <signal.h>

#include "tests/agent/fleet_fixture.hpp"
#include "tests/testing/tcp_proxy.hpp"

namespace rollout::agent::test {
namespace {

class FleetFaults : public StableFleet {
 protected:
  std::uint16_t server_port() const {
    const std::string& u = server_->base_url();
    return static_cast<std::uint16_t>(std::stoi(u.substr(u.rfind(':') + 1)));
  }

  // An agent whose server URL goes through `proxy`.
  AgentSandbox& behind(rollout::testing::TcpProxy& proxy, const std::string& name) {
    return sandbox(name, "1.0.0", "beta",
                   "server_url: https://127.0.0.1:" + std::to_string(proxy.port()) + "\n");
  }
};

TEST_F(FleetFaults, ServerKilledWhileFiftyAgentsReportLosesAndDoublesNothing) {
  std::vector<AgentSandbox*> agents;
  for (int i = 0; i < 50; ++i) {
    agents.push_back(&sandbox("a" + std::to_string(i), "1.0.0", "beta", "probation: 1s\n"));
  }
  for (auto* a : agents) start(*a);
  ASSERT_TRUE(eventually([&] {
    for (auto* a : agents) {
      if (a->agent_id().empty()) return false;
    }
    return true;
  }));
  publish("1.1.0");
  // Kill the server once the first reports are in and more are on their way.
  ASSERT_TRUE(
      eventually([&] { return count("1.1.0", "success") >= 5; }, std::chrono::seconds(180)));
  server_->kill9();
  std::string err;
  ASSERT_TRUE(server_->start(&err)) << err;
  ASSERT_TRUE(
      eventually([&] { return count("1.1.0", "success") == 50; }, std::chrono::seconds(300)));
  for (auto* a : agents) {
    EXPECT_TRUE(eventually([&] { return a->queued_reports() == 0; })) << a->name;
    auto h = history(*a);
    EXPECT_EQ(h.size(), 1u) << a->name << ": " << bj::serialize(h);
  }
  EXPECT_EQ(count("1.1.0", "failure"), 0);
  EXPECT_EQ(count("1.1.0", "crash"), 0);
}

TEST_F(FleetFaults, CutConnectionsResumeTheDownloadWithRange) {
  rollout::testing::TcpProxy proxy(server_port());
  proxy.cut_after(256 * 1024);  // the ~1 MiB artifact needs several connections
  auto& a = behind(proxy, "cut");
  start(a);
  publish("1.1.0");
  ASSERT_TRUE(eventually([&] { return count("1.1.0", "success") == 1; }));
  EXPECT_GE(proxy.cuts(), 3);
  EXPECT_EQ(a.running_version(), "1.1.0");
  EXPECT_NE(a.log_text().find("download failed"), std::string::npos);
  EXPECT_EQ(history(a).size(), 1u);
}

TEST_F(FleetFaults, SlowLinkCompletesTheDownload) {
  rollout::testing::TcpProxy proxy(server_port());
  proxy.throttle(256 * 1024);  // bytes per second: a few seconds for the artifact
  auto& a = behind(proxy, "slow");
  start(a);
  publish("1.1.0");
  ASSERT_TRUE(eventually([&] { return count("1.1.0", "success") == 1; }));
  EXPECT_EQ(a.running_version(), "1.1.0");
}

TEST_F(FleetFaults, PartitionDuringTheUpdateHealsAndTheReportArrives) {
  rollout::testing::TcpProxy proxy(server_port());
  // A long probation, so the partition surely falls inside it.
  auto& a = sandbox(
      "partitioned", "1.0.0", "beta",
      "server_url: https://127.0.0.1:" + std::to_string(proxy.port()) + "\nprobation: 15s\n");
  start(a);
  ASSERT_TRUE(eventually([&] { return !a.agent_id().empty(); }));
  publish("1.1.0");
  ASSERT_TRUE(eventually([&] {
    auto j = a.journal();
    return j && j->state == UpdateState::probation;
  }));
  proxy.partition(true);
  const int before = proxy.connections();
  ASSERT_TRUE(eventually([&] { return proxy.connections() >= before + 3; }));
  EXPECT_EQ(a.journal()->state, UpdateState::probation) << "no commit without a check-in";
  proxy.partition(false);
  ASSERT_TRUE(eventually([&] { return count("1.1.0", "success") == 1; }));
  EXPECT_EQ(history(a).size(), 1u);
}

}  // namespace
}  // namespace rollout::agent::test
