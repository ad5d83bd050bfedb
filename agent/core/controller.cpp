#include "agent/controller.hpp"

#include <algorithm>
#include <boost/json.hpp>

#include "agent/crash_point.hpp"
#include "agent/download.hpp"
#include "agent/policy.hpp"
#include "common/log.hpp"
#include "common/protocol.hpp"
#include "common/release.hpp"
#include "common/time.hpp"
#include "platform/host.hpp"

namespace rollout::agent {

namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

constexpr milliseconds kTick{200};
constexpr milliseconds kFirstBackoff{2000};
constexpr milliseconds kManagedMaxBackoff{60'000};
constexpr milliseconds kStopGrace{10'000};
constexpr std::uint32_t kMaxDownloadAttempts = 5;
constexpr milliseconds kProgressEvery{5000};
constexpr milliseconds kProbationSaveEvery{5000};
constexpr milliseconds kFirstDirectiveRetry{60'000};
constexpr std::size_t kMaxStderrReport = 4096;

const log::Logger& logger() {
  static const log::Logger l("controller");
  return l;
}

// Where an abandoned update stopped, for the report's `stage`.
std::string stage_of(const std::string& code) {
  if (code == "disk_full") return "disk_full";
  if (code == "hash_mismatch" || code == "size_mismatch") return "verify";
  if (code == "stage_failed" || code == "insecure" || code == "exists") return "stage";
  if (code == "crash_limit" || code == "start_failed") return "probation";
  if (code == "interrupted") return "install";
  return "download";
}

std::string join_tail(const std::vector<std::string>& lines) {
  std::string out;
  for (const auto& l : lines) out += l + "\n";
  if (out.size() > kMaxStderrReport) out = out.substr(out.size() - kMaxStderrReport);
  return out;
}

}  // namespace

Controller::Controller(AgentConfig config, ControllerDeps deps)
    : cfg_(std::move(config)),
      deps_(deps),
      poll_interval_(cfg_.poll_interval),
      long_poll_(cfg_.long_poll_wait),
      rng_state_(static_cast<std::uint64_t>(
          deps.clock.steady_now().time_since_epoch().count() ^
          static_cast<std::int64_t>(reinterpret_cast<std::uintptr_t>(this)))) {}

Controller::~Controller() = default;

std::string Controller::artifact_url() const {
  return cfg_.server_url + "/api/agent/v1/artifacts/" + installer_->journal().target_sha256;
}

std::string Controller::current_version() {
  auto v = installer_->current_version();
  return v ? *v : std::string();
}

std::string Controller::state_text() const {
  const auto s = installer_->journal().state;
  return is_at_rest(s) ? "idle" : std::string(to_string(s));
}

std::uint64_t Controller::next_random() {
  // xorshift64: cheap, and only spreads check-ins over time.
  rng_state_ ^= rng_state_ << 13;
  rng_state_ ^= rng_state_ >> 7;
  rng_state_ ^= rng_state_ << 17;
  return rng_state_;
}

milliseconds Controller::jitter(milliseconds base) {
  const auto spread = base.count() / 5;  // ±20 %
  if (spread <= 0) return base;
  const auto offset =
      static_cast<std::int64_t>(next_random() % static_cast<std::uint64_t>(2 * spread));
  return milliseconds(base.count() - spread + offset);
}

// Doubles from kFirstBackoff up to `cap`, and the jittered wait never exceeds the cap either.
milliseconds Controller::next_backoff(milliseconds& current, milliseconds cap) {
  current = current.count() == 0 ? std::min(kFirstBackoff, cap) : std::min(current * 2, cap);
  return std::min(jitter(current), cap);
}

Status Controller::start() {
  auto& fs = deps_.fs;
  auto rk = KeyRing::load(cfg_.release_keys);
  if (!rk) return make_error("invalid_config", "release_keys: " + rk.error().message);
  auto dk = KeyRing::load(cfg_.directive_keys);
  if (!dk) return make_error("invalid_config", "directive_keys: " + dk.error().message);
  release_keys_ = std::move(rk).value();
  directive_keys_ = std::move(dk).value();
  if (auto st = fs.make_secure_dir(cfg_.state_dir); !st) return st;
  if (auto st = fs.make_secure_dir(cfg_.state_dir + "/reports"); !st) return st;
  store_ = std::make_unique<JournalStore>(fs, cfg_.state_dir + "/journal.json");
  installer_ = std::make_unique<Installer>(
      fs, deps_.clock, InstallLayout{cfg_.install_root, cfg_.executable, cfg_.version_pointer},
      *store_);
  if (auto st = installer_->recover(); !st) return st;
  reports_ = std::make_unique<ReportQueue>(fs, cfg_.state_dir + "/reports");
  auto id = load_identity(fs, cfg_.state_dir + "/identity.json");
  if (!id) return id.error();
  if (*id) identity_ = **id;
  logger().info("started",
                {{"version", current_version()},
                 {"state", std::string(to_string(journal().state))},
                 {"agent_id", identity_.agent_id.empty() ? "(not enrolled)" : identity_.agent_id}});
  const auto now = deps_.clock.steady_now();
  next_checkin_ = now;
  next_report_flush_ = now;
  next_update_step_ = now;
  deps_.notifier.notify_ready();
  return {};
}

Status Controller::enroll() {
  protocol::EnrollRequest e;
  e.enrollment_key = cfg_.enrollment_key;
  e.hostname = cfg_.hostname.empty() ? platform::host_name() : cfg_.hostname;
  if (!cfg_.machine_id.empty()) {
    e.machine_id = cfg_.machine_id;
  } else {
    auto mid = platform::machine_id();
    if (!mid) return mid.error();
    e.machine_id = *mid;
  }
  e.os = cfg_.os;
  e.arch = cfg_.arch;
  e.current_version = current_version();
  if (!cfg_.client.empty()) e.client = cfg_.client;
  if (!cfg_.site.empty()) e.site = cfg_.site;
  e.channel_hint = cfg_.channel_hint;
  auto r = deps_.transport.post_json(cfg_.server_url + "/api/agent/v1/enroll", e.to_json(), "");
  if (!r) return r.error();
  if (r->status != 200) {
    return make_error("enroll_refused", "enrollment answered HTTP " + std::to_string(r->status) +
                                            ": " + r->body.substr(0, 200));
  }
  auto resp = protocol::EnrollResponse::parse(r->body);
  if (!resp) return resp.error();
  Identity id{resp->agent_id, resp->token};
  if (auto st = save_identity(deps_.fs, cfg_.state_dir + "/identity.json", id); !st) return st;
  identity_ = id;
  logger().info("enrolled", {{"agent_id", id.agent_id}});
  return {};
}

void Controller::run(const std::atomic<bool>& stop) {
  finish_outcome();  // a report a crash left unqueued
  while (!stop.load()) {
    step();
    // At most one tick: the stop flag (set by a signal handler) and a real child's exit are
    // polled; a finished download wakes the wait at once. On a FakeClock this is virtual time.
    (void)deps_.clock.wait_until(deps_.clock.steady_now() + kTick, wake_);
  }
  shutdown();
}

void Controller::step() {
  const auto now = deps_.clock.steady_now();
  supervise();
  if (identity_.agent_id.empty()) {
    if (now >= next_checkin_) {
      if (auto st = enroll(); !st) {
        logger().warn("enrollment failed; retrying", {{"error", st.error().message}});
        next_checkin_ = now + next_backoff(checkin_backoff_, cfg_.max_backoff);
      } else {
        checkin_backoff_ = milliseconds(0);
      }
    }
  } else {
    check_probation();
    const auto s = journal().state;
    if ((s == UpdateState::downloading || s == UpdateState::verifying ||
         s == UpdateState::staged) &&
        deps_.clock.steady_now() >= next_update_step_) {
      continue_update();
    }
    checkin_step();
    if (deps_.clock.steady_now() >= next_report_flush_) flush_reports();
  }
  notify_status();
}

void Controller::shutdown() {
  deps_.notifier.notify_stopping();
  logger().info("stopping");
  // Both end within about a second of the cancel; cancelled together, they end together.
  if (checkin_) checkin_->cancel();
  if (download_) download_->cancel();
  checkin_.reset();
  if (download_) {
    // The part file keeps what arrived; the next start resumes from it.
    download_.reset();
    logger().info("download cancelled for the stop", {{"version", journal().target_version}});
  }
  if (journal().state == UpdateState::probation && probation_mark_) save_probation_elapsed();
  if (managed_) {
    auto how = managed_->terminate(kStopGrace);
    logger().info("managed agent stopped", {{"how", how.describe()}});
    managed_.reset();
  }
}

void Controller::notify_status() {
  if (auto wd = deps_.notifier.watchdog_interval()) {
    const auto now = deps_.clock.steady_now();
    if (now - last_watchdog_ >= *wd / 2) {
      deps_.notifier.notify_watchdog();
      last_watchdog_ = now;
    }
  }
  // The version pointer on disk is read again only when the journal moved (told(), which every
  // switch of the running version changes), not on every tick.
  if (const std::string t = told(); t != status_told_ || status_version_.empty()) {
    status_version_ = current_version();
    status_told_ = t;
  }
  std::string status = "version " + status_version_ + ", " + state_text();
  if (download_ && progress_percent_) {
    status += " " + journal().target_version + ": " + std::to_string(progress_bytes_) + " of " +
              std::to_string(journal().target_size) + " bytes (" +
              std::to_string(*progress_percent_) + " %)";
  }
  if (status != last_status_) {
    deps_.notifier.notify_status(status);
    last_status_ = std::move(status);
  }
}

// ---- the managed agent ----

void Controller::supervise() {
  if (managed_) {
    if (auto ended = managed_->poll()) {
      auto tail = managed_->stderr_tail();
      managed_.reset();
      on_managed_exit(*ended, std::move(tail));
    }
  }
  ensure_running();
}

void Controller::ensure_running() {
  if (managed_ || deps_.clock.steady_now() < managed_restart_at_) return;
  const std::string version = current_version();
  if (version.empty()) return;
  platform::LaunchOptions o;
  o.executable = cfg_.install_root + "/versions/" + version + "/" + cfg_.executable;
  o.args = cfg_.arguments;
  if (!cfg_.launcher.empty()) {
    o.args.insert(o.args.begin(), o.executable);
    o.args.insert(o.args.begin(), cfg_.launcher.begin() + 1, cfg_.launcher.end());
    o.executable = cfg_.launcher.front();
  }
  o.working_dir = cfg_.install_root + "/versions/" + version;
  auto p = deps_.launcher.launch(o);
  if (!p) {
    logger().error("the managed agent did not start",
                   {{"version", version}, {"error", p.error().message}});
    if (journal().state == UpdateState::probation && version == journal().target_version) {
      last_crash_.reset();
      last_crash_stderr_ = {p.error().message};
      if (auto st = installer_->revert(make_error(
              "start_failed", "version " + version + " did not start: " + p.error().message));
          !st) {
        logger().error("revert failed", {{"error", st.error().message}});
      }
      finish_outcome();
      return;
    }
    managed_restart_at_ =
        deps_.clock.steady_now() + next_backoff(managed_backoff_, kManagedMaxBackoff);
    return;
  }
  managed_ = std::move(p).value();
  managed_version_ = version;
  // What runs now, for operators and tests (the journal says what should run).
  (void)platform::atomic_write_file(
      deps_.fs, cfg_.state_dir + "/running.json",
      boost::json::serialize(boost::json::object{{"version", version}, {"pid", managed_->pid()}}) +
          "\n",
      0644);
  logger().info("managed agent started",
                {{"version", version}, {"pid", std::to_string(managed_->pid())}});
}

void Controller::on_managed_exit(const platform::ExitStatus& status,
                                 std::vector<std::string> stderr_tail) {
  const auto& j = journal();
  // In probation any exit counts, a clean one too: the controller did not ask for it, so the new
  // version did not stay up (a version that exits 0 at once must not be committed).
  if (j.state == UpdateState::probation && managed_version_ == j.target_version) {
    last_crash_ = status;
    last_crash_stderr_ = std::move(stderr_tail);
    auto count = installer_->record_crash();
    logger().warn("the new version exited in probation",
                  {{"version", managed_version_},
                   {"how", status.describe()},
                   {"crashes", count ? std::to_string(*count) : "?"}});
    if (count && *count >= cfg_.crash_limit) {
      auto st = installer_->revert(make_error(
          "crash_limit",
          "version " + managed_version_ + " exited " + std::to_string(*count) +
              " times in probation without being asked to (last: " + status.describe() + ")"));
      if (!st) logger().error("revert failed", {{"error", st.error().message}});
      finish_outcome();
    }
    managed_restart_at_ = deps_.clock.steady_now();
    return;
  }
  logger().warn("the managed agent exited; restarting it",
                {{"version", managed_version_}, {"how", status.describe()}});
  managed_restart_at_ =
      deps_.clock.steady_now() + next_backoff(managed_backoff_, kManagedMaxBackoff);
}

milliseconds Controller::probation_elapsed() const {
  if (!probation_mark_) return probation_base_;
  return probation_base_ +
         std::chrono::duration_cast<milliseconds>(deps_.clock.steady_now() - *probation_mark_);
}

void Controller::save_probation_elapsed() {
  if (auto st = installer_->record_probation_elapsed(probation_elapsed()); !st) {
    logger().warn("could not record the probation time", {{"error", st.error().message}});
  }
  next_probation_save_ = deps_.clock.steady_now() + kProbationSaveEvery;
}

void Controller::check_probation() {
  const auto& j = journal();
  if (j.state != UpdateState::probation) {
    probation_mark_.reset();
    return;
  }
  if (!probation_mark_) {
    // Entering probation, or resuming it after a restart: count on from what was persisted.
    probation_base_ = milliseconds(static_cast<milliseconds::rep>(j.probation_elapsed_ms));
    probation_mark_ = deps_.clock.steady_now();
    next_probation_save_ = *probation_mark_ + kProbationSaveEvery;
  }
  if (deps_.clock.steady_now() >= next_probation_save_) save_probation_elapsed();
  if (!managed_ || managed_version_ != j.target_version || !checked_in_on_target_) return;
  if (probation_elapsed() < cfg_.probation) return;
  save_probation_elapsed();
  if (auto st = installer_->commit(); !st) {
    logger().error("commit failed", {{"error", st.error().message}});
    return;
  }
  logger().info("update committed", {{"version", j.target_version}});
  finish_outcome();
}

// ---- check-in and directives ----

// What a check-in tells the server about this agent's update, beyond the routine: a change of it
// is worth a check-in at once (a finished install, a switch), also when one is held open. Asked
// every loop tick, so it reads the journal in memory only: every switch of the running version
// (a commit, a revert, a switch to the target) is a change of the journal's state too, so the
// version pointer on disk need not be read here.
std::string Controller::told() const {
  const auto& j = journal();
  return state_text() + " " + (is_at_rest(j.state) ? "" : j.target_version);
}

void Controller::checkin_step() {
  const auto now = deps_.clock.steady_now();
  if (checkin_) {
    auto r = checkin_->take_result();
    if (!r) {
      if (checkin_held_ && !checkin_->cancelled() && told() != checkin_told_) {
        logger().info("the update state changed during a held check-in; checking in again now",
                      {{"state", state_text()}});
        checkin_->cancel();
      }
      return;
    }
    checkin_.reset();
    if (!*r && r->error().code == "cancelled") {
      next_checkin_ = now;  // we cancelled it for a newer one
    } else {
      finish_checkin(std::move(*r));
    }
  }
  if (checkin_backoff_.count() == 0 && told() != checkin_told_) next_checkin_ = now;
  if (now >= next_checkin_) start_checkin();
}

void Controller::start_checkin() {
  const auto& j = journal();
  protocol::CheckinRequest c;
  c.agent_id = identity_.agent_id;
  c.current_version = current_version();
  c.os = cfg_.os;
  c.arch = cfg_.arch;
  c.state = state_text();
  if (download_ && progress_percent_) c.progress_percent = *progress_percent_;
  c.last_sequence = j.directive_sequence;
  c.security_floor = j.security_floor;
  if (!is_at_rest(j.state)) c.pending_version = j.target_version;
  net::Request req;
  req.method = "POST";
  req.url = cfg_.server_url + "/api/agent/v1/checkin";
  req.body = c.to_json();
  req.bearer_token = identity_.token;
  checkin_sent_at_ = deps_.clock.steady_now();
  const auto hold = long_poll_.ask(checkin_sent_at_, is_at_rest(j.state));
  checkin_held_ = hold.has_value();
  if (hold) {
    req.headers.push_back(LongPoll::prefer(*hold));
    req.timeout = *hold + LongPoll::kTimeoutMargin;
  }
  checkin_version_ = c.current_version;
  checkin_told_ = told();
  wake_.expect();
  checkin_ =
      std::make_unique<CheckinWorker>(deps_.checkins, std::move(req), [this] { wake_.fulfil(); });
}

void Controller::finish_checkin(Expected<net::JsonResult> r) {
  const auto& j = journal();
  const auto now = deps_.clock.steady_now();
  std::optional<protocol::CheckinResponse> answer;
  std::string problem, code;
  if (!r) {
    problem = r.error().message;
    code = r.error().code;
  } else if (r->status != 200) {
    problem = "HTTP " + std::to_string(r->status);
    code = "http_status";
  } else if (auto parsed = protocol::CheckinResponse::parse(r->body); !parsed) {
    problem = "unreadable answer: " + parsed.error().message;
    code = parsed.error().code;
  } else {
    answer = std::move(parsed).value();
  }
  if (!answer) {
    if (checkin_held_) (void)long_poll_.failed(r, now);
    auto wait = next_backoff(checkin_backoff_, cfg_.max_backoff);
    if (r && r->retry_after) wait = std::max<milliseconds>(wait, *r->retry_after);
    logger().warn("check-in failed", {{"code", code},
                                      {"error", problem.substr(0, 300)},
                                      {"retry_in_ms", std::to_string(wait.count())}});
    next_checkin_ = now + wait;
    return;
  }
  checkin_backoff_ = milliseconds(0);
  poll_interval_ = std::clamp<milliseconds>(seconds(answer->poll_interval_s), milliseconds(500),
                                            std::chrono::hours(24));
  if (cfg_.poll_interval < poll_interval_ && journal().state == UpdateState::probation) {
    poll_interval_ = cfg_.poll_interval;  // probation wants its check-in soon
  }
  if (checkin_held_ && long_poll_.answered(*r, checkin_sent_at_, now)) {
    // Held, so the next one is held again at once; up to a second of jitter spreads a fleet
    // that one rollback answered all at the same instant.
    next_checkin_ = now + milliseconds(static_cast<milliseconds::rep>(next_random() % 1000));
  } else {
    next_checkin_ = now + jitter(poll_interval_);
  }
  if (j.state == UpdateState::probation && checkin_version_ == j.target_version) {
    checked_in_on_target_ = true;
  }
  if (answer->directive && is_at_rest(journal().state)) handle_directive(*answer->directive);
}

void Controller::handle_directive(const boost::json::object& envelope) {
  static std::string last_refusal;
  auto refuse = [](const Error& e) {
    const std::string line = e.code + ": " + e.message;
    if (line != last_refusal) {
      logger().warn("directive refused", {{"code", e.code}, {"reason", e.message}});
      last_refusal = line;
    }
  };
  auto verified =
      verify_directive(boost::json::serialize(envelope), directive_keys_, release_keys_);
  if (!verified) return refuse(verified.error());
  const auto& j = journal();
  AgentFacts facts{identity_.agent_id,   cfg_.os,          cfg_.arch,         current_version(),
                   j.directive_sequence, j.security_floor, deps_.clock.now(), cfg_.clock_tolerance,
                   cfg_.product};
  auto target = accept_directive(*verified, facts);
  if (!target) {
    if (target.error().code != "nothing_to_do") refuse(target.error());
    return;
  }
  if (failed_directive_ && failed_directive_->sequence == target->directive_sequence &&
      failed_directive_->version == target->version &&
      failed_directive_->sha256 == target->sha256 &&
      deps_.clock.steady_now() < failed_directive_->retry_at) {
    return;  // the same directive failed recently: wait out its backoff
  }
  if (auto st = installer_->begin(*target); !st) return refuse(st.error());
  last_refusal.clear();
  logger().info("update accepted", {{"version", target->version},
                                    {"action", std::string(to_string(verified->directive.action))},
                                    {"sequence", std::to_string(target->directive_sequence)}});
  download_attempts_ = 0;
  update_backoff_ = milliseconds(0);
  last_crash_.reset();
  last_crash_stderr_.clear();
  continue_update();
}

// ---- the update steps ----

void Controller::continue_update() {
  switch (journal().state) {
    case UpdateState::downloading:
      download_step();
      break;
    case UpdateState::verifying:
      verify_and_stage();
      break;
    case UpdateState::staged:
      switch_step();
      break;
    default:
      break;
  }
}

void Controller::report_progress(bool force) {
  const auto& j = journal();
  const auto now = deps_.clock.steady_now();
  if (!force && now < next_progress_report_) return;
  next_progress_report_ = now + kProgressEvery;
  const std::uint64_t done = download_ ? download_->bytes_done() : 0;
  const std::uint64_t size = std::max<std::uint64_t>(j.target_size, 1);
  progress_bytes_ = done;
  progress_percent_ = static_cast<unsigned>(std::min<std::uint64_t>(done, size) * 100 / size);
  logger().info("downloading", {{"version", j.target_version},
                                {"bytes", std::to_string(done)},
                                {"of", std::to_string(j.target_size)},
                                {"percent", std::to_string(*progress_percent_)}});
}

void Controller::download_step() {
  const auto& j = journal();
  const std::string part_path = cfg_.install_root + "/staging/" + j.target_sha256 + ".part";
  auto part_size = [&]() -> std::uint64_t {
    auto info = deps_.fs.stat_no_follow(part_path);
    return info ? info->size : 0;
  };
  if (!download_) {
    DownloadJob job{
        artifact_url(),
        identity_.token,
        part_path,
        UpdateTarget{j.target_version, j.target_sha256, j.target_size, j.target_security_version,
                     j.directive_sequence, j.directive_digest},
        {},
        {}};
    download_started_at_bytes_ = part_size();
    download_ = std::make_unique<DownloadWorker>(deps_.fs, deps_.downloads, std::move(job),
                                                 [this] { wake_.notify(); });
    next_progress_report_ = deps_.clock.steady_now() + kProgressEvery;
    return;
  }
  auto result = download_->take_result();
  if (!result) return report_progress(false);
  download_.reset();
  progress_percent_.reset();
  const std::uint64_t before = download_started_at_bytes_;
  auto got = std::move(*result);
  if (!got) {
    const auto& code = got.error().code;
    // Attempts that made progress (a cut connection on a slow link) do not count towards giving
    // up: the next one resumes where this one stopped.
    if (part_size() > before) {
      download_attempts_ = 0;
      update_backoff_ = milliseconds(0);
    }
    ++download_attempts_;
    const bool fatal = code == "disk_full" || code == "insecure" || code == "too_large" ||
                       code == "invalid_url" || download_attempts_ >= kMaxDownloadAttempts;
    logger().warn("download failed", {{"version", j.target_version},
                                      {"code", code},
                                      {"error", got.error().message},
                                      {"attempt", std::to_string(download_attempts_)}});
    if (fatal) {
      (void)deps_.fs.remove(part_path);
      abandon(got.error());
    } else {
      next_update_step_ =
          deps_.clock.steady_now() + next_backoff(update_backoff_, cfg_.max_backoff);
    }
    return;
  }
  if (got->size != j.target_size || got->sha256_hex != j.target_sha256) {
    (void)deps_.fs.remove(part_path);
    abandon(make_error("hash_mismatch", "the artifact for " + j.target_version +
                                            " does not match its signed SHA-256 and size"));
    return;
  }
  if (auto st = installer_->begin_verifying(); !st) return abandon(st.error());
  verify_and_stage();
}

void Controller::verify_and_stage() {
  const auto& j = journal();
  const std::string part = cfg_.install_root + "/staging/" + j.target_sha256 + ".part";
  ROLLOUT_CRASH_POINT("after_verify");
  if (auto st = installer_->stage(part); !st) return abandon(st.error());
  switch_step();
}

void Controller::switch_step() {
  if (managed_) {
    auto how = managed_->terminate(kStopGrace);
    logger().info("managed agent stopped for the switch", {{"how", how.describe()}});
    managed_.reset();
  }
  if (auto st = installer_->switch_to_target(); !st) {
    logger().error("switch failed", {{"error", st.error().message}});
    abandon(st.error());
    return;
  }
  logger().info("switched; probation started", {{"version", journal().target_version}});
  checked_in_on_target_ = false;
  probation_mark_.reset();
  managed_backoff_ = milliseconds(0);
  managed_restart_at_ = deps_.clock.steady_now();
  ensure_running();
  next_checkin_ = deps_.clock.steady_now();
}

void Controller::abandon(const Error& error) {
  const auto& j = journal();
  if (!failed_directive_ || failed_directive_->sequence != j.directive_sequence ||
      failed_directive_->version != j.target_version ||
      failed_directive_->sha256 != j.target_sha256) {
    failed_directive_ = FailedDirective{j.directive_sequence, j.target_version, j.target_sha256};
  }
  auto& f = *failed_directive_;
  ++f.failures;
  f.backoff = f.backoff.count() == 0 ? std::min(kFirstDirectiveRetry, cfg_.max_backoff)
                                     : std::min(f.backoff * 2, cfg_.max_backoff);
  f.retry_at = deps_.clock.steady_now() + f.backoff;
  if (f.failures > 1) {
    logger().warn("the same directive failed again; retrying it later",
                  {{"version", j.target_version},
                   {"failures", std::to_string(f.failures)},
                   {"retry_in_ms", std::to_string(f.backoff.count())}});
  }
  if (auto st = installer_->fail(error); !st) {
    logger().error("could not abandon the update", {{"error", st.error().message}});
    return;
  }
  finish_outcome();
}

// ---- reports ----

void Controller::finish_outcome() {
  const auto& j = journal();
  const bool done = j.state == UpdateState::committed || j.state == UpdateState::failed ||
                    j.state == UpdateState::reverted;
  if (!done || j.outcome_reported || j.target_version.empty()) return;
  protocol::Report r;
  r.outcome = j.state == UpdateState::committed  ? "success"
              : j.state == UpdateState::reverted ? "crash"
                                                 : "failure";
  if (j.state == UpdateState::failed && j.error && j.error->code == "interrupted") {
    // Our own restart cut the update short; the server re-sends the directive and it is retried.
    (void)installer_->mark_outcome_reported();
    return;
  }
  r.id = outcome_report_id(identity_.agent_id, j.target_version, j.directive_sequence, r.outcome);
  r.agent_id = identity_.agent_id;
  r.version = j.target_version;
  if (!j.from_version.empty()) r.from_version = j.from_version;
  r.os = cfg_.os;
  r.arch = cfg_.arch;
  if (j.error) {
    r.error_code = j.error->code;
    r.stage = stage_of(j.error->code);
    r.message = j.error->message.substr(0, 1000);
  }
  if (j.state == UpdateState::committed && j.crash_count > 0) {
    r.message = "stayed up for the probation after " + std::to_string(j.crash_count) +
                " unrequested exit(s)" +
                (last_crash_ ? " (last: " + last_crash_->describe() + ")" : std::string());
  }
  if (j.state == UpdateState::reverted) {
    if (last_crash_) {
      if (last_crash_->signaled()) r.signal = last_crash_->signal;
      r.exit_code = last_crash_->report_exit_code();
    }
    if (!last_crash_stderr_.empty()) r.stderr_tail = join_tail(last_crash_stderr_);
  }
  r.directive_sequence = j.directive_sequence;
  r.occurred_at = format_rfc3339(deps_.clock.now());
  if (r.id == last_reported_id_) {
    // The same directive failed the same way again (the server re-sent it): reported already.
    (void)installer_->mark_outcome_reported();
    return;
  }
  if (auto st = reports_->enqueue(r); !st) {
    logger().error("could not queue the outcome report", {{"error", st.error().message}});
    return;
  }
  ROLLOUT_CRASH_POINT("after_report_queued");
  if (auto st = installer_->mark_outcome_reported(); !st) {
    logger().error("could not record the queued report", {{"error", st.error().message}});
  }
  last_reported_id_ = r.id;
  logger().info("outcome queued", {{"version", r.version}, {"outcome", r.outcome}, {"id", r.id}});
  next_report_flush_ = deps_.clock.steady_now();
}

void Controller::flush_reports() {
  const auto now = deps_.clock.steady_now();
  auto batch = reports_->pending(50);
  if (!batch || batch->empty()) {
    next_report_flush_ = now + std::chrono::minutes(1);
    return;
  }
  ROLLOUT_CRASH_POINT("before_report_send");
  auto r = deps_.transport.post_json(cfg_.server_url + "/api/agent/v1/reports",
                                     protocol::ReportBatch{*batch}.to_json(), identity_.token);
  std::optional<protocol::ReportAck> ack;
  if (r && r->status == 200) {
    if (auto parsed = protocol::ReportAck::parse(r->body)) ack = std::move(parsed).value();
  }
  if (!ack) {
    // Reports the server refused for good leave the queue; the others go again at once.
    if (r && reports_->set_aside_refused(r->status, r->body, *batch) > 0) {
      next_report_flush_ = now;
      return;
    }
    auto wait = next_backoff(report_backoff_, cfg_.max_backoff);
    if (r && r->retry_after) wait = std::max<milliseconds>(wait, *r->retry_after);
    logger().warn("report delivery failed",
                  {{"error", r ? "HTTP " + std::to_string(r->status) : r.error().message},
                   {"queued", std::to_string(batch->size())}});
    next_report_flush_ = now + wait;
    return;
  }
  ROLLOUT_CRASH_POINT("after_report_send");
  if (auto st = reports_->acknowledge(ack->acknowledged); !st) {
    logger().error("could not remove acknowledged reports", {{"error", st.error().message}});
  }
  report_backoff_ = milliseconds(0);
  logger().info("reports delivered", {{"count", std::to_string(ack->acknowledged.size())}});
  next_report_flush_ = batch->size() >= 50 ? now : now + std::chrono::minutes(1);
}

}  // namespace rollout::agent
