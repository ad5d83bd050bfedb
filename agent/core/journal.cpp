#include "agent/journal.hpp"

#include <algorithm>
#include <array>
#include <boost/json.hpp>

#include "agent/crash_point.hpp"
#include "common/json.hpp"
#include "common/log.hpp"
#include "common/semver.hpp"
#include "common/time.hpp"

namespace rollout::agent {

namespace {

constexpr std::array<std::pair<UpdateState, std::string_view>, 9> kStates{{
    {UpdateState::idle, "idle"},
    {UpdateState::downloading, "downloading"},
    {UpdateState::verifying, "verifying"},
    {UpdateState::staged, "staged"},
    {UpdateState::switching, "switching"},
    {UpdateState::probation, "probation"},
    {UpdateState::committed, "committed"},
    {UpdateState::failed, "failed"},
    {UpdateState::reverted, "reverted"},
}};

constexpr std::size_t kMaxJournalBytes = 256 * 1024;
constexpr std::size_t kMaxBadVersions = 1000;
constexpr int kFormat = 1;

bool is_lower_hex(std::string_view s) {
  return std::all_of(s.begin(), s.end(),
                     [](char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); });
}

const log::Logger& logger() {
  static const log::Logger l("journal");
  return l;
}

}  // namespace

std::string_view to_string(UpdateState s) {
  for (const auto& [state, name] : kStates) {
    if (state == s) return name;
  }
  return "unknown";
}

Expected<UpdateState> parse_update_state(std::string_view text) {
  for (const auto& [state, name] : kStates) {
    if (name == text) return state;
  }
  return make_error("invalid_journal", "unknown state '" + std::string(text) + "'");
}

bool is_at_rest(UpdateState s) {
  return s == UpdateState::idle || s == UpdateState::committed || s == UpdateState::failed ||
         s == UpdateState::reverted;
}

bool Journal::is_bad(std::string_view version) const {
  return std::find(bad_versions.begin(), bad_versions.end(), version) != bad_versions.end();
}

Status validate_version_for_path(std::string_view version) {
  auto v = SemVer::parse(version);
  if (!v) return v.error();
  // Canonical text only, so one version has one directory name; SemVer's alphabet already
  // excludes separators, but the check stays here where the path is made.
  if (v->str() != version || version.find_first_of("/\\") != std::string_view::npos ||
      version.find("..") != std::string_view::npos) {
    return make_error("invalid_version",
                      "version '" + std::string(version) + "' cannot be used as a directory name");
  }
  return {};
}

std::string serialize(const Journal& j) {
  boost::json::object o;
  o["format"] = kFormat;
  o["state"] = std::string(to_string(j.state));
  o["target_version"] = j.target_version;
  o["target_sha256"] = j.target_sha256;
  o["target_size"] = j.target_size;
  o["target_security_version"] = j.target_security_version;
  o["from_version"] = j.from_version;
  o["directive_sequence"] = j.directive_sequence;
  if (!j.directive_digest.empty()) o["directive_digest"] = j.directive_digest;
  o["security_floor"] = j.security_floor;
  boost::json::array bad;
  for (const auto& v : j.bad_versions) bad.emplace_back(v);
  o["bad_versions"] = std::move(bad);
  if (j.probation_started_at) o["probation_started_at"] = *j.probation_started_at;
  if (j.probation_elapsed_ms) o["probation_elapsed_ms"] = j.probation_elapsed_ms;
  o["crash_count"] = j.crash_count;
  if (j.outcome_reported) o["outcome_reported"] = true;
  if (j.error)
    o["error"] = boost::json::object{{"code", j.error->code}, {"message", j.error->message}};
  return boost::json::serialize(o) + "\n";
}

Expected<Journal> parse_journal(std::string_view text) {
  json::Limits limits;
  limits.max_bytes = kMaxJournalBytes;
  auto obj = json::parse_object(text, "journal", limits);
  if (!obj) return make_error("invalid_journal", obj.error().message);
  json::Reader r(*obj, "journal");
  Journal j;
  if (r.uint("format") != kFormat && r.ok()) r.fail("format", "is not a format this agent reads");
  const auto state = r.string("state", 32);
  j.target_version = r.string("target_version", SemVer::kMaxLength, true);
  j.target_sha256 = r.string("target_sha256", 64, true);
  j.target_size = r.uint("target_size");
  j.target_security_version = r.uint("target_security_version");
  j.from_version = r.string("from_version", SemVer::kMaxLength, true);
  j.directive_sequence = r.uint("directive_sequence");
  j.directive_digest = r.opt_string("directive_digest", 64).value_or("");
  j.security_floor = r.uint("security_floor");
  if (const auto* bad = r.array("bad_versions", kMaxBadVersions)) {
    for (const auto& v : *bad) {
      if (!v.is_string() || !validate_version_for_path(v.as_string())) {
        r.fail("bad_versions", "must hold version strings");
        break;
      }
      j.bad_versions.emplace_back(v.as_string());
    }
  }
  j.probation_started_at = r.opt_string("probation_started_at", 64);
  j.probation_elapsed_ms = r.opt_uint("probation_elapsed_ms").value_or(0);
  j.crash_count = static_cast<std::uint32_t>(r.uint("crash_count", UINT32_MAX));
  // Written by agents before the resume moved to the part file alone: read and ignored, so an
  // upgraded agent keeps the journal an older one left (the parse is otherwise strict).
  (void)r.opt_uint("download_offset");
  j.outcome_reported = r.opt_boolean("outcome_reported").value_or(false);
  if (const auto* err = r.opt_object("error")) {
    json::Reader er(*err, "journal error");
    JournalError e{er.string("code", 64), er.string("message", 4096, true)};
    er.no_unknown_keys();
    if (!er.ok()) return make_error("invalid_journal", er.error().message);
    j.error = std::move(e);
  }
  r.no_unknown_keys();
  if (!r.ok()) return make_error("invalid_journal", r.error().message);

  auto st = parse_update_state(state);
  if (!st) return st.error();
  j.state = *st;
  for (const auto* v : {&j.target_version, &j.from_version}) {
    if (v->empty()) continue;
    if (auto ok = validate_version_for_path(*v); !ok) {
      return make_error("invalid_journal", ok.error().message);
    }
  }
  if (j.state != UpdateState::idle) {
    if (j.target_version.empty()) {
      return make_error("invalid_journal", "state " + state + " needs a target_version");
    }
    if (j.target_sha256.size() != 64 || !is_lower_hex(j.target_sha256)) {
      return make_error("invalid_journal", "target_sha256 must be 64 lowercase hex digits");
    }
  }
  if (!j.directive_digest.empty() &&
      (j.directive_digest.size() != 64 || !is_lower_hex(j.directive_digest))) {
    return make_error("invalid_journal", "directive_digest must be 64 lowercase hex digits");
  }
  if (j.probation_started_at && !parse_rfc3339(*j.probation_started_at)) {
    return make_error("invalid_journal", "probation_started_at is not an RFC 3339 time");
  }
  return j;
}

