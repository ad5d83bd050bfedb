#include "common/log.hpp"

#include <gtest/gtest.h>

#include <boost/json.hpp>

namespace rollout::log {
namespace {

class CaptureSink final : public Sink {
 public:
  void write(const Record& r) override { lines.push_back(format_record(r, Format::json)); }
  std::vector<std::string> lines;
};

TEST(Log, JsonLineCarriesLevelMessageAndFields) {
  auto sink = std::make_shared<CaptureSink>();
  set_sink(sink);
  set_level(Level::info);
  Logger("agent").info("update applied", {{"version", "1.2.3"}, {"note", "a \"quoted\"\nline"}});
  set_sink(nullptr);
  ASSERT_EQ(sink->lines.size(), 1u);
  auto v = boost::json::parse(sink->lines[0]).as_object();
  EXPECT_EQ(v["level"].as_string(), "info");
  EXPECT_EQ(v["component"].as_string(), "agent");
  EXPECT_EQ(v["msg"].as_string(), "update applied");
  EXPECT_EQ(v["version"].as_string(), "1.2.3");
  EXPECT_EQ(v["note"].as_string(), "a \"quoted\"\nline");
}

TEST(Log, TimestampIsUtcWithMilliseconds) {
  // One second before 1 March plus 42 ms: calendar arithmetic across a month end.
  const auto t = std::chrono::sys_days(std::chrono::year(2026) / 3 / 1) - std::chrono::seconds(1) +
                 std::chrono::milliseconds(42);
  const Fields none;
  const Record r{t, Level::info, "x", "m", none};
  auto v = boost::json::parse(format_record(r, Format::json)).as_object();
  EXPECT_EQ(v["ts"].as_string(), "2026-02-28T23:59:59.042Z");
}

TEST(Log, LevelFilterDropsLowerLevels) {
  auto sink = std::make_shared<CaptureSink>();
  set_sink(sink);
  set_level(Level::warn);
  Logger l("x");
  l.debug("no");
  l.info("no");
  l.warn("yes");
  l.error("yes");
  set_level(Level::info);
  set_sink(nullptr);
  EXPECT_EQ(sink->lines.size(), 2u);
}

TEST(Log, JournalFormatHasPriorityPrefixAndQuotedValues) {
  Fields f{{"path", "/a b"}, {"n", "3"}};
  Record r{std::chrono::system_clock::now(), Level::error, "srv", "bad thing", f};
  EXPECT_EQ(format_record(r, Format::journal), "<3>srv: bad thing path=\"/a b\" n=3");
}

TEST(Log, ParseLevelRejectsUnknown) {
  EXPECT_TRUE(parse_level("debug").ok());
  auto bad = parse_level("loud");
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.error().message.find("debug, info, warn, error"), std::string::npos);
}

}  // namespace
}  // namespace rollout::log
