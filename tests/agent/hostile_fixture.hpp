// rollout-agent against a server the test fully controls (tests/testing/scripted_server.hpp):
// it enrolls the agent, answers check-ins with whatever directive a test builds and signs (with
// the pinned keys or an attacker's), serves artifact bytes as scripted, and records reports. The
// agent is the real binary; allow_plain_http is set because the attacks here are about what is
// signed, not about transport security (TLS is tested in tests/common/http_client_test.cpp).
#pragma once

#include <gtest/gtest.h>

#include <mutex>
#include <sstream>

#include "common/protocol.hpp"
#include "common/release.hpp"
#include "common/time.hpp"
#include "tests/agent/fleet_fixture.hpp"
#include "tests/testing/scripted_server.hpp"

namespace rollout::agent::test {

using rollout::testing::ScriptedConnection;
using rollout::testing::ScriptedRequest;
using rollout::testing::ScriptedServer;

inline constexpr const char* kHostileAgentId = "3f0c1d9a-6b7e-4a61-9c1e-0d2b7f5a8e41";

class Hostile : public ::testing::Test {
 protected:
  using ArtifactScript = std::function<void(const ScriptedRequest&, ScriptedConnection&)>;

  void SetUp() override {
    release_key_ = crypto::PrivateKey::generate().value();
    directive_key_ = crypto::PrivateKey::generate().value();
    attacker_key_ = crypto::PrivateKey::generate().value();
    rollout::testing::write_file(dir_.path() / "release.pub", release_key_->public_key().pem());
    rollout::testing::write_file(dir_.path() / "directive.pub", directive_key_->public_key().pem());
    server_ = std::make_unique<ScriptedServer>(
        [this](const ScriptedRequest& r, ScriptedConnection& c) { serve(r, c); });
  }

  void TearDown() override {
    if (agent_) {
      agent_->signal(SIGTERM);
      agent_->wait(std::chrono::seconds(20));
    }
    // Stop the server thread before the members its script uses are destroyed.
    server_.reset();
    if (HasFailure()) std::fprintf(stderr, "---- agent log ----\n%s\n", log().c_str());
  }

  void serve(const ScriptedRequest& r, ScriptedConnection& c) {
    if (r.target == "/api/agent/v1/enroll") {
      c.write(ScriptedServer::response(
          200, protocol::EnrollResponse{kHostileAgentId, "agent-token"}.to_json()));
    } else if (r.target == "/api/agent/v1/checkin") {
      std::function<void(ScriptedConnection&)> custom;
      std::string answer;
      {
        std::lock_guard lock(mu_);
        ++checkins_;
        checkin_times_.push_back(std::chrono::steady_clock::now());
        custom = checkin_script_;
        protocol::CheckinResponse resp;
        resp.poll_interval_s = poll_interval_s_;
        if (!directive_.empty()) resp.directive = boost::json::parse(directive_).as_object();
        answer = resp.to_json();
      }
      if (custom) return custom(c);
      c.write(ScriptedServer::response(200, answer));
    } else if (r.target.rfind("/api/agent/v1/artifacts/", 0) == 0) {
      ArtifactScript script;
      {
        std::lock_guard lock(mu_);
        ++artifact_requests_;
        script = artifact_script_;
      }
      if (script) return script(r, c);
      c.write(ScriptedServer::response(200, artifact_bytes_, "", "application/octet-stream"));
    } else if (r.target == "/api/agent/v1/reports") {
      auto batch = protocol::ReportBatch::parse(r.body);
      protocol::ReportAck ack;
      if (batch) {
        std::lock_guard lock(mu_);
        for (const auto& rep : batch->reports) {
          ack.acknowledged.push_back(rep.id);
          reports_.push_back(rep);
        }
      }
      c.write(ScriptedServer::response(200, ack.to_json()));
    } else {
      c.write(ScriptedServer::response(404, "{}"));
    }
  }

  // A release manifest for `bytes`, signed by `key` (the pinned release key by default).
  Envelope manifest(const std::string& version, const std::string& bytes,
                    std::uint64_t security_version = 1, const std::string& os = "linux",
                    const std::string& arch = rollout::testing::target_arch(),
                    const crypto::PrivateKey* key = nullptr,
                    const std::string& product = "rollout-agent") {
    ReleaseManifest m;
    m.product = product;
    m.version = SemVer::parse(version).value();
    m.os = os;
    m.arch = arch;
    m.size = bytes.size();
    m.sha256 = crypto::sha256_hex(bytes);
    m.security_version = security_version;
    m.created_at =
        std::chrono::time_point_cast<std::chrono::seconds>(std::chrono::system_clock::now());
    return sign_envelope(std::string(kReleasePayloadType), m.to_payload(),
                         {key ? *key : *release_key_})
        .value();
  }

