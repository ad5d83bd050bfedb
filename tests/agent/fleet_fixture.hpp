// Real processes on loopback: rollout-server (TLS, SQLite, fresh keys), releases of
// rollout-demo-agent signed and published with rolloutctl, and rollout-agent processes each in
// its own sandbox (state dir, install root seeded with a first version, config). Helpers wait
// for conditions with a bound (never for a fixed time) and read what the server counts.
#pragma once

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <chrono>
#include <filesystem>
#include <functional>
#include <memory>
#include <string>
#include <thread>

#include "agent/journal.hpp"
#include "common/http/client.hpp"
#include "platform/version_pointer.hpp"
#include "tests/testing/child.hpp"
#include "tests/testing/real_server.hpp"
#include "tests/testing/target.hpp"
#include "tests/testing/testing.hpp"

namespace rollout::agent::test {

namespace bj = boost::json;
namespace fs = std::filesystem;

inline const std::string kAgentBin = ROLLOUT_AGENT_PATH;
inline const std::string kDemoBin = ROLLOUT_DEMO_AGENT_PATH;
inline const std::string kCtlBin = ROLLOUTCTL_PATH;
inline const std::string kDemoExe = "rollout-demo-agent";

// Polls `done` every 100 ms until it holds or `limit` passes; whether it held.
inline bool eventually(const std::function<bool()>& done,
                       std::chrono::seconds limit = std::chrono::seconds(90)) {
  const auto deadline = std::chrono::steady_clock::now() + limit;
  while (std::chrono::steady_clock::now() < deadline) {
    if (done()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  return done();
}

struct AgentSandbox {
  std::string name;
  fs::path dir;
  fs::path state() const { return dir / "state"; }
  fs::path root() const { return dir / "root"; }
  fs::path config() const { return dir / "agent.yaml"; }
  fs::path log() const { return dir / "agent.log"; }
  std::unique_ptr<rollout::testing::Child> process;
  platform::PointerKind pointer = platform::PointerKind::symlink;

  // What `current` names, through the sandbox's kind of version pointer; empty when none.
  std::string current_link() const {
    auto t = platform::make_version_pointer(pointer, platform::real_file_system())
                 ->read((root() / "current").string());
    return t ? *t : std::string();
  }
  std::string agent_id() const {
    std::error_code ec;
    if (!fs::exists(state() / "identity.json", ec)) return {};
    auto v = bj::parse(rollout::testing::read_file(state() / "identity.json"));
    return std::string(v.at("agent_id").as_string());
  }
  std::string running_version() const {
    std::error_code ec;
    if (!fs::exists(state() / "running.json", ec)) return {};
    bj::error_code jec;
    auto v = bj::parse(rollout::testing::read_file(state() / "running.json"), jec);
    if (jec) return {};
    return std::string(v.at("version").as_string());
  }
  std::optional<Journal> journal() const {
    std::error_code ec;
    if (!fs::exists(state() / "journal.json", ec)) return std::nullopt;
    auto j = parse_journal(rollout::testing::read_file(state() / "journal.json"));
    if (!j) return std::nullopt;
    return *j;
  }
  std::size_t queued_reports() const {
    std::size_t n = 0;
    std::error_code ec;
    for (const auto& e : fs::directory_iterator(state() / "reports", ec)) {
      if (e.path().extension() == ".json") ++n;
    }
    return n;
  }
  std::string log_text() const { return rollout::testing::read_file(log()); }
};

class Fleet : public ::testing::Test {
 protected:
  void SetUp() override {
    server_ = std::make_unique<rollout::testing::RealServer>(rollout::testing::RealServerOptions{
        ROLLOUT_SERVER_PATH, dir_.path() / "server", true, server_extra_config()});
    std::string err;
    ASSERT_TRUE(server_->start(&err)) << err;
    net::TransportOptions o;
    o.ca_file = server_->ca_file().string();
    http_ = net::make_curl_transport(o);
    auto tok = ctl({"token", "create", "--name", "tests", "--user", "admin", "--password-file",
                    (dir_.path() / "server" / "admin.pw").string()});
    ASSERT_EQ(tok.exit_code, 0) << tok.err;
    token_ = tok.out.substr(0, tok.out.find('\n'));
  }

  void TearDown() override {
    for (auto& a : agents_) {
      if (a->process) {
        a->process->signal(SIGTERM);
        a->process->wait(std::chrono::seconds(20));
      }
      if (HasFailure()) {
        std::fprintf(stderr, "---- %s log ----\n%s\n", a->name.c_str(), a->log_text().c_str());
      }
    }
    if (HasFailure()) {
      std::fprintf(stderr, "---- server log (tail) ----\n%s\n",
                   tail(rollout::testing::read_file(server_->log_file()), 6000).c_str());
    }
  }

  // Promotion moves every stable agent at once (as before waves); the waves tests set a plan.
  virtual std::string server_extra_config() {
    return "poll_interval: 1s\nwaves:\n  all_at_once: true\n";
  }

  static std::string tail(const std::string& s, std::size_t n) {
    return s.size() > n ? s.substr(s.size() - n) : s;
  }

  rollout::testing::RunResult ctl(std::vector<std::string> args) {
    args.insert(args.begin(), kCtlBin);
    args.insert(args.end(),
                {"--server", server_->base_url(), "--ca-file", server_->ca_file().string()});
    if (!token_.empty() && std::find(args.begin(), args.end(), "--user") == args.end()) {
      args.insert(args.end(), {"--token", token_});
    }
    return rollout::testing::run(args);
  }

  // A demo-agent build for `version` with `behaviour`, as a file.
  fs::path artifact(const std::string& version, const std::string& behaviour) {
    const fs::path out = dir_.path() / "artifacts" / (version + "-" + behaviour);
    if (fs::exists(out)) return out;
    fs::create_directories(out.parent_path());
    auto r = rollout::testing::run(
        {kDemoBin, "--make-variant", out.string(), "--behaviour", behaviour, "--version", version});
    EXPECT_EQ(r.exit_code, 0) << r.err;
    return out;
  }

  // Signs and publishes a release of the demo agent (beta).
  void publish(const std::string& version, const std::string& behaviour = "healthy",
               std::uint64_t security_version = 1) {
    const auto art = artifact(version, behaviour);
    const auto man = dir_.path() / "artifacts" / (version + ".manifest");
    auto s = rollout::testing::run({kCtlBin, "sign-release", "--key",
                                    server_->release_private_key().string(), "--artifact",
                                    art.string(), "--version", version, "--os", "linux", "--arch",
                                    rollout::testing::target_arch(), "--security-version",
                                    std::to_string(security_version), "--out", man.string()});
    ASSERT_EQ(s.exit_code, 0) << s.err;
    auto p = ctl({"publish", "--manifest", man.string(), "--artifact", art.string()});
    ASSERT_EQ(p.exit_code, 0) << p.err;
  }

  void promote(const std::string& version, bool force = true) {
    std::vector<std::string> args{"promote", version,  "--os",
                                  "linux",   "--arch", rollout::testing::target_arch()};
    if (force) args.insert(args.end(), {"--force", "--reason", "test"});
    auto r = ctl(args);
    ASSERT_EQ(r.exit_code, 0) << r.err;
  }

  // A sandbox with `version` (behaviour healthy) installed as the current version.
  AgentSandbox& sandbox(const std::string& name, const std::string& version,
                        const std::string& channel, const std::string& extra_config = "") {
    auto a = std::make_unique<AgentSandbox>();
    a->name = name;
    a->dir = dir_.path() / "agents" / name;
    fs::create_directories(a->root() / "versions" / version);
    fs::copy_file(artifact(version, "healthy"), a->root() / "versions" / version / kDemoExe);
    fs::permissions(a->root() / "versions" / version / kDemoExe, fs::perms(0755));
    a->pointer = pointer_kind_;
    EXPECT_TRUE(platform::make_version_pointer(pointer_kind_, platform::real_file_system())
                    ->write((a->root() / "current").string(), "versions/" + version));
    rollout::testing::write_file(
        a->config(),
        "server_url: " + server_->base_url() + "\n" + "ca_file: " + server_->ca_file().string() +
            "\n" + "enrollment_key: " + rollout::testing::RealServer::kEnrollmentKey + "\n" +
            "state_dir: " + a->state().string() + "\n" + "install_root: " + a->root().string() +
            "\n" + "executable: " + kDemoExe + "\n" + "release_keys: [" +
            server_->release_public_key().string() + "]\n" + "directive_keys: [" +
            server_->directive_public_key().string() + "]\n" + "channel_hint: " + channel + "\n" +
            "machine_id: machine-" + name + "\n" + "hostname: " + name + "\n" +
            "poll_interval: 1s\nprobation: 2s\ncrash_limit: 2\nmax_backoff: 2s\n" +
            "log_level: debug\n" + rollout::testing::launcher_config() +
            "version_pointer: " + std::string(platform::to_string(pointer_kind_)) + "\n");
    // Extra keys go into conf.d, which is layered over the file (and may override it).
    if (!extra_config.empty()) {
      fs::create_directories(a->dir / "conf.d");
      rollout::testing::write_file(a->dir / "conf.d" / "test.yaml", extra_config);
    }
    agents_.push_back(std::move(a));
    return *agents_.back();
  }

  void start(AgentSandbox& a, const std::vector<std::string>& env = {}) {
    std::vector<std::string> argv{"/usr/bin/env", "ROLLOUT_DEMO_HEARTBEAT_MS=60000"};
    argv.insert(argv.end(), env.begin(), env.end());
    argv.insert(argv.end(), {kAgentBin, "--config", a.config().string()});
    a.process = std::make_unique<rollout::testing::Child>(argv, a.log().string());
  }

  // Waits for the agent process to end (e.g. at a crash point); its status or -1.
  int wait_exit(AgentSandbox& a, std::chrono::seconds limit = std::chrono::seconds(90)) {
    const int rc = a.process->wait(limit);
    a.process.reset();
    return rc;
  }

  // GET on the management API as admin; the parsed body.
  bj::value api(const std::string& path) {
    net::Request r;
    r.url = server_->base_url() + path;
    r.bearer_token = token_;
    auto answer = http_->send(r);
    EXPECT_TRUE(answer.ok() && answer->status == 200)
        << path << ": " << (answer.ok() ? answer->body : answer.error().message);
    if (!answer.ok() || answer->status != 200) return nullptr;
    return bj::parse(answer->body);
  }

  // A gauge or counter of GET /metrics (0 when absent).
  std::uint64_t metric(const std::string& name) {
    net::Request r;
    r.url = server_->base_url() + "/metrics";
    r.bearer_token = token_;
    auto answer = http_->send(r);
    if (!answer.ok() || answer->status != 200) return 0;
    const std::string line = "\n" + name + " ";
    const auto at = answer->body.find(line);
    return at == std::string::npos ? 0 : std::stoull(answer->body.substr(at + line.size()));
  }

  bj::object row(const std::string& version) {
    const bj::value v = api("/api/updates/rollouts");
    if (v.is_null()) return {};
    for (const auto& r : v.at("rollouts").as_array()) {
      if (r.at("version").as_string() == version) return r.as_object();
    }
    return {};
  }

  std::int64_t count(const std::string& version, const char* outcome) {
    auto r = row(version);
    if (r.empty()) return -1;
    return r.at("health").at(outcome).to_number<std::int64_t>();
  }

  // The agent's attempts as the server recorded them.
  bj::array history(const AgentSandbox& a) {
    const std::string id = a.agent_id();
    if (id.empty()) return {};
    const bj::value v = api("/api/agents/" + id);
    if (v.is_null()) return {};
    return v.at("history").as_array();
  }

  rollout::testing::TempDir dir_;
  // How the sandboxes keep `current` / `previous` (a test may choose Windows' pointer files).
  platform::PointerKind pointer_kind_ = platform::PointerKind::symlink;
  std::unique_ptr<rollout::testing::RealServer> server_;
  std::unique_ptr<net::Transport> http_;
  std::string token_;
  std::vector<std::unique_ptr<AgentSandbox>> agents_;
};

// A fleet whose server already has 1.0.0 published and promoted to stable: where most tests start.
class StableFleet : public Fleet {
 protected:
  void SetUp() override {
    Fleet::SetUp();
    if (HasFatalFailure()) return;
    publish("1.0.0");
    promote("1.0.0");
  }
};

}  // namespace rollout::agent::test