Expected<JournalStore::Loaded> JournalStore::load() {
  Loaded out;
  bool parsed = false;
  for (const bool backup : {false, true}) {
    const std::string path = backup ? path_ + ".bak" : path_;
    auto text = platform::read_whole_file(fs_, path, kMaxJournalBytes);
    if (!text && text.error().code == "not_found") continue;
    if (!text && text.error().code != "too_large") return text.error();
    out.existed = true;
    auto j = text ? parse_journal(*text) : Expected<Journal>(text.error());
    if (j) {
      out.journal = std::move(j).value();
      out.from_backup = backup;
      parsed = true;
      break;
    }
    Error e = j.error();
    e.context(path);
    logger().error("journal is unreadable", {{"path", path}, {"error", e.message}});
    if (!out.corruption) out.corruption = e;
  }
  if (!parsed && out.corruption) {
    // Neither copy is usable: start idle and keep running whatever the pointer names. The floor
    // and sequence come back from their own file below, so a corrupted journal never reopens a
    // downgrade or a replay.
    logger().error("journal and its backup are unusable; starting from a safe idle state",
                   {{"path", path_}});
  }
  if (auto marks = load_high_water_marks()) {
    out.journal.security_floor = std::max(out.journal.security_floor, marks->first);
    out.journal.directive_sequence = std::max(out.journal.directive_sequence, marks->second);
  }
  floor_seen_ = std::max(floor_seen_, out.journal.security_floor);
  sequence_seen_ = std::max(sequence_seen_, out.journal.directive_sequence);
  return out;
}

std::optional<std::pair<std::uint64_t, std::uint64_t>> JournalStore::load_high_water_marks() {
  auto text = platform::read_whole_file(fs_, path_ + ".marks", 1024);
  if (!text) return std::nullopt;
  auto obj = json::parse_object(*text, "journal marks");
  if (!obj) return std::nullopt;
  json::Reader r(*obj, "journal marks");
  const auto floor = r.uint("security_floor");
  const auto sequence = r.uint("directive_sequence");
  r.no_unknown_keys();
  if (!r.ok()) {
    logger().error("journal high-water marks are unreadable", {{"error", r.error().message}});
    return std::nullopt;
  }
  return std::make_pair(floor, sequence);
}

Status JournalStore::save(const Journal& j) {
  if (j.security_floor < floor_seen_ || j.directive_sequence < sequence_seen_) {
    return make_error("invariant_violation",
                      "refusing to lower the security floor or the directive sequence (floor " +
                          std::to_string(floor_seen_) + " -> " + std::to_string(j.security_floor) +
                          ", sequence " + std::to_string(sequence_seen_) + " -> " +
                          std::to_string(j.directive_sequence) + ")");
  }
  const std::string text = serialize(j);
  ROLLOUT_CRASH_POINT("journal_before_write");
  // The high-water marks first: they are never behind any journal that reaches the disk.
  if (j.security_floor > floor_seen_ || j.directive_sequence > sequence_seen_) {
    const std::string marks = boost::json::serialize(boost::json::object{
        {"security_floor", j.security_floor}, {"directive_sequence", j.directive_sequence}});
    if (auto st = platform::atomic_write_file(fs_, path_ + ".marks", marks + "\n", 0600); !st) {
      return st;
    }
  }
  if (auto st = platform::atomic_write_file(fs_, path_ + ".bak", text, 0600); !st) return st;
  if (auto st = platform::atomic_write_file(fs_, path_, text, 0600); !st) return st;
  ROLLOUT_CRASH_POINT("journal_after_write");
  floor_seen_ = j.security_floor;
  sequence_seen_ = j.directive_sequence;
  return {};
}

}  // namespace rollout::agent
