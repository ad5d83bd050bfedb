// The installer's transitions on a real install root: the happy path, revert, refusals, faults
// during staging and recovery from damaged roots.
#include <gtest/gtest.h>

#include <filesystem>

#include "agent/installer.hpp"
#include "platform/fault_fs.hpp"
#include "tests/agent/install_fixture.hpp"

namespace rollout::agent {
namespace {

namespace stdfs = std::filesystem;
using test::InstallRoot;
using test::run_current;

struct InstallerTest : ::testing::Test {
  InstallRoot root{{"0.9.0", "1.0.0"}, "1.0.0"};
  platform::FakeClock clock;
  platform::FaultInjectingFileSystem fs{platform::real_file_system()};
  JournalStore store{fs, root.journal_path};
  Installer installer{fs, clock, root.layout, store};

  void SetUp() override { ASSERT_TRUE(installer.recover()); }

  void stage_and_switch(const std::string& v, std::uint64_t seq, std::uint64_t security = 1) {
    ASSERT_TRUE(installer.begin(root.target(v, seq, security)));
    ASSERT_TRUE(installer.begin_verifying());
    auto st = installer.stage(root.place_artifact(v));
    ASSERT_TRUE(st) << st.error().message;
    EXPECT_EQ(installer.journal().state, UpdateState::staged);
    EXPECT_EQ(run_current(root), "1.0.0");  // staging does not change what runs
    ASSERT_TRUE(installer.switch_to_target());
  }

