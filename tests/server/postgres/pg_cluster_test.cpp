// The test cluster itself: a program whose test fails, or that is killed, leaves no PostgreSQL
// process and no directory behind. Each case runs this very program again as a child (its own
// cluster) with one disabled test that fails or kills itself, and checks what it left.
#include "tests/testing/postgres/pg_cluster.hpp"

#include <gtest/gtest.h>
#include <pwd.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <sstream>

#include "server-plugin/store/postgres/pg_conn.hpp"
#include "tests/testing/testing.hpp"

namespace rollout::testing {
namespace {

namespace fs = std::filesystem;

// Gone, or a zombie (it holds no port and no file). The killed child's postmaster is orphaned
// to the nearest subreaper, this program (PgCluster makes it one), which reaps it here.
bool process_gone(pid_t pid) {
  (void)::waitpid(pid, nullptr, WNOHANG);
  if (::kill(pid, 0) != 0 && errno == ESRCH) return true;
  std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
  std::string skip, state;
  stat >> skip >> skip >> state;
  return state == "Z";
}

struct ChildRun {
  RunResult result;
  fs::path dir;
  pid_t postmaster = -1;
};

ChildRun run_child(const std::string& how) {
  ChildRun c;
  c.result = run({"/usr/bin/env", "ROLLOUT_PG_CHILD=" + how, fs::read_symlink("/proc/self/exe"),
                  "--gtest_also_run_disabled_tests", "--gtest_filter=PgClusterChild.*"});
  const auto at = c.result.out.find("cluster ");
  if (at != std::string::npos) {
    std::istringstream line(c.result.out.substr(at + 8));
    std::string dir;
    line >> dir >> c.postmaster;
    c.dir = dir;
  }
  return c;
}

// Run only as the child of the cases below (disabled otherwise).
TEST(PgClusterChild, DISABLED_EndsAsTold) {
  const char* how = std::getenv("ROLLOUT_PG_CHILD");
  ASSERT_NE(how, nullptr);
  auto& cluster = PgCluster::get();
  (void)cluster.create_database();
  std::cout << "cluster " << cluster.dir().string() << " " << cluster.postmaster_pid() << std::endl;
  if (std::string(how) == "kill") ::kill(::getpid(), SIGKILL);
  FAIL() << "a test that fails on purpose";
}

TEST(PgClusterLifecycle, AFailingTestStillStopsAndDeletesTheCluster) {
  auto c = run_child("fail");
  ASSERT_EQ(c.result.exit_code, 1) << c.result.out << c.result.err;
  ASSERT_GT(c.postmaster, 0) << c.result.out;
  EXPECT_TRUE(process_gone(c.postmaster));
  EXPECT_FALSE(fs::exists(c.dir)) << c.dir;
}

TEST(PgClusterLifecycle, AKilledProgramLeavesNoClusterBehind) {
  auto c = run_child("kill");
  ASSERT_EQ(c.result.exit_code, 128 + SIGKILL) << c.result.out << c.result.err;
  ASSERT_GT(c.postmaster, 0) << c.result.out;
  // The watchdog notices the end of its pipe and stops the cluster.
  EXPECT_TRUE(eventually([&] { return process_gone(c.postmaster) && !fs::exists(c.dir); }))
      << c.dir;
}

TEST(PgClusterLifecycle, ListensOnLoopbackAndItsOwnSocketAsAnUnprivilegedUser) {
  auto& cluster = PgCluster::get();
  auto conn = server::pg::Conn::open(cluster.socket_url("postgres"));
  ASSERT_TRUE(conn) << conn.error().message;
  auto r = conn->exec(
      "SELECT current_setting('listen_addresses'), current_setting('unix_socket_directories')");
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(r->text(0, 0), "127.0.0.1");
  EXPECT_EQ(r->text(0, 1), (cluster.dir() / "sock").string());
  // initdb and postgres refuse root: as root the cluster runs as "postgres" (or "nobody").
  std::ifstream status("/proc/" + std::to_string(cluster.postmaster_pid()) + "/status");
  std::string line;
  uid_t uid = 0;
  while (std::getline(status, line)) {
    if (line.rfind("Uid:", 0) == 0) uid = static_cast<uid_t>(std::stoul(line.substr(4)));
  }
  if (::geteuid() == 0) {
    const passwd* pw = ::getpwnam("postgres");
    if (!pw) pw = ::getpwnam("nobody");
    ASSERT_NE(pw, nullptr);
    EXPECT_EQ(uid, pw->pw_uid);
  } else {
    EXPECT_EQ(uid, ::geteuid());
  }
}

}  // namespace
}  // namespace rollout::testing
