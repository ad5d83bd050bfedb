// The `launcher` key: the managed agent is started through a program given its path (how the
// aarch64 end-to-end test runs a cross-built managed agent under qemu-aarch64 on an x86_64 host).
#include <sys/stat.h>

#include "tests/agent/hostile_fixture.hpp"

namespace rollout::agent::test {
namespace {

class Launcher : public Hostile {};

TEST_F(Launcher, RunsTheManagedAgentWithItsPathAndArguments) {
  const fs::path marker = dir_.path() / "launched";
  const fs::path script = dir_.path() / "launch.sh";
  std::string run_it = "exec";  // the managed agent, through the emulator when cross-built
  for (const auto& w : rollout::testing::emulator()) run_it += " " + w;
  rollout::testing::write_file(script, "#!/bin/sh\nprintf '%s\\n' \"$@\" > " + marker.string() +
                                           "\n" + run_it + " \"$2\"\n");
  ASSERT_EQ(::chmod(script.c_str(), 0755), 0);
  start_agent("launcher: [" + script.string() + ", --first]\narguments: [--an-argument]\n");
  ASSERT_TRUE(logged("managed agent started version=1.0.0"));
  ASSERT_TRUE(eventually([&] { return fs::exists(marker); }));
  const std::string exe = (root() / "versions" / "1.0.0" / kDemoExe).string();
  EXPECT_EQ(rollout::testing::read_file(marker), "--first\n" + exe + "\n--an-argument\n");
}

TEST_F(Launcher, AMissingLauncherIsAFailedStartNotACrashOfTheController) {
  start_agent("launcher: [" + (dir_.path() / "no-such-launcher").string() + "]\n");
  ASSERT_TRUE(logged("the managed agent did not start"));
  const int seen = checkins();
  EXPECT_TRUE(eventually([&] { return checkins() >= seen + 2; }));  // the controller carries on
}

}  // namespace
}  // namespace rollout::agent::test
