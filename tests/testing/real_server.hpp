// The real rollout-server binary on loopback for integration tests: fresh release and directive
// keys, a self-signed TLS certificate for 127.0.0.1, SQLite in the given directory, an "admin"
// user, and an ephemeral port read from the server's "listening on" line. Restartable on the same
// state (to test crashes of the server); the destructor kills it.
#pragma once

#include <filesystem>
#include <memory>
#include <optional>
#include <string>

#include "common/crypto.hpp"
#include "tests/testing/child.hpp"

namespace rollout::testing {

struct RealServerOptions {
  std::string server_path;
  std::filesystem::path state_dir;  // created; holds keys, database, artifacts, logs
  bool tls = true;
  std::string extra_config;  // YAML appended to the generated config
};

class RealServer {
 public:
  static constexpr const char* kEnrollmentKey = "integration-enroll-key";
  static constexpr const char* kAdminPassword = "admin-password-1234";

  explicit RealServer(RealServerOptions options);
  ~RealServer();

  // Starts the process and waits for it to listen (on the port of the previous start if any).
  // Returns false (with the log in `error`) when it did not come up.
  bool start(std::string* error = nullptr);
  void kill9();
  // SIGTERM and wait; the exit status.
  int stop();

  const std::string& base_url() const { return base_url_; }
  std::filesystem::path ca_file() const { return options_.state_dir / "tls" / "cert.pem"; }
  std::filesystem::path release_private_key() const;
  std::filesystem::path release_public_key() const;
  std::filesystem::path directive_public_key() const;
  std::filesystem::path database() const { return options_.state_dir / "rollout.db"; }
  std::filesystem::path log_file() const { return options_.state_dir / "server.log"; }
  const crypto::PrivateKey& release_key() const { return *release_key_; }

 private:
  void write_config(unsigned port);

  RealServerOptions options_;
  std::optional<crypto::PrivateKey> release_key_, directive_key_;
  std::unique_ptr<Child> child_;
  std::string base_url_;
  unsigned port_ = 0;
};

}  // namespace rollout::testing
