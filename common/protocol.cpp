#include "common/protocol.hpp"

#include <algorithm>
#include <boost/json.hpp>
#include <cctype>

#include "common/crypto.hpp"
#include "common/encoding.hpp"
#include "common/json.hpp"
#include "common/release.hpp"
#include "common/semver.hpp"
#include "common/time.hpp"

namespace rollout::protocol {
namespace {

namespace bj = boost::json;

bool is_token(std::string_view s, std::size_t max) {
  if (s.empty() || s.size() > max) return false;
  for (char c : s) {
    if (!((c >= 'a' && c <= 'z') || c == '_')) return false;
  }
  return true;
}

bool is_hhmm(std::string_view s) {
  return s.size() == 5 && s[2] == ':' && s[0] >= '0' && s[0] <= '2' && s[1] >= '0' && s[1] <= '9' &&
         s[3] >= '0' && s[3] <= '5' && s[4] >= '0' && s[4] <= '9' && (s[0] < '2' || s[1] <= '3');
}

Expected<bj::object> parse_body(std::string_view body, std::string_view what) {
  auto o = json::parse_object(body, what, {kMaxBodyBytes, 8});
  if (!o) return make_error("invalid_body", o.error().message);
  return o;
}

Error invalid(const json::Reader& r) {
  return make_error("invalid_body", r.error().message);
}

void check_os_arch(json::Reader& r, const std::string& os, const std::string& arch) {
  if (r.ok() && !valid_os(os)) r.fail("os", "must be linux or windows");
  if (r.ok() && !valid_arch(arch)) r.fail("arch", "must be x86_64 or aarch64");
}

void check_version(json::Reader& r, std::string_view key, const std::string& v) {
  if (r.ok() && !SemVer::parse(v)) r.fail(key, "must be a SemVer version like 1.4.2");
}

void check_channel(json::Reader& r, std::string_view key, const std::optional<std::string>& c) {
  if (r.ok() && c && *c != "beta" && *c != "stable") r.fail(key, "must be beta or stable");
}

void put_opt(bj::object& o, std::string_view key, const std::optional<std::string>& v) {
  if (v) o[key] = *v;
}

}  // namespace

bool valid_uuid(std::string_view s) {
  if (s.size() != 36) return false;
  for (std::size_t i = 0; i < s.size(); ++i) {
    const char c = s[i];
    if (i == 8 || i == 13 || i == 18 || i == 23) {
      if (c != '-') return false;
    } else if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) {
      return false;
    }
  }
  return true;
}

std::string new_uuid() {
  std::string b = crypto::random_bytes(16);
  b[6] = static_cast<char>((b[6] & 0x0f) | 0x40);
  b[8] = static_cast<char>((b[8] & 0x3f) | 0x80);
  const std::string h = encoding::hex(b);
  return h.substr(0, 8) + "-" + h.substr(8, 4) + "-" + h.substr(12, 4) + "-" + h.substr(16, 4) +
         "-" + h.substr(20);
}

bool valid_state(std::string_view s) {
  for (auto v : {"idle", "downloading", "verifying", "staged", "switching", "probation",
                 "committed", "failed", "reverted"}) {
    if (s == v) return true;
  }
  return false;
}

std::string EnrollRequest::to_json() const {
  bj::object o{{"enrollment_key", enrollment_key},
               {"hostname", hostname},
               {"machine_id", machine_id},
               {"os", os},
               {"arch", arch},
               {"current_version", current_version}};
  put_opt(o, "client", client);
  put_opt(o, "site", site);
  put_opt(o, "channel_hint", channel_hint);
  return bj::serialize(o);
}

