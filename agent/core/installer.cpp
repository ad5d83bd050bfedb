#include "agent/installer.hpp"

#include <algorithm>

#include "agent/crash_point.hpp"
#include "common/log.hpp"
#include "common/semver.hpp"
#include "common/time.hpp"

namespace rollout::agent {

namespace {

constexpr std::string_view kPartialSuffix = ".partial";

const log::Logger& logger() {
  static const log::Logger l("installer");
  return l;
}

Error state_error(std::string_view op, UpdateState s) {
  return make_error("wrong_state",
                    "cannot " + std::string(op) + " in state " + std::string(to_string(s)));
}

bool ends_with(std::string_view s, std::string_view suffix) {
  return s.size() >= suffix.size() && s.substr(s.size() - suffix.size()) == suffix;
}

}  // namespace

std::string Installer::now_text() const {
  return format_rfc3339(clock_.now());
}

Status Installer::save(const Journal& next) {
  if (auto st = store_.save(next); !st) return st;
  journal_ = next;
  return {};
}

std::optional<std::string> Installer::pointer_version(const std::string& link) {
  auto target = pointer_->read(link);
  if (!target) return std::nullopt;
  const std::string prefix = "versions/";
  if (target->rfind(prefix, 0) != 0) return std::nullopt;
  std::string v = target->substr(prefix.size());
  if (!validate_version_for_path(v)) return std::nullopt;
  return v;
}

Expected<std::string> Installer::current_version() {
  if (auto v = pointer_version(layout_.current_link())) return *v;
  return make_error("not_found", layout_.current_link() + " does not name a version directory");
}

bool Installer::version_complete(const std::string& version) {
  if (version.empty() || !validate_version_for_path(version)) return false;
  auto dir = fs_.stat_no_follow(layout_.version_dir(version));
  auto exe = fs_.stat_no_follow(layout_.executable(version));
  return dir && dir->type == platform::FileType::directory && exe &&
         exe->type == platform::FileType::regular;
}

Status Installer::point_current_at(const std::string& version) {
  if (pointer_version(layout_.current_link()) == version) return {};
  logger().info("switching current version", {{"version", version}});
  return pointer_->write(layout_.current_link(), InstallLayout::link_target(version));
}

Status Installer::remove_version_dir(const std::string& version) {
  if (version.empty() || pointer_version(layout_.current_link()) == version ||
      pointer_version(layout_.previous_link()) == version) {
    return {};
  }
  if (!fs_.stat_no_follow(layout_.version_dir(version))) return {};
  return fs_.remove_tree(layout_.version_dir(version));
}

Status Installer::remove_stale_files() {
  auto names = fs_.list_dir(layout_.versions_dir());
  if (!names) return names.error().code == "not_found" ? Status{} : Status{names.error()};
  for (const auto& name : *names) {
    if (!ends_with(name, kPartialSuffix)) continue;
    if (auto st = fs_.remove_tree(layout_.versions_dir() + "/" + name); !st) return st;
  }
  return {};
}

Status Installer::remove_versions_except(const std::string& keep_a, const std::string& keep_b) {
  auto names = fs_.list_dir(layout_.versions_dir());
  if (!names) return names.error();
  for (const auto& name : *names) {
    if (name == keep_a || name == keep_b || !validate_version_for_path(name)) continue;
    if (auto st = remove_version_dir(name); !st) return st;
  }
  return {};
}

bool Installer::same_directive(const UpdateTarget& t) const {
  if (!journal_.directive_digest.empty()) return t.directive_digest == journal_.directive_digest;
  // A journal from before the digest was kept: the most it can say is which artifact that
  // directive named, so nothing else may pass under its sequence.
  return !journal_.target_version.empty() && t.version == journal_.target_version &&
         t.sha256 == journal_.target_sha256 && t.size == journal_.target_size &&
         t.security_version == journal_.target_security_version;
}

Status Installer::begin(const UpdateTarget& t) {
  if (!is_at_rest(journal_.state)) return state_error("begin an update", journal_.state);
  if (auto st = validate_version_for_path(t.version); !st) return st;
  if (t.sha256.size() != 64 ||
      t.sha256.find_first_not_of("0123456789abcdef") != std::string::npos) {
    return make_error("invalid_target", "sha256 must be 64 lowercase hex digits");
  }
  auto current = current_version();
  if (current && *current == t.version) {
    return make_error("already_installed", "version " + t.version + " is already running");
  }
  if (journal_.is_bad(t.version)) {
    return make_error("bad_version",
                      "version " + t.version + " crashed in probation here and is not retried");
  }
  if (t.security_version < journal_.security_floor) {
    return make_error("below_security_floor", "version " + t.version + " has security version " +
                                                  std::to_string(t.security_version) +
                                                  ", below this endpoint's floor " +
                                                  std::to_string(journal_.security_floor));
  }
  // One sequence names one directive. The server re-sends the directive it signed, byte for
  // byte, until it expires, so a failed (not reverted) attempt may be retried under exactly that
  // directive; anything else under a used sequence — another artifact, action or expiry — is
  // refused, and a new directive needs a higher sequence.
  if (t.directive_sequence == journal_.directive_sequence && t.directive_sequence != 0) {
    if (!same_directive(t)) {
      return make_error("sequence_reused",
                        "directive sequence " + std::to_string(t.directive_sequence) +
                            " was already used by a different directive; a new directive needs "
                            "a higher sequence");
    }
    if (journal_.state != UpdateState::failed) {
      return make_error("replayed_directive", "directive sequence " +
                                                  std::to_string(t.directive_sequence) +
                                                  " was already carried out");
    }
  } else if (t.directive_sequence < journal_.directive_sequence) {
    return make_error("replayed_directive", "directive sequence " +
                                                std::to_string(t.directive_sequence) +
                                                " is not above the last accepted " +
                                                std::to_string(journal_.directive_sequence));
  }
  Journal next = journal_;
  next.state = UpdateState::downloading;
  next.target_version = t.version;
  next.target_sha256 = t.sha256;
  next.target_size = t.size;
  next.target_security_version = t.security_version;
  next.from_version = current ? *current : "";
  next.directive_sequence = t.directive_sequence;
  next.directive_digest = t.directive_digest;
  next.outcome_reported = false;
  next.probation_started_at.reset();
  next.crash_count = 0;
  next.error.reset();
  return save(next);
}

Status Installer::mark_outcome_reported() {
  const auto s = journal_.state;
  if (s != UpdateState::committed && s != UpdateState::failed && s != UpdateState::reverted) {
    return state_error("mark the outcome reported", s);
  }
  if (journal_.outcome_reported) return {};
  Journal next = journal_;
  next.outcome_reported = true;
  return save(next);
}

Status Installer::begin_verifying() {
  if (journal_.state != UpdateState::downloading) return state_error("verify", journal_.state);
  Journal next = journal_;
  next.state = UpdateState::verifying;
  return save(next);
}

Status Installer::stage(const std::string& verified_file) {
  if (journal_.state != UpdateState::verifying) return state_error("stage", journal_.state);
  const std::string& v = journal_.target_version;
  if (platform::parent_dir(verified_file) != layout_.staging_dir()) {
    return make_error("stage_failed", verified_file + " is not inside " + layout_.staging_dir());
  }
  auto info = fs_.stat_no_follow(verified_file);
  if (!info) return info.error();
  if (info->type != platform::FileType::regular || info->size != journal_.target_size) {
    return make_error("stage_failed", verified_file + " is not a regular file of " +
                                          std::to_string(journal_.target_size) + " bytes");
  }
  // Re-installing the version `previous` names: that pointer must not name a directory that is
  // about to be rebuilt.
  if (pointer_version(layout_.previous_link()) == v) {
    if (auto st = pointer_->remove(layout_.previous_link()); !st) return st;
  }
  const std::string partial = layout_.version_dir(v) + std::string(kPartialSuffix);
  const std::string exe = partial + "/" + layout_.executable_name;
  if (auto st = fs_.remove_tree(partial); !st) return st;
  if (auto st = remove_version_dir(v); !st) return st;
  if (auto st = fs_.make_dir(layout_.versions_dir(), 0755); !st && st.error().code != "exists") {
    return st;
  }
  if (auto st = fs_.make_dir(partial, 0755); !st) return st;
  if (auto st = fs_.rename(verified_file, exe); !st) return st;
  ROLLOUT_CRASH_POINT("mid_stage");
  {
    auto file = fs_.open_read(exe);
    if (!file) return file.error();
    if (auto st = fs_.set_mode(*file, 0755); !st) return st;
    if (auto st = fs_.sync(*file); !st) return st;
    if (auto st = fs_.close(*file); !st) return st;
  }
  if (auto st = fs_.fsync_dir(partial); !st) return st;
  if (auto st = fs_.rename(partial, layout_.version_dir(v)); !st) return st;
  if (auto st = fs_.fsync_dir(layout_.versions_dir()); !st) return st;
  ROLLOUT_CRASH_POINT("after_stage");
  Journal next = journal_;
  next.state = UpdateState::staged;
  return save(next);
}

Status Installer::switch_to_target() {
  if (journal_.state != UpdateState::staged) return state_error("switch", journal_.state);
  const std::string target = journal_.target_version;
  if (!version_complete(target)) {
    return make_error("stage_incomplete", layout_.version_dir(target) + " is incomplete");
  }
  Journal next = journal_;
  next.state = UpdateState::switching;
  if (auto cur = current_version()) next.from_version = *cur;
  if (auto st = save(next); !st) return st;
  ROLLOUT_CRASH_POINT("before_switch");
  if (!journal_.from_version.empty()) {
    if (auto st = pointer_->write(layout_.previous_link(),
                                  InstallLayout::link_target(journal_.from_version));
        !st) {
      return st;
    }
  }
  if (auto st = point_current_at(target); !st) return st;
  ROLLOUT_CRASH_POINT("after_switch");
  next = journal_;
  next.state = UpdateState::probation;
  next.probation_started_at = now_text();
  next.probation_elapsed_ms = 0;
  next.crash_count = 0;
  return save(next);
}

Status Installer::record_probation_elapsed(std::chrono::milliseconds elapsed) {
  if (journal_.state != UpdateState::probation) {
    return state_error("record probation time", journal_.state);
  }
  Journal next = journal_;
  next.probation_elapsed_ms =
      static_cast<std::uint64_t>(std::max<std::int64_t>(0, elapsed.count()));
  return save(next);
}

Expected<std::uint32_t> Installer::record_crash() {
  if (journal_.state != UpdateState::probation) return state_error("count a crash", journal_.state);
  Journal next = journal_;
  ++next.crash_count;
  if (auto st = save(next); !st) return st.error();
  return journal_.crash_count;
}

Status Installer::revert(Error reason) {
  if (journal_.state != UpdateState::probation && journal_.state != UpdateState::switching) {
    return state_error("revert", journal_.state);
  }
  const std::string from = journal_.from_version;
  if (!version_complete(from)) {
    return make_error("no_previous_version",
                      "cannot revert: the previous version '" + from + "' is not installed");
  }
  ROLLOUT_CRASH_POINT("before_revert");
  Journal next = journal_;
  next.state = UpdateState::reverted;
  if (!next.is_bad(next.target_version)) next.bad_versions.push_back(next.target_version);
  next.error = JournalError{reason.code, reason.message};
  if (auto st = save(next); !st) return st;
  if (auto st = point_current_at(from); !st) return st;
  ROLLOUT_CRASH_POINT("after_revert");
  return remove_version_dir(journal_.target_version);
}

Status Installer::commit() {
  if (journal_.state != UpdateState::probation) return state_error("commit", journal_.state);
  ROLLOUT_CRASH_POINT("before_commit");
  Journal next = journal_;
  next.state = UpdateState::committed;
  next.security_floor = std::max(next.security_floor, next.target_security_version);
  next.error.reset();
  if (auto st = save(next); !st) return st;
  ROLLOUT_CRASH_POINT("after_commit");
  return remove_versions_except(journal_.target_version, journal_.from_version);
}

Status Installer::fail(Error reason) {
  const auto s = journal_.state;
  if (s != UpdateState::downloading && s != UpdateState::verifying && s != UpdateState::staged) {
    return state_error("abandon an update", s);
  }
  logger().warn(
      "update abandoned",
      {{"version", journal_.target_version}, {"code", reason.code}, {"error", reason.message}});
  Journal next = journal_;
  next.state = UpdateState::failed;
  next.error = JournalError{reason.code, reason.message};
  if (auto st = save(next); !st) return st;
  return clean_failed();
}

Status Installer::clean_failed() {
  if (auto st = remove_stale_files(); !st) return st;
  if (auto st = remove_version_dir(journal_.target_version); !st) return st;
  auto names = fs_.list_dir(layout_.staging_dir());
  if (!names) return names.error().code == "not_found" ? Status{} : Status{names.error()};
  for (const auto& name : *names) {
    if (auto st = fs_.remove_tree(layout_.staging_dir() + "/" + name); !st) return st;
  }
  return {};
}

Status Installer::recover() {
  auto loaded = store_.load();
  if (!loaded) return loaded.error();
  journal_ = loaded->journal;
  if (loaded->corruption) {
    logger().error("journal was corrupted", {{"error", loaded->corruption->message},
                                             {"used_backup", loaded->from_backup ? "yes" : "no"}});
  }
  if (auto st = fs_.make_secure_dir(layout_.staging_dir()); !st) return st;
  if (auto st = remove_stale_files(); !st) return st;

  const std::string target = journal_.target_version;
  const std::string from = journal_.from_version;
  switch (journal_.state) {
    case UpdateState::idle:
    case UpdateState::downloading:  // resumable from the part file
      break;
    case UpdateState::verifying:
      // The verification's state (the streaming hash) did not survive; the download restarts.
      if (auto st = fail(make_error("interrupted", "the agent stopped while verifying " + target +
                                                       "; the update is retried"));
          !st) {
        return st;
      }
      break;
    case UpdateState::staged:
      if (!version_complete(target)) {
        if (auto st = fail(make_error("interrupted", "staged version is incomplete")); !st) {
          return st;
        }
      }
      break;
    case UpdateState::switching: {
      // The pointer may or may not have moved: finish the switch and let probation judge it.
      if (!version_complete(target)) {
        Journal next = journal_;
        next.state = UpdateState::reverted;
        next.error = JournalError{"interrupted", "switch target is incomplete"};
        if (auto st = save(next); !st) return st;
        if (auto st = point_current_at(from); !st) return st;
        break;
      }
      if (!from.empty() && pointer_version(layout_.previous_link()) != from) {
        if (auto st = pointer_->write(layout_.previous_link(), InstallLayout::link_target(from));
            !st) {
          return st;
        }
      }
      if (auto st = point_current_at(target); !st) return st;
      Journal next = journal_;
      next.state = UpdateState::probation;
      next.probation_started_at = now_text();
      next.probation_elapsed_ms = 0;
      next.crash_count = 0;
      if (auto st = save(next); !st) return st;
      break;
    }
    case UpdateState::probation:
      if (version_complete(target)) {
        if (auto st = point_current_at(target); !st) return st;
      } else if (auto st = revert(make_error("interrupted", "probation version is incomplete"));
                 !st) {
        return st;
      }
      break;
    case UpdateState::committed:
      if (version_complete(target)) {
        if (auto st = point_current_at(target); !st) return st;
        if (auto st = remove_versions_except(target, from); !st) return st;
      }
      break;
    case UpdateState::reverted:
      if (version_complete(from)) {
        if (auto st = point_current_at(from); !st) return st;
      }
      if (auto st = remove_version_dir(target); !st) return st;
      break;
    case UpdateState::failed:
      if (auto st = clean_failed(); !st) return st;
      break;
  }
  return ensure_runnable();
}

Status Installer::ensure_runnable() {
  auto current = current_version();
  if (current && version_complete(*current)) return {};
  // `current` is missing or names an incomplete directory (a damaged install root): choose the
  // best complete version we know of.
  std::vector<std::string> candidates;
  if (journal_.state == UpdateState::probation || journal_.state == UpdateState::committed) {
    candidates.push_back(journal_.target_version);
  }
  candidates.push_back(journal_.from_version);
  if (auto prev = pointer_version(layout_.previous_link())) candidates.push_back(*prev);
  if (auto names = fs_.list_dir(layout_.versions_dir())) {
    std::vector<SemVer> found;
    for (const auto& n : *names) {
      if (auto v = SemVer::parse(n); v && validate_version_for_path(n)) found.push_back(*v);
    }
    std::sort(found.begin(), found.end(), std::greater<>());
    for (const auto& v : found) candidates.push_back(v.str());
  }
  for (const auto& c : candidates) {
    if (!version_complete(c) || journal_.is_bad(c)) continue;
    logger().warn("current pointer was not runnable; repointed", {{"version", c}});
    return point_current_at(c);
  }
  return make_error("no_runnable_version",
                    "no complete version under " + layout_.versions_dir() + " to run");
}

}  // namespace rollout::agent