  struct DirectiveSpec {
    Envelope release;
    DirectiveAction action = DirectiveAction::install;
    std::uint64_t sequence = 5;
    std::string agent_id = kHostileAgentId;
    std::chrono::seconds issued_offset{-60};
    std::chrono::seconds expires_offset{3600};
    const crypto::PrivateKey* key = nullptr;  // the pinned directive key by default
  };

  std::string directive(const DirectiveSpec& s) {
    Directive d;
    d.agent_id = s.agent_id;
    d.channel = "stable";
    d.action = s.action;
    d.release = s.release;
    d.sequence = s.sequence;
    const auto now =
        std::chrono::time_point_cast<std::chrono::seconds>(std::chrono::system_clock::now());
    d.issued_at = now + s.issued_offset;
    d.expires_at = now + s.expires_offset;
    d.reason = "test";
    auto env = sign_envelope(std::string(kDirectivePayloadType), d.to_payload(),
                             {s.key ? *s.key : *directive_key_})
                   .value();
    return serialize_envelope(env);
  }

  void serve_directive(const std::string& envelope_json) {
    std::lock_guard lock(mu_);
    directive_ = envelope_json;
  }
  void serve_artifact(std::string bytes) { artifact_bytes_ = std::move(bytes); }
  void set_artifact_script(ArtifactScript s) {
    std::lock_guard lock(mu_);
    artifact_script_ = std::move(s);
  }
  void set_checkin_script(std::function<void(ScriptedConnection&)> s) {
    std::lock_guard lock(mu_);
    checkin_script_ = std::move(s);
  }

  // The agent's sandbox, with 1.0.0 (healthy demo agent) installed.
  void start_agent(const std::string& extra_config = "") {
    const fs::path root = dir_.path() / "root";
    fs::create_directories(root / "versions" / "1.0.0");
    if (!fs::exists(root / "current")) {
      auto r = rollout::testing::run({kDemoBin, "--make-variant",
                                      (root / "versions" / "1.0.0" / kDemoExe).string(),
                                      "--behaviour", "healthy", "--version", "1.0.0"});
      ASSERT_EQ(r.exit_code, 0) << r.err;
      fs::create_directory_symlink("versions/1.0.0", root / "current");
    }
    rollout::testing::write_file(
        dir_.path() / "agent.yaml",
        "server_url: " + server_->url("") + "\nallow_plain_http: true\nenrollment_key: k\n" +
            "state_dir: " + (dir_.path() / "state").string() + "\ninstall_root: " + root.string() +
            "\nexecutable: " + kDemoExe + "\nrelease_keys: [" +
            (dir_.path() / "release.pub").string() + "]\ndirective_keys: [" +
            (dir_.path() / "directive.pub").string() + "]\nmachine_id: hostile-test\n" +
            "poll_interval: 1s\nprobation: 1s\nmax_backoff: 2s\nlow_speed_time: 2s\n" +
            "low_speed_bytes: 1000\nlog_level: debug\n" +
            // A test that sets its own launcher owns the key.
            (extra_config.find("launcher:") == std::string::npos
                 ? rollout::testing::launcher_config()
                 : "") +
            extra_config);
    std::vector<std::string> argv{"/usr/bin/env", "ROLLOUT_DEMO_HEARTBEAT_MS=60000"};
    argv.insert(argv.end(), agent_env_.begin(), agent_env_.end());
    argv.insert(argv.end(), {kAgentBin, "--config", (dir_.path() / "agent.yaml").string()});
    agent_ = std::make_unique<rollout::testing::Child>(argv, (dir_.path() / "agent.log").string());
  }