Expected<EnrollRequest> EnrollRequest::parse(std::string_view body) {
  auto o = parse_body(body, "enroll request");
  if (!o) return o.error();
  json::Reader r(*o, "enroll request");
  EnrollRequest e;
  e.enrollment_key = r.string("enrollment_key", 256);
  e.hostname = r.string("hostname", 253);
  e.machine_id = r.string("machine_id", 128);
  e.os = r.string("os", 16);
  e.arch = r.string("arch", 16);
  e.current_version = r.string("current_version", 128);
  e.client = r.opt_string("client", 128);
  e.site = r.opt_string("site", 128);
  e.channel_hint = r.opt_string("channel_hint", 16);
  r.no_unknown_keys();
  check_os_arch(r, e.os, e.arch);
  check_version(r, "current_version", e.current_version);
  check_channel(r, "channel_hint", e.channel_hint);
  if (!r.ok()) return invalid(r);
  return e;
}

std::string EnrollResponse::to_json() const {
  return bj::serialize(bj::object{{"agent_id", agent_id}, {"token", token}});
}

Expected<EnrollResponse> EnrollResponse::parse(std::string_view body) {
  auto o = parse_body(body, "enroll response");
  if (!o) return o.error();
  json::Reader r(*o, "enroll response");
  EnrollResponse e{r.string("agent_id", 128), r.string("token", 256)};
  r.no_unknown_keys();
  if (!r.ok()) return invalid(r);
  return e;
}

std::string CheckinRequest::to_json() const {
  bj::object o{{"agent_id", agent_id},
               {"current_version", current_version},
               {"os", os},
               {"arch", arch},
               {"state", state},
               {"last_sequence", last_sequence},
               {"security_floor", security_floor}};
  put_opt(o, "pending_version", pending_version);
  if (progress_percent) o["progress_percent"] = *progress_percent;
  return bj::serialize(o);
}

Expected<CheckinRequest> CheckinRequest::parse(std::string_view body) {
  auto o = parse_body(body, "check-in");
  if (!o) return o.error();
  json::Reader r(*o, "check-in");
  CheckinRequest c;
  c.agent_id = r.string("agent_id", 128);
  c.current_version = r.string("current_version", 128);
  c.os = r.string("os", 16);
  c.arch = r.string("arch", 16);
  c.state = r.string("state", 16);
  c.last_sequence = r.uint("last_sequence");
  c.security_floor = r.uint("security_floor", 1u << 30);
  c.pending_version = r.opt_string("pending_version", 128);
  if (auto p = r.opt_uint("progress_percent", 100))
    c.progress_percent = static_cast<std::uint32_t>(*p);
  r.no_unknown_keys();
  check_os_arch(r, c.os, c.arch);
  check_version(r, "current_version", c.current_version);
  if (r.ok() && c.pending_version) check_version(r, "pending_version", *c.pending_version);
  if (r.ok() && !valid_state(c.state)) r.fail("state", "is not a known agent state");
  if (r.ok() && c.progress_percent && c.state != "downloading") {
    r.fail("progress_percent", "is only sent while downloading");
  }
  if (!r.ok()) return invalid(r);
  return c;
}

std::string CheckinResponse::to_json() const {
  bj::object o{{"poll_interval_s", poll_interval_s}};
  if (directive) o["directive"] = *directive;
  if (maintenance_window) {
    o["maintenance_window"] = bj::object{{"start", maintenance_window->start},
                                         {"end", maintenance_window->end},
                                         {"timezone", maintenance_window->timezone}};
  }
  return bj::serialize(o);
}

Expected<CheckinResponse> CheckinResponse::parse(std::string_view body) {
  auto o = parse_body(body, "check-in answer");
  if (!o) return o.error();
  json::Reader r(*o, "check-in answer");
  CheckinResponse c;
  c.poll_interval_s = r.uint("poll_interval_s", 86400);
  if (r.ok() && c.poll_interval_s < 1) r.fail("poll_interval_s", "must be at least 1");
  if (const auto* d = r.opt_object("directive")) c.directive = *d;
  if (const auto* w = r.opt_object("maintenance_window")) {
    json::Reader wr(*w, "maintenance_window");
    MaintenanceWindow mw{wr.string("start", 5), wr.string("end", 5), wr.string("timezone", 8)};
    wr.no_unknown_keys();
    if (wr.ok() && (!is_hhmm(mw.start) || !is_hhmm(mw.end)))
      wr.fail("start", "and end must be HH:MM");
    if (wr.ok() && mw.timezone != "UTC") wr.fail("timezone", "must be UTC");
    if (!wr.ok()) return invalid(wr);
    c.maintenance_window = mw;
  }
  r.no_unknown_keys();
  if (!r.ok()) return invalid(r);
  return c;
}