  Journal on_disk() {
    auto j = JournalStore(platform::real_file_system(), root.journal_path).load();
    EXPECT_TRUE(j);
    return j ? j->journal : Journal{};
  }
};

TEST_F(InstallerTest, FullUpdateStagesSwitchesAndCommits) {
  stage_and_switch("2.0.0", 1, 3);
  EXPECT_EQ(installer.journal().state, UpdateState::probation);
  EXPECT_EQ(installer.journal().from_version, "1.0.0");
  EXPECT_EQ(installer.journal().probation_started_at, "2026-01-01T00:00:00Z");
  EXPECT_EQ(root.current(), "versions/2.0.0");
  EXPECT_EQ(root.previous(), "versions/1.0.0");
  EXPECT_EQ(run_current(root), "2.0.0");
  EXPECT_EQ(fs.stat_no_follow(root.layout.executable("2.0.0"))->mode, 0755u);
  EXPECT_TRUE(stdfs::is_empty(root.layout.staging_dir()));

  ASSERT_TRUE(installer.commit());
  EXPECT_EQ(installer.journal().state, UpdateState::committed);
  EXPECT_EQ(installer.journal().security_floor, 3u);
  EXPECT_EQ(on_disk(), installer.journal());
  // Older than previous is gone; current and previous stay.
  EXPECT_FALSE(stdfs::exists(root.layout.version_dir("0.9.0")));
  EXPECT_TRUE(stdfs::exists(root.layout.executable("1.0.0")));
  EXPECT_EQ(*installer.current_version(), "2.0.0");
}

TEST_F(InstallerTest, CrashesInProbationRevertAndMarkTheVersionBad) {
  stage_and_switch("2.0.0", 1);
  EXPECT_EQ(*installer.record_crash(), 1u);
  EXPECT_EQ(*installer.record_crash(), 2u);
  ASSERT_TRUE(installer.revert(make_error("crash", "signal 6 (ABRT)")));
  EXPECT_EQ(installer.journal().state, UpdateState::reverted);
  EXPECT_TRUE(installer.journal().is_bad("2.0.0"));
  ASSERT_TRUE(installer.journal().error);
  EXPECT_EQ(installer.journal().error->code, "crash");
  EXPECT_EQ(root.current(), "versions/1.0.0");
  EXPECT_EQ(run_current(root), "1.0.0");
  EXPECT_FALSE(stdfs::exists(root.layout.version_dir("2.0.0")));
  EXPECT_EQ(installer.journal().security_floor, 0u);  // a reverted update never raises it

  auto again = installer.begin(root.target("2.0.0", 2));
  ASSERT_FALSE(again);
  EXPECT_EQ(again.error().code, "bad_version");
  EXPECT_TRUE(installer.begin(root.target("2.0.1", 2)));
}

TEST_F(InstallerTest, BeginRefusesWhatWouldBreakTheRules) {
  ASSERT_TRUE(installer.begin(root.target("2.0.0", 5, 4)));
  ASSERT_TRUE(installer.begin_verifying());
  ASSERT_TRUE(installer.stage(root.place_artifact("2.0.0")));
  ASSERT_TRUE(installer.switch_to_target());
  ASSERT_TRUE(installer.commit());  // floor 4, sequence 5

  auto code = [&](const UpdateTarget& t) {
    auto st = installer.begin(t);
    return st ? std::string("ok") : st.error().code;
  };
  EXPECT_EQ(code(root.target("../../etc", 6)), "invalid_version");
  EXPECT_EQ(code(root.target("3.0.0/x", 6)), "invalid_version");
  EXPECT_EQ(code(root.target("2.0.0", 6, 4)), "already_installed");
  EXPECT_EQ(code(root.target("3.0.0", 5, 4)), "replayed_directive");
  EXPECT_EQ(code(root.target("3.0.0", 4, 4)), "replayed_directive");
  EXPECT_EQ(code(root.target("3.0.0", 6, 3)), "below_security_floor");
  UpdateTarget bad_sha = root.target("3.0.0", 6, 4);
  bad_sha.sha256 = "ABC";
  EXPECT_EQ(code(bad_sha), "invalid_target");
  EXPECT_EQ(installer.journal().state, UpdateState::committed);
  EXPECT_EQ(code(root.target("3.0.0", 6, 4)), "ok");
  EXPECT_EQ(code(root.target("4.0.0", 7, 4)), "wrong_state");  // one update at a time
}

TEST_F(InstallerTest, OneSequenceNamesOneDirective) {
  ASSERT_TRUE(installer.begin(root.target("2.0.0", 5)));
  ASSERT_TRUE(installer.fail(make_error("hash_mismatch", "the artifact did not match")));
  auto code = [&](const UpdateTarget& t) {
    auto st = installer.begin(t);
    return st ? std::string("ok") : st.error().code;
  };
  // Another artifact for the same version under the used sequence: not a re-send.
  UpdateTarget other_artifact = root.target("2.0.0", 5, 1, std::string(64, 'e'));
  other_artifact.sha256 = std::string(64, 'b');
  EXPECT_EQ(code(other_artifact), "sequence_reused");
  // The same artifact in a different directive (another expiry, action or reason) neither.
  EXPECT_EQ(code(root.target("2.0.0", 5, 1, std::string(64, 'e'))), "sequence_reused");
  EXPECT_EQ(installer.journal().state, UpdateState::failed) << "a refusal changes nothing";
  // The very directive again retries the failed attempt.
  ASSERT_EQ(code(root.target("2.0.0", 5)), "ok");
  EXPECT_EQ(installer.journal().directive_digest, root.target("2.0.0", 5).directive_digest);
  EXPECT_EQ(on_disk().directive_digest, installer.journal().directive_digest);
  ASSERT_TRUE(installer.fail(make_error("download", "cut")));
  // A new directive needs a higher sequence, and then it may name anything.
  EXPECT_EQ(code(other_artifact), "sequence_reused");
  other_artifact.directive_sequence = 6;
  EXPECT_EQ(code(other_artifact), "ok");
}

TEST_F(InstallerTest, AFinishedDirectiveIsNotCarriedOutAgain) {
  stage_and_switch("2.0.0", 5);
  ASSERT_TRUE(installer.revert(make_error("crash_limit", "crashed twice")));
  auto code = [&](const UpdateTarget& t) {
    auto st = installer.begin(t);
    return st ? std::string("ok") : st.error().code;
  };
  EXPECT_EQ(code(root.target("2.0.1", 5)), "replayed_directive");
  EXPECT_EQ(code(root.target("2.0.1", 5, 1, std::string(64, 'e'))), "sequence_reused");
  EXPECT_EQ(code(root.target("2.0.1", 6)), "ok");
}

TEST_F(InstallerTest, AJournalWithoutADigestRetriesOnlyTheSameArtifact) {
  ASSERT_TRUE(installer.begin(root.target("2.0.0", 5)));
  ASSERT_TRUE(installer.fail(make_error("hash_mismatch", "the artifact did not match")));
  // As an agent from before the digest was kept left it.
  Journal old = installer.journal();
  old.directive_digest.clear();
  rollout::testing::write_file(root.journal_path, serialize(old));
  rollout::testing::write_file(root.journal_path + ".bak", serialize(old));
  JournalStore store2{fs, root.journal_path};
  Installer again{fs, clock, root.layout, store2};
  ASSERT_TRUE(again.recover());
  ASSERT_EQ(again.journal().directive_digest, "");
  UpdateTarget other_artifact = root.target("2.0.0", 5);
  other_artifact.sha256 = std::string(64, 'b');
  auto st = again.begin(other_artifact);
  ASSERT_FALSE(st);
  EXPECT_EQ(st.error().code, "sequence_reused");
  EXPECT_TRUE(again.begin(root.target("2.0.0", 5, 1, std::string(64, 'e'))));
}

TEST_F(InstallerTest, StageRefusesFilesOutsideStagingOfWrongSizeOrSymlinks) {
  ASSERT_TRUE(installer.begin(root.target("2.0.0", 1)));
  ASSERT_TRUE(installer.begin_verifying());
  const auto outside = (root.dir / "elsewhere").string();
  rollout::testing::write_file(outside, test::script_for("2.0.0"));
  EXPECT_EQ(installer.stage(outside).error().code, "stage_failed");

  const auto wrong = root.layout.staging_dir() + "/short";
  rollout::testing::write_file(wrong, "x");
  EXPECT_EQ(installer.stage(wrong).error().code, "stage_failed");

  const auto link = root.layout.staging_dir() + "/link";
  stdfs::create_symlink(outside, link);
  EXPECT_EQ(installer.stage(link).error().code, "stage_failed");
  EXPECT_FALSE(stdfs::exists(root.layout.version_dir("2.0.0")));
  EXPECT_EQ(installer.journal().state, UpdateState::verifying);
}

TEST_F(InstallerTest, DiskFullWhileStagingIsAbandonedCleanly) {
  ASSERT_TRUE(installer.begin(root.target("2.0.0", 1)));
  ASSERT_TRUE(installer.begin_verifying());
  fs.fail_nth(platform::FsOp::sync, 1, "disk_full");
  auto st = installer.stage(root.place_artifact("2.0.0"));
  ASSERT_FALSE(st);
  EXPECT_EQ(st.error().code, "disk_full");
  ASSERT_TRUE(installer.fail(st.error()));
  EXPECT_EQ(installer.journal().state, UpdateState::failed);
  EXPECT_EQ(installer.journal().error->code, "disk_full");
  EXPECT_EQ(run_current(root), "1.0.0");
  EXPECT_TRUE(stdfs::is_empty(root.layout.staging_dir()));
  for (const auto& e : stdfs::directory_iterator(root.layout.versions_dir())) {
    EXPECT_TRUE(e.path().filename() == "1.0.0" || e.path().filename() == "0.9.0") << e.path();
  }
  // The same directive may retry a failed (not reverted) update.
  EXPECT_TRUE(installer.begin(root.target("2.0.0", 1)));
}

TEST_F(InstallerTest, FailedJournalWriteBeforeTheSwitchLeavesTheOldVersionRunning) {
  ASSERT_TRUE(installer.begin(root.target("2.0.0", 1)));
  ASSERT_TRUE(installer.begin_verifying());
  ASSERT_TRUE(installer.stage(root.place_artifact("2.0.0")));
  fs.fail_nth(platform::FsOp::write, 1, "disk_full");
  EXPECT_FALSE(installer.switch_to_target());
  EXPECT_EQ(root.current(), "versions/1.0.0");
  EXPECT_EQ(installer.journal().state, UpdateState::staged);
}

TEST_F(InstallerTest, ReinstallingThePreviousVersionRebuildsItSafely) {
  stage_and_switch("2.0.0", 1);
  ASSERT_TRUE(installer.commit());
  // A rollback-directed downgrade to the version `previous` names.
  ASSERT_TRUE(installer.begin(root.target("1.0.0", 2)));
  ASSERT_TRUE(installer.begin_verifying());
  ASSERT_TRUE(installer.stage(root.place_artifact("1.0.0")));
  ASSERT_TRUE(installer.switch_to_target());
  EXPECT_EQ(root.current(), "versions/1.0.0");
  EXPECT_EQ(root.previous(), "versions/2.0.0");
  EXPECT_EQ(run_current(root), "1.0.0");
}

TEST(InstallerRecover, CorruptedJournalKeepsRunningTheCurrentVersion) {
  InstallRoot root;
  rollout::testing::write_file(root.journal_path, "{\"state\": \"probation\", garbage");
  platform::FakeClock clock;
  JournalStore store(platform::real_file_system(), root.journal_path);
  Installer installer(platform::real_file_system(), clock, root.layout, store);
  ASSERT_TRUE(installer.recover());
  EXPECT_EQ(installer.journal().state, UpdateState::idle);
  EXPECT_EQ(run_current(root), "1.0.0");
}

TEST(InstallerRecover, DanglingCurrentPointsAtTheBestCompleteVersion) {
  InstallRoot root({"1.0.0", "1.1.0"}, "9.9.9");
  stdfs::create_directories(root.layout.version_dir("2.0.0"));  // no executable: incomplete
  platform::FakeClock clock;
  JournalStore store(platform::real_file_system(), root.journal_path);
  Installer installer(platform::real_file_system(), clock, root.layout, store);
  ASSERT_TRUE(installer.recover());
  EXPECT_EQ(root.current(), "versions/1.1.0");
}

TEST(InstallerRecover, NothingRunnableIsAClearError) {
  InstallRoot root({}, "1.0.0");
  platform::FakeClock clock;
  JournalStore store(platform::real_file_system(), root.journal_path);
  Installer installer(platform::real_file_system(), clock, root.layout, store);
  auto st = installer.recover();
  ASSERT_FALSE(st);
  EXPECT_EQ(st.error().code, "no_runnable_version");
}

TEST(InstallerRecover, RefusesAnInsecureStagingDirectory) {
  InstallRoot root;
  stdfs::create_directories(root.layout.staging_dir());
  stdfs::permissions(root.layout.staging_dir(), stdfs::perms(0777));
  platform::FakeClock clock;
  JournalStore store(platform::real_file_system(), root.journal_path);
  Installer installer(platform::real_file_system(), clock, root.layout, store);
  auto st = installer.recover();
  ASSERT_FALSE(st);
  EXPECT_EQ(st.error().code, "insecure");
}

}  // namespace
}  // namespace rollout::agent