  std::string log() const { return rollout::testing::read_file(dir_.path() / "agent.log"); }
  bool logged(const std::string& needle, std::chrono::seconds limit = std::chrono::seconds(90)) {
    return eventually([&] { return log().find(needle) != std::string::npos; }, limit);
  }
  // The agent's log lines with message `message` whose `code` field is exactly `code`.
  std::vector<std::string> lines_with_code(const std::string& message, const std::string& code) {
    std::vector<std::string> out;
    for (const auto& line : log_lines(message)) {
      if (code_of(line) == code) out.push_back(line);
    }
    return out;
  }
  // Every code the agent named in lines with `message`, in order, for failure messages.
  std::string codes_logged(const std::string& message) {
    std::string out;
    for (const auto& line : log_lines(message)) out += " " + code_of(line);
    return out.empty() ? " (none)" : out;
  }
  // Waits for a "directive refused" line with exactly this code: a refusal for another reason
  // does not count.
  bool refused_with(const std::string& code,
                    std::chrono::seconds limit = std::chrono::seconds(90)) {
    return eventually([&] { return !lines_with_code("directive refused", code).empty(); }, limit);
  }
  bool failed_with(const std::string& message, const std::string& code,
                   std::chrono::seconds limit = std::chrono::seconds(90)) {
    return eventually([&] { return !lines_with_code(message, code).empty(); }, limit);
  }

  int checkins() {
    std::lock_guard lock(mu_);
    return checkins_;
  }
  std::vector<std::chrono::steady_clock::time_point> checkin_times() {
    std::lock_guard lock(mu_);
    return checkin_times_;
  }
  void set_poll_interval(std::uint64_t seconds) {
    std::lock_guard lock(mu_);
    poll_interval_s_ = seconds;
  }
  int artifact_requests() {
    std::lock_guard lock(mu_);
    return artifact_requests_;
  }
  std::vector<protocol::Report> reports() {
    std::lock_guard lock(mu_);
    return reports_;
  }
  // Waits for `n` more check-ins: the agent has looked at the directive again since.
  void wait_checkins(int n) {
    const int target = checkins() + n;
    EXPECT_TRUE(eventually([&] { return checkins() >= target; }));
  }

  fs::path root() const { return dir_.path() / "root"; }

  std::vector<std::string> log_lines(const std::string& message) const {
    std::vector<std::string> out;
    std::istringstream in(log());
    for (std::string line; std::getline(in, line);) {
      // "<4>controller: directive refused code=... reason=..."
      const auto at = line.find(": " + message + " ");
      if (at != std::string::npos) out.push_back(line);
    }
    return out;
  }
  static std::string code_of(const std::string& line) {
    const auto at = line.find(" code=");
    if (at == std::string::npos) return "";
    const auto from = at + 6;
    return line.substr(from, line.find(' ', from) - from);
  }

  // Nothing but 1.0.0 in the install root, current on it, staging empty.
  void expect_only_old_version() {
    std::vector<std::string> versions;
    for (const auto& e : fs::directory_iterator(root() / "versions")) {
      versions.push_back(e.path().filename().string());
    }
    EXPECT_EQ(versions, std::vector<std::string>{"1.0.0"});
    EXPECT_EQ(fs::read_symlink(root() / "current").string(), "versions/1.0.0");
    std::error_code ec;
    if (fs::exists(root() / "staging", ec)) {
      EXPECT_TRUE(fs::is_empty(root() / "staging")) << "temp files left in staging";
    }
  }

  // The directive was refused before anything was persisted.
  void expect_nothing_persisted() {
    expect_only_old_version();
    const auto path = dir_.path() / "state" / "journal.json";
    if (fs::exists(path)) {
      auto j = parse_journal(rollout::testing::read_file(path));
      ASSERT_TRUE(j.ok());
      EXPECT_EQ(j->state, UpdateState::idle);
      EXPECT_EQ(j->directive_sequence, 0u);
    }
    EXPECT_TRUE(reports().empty());
  }

  rollout::testing::TempDir dir_;
  std::optional<crypto::PrivateKey> release_key_, directive_key_, attacker_key_;
  std::unique_ptr<ScriptedServer> server_;
  std::unique_ptr<rollout::testing::Child> agent_;
  std::vector<std::string> agent_env_;  // NAME=value pairs added to the agent's environment
  std::mutex mu_;
  std::string directive_;
  std::string artifact_bytes_;
  ArtifactScript artifact_script_;
  std::function<void(ScriptedConnection&)> checkin_script_;
  int checkins_ = 0;
  std::uint64_t poll_interval_s_ = 1;
  std::vector<std::chrono::steady_clock::time_point> checkin_times_;
  int artifact_requests_ = 0;
  std::vector<protocol::Report> reports_;
};

}  // namespace rollout::agent::test
