#include "tests/testing/real_server.hpp"

#include <signal.h>
#include <sys/stat.h>

#include <chrono>
#include <stdexcept>

#include "tests/testing/testing.hpp"

namespace rollout::testing {

namespace fs = std::filesystem;

RealServer::RealServer(RealServerOptions options) : options_(std::move(options)) {
  const fs::path d = options_.state_dir;
  fs::create_directories(d / "keys");
  fs::create_directories(d / "tls");
  release_key_ = crypto::PrivateKey::generate().value();
  directive_key_ = crypto::PrivateKey::generate().value();
  write_file(d / "keys" / "release.key", release_key_->pem());
  write_file(d / "keys" / "release.pub", release_key_->public_key().pem());
  write_file(d / "keys" / "directive.key", directive_key_->pem());
  write_file(d / "keys" / "directive.pub", directive_key_->public_key().pem());
  ::chmod((d / "keys" / "release.key").c_str(), 0600);
  ::chmod((d / "keys" / "directive.key").c_str(), 0600);
  write_file(d / "admin.pw", std::string(kAdminPassword) + "\n");
  ::chmod((d / "admin.pw").c_str(), 0600);
  if (options_.tls) {
    auto r = run({"/usr/bin/openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                  "ec_paramgen_curve:P-256", "-nodes", "-days", "2", "-subj", "/CN=localhost",
                  "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost", "-keyout",
                  (d / "tls" / "key.pem").string(), "-out", (d / "tls" / "cert.pem").string()});
    if (r.exit_code != 0) throw std::runtime_error("openssl req failed: " + r.err);
  }
}

RealServer::~RealServer() = default;

fs::path RealServer::release_private_key() const {
  return options_.state_dir / "keys" / "release.key";
}
fs::path RealServer::release_public_key() const {
  return options_.state_dir / "keys" / "release.pub";
}
fs::path RealServer::directive_public_key() const {
  return options_.state_dir / "keys" / "directive.pub";
}

void RealServer::write_config(unsigned port) {
  const fs::path d = options_.state_dir;
  std::string yaml = "listen:\n  address: 127.0.0.1\n  port: " + std::to_string(port) + "\n";
  if (options_.tls) {
    yaml += "  tls_cert_file: " + (d / "tls" / "cert.pem").string() + "\n" +
            "  tls_key_file: " + (d / "tls" / "key.pem").string() + "\n";
  }
  yaml += "database_url: sqlite:" + database().string() + "\n" +
          "data_dir: " + (d / "data").string() + "\n" +
          "directive_key: " + (d / "keys" / "directive.key").string() + "\n" + "release_keys: [" +
          release_public_key().string() + "]\n" + "enrollment_keys: [" + kEnrollmentKey + "]\n" +
          "admin_password_file: " + (d / "admin.pw").string() + "\n" +
          "password_cost: 10\nlog_level: info\n" + options_.extra_config;
  write_file(d / "server.yaml", yaml);
}

bool RealServer::start(std::string* error) {
  write_config(port_);
  child_ = std::make_unique<Child>(
      std::vector<std::string>{options_.server_path, "--config",
                               (options_.state_dir / "server.yaml").string()},
      log_file().string());
  auto line = child_->wait_for_line("listening on", std::chrono::seconds(60));
  if (!line) {
    if (error) *error = "rollout-server did not start: " + read_file(log_file());
    return false;
  }
  base_url_ = line->substr(line->find("listening on ") + 13);
  while (!base_url_.empty() && (base_url_.back() == '\n' || base_url_.back() == '\r')) {
    base_url_.pop_back();
  }
  const auto colon = base_url_.rfind(':');
  port_ = static_cast<unsigned>(std::stoul(base_url_.substr(colon + 1)));
  return true;
}

void RealServer::kill9() {
  if (!child_) return;
  child_->signal(SIGKILL);
  child_->wait(std::chrono::seconds(30));
  child_.reset();
}

int RealServer::stop() {
  if (!child_) return 0;
  child_->signal(SIGTERM);
  const int rc = child_->wait(std::chrono::seconds(60));
  child_.reset();
  return rc;
}

}  // namespace rollout::testing