bj::object Report::to_object() const {
  bj::object o{{"id", id},     {"agent_id", agent_id}, {"version", version},        {"os", os},
               {"arch", arch}, {"outcome", outcome},   {"occurred_at", occurred_at}};
  put_opt(o, "from_version", from_version);
  put_opt(o, "stage", stage);
  put_opt(o, "error_code", error_code);
  put_opt(o, "message", message);
  if (exit_code) o["exit_code"] = *exit_code;
  if (signal) o["signal"] = *signal;
  put_opt(o, "stderr_tail", stderr_tail);
  if (directive_sequence) o["directive_sequence"] = *directive_sequence;
  return o;
}

Expected<Report> Report::from_object(const bj::object& obj) {
  json::Reader r(obj, "report");
  Report p;
  p.id = r.string("id", 36);
  p.agent_id = r.string("agent_id", 128);
  p.version = r.string("version", 128);
  p.from_version = r.opt_string("from_version", 128);
  p.os = r.string("os", 16);
  p.arch = r.string("arch", 16);
  p.outcome = r.string("outcome", 16);
  p.stage = r.opt_string("stage", 32);
  p.error_code = r.opt_string("error_code", 64);
  p.message = r.opt_string("message", 2048);
  p.exit_code = r.opt_integer("exit_code");
  p.signal = r.opt_integer("signal");
  p.stderr_tail = r.opt_string("stderr_tail", 8192);
  p.directive_sequence = r.opt_uint("directive_sequence");
  p.occurred_at = r.string("occurred_at", 40);
  r.no_unknown_keys();
  if (r.ok() && !valid_uuid(p.id)) r.fail("id", "must be a lower-case UUID");
  check_os_arch(r, p.os, p.arch);
  check_version(r, "version", p.version);
  if (r.ok() && p.from_version) check_version(r, "from_version", *p.from_version);
  if (r.ok() && p.outcome != "success" && p.outcome != "failure" && p.outcome != "crash") {
    r.fail("outcome", "must be success, failure or crash");
  }
  if (r.ok() && p.stage && !is_token(*p.stage, 32)) r.fail("stage", "must be a lower-case word");
  if (r.ok() && p.error_code && !is_token(*p.error_code, 64))
    r.fail("error_code", "must be a lower-case word");
  if (r.ok() && !parse_rfc3339(p.occurred_at))
    r.fail("occurred_at", "must be an RFC 3339 UTC time");
  if (!r.ok()) return invalid(r);
  return p;
}

std::string ReportBatch::to_json() const {
  bj::array a;
  for (const auto& rep : reports) a.push_back(rep.to_object());
  return bj::serialize(bj::object{{"reports", std::move(a)}});
}

Expected<ReportBatch> ReportBatch::parse(std::string_view body) {
  auto o = parse_body(body, "reports");
  if (!o) return o.error();
  json::Reader r(*o, "reports");
  const auto* arr = r.array("reports", kMaxReportsPerBatch);
  r.no_unknown_keys();
  if (!r.ok()) return invalid(r);
  if (arr->empty()) return make_error("invalid_body", "reports: 'reports' must not be empty");
  ReportBatch b;
  for (const auto& v : *arr) {
    if (!v.is_object())
      return make_error("invalid_body", "reports: every report must be an object");
    auto rep = Report::from_object(v.get_object());
    if (!rep) return rep.error();
    b.reports.push_back(std::move(rep.value()));
  }
  return b;
}

std::string ReportAck::to_json() const {
  bj::array a;
  for (const auto& id : acknowledged) a.push_back(bj::string(id));
  return bj::serialize(bj::object{{"acknowledged", std::move(a)}});
}

