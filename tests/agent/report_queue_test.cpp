#include <gtest/gtest.h>

#include <filesystem>

#include "agent/identity.hpp"
#include "agent/report_queue.hpp"
#include "platform/fs.hpp"
#include "tests/testing/testing.hpp"

namespace rollout::agent {
namespace {

namespace fs = std::filesystem;

protocol::Report report(const std::string& id, const std::string& at) {
  protocol::Report r;
  r.id = id;
  r.agent_id = "a";
  r.version = "1.2.3";
  r.os = "linux";
  r.arch = "x86_64";
  r.outcome = "success";
  r.occurred_at = at;
  return r;
}

class Queue : public ::testing::Test {
 protected:
  void SetUp() override { fs::create_directories(dir_.path() / "q"); }
  rollout::testing::TempDir dir_;  // before q_, which uses it
  ReportQueue q_{platform::real_file_system(), (dir_.path() / "q").string()};
};

TEST_F(Queue, KeepsReportsUntilAcknowledgedOldestFirstAndDedupsById) {
  const std::string a = outcome_report_id("agent", "1.2.3", 4, "success");
  const std::string b = outcome_report_id("agent", "1.2.4", 5, "crash");
  EXPECT_TRUE(protocol::valid_uuid(a)) << a;
  EXPECT_EQ(a, outcome_report_id("agent", "1.2.3", 4, "success")) << "stable across restarts";
  EXPECT_NE(a, b);
  auto e1 = q_.enqueue(report(b, "2026-01-02T00:00:00Z"));
  ASSERT_TRUE(e1.ok()) << e1.error().message;
  ASSERT_TRUE(q_.enqueue(report(a, "2026-01-01T00:00:00Z")).ok());
  ASSERT_TRUE(q_.enqueue(report(a, "2026-01-03T00:00:00Z")).ok());  // same id: no-op
  auto p = q_.pending();
  ASSERT_TRUE(p.ok());
  ASSERT_EQ(p->size(), 2u);
  EXPECT_EQ((*p)[0].id, a);
  EXPECT_EQ((*p)[0].occurred_at, "2026-01-01T00:00:00Z");
  ASSERT_TRUE(q_.acknowledge({a, "../../etc/passwd"}).ok());
  EXPECT_EQ(q_.size(), 1u);
  EXPECT_EQ(q_.pending()->at(0).id, b);
}

TEST_F(Queue, GarbageFilesAreSetAsideNotFatal) {
  rollout::testing::write_file(dir_.path() / "q" / "0b6d3c1e-2f4a-4b5c-8d9e-aaaaaaaaaaaa.json",
                               "{not json");
  const std::string a = outcome_report_id("agent", "1.0.0", 1, "success");
  ASSERT_TRUE(q_.enqueue(report(a, "2026-01-01T00:00:00Z")).ok());
  auto p = q_.pending();
  ASSERT_TRUE(p.ok());
  ASSERT_EQ(p->size(), 1u);
  EXPECT_TRUE(fs::exists(dir_.path() / "q" / "0b6d3c1e-2f4a-4b5c-8d9e-aaaaaaaaaaaa.json.bad"));
}

// A 422 report_refused names reports that will never count: exactly those of the batch leave the
// queue (kept aside), the others stay to be sent again; any other answer moves nothing.
TEST_F(Queue, ReportsRefusedForGoodLeaveTheQueueAndTheOthersStay) {
  const std::string good = outcome_report_id("agent", "1.0.0", 1, "success");
  const std::string bad = outcome_report_id("agent", "9.9.9", 2, "crash");
  const std::string unsent = outcome_report_id("agent", "1.0.1", 3, "success");
  ASSERT_TRUE(q_.enqueue(report(good, "2026-01-01T00:00:00Z")).ok());
  ASSERT_TRUE(q_.enqueue(report(bad, "2026-01-02T00:00:00Z")).ok());
  auto batch = q_.pending().value();
  ASSERT_TRUE(q_.enqueue(report(unsent, "2026-01-03T00:00:00Z")).ok());
  protocol::ReportRefusal refusal{
      "refused",
      {{bad, "not_offered", "never directed"}, {unsent, "not_offered", "not in the batch"}}};
  EXPECT_EQ(q_.set_aside_refused(500, refusal.to_json(), batch), 0u) << "only a 422";
  EXPECT_EQ(q_.set_aside_refused(422, "<html>422</html>", batch), 0u) << "only a real refusal";
  EXPECT_EQ(q_.size(), 3u);
  EXPECT_EQ(q_.set_aside_refused(422, refusal.to_json(), batch), 1u);
  EXPECT_EQ(q_.size(), 2u) << "the good report and the one never sent stay";
  auto left = q_.pending().value();
  ASSERT_EQ(left.size(), 2u);
  EXPECT_EQ(left[0].id, good);
  EXPECT_EQ(left[1].id, unsent);
  EXPECT_TRUE(fs::exists(dir_.path() / "q" / (bad + ".json.refused")));
}

TEST_F(Queue, RefusesNonUuidIds) {
  EXPECT_FALSE(q_.enqueue(report("../../x", "2026-01-01T00:00:00Z")).ok());
  EXPECT_EQ(q_.size(), 0u);
}

TEST(Identity, RoundTripsOwnerOnlyAndRefusesWhatItCannotTrust) {
  rollout::testing::TempDir dir;
  auto& fsys = platform::real_file_system();
  const std::string path = (dir.path() / "identity.json").string();
  auto none = load_identity(fsys, path);
  ASSERT_TRUE(none.ok());
  EXPECT_FALSE(none->has_value());
  ASSERT_TRUE(save_identity(fsys, path, {"id-1", "tok"}).ok());
  EXPECT_EQ(fs::status(path).permissions() & fs::perms::all,
            fs::perms::owner_read | fs::perms::owner_write);
  auto back = load_identity(fsys, path);
  ASSERT_TRUE(back.ok() && back->has_value());
  EXPECT_EQ((*back)->agent_id, "id-1");
  fs::permissions(path, fs::perms::others_read, fs::perm_options::add);
  EXPECT_EQ(load_identity(fsys, path).error().code, "invalid_identity");
  fs::remove(path);
  rollout::testing::write_file(path, "{\"agent_id\":\"x\"}");
  fs::permissions(path, fs::perms::owner_read | fs::perms::owner_write);
  EXPECT_EQ(load_identity(fsys, path).error().code, "invalid_identity");
}

}  // namespace
}  // namespace rollout::agent
