#include "common/protocol.hpp"

#include <gtest/gtest.h>

#include <boost/json.hpp>

namespace rollout::protocol {
namespace {

Report sample_report() {
  Report r;
  r.id = new_uuid();
  r.agent_id = "agent-1";
  r.version = "1.4.2";
  r.from_version = "1.4.1";
  r.os = "linux";
  r.arch = "aarch64";
  r.outcome = "crash";
  r.stage = "probation";
  r.error_code = "crash_limit";
  r.exit_code = 134;
  r.signal = 6;
  r.stderr_tail = "panic: simulated crash\n";
  r.directive_sequence = 12;
  r.occurred_at = "2026-11-24T10:00:00Z";
  return r;
}

TEST(Protocol, UuidsAreCanonicalAndRandom) {
  const auto a = new_uuid();
  EXPECT_TRUE(valid_uuid(a)) << a;
  EXPECT_NE(a, new_uuid());
  EXPECT_EQ(a[14], '4');
  EXPECT_FALSE(valid_uuid("6F9619FF-8B86-D011-B42D-00CF4FC964FF")) << "upper case is not canonical";
  EXPECT_FALSE(valid_uuid("6f9619ff8b86d011b42d00cf4fc964ff"));
  EXPECT_FALSE(valid_uuid("../../etc/passwd-0000-0000-00000000"));
}

TEST(Protocol, RoundTrips) {
  EnrollRequest e{"k", "host", "mid", "linux", "x86_64", "1.0.0", "acme", "hq", "beta"};
  auto e2 = EnrollRequest::parse(e.to_json());
  ASSERT_TRUE(e2.ok()) << e2.error().message;
  EXPECT_EQ(e2->site, "hq");
  EXPECT_EQ(EnrollResponse::parse(EnrollResponse{"id", "tok"}.to_json())->token, "tok");

  CheckinRequest c{"a", "1.0.0", "windows", "x86_64", "probation", 3, 2, "1.1.0", {}};
  auto c2 = CheckinRequest::parse(c.to_json());
  ASSERT_TRUE(c2.ok()) << c2.error().message;
  EXPECT_EQ(c2->state, "probation");
  EXPECT_EQ(c2->last_sequence, 3u);

  CheckinResponse resp;
  resp.poll_interval_s = 30;
  resp.directive = boost::json::object{{"payload_type", "x"}};
  resp.maintenance_window = MaintenanceWindow{"22:00", "04:00", "UTC"};
  auto resp2 = CheckinResponse::parse(resp.to_json());
  ASSERT_TRUE(resp2.ok()) << resp2.error().message;
  EXPECT_EQ(resp2->maintenance_window->start, "22:00");
  ASSERT_TRUE(resp2->directive.has_value());

  ReportBatch b{{sample_report(), sample_report()}};
  auto b2 = ReportBatch::parse(b.to_json());
  ASSERT_TRUE(b2.ok()) << b2.error().message;
  ASSERT_EQ(b2->reports.size(), 2u);
  EXPECT_EQ(b2->reports[0].stderr_tail, "panic: simulated crash\n");
  EXPECT_EQ(b2->reports[1].exit_code, 134);
  ReportAck ack{{b.reports[0].id}};
  EXPECT_EQ(ReportAck::parse(ack.to_json())->acknowledged, ack.acknowledged);
}

// Replaces or removes one field of a report inside a one-report batch.
std::string batch_with(const std::string& key, const char* value) {
  auto o = sample_report().to_object();
  if (value == nullptr) {
    o.erase(key);
  } else {
    o[key] = boost::json::parse(value);
  }
  return boost::json::serialize(boost::json::object{{"reports", boost::json::array{o}}});
}

TEST(Protocol, ReportsAreStrict) {
  const std::pair<const char*, const char*> bad[] = {
      {"id", "\"not-a-uuid\""},   {"outcome", "\"maybe\""},     {"version", "\"1.2\""},
      {"os", "\"plan9\""},        {"stage", "\"Stage Two\""},   {"error_code", "\"a;b\""},
      {"occurred_at", "\"now\""}, {"exit_code", "\"1\""},       {"message", "7"},
      {"extra", "true"},          {"directive_sequence", "-1"},
  };
  for (auto [key, value] : bad) {
    auto r = ReportBatch::parse(batch_with(key, value));
    ASSERT_FALSE(r.ok()) << key;
    EXPECT_EQ(r.error().code, "invalid_body");
    EXPECT_NE(r.error().message.find(key), std::string::npos) << r.error().message;
  }
  for (const char* key : {"id", "agent_id", "version", "os", "arch", "outcome", "occurred_at"}) {
    EXPECT_FALSE(ReportBatch::parse(batch_with(key, nullptr)).ok()) << key;
  }
  EXPECT_FALSE(ReportBatch::parse(R"({"reports":[]})").ok());
  EXPECT_FALSE(ReportBatch::parse(R"({"reports":[1]})").ok());
  std::string many = R"({"reports":[)";
  for (int i = 0; i < 101; ++i) many += std::string(i ? "," : "") + "{}";
  EXPECT_FALSE(ReportBatch::parse(many + "]}").ok());
  auto long_tail = sample_report();
  long_tail.stderr_tail = std::string(8193, 'x');
  EXPECT_FALSE(ReportBatch::parse(ReportBatch{{long_tail}}.to_json()).ok());
}

// The download progress a check-in carries is bounded (0..100), typed, and only valid while
// downloading: the server stores it beside the state for the agent page.
TEST(Protocol, CheckinProgressIsBoundedAndOnlyWhileDownloading) {
  CheckinRequest c{"a", "1.0.0", "linux", "x86_64", "downloading", 3, 2, "1.1.0", 43};
  auto back = CheckinRequest::parse(c.to_json());
  ASSERT_TRUE(back.ok()) << back.error().message;
  EXPECT_EQ(back->progress_percent, 43u);
  c.progress_percent.reset();
  EXPECT_FALSE(CheckinRequest::parse(c.to_json())->progress_percent.has_value());
  const std::string head =
      R"({"agent_id":"a","current_version":"1.0.0","os":"linux","arch":"x86_64","last_sequence":0,"security_floor":0,)";
  for (const char* bad :
       {R"("state":"downloading","progress_percent":101})",
        R"("state":"downloading","progress_percent":-1})",
        R"("state":"downloading","progress_percent":4.5})",
        R"("state":"downloading","progress_percent":"43 %"})",
        R"("state":"downloading","progress_percent":18446744073709551616})",
        R"("state":"idle","progress_percent":43})", R"("state":"downloading 43 %"})"}) {
    auto r = CheckinRequest::parse(head + bad);
    EXPECT_FALSE(r.ok()) << bad;
    if (!r.ok()) {
      EXPECT_EQ(r.error().code, "invalid_body") << bad;
    }
  }
  EXPECT_TRUE(
      CheckinRequest::parse(head + R"("state":"downloading","progress_percent":100})").ok());
}

TEST(Protocol, CheckinAndEnrollAreStrict) {
  EXPECT_FALSE(
      CheckinRequest::parse(
          R"({"agent_id":"a","current_version":"1.0.0","os":"linux","arch":"x86_64","state":"dancing","last_sequence":0,"security_floor":0})")
          .ok());
  EXPECT_FALSE(
      CheckinRequest::parse(
          R"({"agent_id":"a","current_version":"../1","os":"linux","arch":"x86_64","state":"idle","last_sequence":0,"security_floor":0})")
          .ok());
  EXPECT_FALSE(CheckinResponse::parse(R"({"poll_interval_s":0})").ok());
  EXPECT_FALSE(
      CheckinResponse::parse(
          R"({"poll_interval_s":60,"maintenance_window":{"start":"25:00","end":"01:00","timezone":"UTC"}})")
          .ok());
  EXPECT_FALSE(EnrollRequest::parse(R"({"enrollment_key":"k"})").ok());
  for (const char* garbage : {"", "null", "[]", "<html>500</html>", "{\"a\":", "\xff\xfe"}) {
    EXPECT_FALSE(CheckinResponse::parse(garbage).ok()) << garbage;
    EXPECT_FALSE(ReportAck::parse(garbage).ok()) << garbage;
  }
  EXPECT_EQ(CheckinRequest::parse(std::string(kMaxBodyBytes + 1, ' ')).error().code,
            "invalid_body");
}

// The agent drops the reports a 422 names, so the answer is parsed as strictly as any other.
TEST(Protocol, ReportRefusalRoundTripsAndIsStrict) {
  const std::string id = sample_report().id;
  ReportRefusal ref{"1 report(s) may not count", {{id, "not_offered", "never directed"}}};
  auto back = ReportRefusal::parse(ref.to_json());
  ASSERT_TRUE(back.ok()) << back.error().message;
  ASSERT_EQ(back->refused.size(), 1u);
  EXPECT_EQ(back->refused[0].id, id);
  EXPECT_EQ(back->refused[0].reason, "not_offered");
  EXPECT_EQ(back->message, ref.message);
  const std::vector<std::string> bad_bodies{
      R"({"error":"report_refused","message":"m","refused":[]})",
      R"({"error":"forbidden","message":"m","refused":[{"id":")" + id +
          R"(","error":"x","message":""}]})",
      R"({"error":"report_refused","message":"m","refused":[{"id":"../../x","error":"x","message":""}]})",
      R"({"error":"report_refused","message":"m","refused":[{"id":")" + id +
          R"(","error":"x","message":"","extra":1}]})",
      R"({"error":"report_refused","message":"m","refused":[7]})",
      R"({"error":"report_refused","message":"m"})",
      "",
      "null",
      "[]",
      "<html>422</html>",
      "{\"error\":",
      "\xff\xfe"};
  for (const auto& bad : bad_bodies) {
    EXPECT_FALSE(ReportRefusal::parse(bad).ok()) << bad;
  }
  EXPECT_FALSE(ReportRefusal::parse(std::string(kMaxBodyBytes + 1, ' ')).ok());
}

// The long-poll headers (Prefer: wait=N, Preference-Applied: wait=M), as sent by anyone.
TEST(Protocol, WaitPreferenceIsReadAndGarbageIsNothing) {
  EXPECT_EQ(parse_wait_preference("wait=55"), 55u);
  EXPECT_EQ(parse_wait_preference("respond-async, wait=10"), 10u);
  EXPECT_EQ(parse_wait_preference(" WAIT = 7 ; x=y"), 7u);
  EXPECT_EQ(parse_wait_preference("wait=\"30\""), 30u);
  EXPECT_EQ(parse_wait_preference("wait=300"), 300u);
  for (const char* bad :
       {"", "wait", "wait=", "wait=0", "wait=301", "wait=99999999999999999999", "wait=-5",
        "wait=1.5", "wait=abc", "waitx=5", "xwait=5", ",,,", "wait=\"", "wait=\"\"", "=5"}) {
    EXPECT_EQ(parse_wait_preference(bad), std::nullopt) << bad;
  }
  EXPECT_EQ(parse_wait_preference(std::string(100'000, ',') + "wait=3"), 3u);
  EXPECT_EQ(parse_wait_preference(std::string(100'000, 'w')), std::nullopt);
}

}  // namespace
}  // namespace rollout::protocol