Expected<ReportAck> ReportAck::parse(std::string_view body) {
  auto o = parse_body(body, "report acknowledgement");
  if (!o) return o.error();
  json::Reader r(*o, "report acknowledgement");
  const auto* arr = r.array("acknowledged", kMaxReportsPerBatch);
  r.no_unknown_keys();
  if (!r.ok()) return invalid(r);
  ReportAck ack;
  for (const auto& v : *arr) {
    if (!v.is_string() || !valid_uuid(v.get_string())) {
      return make_error("invalid_body", "report acknowledgement: ids must be UUIDs");
    }
    ack.acknowledged.emplace_back(v.get_string());
  }
  return ack;
}

std::string ReportRefusal::to_json() const {
  bj::array a;
  for (const auto& r : refused) {
    a.push_back(bj::object{{"id", r.id}, {"error", r.reason}, {"message", r.message}});
  }
  return bj::serialize(
      bj::object{{"error", "report_refused"}, {"message", message}, {"refused", std::move(a)}});
}

Expected<ReportRefusal> ReportRefusal::parse(std::string_view body) {
  auto o = parse_body(body, "report refusal");
  if (!o) return o.error();
  json::Reader r(*o, "report refusal");
  const std::string code = r.string("error", 64);
  ReportRefusal out;
  out.message = r.string("message", 4096, true);
  const auto* arr = r.array("refused", kMaxReportsPerBatch);
  r.no_unknown_keys();
  if (r.ok() && code != "report_refused") r.fail("error", "must be \"report_refused\"");
  if (r.ok() && arr->empty()) r.fail("refused", "must name at least one report");
  if (!r.ok()) return invalid(r);
  for (const auto& v : *arr) {
    if (!v.is_object())
      return make_error("invalid_body", "report refusal: entries must be objects");
    json::Reader e(v.get_object(), "report refusal entry");
    ReportRefusal::Refused ref{e.string("id", 36), e.string("error", 64),
                               e.string("message", 4096, true)};
    e.no_unknown_keys();
    if (e.ok() && !valid_uuid(ref.id)) e.fail("id", "must be a UUID");
    if (!e.ok()) return invalid(e);
    out.refused.push_back(std::move(ref));
  }
  return out;
}

std::optional<std::uint32_t> parse_wait_preference(std::string_view header) {
  // preference *( "," preference ), preference = token [ "=" word ] *( ";" param ).
  while (!header.empty()) {
    const auto comma = header.find(',');
    std::string_view pref = header.substr(0, comma);
    header = comma == std::string_view::npos ? std::string_view() : header.substr(comma + 1);
    pref = pref.substr(0, pref.find(';'));
    auto trim = [](std::string_view v) {
      while (!v.empty() && (v.front() == ' ' || v.front() == '\t')) v.remove_prefix(1);
      while (!v.empty() && (v.back() == ' ' || v.back() == '\t')) v.remove_suffix(1);
      return v;
    };
    pref = trim(pref);
    const auto eq = pref.find('=');
    if (eq == std::string_view::npos) continue;
    std::string_view name = trim(pref.substr(0, eq));
    std::string_view value = trim(pref.substr(eq + 1));
    if (name.size() != 4 || !std::equal(name.begin(), name.end(), "wait", [](char a, char b) {
          return std::tolower(static_cast<unsigned char>(a)) == b;
        })) {
      continue;
    }
    if (value.size() >= 2 && value.front() == '"' && value.back() == '"')
      value = value.substr(1, value.size() - 2);
    if (value.empty() || value.size() > 3) return std::nullopt;
    std::uint32_t n = 0;
    for (char ch : value) {
      if (ch < '0' || ch > '9') return std::nullopt;
      n = n * 10 + static_cast<std::uint32_t>(ch - '0');
    }
    if (n < 1 || n > kMaxWaitSeconds) return std::nullopt;
    return n;
  }
  return std::nullopt;
}

}  // namespace rollout::protocol
