// Crash safety: an update flow is run once to record every crash point it passes; then, for each
// point (and each hit of a point passed several times, such as a journal write), a forked child
// runs the same flow with ROLLOUT_CRASH_AT set and must die by SIGKILL there. recover() on what
// it left must give: `current` naming a complete, runnable version (old or new), a journal that
// parses, a consistent state, a second recover() that changes nothing, and an update that can be
// finished or is cleanly abandoned. Every case runs with both kinds of version pointer: the
// symlinks of Linux and the pointer files of Windows (platform/version_pointer.hpp).
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <map>
#include <set>

#include "agent/crash_point.hpp"
#include "agent/installer.hpp"
#include "platform/fault_fs.hpp"
#include "tests/agent/install_fixture.hpp"

namespace rollout::agent {
namespace {

using test::InstallRoot;
using test::run_current;

enum class Ending { commit, revert };

// The whole update as the controller will drive it. Returns false at the first failure.
bool run_update(const InstallRoot& root, Ending ending) {
  platform::FakeClock clock;
  JournalStore store(platform::real_file_system(), root.journal_path);
  Installer in(platform::real_file_system(), clock, root.layout, store);
  if (!in.recover() || !in.begin(root.target("2.0.0", 1, 2)) || !in.begin_verifying() ||
      !in.stage(root.place_artifact("2.0.0")) || !in.switch_to_target()) {
    return false;
  }
  if (ending == Ending::commit) return static_cast<bool>(in.commit());
  return in.record_crash() && in.record_crash() &&
         in.revert(make_error("crash", "signal 6 (ABRT)"));
}

struct Hit {
  std::string name;
  int occurrence;
};

InstallRoot make_root(platform::PointerKind kind) {
  return InstallRoot({"1.0.0"}, "1.0.0", kind);
}

std::vector<Hit> record_points(Ending ending, platform::PointerKind kind) {
  InstallRoot root = make_root(kind);
  std::vector<Hit> hits;
  std::map<std::string, int> seen;
  reset_crash_point_counts();
  set_crash_point_observer([&](std::string_view name) {
    hits.push_back({std::string(name), ++seen[std::string(name)]});
  });
  const bool ok = run_update(root, ending);
  set_crash_point_observer({});
  EXPECT_TRUE(ok);
  return hits;
}

// Forks a child that runs the update and crashes at `hit`; returns its wait status.
int crash_at(const InstallRoot& root, Ending ending, const Hit& hit) {
  const pid_t pid = ::fork();
  if (pid == 0) {
    const std::string spec = hit.name + "#" + std::to_string(hit.occurrence);
    ::setenv("ROLLOUT_CRASH_AT", spec.c_str(), 1);
    reset_crash_point_counts();
    const bool ok = run_update(root, ending);
    ::_exit(ok ? 0 : 1);
  }
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  return status;
}

void check_recovery(const InstallRoot& root, Ending ending) {
  platform::FakeClock clock;
  platform::FaultInjectingFileSystem fs(platform::real_file_system());
  JournalStore store(fs, root.journal_path);
  Installer in(fs, clock, root.layout, store);
  auto st = in.recover();
  ASSERT_TRUE(st) << st.error().message;

  const std::string runs = run_current(root);
  EXPECT_TRUE(runs == "1.0.0" || runs == "2.0.0") << "current runs '" << runs << "'";
  auto loaded = JournalStore(platform::real_file_system(), root.journal_path).load();
  ASSERT_TRUE(loaded);
  EXPECT_FALSE(loaded->corruption) << loaded->corruption->message;
  const Journal j = loaded->journal;
  EXPECT_EQ(j, in.journal());
  EXPECT_TRUE(j.state == UpdateState::idle || j.state == UpdateState::downloading ||
              j.state == UpdateState::staged || j.state == UpdateState::probation ||
              j.state == UpdateState::committed || j.state == UpdateState::failed ||
              j.state == UpdateState::reverted)
      << to_string(j.state);
  // What runs agrees with the journal.
  if (j.state == UpdateState::probation || j.state == UpdateState::committed) {
    EXPECT_EQ(runs, "2.0.0");
  } else {
    EXPECT_EQ(runs, "1.0.0") << to_string(j.state);
  }
  EXPECT_FALSE(std::filesystem::exists(root.layout.version_dir("2.0.0") + ".partial"));

  // A second recovery is a no-op: no journal write, no pointer switch, nothing removed.
  Installer again(fs, clock, root.layout, store);
  const auto before = [&] {
    return std::vector<int>{fs.count(platform::FsOp::create_new), fs.count(platform::FsOp::rename),
                            fs.count(platform::FsOp::symlink),
                            fs.count(platform::FsOp::remove_tree),
                            fs.count(platform::FsOp::make_dir)};
  };
  const auto counts = before();
  ASSERT_TRUE(again.recover());
  EXPECT_EQ(before(), counts);
  EXPECT_EQ(again.journal(), j);

  // The update can be finished or was cleanly abandoned.
  switch (j.state) {
    case UpdateState::downloading:
      ASSERT_TRUE(again.fail(make_error("interrupted", "test abandons it")));
      break;
    case UpdateState::staged:
      ASSERT_TRUE(again.switch_to_target());
      [[fallthrough]];
    case UpdateState::probation:
      if (ending == Ending::commit) {
        ASSERT_TRUE(again.commit());
      } else {
        ASSERT_TRUE(again.revert(make_error("crash", "test")));
      }
      break;
    default:
      break;
  }
  EXPECT_TRUE(is_at_rest(again.journal().state));
  const std::string finally = run_current(root);
  if (again.journal().state == UpdateState::committed) {
    EXPECT_EQ(finally, "2.0.0");
    EXPECT_EQ(again.journal().security_floor, 2u);
  } else {
    EXPECT_EQ(finally, "1.0.0");
    EXPECT_EQ(again.journal().security_floor, 0u);
  }
}

class CrashPoints : public ::testing::TestWithParam<std::tuple<Ending, platform::PointerKind>> {
 protected:
  Ending ending() const { return std::get<0>(GetParam()); }
  platform::PointerKind kind() const { return std::get<1>(GetParam()); }
};

TEST_P(CrashPoints, EveryPointRecoversToTheOldOrTheNewVersion) {
  const auto hits = record_points(ending(), kind());
  EXPECT_GE(hits.size(), 18u);  // 7+ journal writes (two points each) and the step points
  std::set<std::string> names;
  for (const auto& h : hits) names.insert(h.name);
  // The flow passes every point the installer and journal define.
  std::set<std::string> expected = {"journal_before_write", "journal_after_write", "mid_stage",
                                    "after_stage",          "before_switch",       "after_switch"};
  if (ending() == Ending::commit) {
    expected.insert({"before_commit", "after_commit"});
  } else {
    expected.insert({"before_revert", "after_revert"});
  }
  EXPECT_EQ(names, expected);

  for (const auto& hit : hits) {
    SCOPED_TRACE(hit.name + "#" + std::to_string(hit.occurrence));
    InstallRoot root = make_root(kind());
    const int status = crash_at(root, ending(), hit);
    ASSERT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL)
        << "child did not die at the crash point (status " << status << ")";
    check_recovery(root, ending());
  }
}

INSTANTIATE_TEST_SUITE_P(Installer, CrashPoints,
                         ::testing::Combine(::testing::Values(Ending::commit, Ending::revert),
                                            ::testing::Values(platform::PointerKind::symlink,
                                                              platform::PointerKind::pointer_file)),
                         [](const auto& param_info) {
                           return std::string(std::get<0>(param_info.param) == Ending::commit
                                                  ? "Commit"
                                                  : "Revert") +
                                  (std::get<1>(param_info.param) == platform::PointerKind::symlink
                                       ? "Symlinks"
                                       : "PointerFiles");
                         });

TEST(CrashPointMacro, UnnamedPointDoesNotCrash) {
  ::setenv("ROLLOUT_CRASH_AT", "some_other_point", 1);
  ROLLOUT_CRASH_POINT("after_stage");
  ::unsetenv("ROLLOUT_CRASH_AT");
  SUCCEED();
}

}  // namespace
}  // namespace rollout::agent
