// Crash safety: an update flow is run once to record every crash point it passes; then, for each
// point (and each hit of a point passed several times, such as a journal write), this test
// program starts itself again as a child (platform::real_process_launcher, the agent's own way of
// starting a program) that runs the same flow with ROLLOUT_CRASH_AT set, and must die there as
// kill -9 / TerminateProcess would (platform::forced_kill_status). recover() on what it left must
// give: `current` naming a complete, runnable version (old or new), a journal that parses, a
// consistent state, a second recover() that changes nothing, and an update that can be finished
// or is cleanly abandoned. Every case runs with both kinds of version pointer where both exist:
// the symlinks of Linux and the pointer files of Windows (platform/version_pointer.hpp); on
// Windows (under wine in the Windows stage) with pointer files only.
//
// The child mode: ROLLOUT_CRASH_CHILD="<commit|revert> <symlink|file> <dir>" in the environment
// makes the program run that update in <dir> (a test's install root) as soon as GoogleTest starts,
// and exit 0 if it finished, 1 if it failed, instead of running any test.
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <map>
#include <set>
#include <sstream>

#include "agent/crash_point.hpp"
#include "agent/installer.hpp"
#include "platform/fault_fs.hpp"
#include "platform/host.hpp"
#include "platform/process.hpp"
#include "tests/agent/install_fixture.hpp"

namespace rollout::agent {
namespace {

using test::InstallRoot;
using test::run_current;

enum class Ending { commit, revert };

constexpr const char* kChildEnv = "ROLLOUT_CRASH_CHILD";

// Where an InstallRoot keeps its layout and journal: what a child needs to work in its parent's
// root (it must not own the directory, which the parent removes).
InstallLayout layout_in(const std::filesystem::path& dir, platform::PointerKind kind) {
  InstallLayout layout{(dir / "root").string(), test::kExe};
  layout.pointer = kind;
  return layout;
}
std::string journal_in(const std::filesystem::path& dir) {
  return (dir / "state/journal.json").string();
}

// The whole update as the controller will drive it. Returns false at the first failure.
bool run_update(const InstallLayout& layout, const std::string& journal_path, Ending ending) {
  platform::FakeClock clock;
  JournalStore store(platform::real_file_system(), journal_path);
  Installer in(platform::real_file_system(), clock, layout, store);
  if (!in.recover() || !in.begin(test::target("2.0.0", 1, 2)) || !in.begin_verifying() ||
      !in.stage(test::place_artifact(layout, "2.0.0")) || !in.switch_to_target()) {
    return false;
  }
  if (ending == Ending::commit) return static_cast<bool>(in.commit());
  return in.record_crash() && in.record_crash() &&
         in.revert(make_error("crash", "signal 6 (ABRT)"));
}

// The child mode (see the top of the file), run from a global environment's SetUp: before any
// test, after main has started (so every static of the agent's code is initialised).
class CrashChild : public ::testing::Environment {
 public:
  void SetUp() override {
    const char* spec = std::getenv(kChildEnv);
    if (spec == nullptr) return;
    std::istringstream words(spec);
    std::string ending, kind, dir;
    words >> ending >> kind;
    std::getline(words >> std::ws, dir);
    reset_crash_point_counts();
    const bool ok =
        run_update(layout_in(dir, kind == "file" ? platform::PointerKind::pointer_file
                                                 : platform::PointerKind::symlink),
                   journal_in(dir), ending == "commit" ? Ending::commit : Ending::revert);
    std::_Exit(ok ? 0 : 1);
  }
};
[[maybe_unused]] ::testing::Environment* const crash_child =
    ::testing::AddGlobalTestEnvironment(new CrashChild);

bool run_update(const InstallRoot& root, Ending ending) {
  return run_update(root.layout, root.journal_path, ending);
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

// Starts this program again in the child mode, to crash at `hit`; returns how it ended (nullopt
// when it could not be started or did not end within a minute, which fails the test).
std::optional<platform::ExitStatus> crash_at(const InstallRoot& root, Ending ending,
                                             const Hit& hit) {
  auto self = platform::current_executable_path();
  EXPECT_TRUE(self) << self.error().message;
  if (!self) return std::nullopt;
  platform::LaunchOptions o;
  o.executable = *self;
  // Some test must pass the filter for GoogleTest to set up its environments (the child mode).
  o.args = {"--gtest_filter=CrashPointMacro.UnnamedPointDoesNotCrash"};
  const bool file = root.layout.pointer == platform::PointerKind::pointer_file;
  o.env = {{"ROLLOUT_CRASH_AT", hit.name + "#" + std::to_string(hit.occurrence)},
           {kChildEnv, std::string(ending == Ending::commit ? "commit " : "revert ") +
                           (file ? "file " : "symlink ") + root.dir.path().string()}};
  auto child = platform::real_process_launcher().launch(o);
  EXPECT_TRUE(child) << child.error().message;
  if (!child) return std::nullopt;
  auto status = (*child)->wait_for(std::chrono::seconds(60));
  if (!status) {
    ADD_FAILURE() << "the child did not end within 60 s";
    return std::nullopt;
  }
  if (*status != platform::forced_kill_status() && !status->success()) {
    for (const auto& line : (*child)->stderr_tail()) ADD_FAILURE() << "child: " << line;
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
  void SetUp() override {
    if (kind() == platform::PointerKind::symlink && platform::build_os() == "windows") {
      GTEST_SKIP() << "symlinks need a privilege on Windows; the agent uses pointer files there";
    }
  }
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
    const auto status = crash_at(root, ending(), hit);
    ASSERT_TRUE(status);
    ASSERT_EQ(*status, platform::forced_kill_status())
        << "the child did not die at the crash point: " << status->describe();
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
  InstallRoot root = make_root(platform::default_pointer_kind());
  const auto status = crash_at(root, Ending::commit, {"some_other_point", 1});
  ASSERT_TRUE(status);
  EXPECT_TRUE(status->success()) << status->describe();
  EXPECT_EQ(run_current(root), "2.0.0");
}

}  // namespace
}  // namespace rollout::agent
