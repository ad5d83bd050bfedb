// The persisted update state: strict round trip, corruption handling, monotonic floor/sequence.
#include <gtest/gtest.h>

#include <filesystem>

#include "agent/journal.hpp"
#include "platform/fault_fs.hpp"
#include "tests/testing/testing.hpp"

namespace rollout::agent {
namespace {

using rollout::testing::read_file;
using rollout::testing::TempDir;
using rollout::testing::write_file;

Journal sample() {
  Journal j;
  j.state = UpdateState::probation;
  j.target_version = "2.1.0-rc.1";
  j.target_sha256 = std::string(64, 'a');
  j.target_size = 12345;
  j.target_security_version = 7;
  j.from_version = "2.0.0";
  j.directive_sequence = 42;
  j.directive_digest = std::string(64, 'd');
  j.security_floor = 5;
  j.bad_versions = {"1.9.0", "1.9.1"};
  j.probation_started_at = "2026-01-01T00:00:00Z";
  j.probation_elapsed_ms = 612'345;
  j.crash_count = 1;
  j.error = JournalError{"crash", "signal 6 (ABRT)"};
  return j;
}

TEST(Journal, RoundTripsEveryField) {
  const Journal j = sample();
  auto back = parse_journal(serialize(j));
  ASSERT_TRUE(back) << back.error().message;
  EXPECT_EQ(*back, j);
  Journal idle;
  EXPECT_EQ(*parse_journal(serialize(idle)), idle);
}

// A journal written before probation time was kept (no probation_elapsed_ms) still loads, with
// nothing elapsed; a negative or non-integer elapsed time is refused.
TEST(Journal, ProbationElapsedIsOptionalAndTyped) {
  Journal j = sample();
  j.probation_elapsed_ms = 0;
  const std::string text = serialize(j);
  EXPECT_EQ(text.find("probation_elapsed_ms"), std::string::npos);
  EXPECT_EQ(parse_journal(text)->probation_elapsed_ms, 0u);
  std::string with = text;
  with.replace(with.find("\"crash_count\""), 0, "\"probation_elapsed_ms\":-5,");
  EXPECT_FALSE(parse_journal(with).ok());
  with = text;
  with.replace(with.find("\"crash_count\""), 0, "\"probation_elapsed_ms\":1.5,");
  EXPECT_FALSE(parse_journal(with).ok());
}

// Older agents wrote a download_offset nobody read; a journal that has one still loads.
TEST(Journal, AnOlderJournalWithADownloadOffsetStillLoads) {
  std::string text = serialize(sample());
  text.replace(text.find("\"crash_count\""), 0, "\"download_offset\":100,");
  auto j = parse_journal(text);
  ASSERT_TRUE(j.ok()) << j.error().message;
  EXPECT_EQ(*j, sample());
}

TEST(Journal, AJournalWrittenBeforeTheDirectiveDigestStillLoads) {
  Journal j = sample();
  j.directive_digest.clear();
  const std::string text = serialize(j);
  EXPECT_EQ(text.find("directive_digest"), std::string::npos);
  auto back = parse_journal(text);
  ASSERT_TRUE(back) << back.error().message;
  EXPECT_EQ(back->directive_digest, "");
  EXPECT_EQ(*back, j);
}

TEST(Journal, EveryStateNameRoundTrips) {
  for (auto s : {UpdateState::idle, UpdateState::downloading, UpdateState::verifying,
                 UpdateState::staged, UpdateState::switching, UpdateState::probation,
                 UpdateState::committed, UpdateState::failed, UpdateState::reverted}) {
    EXPECT_EQ(*parse_update_state(to_string(s)), s);
  }
  EXPECT_FALSE(parse_update_state("installing"));
}

TEST(Journal, StrictParsingRefusesBadDocuments) {
  const std::string good = serialize(sample());
  auto with = [&](const std::string& from, const std::string& to) {
    std::string s = good;
    const auto at = s.find(from);
    EXPECT_NE(at, std::string::npos) << from;
    return s.replace(at, from.size(), to);
  };
  const std::vector<std::string> bad = {
      "",
      "garbage",
      good.substr(0, good.size() / 2),  // truncated
      "[]",
      with("\"format\":1", "\"format\":2"),
      with("\"state\":\"probation\"", "\"state\":\"installing\""),
      with("\"target_version\":\"2.1.0-rc.1\"", "\"target_version\":\"../../etc\""),
      with("\"from_version\":\"2.0.0\"", "\"from_version\":\"v2.0.0\""),
      with("\"target_size\":12345", "\"target_size\":-1"),
      with("\"target_size\":12345", "\"target_size\":\"12345\""),
      with("\"crash_count\":1", "\"crash_count\":1,\"extra\":true"),
      with(std::string(64, 'a'), std::string(64, 'A')),
      with("\"1.9.0\"", "\"1.9/0\""),
      with("\"2026-01-01T00:00:00Z\"", "\"yesterday\""),
      with("\"target_version\":\"2.1.0-rc.1\"", "\"target_version\":\"\""),
      with(std::string(64, 'd'), std::string(63, 'd')),
      with(std::string(64, 'd'), std::string(64, 'D')),
  };
  for (const auto& text : bad) {
    auto j = parse_journal(text);
    EXPECT_FALSE(j) << text;
    if (!j) {
      EXPECT_EQ(j.error().code, "invalid_journal") << text;
    }
  }
}

TEST(VersionForPath, AcceptsCanonicalSemverOnly) {
  EXPECT_TRUE(validate_version_for_path("1.2.3"));
  EXPECT_TRUE(validate_version_for_path("1.2.3-rc.1+build.5"));
  for (const char* v : {"", "..", "../1.0.0", "1.0.0/..", "1.0.0/x", "1.0.0\\x", "v1.0.0", "01.0.0",
                        "1.0", "1.0.0 "}) {
    EXPECT_FALSE(validate_version_for_path(v)) << v;
  }
}

struct StoreFixture : ::testing::Test {
  TempDir dir;
  std::string path = (dir / "journal.json").string();
  platform::FileSystem& fs = platform::real_file_system();
};

TEST_F(StoreFixture, FirstStartIsAFreshIdleJournal) {
  JournalStore store(fs, path);
  auto loaded = store.load();
  ASSERT_TRUE(loaded);
  EXPECT_FALSE(loaded->existed);
  EXPECT_FALSE(loaded->corruption);
  EXPECT_EQ(loaded->journal, Journal{});
}

TEST_F(StoreFixture, SaveThenLoadWritesPrimaryAndBackupOwnerOnly) {
  JournalStore store(fs, path);
  ASSERT_TRUE(store.load());
  ASSERT_TRUE(store.save(sample()));
  EXPECT_EQ(read_file(path), read_file(path + ".bak"));
  EXPECT_EQ(fs.stat_no_follow(path)->mode, 0600u);
  JournalStore again(fs, path);
  auto loaded = again.load();
  ASSERT_TRUE(loaded);
  EXPECT_TRUE(loaded->existed);
  EXPECT_EQ(loaded->journal, sample());
}

TEST_F(StoreFixture, CorruptedPrimaryFallsBackToBackup) {
  JournalStore store(fs, path);
  ASSERT_TRUE(store.save(sample()));
  for (const std::string garbage : {"", "{\"state\":", "\x00\x01\x02 not json", "{}"}) {
    write_file(path, garbage);
    auto loaded = JournalStore(fs, path).load();
    ASSERT_TRUE(loaded);
    EXPECT_TRUE(loaded->corruption.has_value());
    EXPECT_TRUE(loaded->from_backup);
    EXPECT_EQ(loaded->journal, sample());
  }
}

TEST_F(StoreFixture, BothCopiesCorruptedGiveASafeIdleState) {
  write_file(path, "garbage");
  write_file(path + ".bak", serialize(sample()).substr(0, 20));
  auto loaded = JournalStore(fs, path).load();
  ASSERT_TRUE(loaded);
  EXPECT_TRUE(loaded->existed);
  ASSERT_TRUE(loaded->corruption.has_value());
  EXPECT_FALSE(loaded->from_backup);
  EXPECT_EQ(loaded->journal.state, UpdateState::idle);
}

TEST_F(StoreFixture, BothCopiesCorruptedStillKeepTheFloorAndTheSequence) {
  JournalStore store(fs, path);
  ASSERT_TRUE(store.save(sample()));
  ASSERT_GT(sample().security_floor, 0u);
  ASSERT_GT(sample().directive_sequence, 0u);
  write_file(path, "garbage");
  write_file(path + ".bak", "more garbage");
  JournalStore again(fs, path);
  auto loaded = again.load();
  ASSERT_TRUE(loaded);
  ASSERT_TRUE(loaded->corruption.has_value());
  EXPECT_EQ(loaded->journal.state, UpdateState::idle);
  EXPECT_EQ(loaded->journal.security_floor, sample().security_floor);
  EXPECT_EQ(loaded->journal.directive_sequence, sample().directive_sequence);
  // And a save that would lower them is refused.
  Journal reset;
  EXPECT_EQ(again.save(reset).error().code, "invariant_violation");
}

TEST_F(StoreFixture, OversizedJournalIsTreatedAsCorrupted) {
  write_file(path, std::string(1024 * 1024, ' '));
  auto loaded = JournalStore(fs, path).load();
  ASSERT_TRUE(loaded);
  EXPECT_TRUE(loaded->corruption.has_value());
  EXPECT_EQ(loaded->journal.state, UpdateState::idle);
}

TEST_F(StoreFixture, FloorAndSequenceNeverDecrease) {
  JournalStore store(fs, path);
  ASSERT_TRUE(store.save(sample()));
  const std::string before = read_file(path);
  Journal lower_floor = sample();
  lower_floor.security_floor = 4;
  auto st = store.save(lower_floor);
  ASSERT_FALSE(st);
  EXPECT_EQ(st.error().code, "invariant_violation");
  Journal lower_seq = sample();
  lower_seq.directive_sequence = 41;
  EXPECT_FALSE(store.save(lower_seq));
  EXPECT_EQ(read_file(path), before);
  // A restarted agent remembers the floor it loaded.
  JournalStore restarted(fs, path);
  ASSERT_TRUE(restarted.load());
  EXPECT_FALSE(restarted.save(lower_floor));
  Journal higher = sample();
  higher.security_floor = 6;
  higher.directive_sequence = 43;
  EXPECT_TRUE(restarted.save(higher));
}

TEST_F(StoreFixture, FailedWriteKeepsThePreviousJournalReadable) {
  platform::FaultInjectingFileSystem faulty(fs);
  JournalStore store(faulty, path);
  ASSERT_TRUE(store.save(sample()));
  Journal next = sample();
  next.crash_count = 2;
  faulty.fail_nth(platform::FsOp::write, 2, "disk_full");  // the primary's write
  auto st = store.save(next);
  ASSERT_FALSE(st);
  EXPECT_EQ(st.error().code, "disk_full");
  auto loaded = JournalStore(fs, path).load();
  ASSERT_TRUE(loaded);
  EXPECT_FALSE(loaded->corruption);
  EXPECT_EQ(loaded->journal, sample());
}

}  // namespace
}  // namespace rollout::agent
