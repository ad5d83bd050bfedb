// The real rollout-server binary: smoke tests and a start/serve/stop cycle on loopback.
#include <signal.h>

#include "tests/server/app_fixture.hpp"
#include "tests/testing/child.hpp"

namespace rollout::server::testing {
namespace {

using rollout::testing::run;
const std::string kServer = ROLLOUT_SERVER_PATH;

int lines(const std::string& s) {
  return static_cast<int>(std::count(s.begin(), s.end(), '\n'));
}

class ServerBinary : public AppFixture {
 protected:
  std::string write_config(const std::string& extra = "") {
    const auto path = dir_.path() / "server.yaml";
    rollout::testing::write_file(
        path, "listen:\n  address: 127.0.0.1\n  port: 0\n" + std::string("database_url: ") +
                  cfg_.database_url + "\ndata_dir: " + cfg_.data_dir +
                  "\ndirective_key: " + cfg_.directive_key + "\nrelease_keys: [" +
                  cfg_.release_keys[0] + "]\nenrollment_keys: [enroll-secret]\n" +
                  "password_cost: 10\nlog_level: warn\n" + extra);
    return path.string();
  }
};

TEST_F(ServerBinary, HelpVersionAndBadConfigExitCodes) {
  EXPECT_EQ(run({kServer, "--help"}).exit_code, 0);
  auto v = run({kServer, "--version"});
  EXPECT_EQ(v.exit_code, 0);
  EXPECT_EQ(v.out.rfind("rollout-server ", 0), 0u);
  auto none = run({kServer});
  EXPECT_EQ(none.exit_code, 2);
  EXPECT_EQ(lines(none.err), 1) << none.err;
  auto bad = run({kServer, "--config", write_config("pol_interval: 60s\n")});
  EXPECT_EQ(bad.exit_code, 2);
  EXPECT_EQ(lines(bad.err), 1) << bad.err;
  EXPECT_NE(bad.err.find("server.yaml line"), std::string::npos) << bad.err;
  EXPECT_NE(bad.err.find("unknown key 'pol_interval'"), std::string::npos) << bad.err;
  auto badval = run({kServer, "--config", write_config("poll_interval: often\n")});
  EXPECT_EQ(badval.exit_code, 2);
  EXPECT_NE(badval.err.find("'poll_interval' must be a duration"), std::string::npos) << badval.err;
  auto badwaves = run(
      {kServer, "--config", write_config("waves:\n  steps: [50%, 10%, 100%]\n"), "--check-config"});
  EXPECT_EQ(badwaves.exit_code, 2);
  EXPECT_EQ(lines(badwaves.err), 1) << badwaves.err;
  EXPECT_NE(badwaves.err.find("steps"), std::string::npos) << badwaves.err;
  auto missing = run({kServer, "--config", (dir_.path() / "nope.yaml").string()});
  EXPECT_EQ(missing.exit_code, 2);
  auto ok = run({kServer, "--config", write_config(), "--check-config"});
  EXPECT_EQ(ok.exit_code, 0) << ok.err;
}

TEST_F(ServerBinary, ServesOnLoopbackAndStopsOnSigterm) {
  app_.reset();  // the binary owns the database now
  rollout::testing::Child server({kServer, "--config", write_config()},
                                 (dir_.path() / "server.log").string());
  auto line = server.wait_for_line("listening on", std::chrono::seconds(30));
  ASSERT_TRUE(line.has_value()) << rollout::testing::read_file(dir_.path() / "server.log");
  const std::string base = line->substr(line->find("http://"));
  auto health = run({"/usr/bin/curl", "-sS", "--max-time", "20", base + "/healthz"});
  EXPECT_EQ(health.exit_code, 0) << health.err;
  EXPECT_EQ(health.out, "{\"ok\":true}");
  auto login =
      run({"/usr/bin/curl", "-sS", "--max-time", "20", "-H", "Content-Type: application/json", "-d",
           R"({"username":"admin","password":"admin-password-1234"})", base + "/api/auth/login"});
  EXPECT_NE(login.out.find("\"csrf_token\""), std::string::npos) << login.out << login.err;
  auto denied = run({"/usr/bin/curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", "--max-time",
                     "20", base + "/api/updates/rollouts"});
  EXPECT_EQ(denied.out, "401");
  server.signal(SIGTERM);
  EXPECT_EQ(server.wait(std::chrono::seconds(30)), 0);
}

}  // namespace
}  // namespace rollout::server::testing
