// DESIGN.md §2 attacks against the real rollout-agent, one named test each: every one is refused
// with a log line (or a report) naming the specific error code of the rule that stops it, so a
// refusal for an unrelated reason fails the test, and nothing is installed or persisted.
#include <signal.h>

#include "tests/agent/hostile_fixture.hpp"

namespace rollout::agent::test {
namespace {

using std::chrono::seconds;

class Attack : public Hostile {
 protected:
  // A runnable demo-agent build for `version`.
  std::string build(const std::string& version) {
    const auto out = dir_.path() / ("build-" + version);
    auto r = rollout::testing::run(
        {kDemoBin, "--make-variant", out.string(), "--behaviour", "healthy", "--version", version});
    EXPECT_EQ(r.exit_code, 0) << r.err;
    return rollout::testing::read_file(out);
  }

  // Serves `d`, starts the agent, waits for the refusal naming `code` (its reason containing
  // `reason_needle`) and two more looks at it; no refusal names another code.
  void expect_refused(const std::string& d, const std::string& code,
                      const std::string& reason_needle = "") {
    serve_directive(d);
    start_agent();
    EXPECT_TRUE(refused_with(code))
        << "expected a refusal with code " << code << "; refusals:" << codes_logged(kRefused);
    wait_checkins(2);
    const auto lines = lines_with_code(kRefused, code);
    EXPECT_EQ(lines.size(), log_lines(kRefused).size()) << "refusals:" << codes_logged(kRefused);
    if (!reason_needle.empty() && !lines.empty()) {
      EXPECT_NE(lines.front().find(reason_needle), std::string::npos) << lines.front();
    }
    expect_nothing_persisted();
    EXPECT_EQ(artifact_requests(), 0);
  }

  static constexpr const char* kRefused = "directive refused";

  // Installs 1.1.0 (security version `sv`) under sequence 5 and waits for its commit.
  void install_first(std::uint64_t sv = 1) {
    const std::string bytes = build("1.1.0");
    serve_artifact(bytes);
    serve_directive(directive({manifest("1.1.0", bytes, sv)}));
    start_agent();
    ASSERT_TRUE(eventually([&] {
      auto r = reports();
      return !r.empty() && r.back().outcome == "success";
    })) << "the legitimate update did not commit";
  }
};

TEST_F(Attack, UnsignedManifest) {
  Envelope m = manifest("1.1.0", "bytes");
  m.signatures.clear();
  expect_refused(directive({m}), "release_invalid_document", "'signatures' is empty");
}

TEST_F(Attack, ManifestSignedByAnUnknownKey) {
  expect_refused(directive({manifest("1.1.0", "bytes", 1, "linux", rollout::testing::target_arch(),
                                     &*attacker_key_)}),
                 "release_invalid_signature");
}

TEST_F(Attack, DirectiveSignedByAnUnknownKey) {
  DirectiveSpec s{manifest("1.1.0", "bytes")};
  s.key = &*attacker_key_;
  expect_refused(directive(s), "invalid_signature");
}

TEST_F(Attack, SignatureOverDifferentBytes) {
  Envelope m = manifest("1.1.0", "the signed bytes");
  m.payload = manifest("1.1.0", "the attacker's bytes").payload;  // the old signature stays
  expect_refused(directive({m}), "release_invalid_signature");
}

TEST_F(Attack, ArtifactSwappedBehindAValidManifest) {
  const std::string good = build("1.1.0");
  std::string evil = good;
  evil[evil.size() / 2] ^= 0x5a;  // same size, different bytes
  serve_artifact(evil);
  serve_directive(directive({manifest("1.1.0", good)}));
  start_agent();
  ASSERT_TRUE(eventually([&] { return !reports().empty(); }));
  auto r = reports().front();
  EXPECT_EQ(r.outcome, "failure");
  EXPECT_EQ(r.stage.value_or(""), "verify");
  EXPECT_EQ(r.error_code.value_or(""), "hash_mismatch");
  EXPECT_TRUE(logged("does not match its signed SHA-256"));
  expect_only_old_version();
}

TEST_F(Attack, ManifestForAnotherProductSignedByTheReleaseKey) {
  // The release key signs every product the vendor ships; only this agent's own may install.
  expect_refused(directive({manifest("1.1.0", "bytes", 1, "linux", rollout::testing::target_arch(),
                                     nullptr, "rollout-demo-agent")}),
                 "wrong_product", "rollout-demo-agent");
}

TEST_F(Attack, ADifferentDirectiveUnderAnAlreadyUsedSequence) {
  // Sequence 5 names a directive whose download fails (the server has another, longer build);
  // then a different directive for that build of the same version, validly signed, arrives
  // under the same sequence 5. Only the very directive of sequence 5 may retry.
  const std::string good = build("1.1.0");
  const std::string other = good + "\n# another build of 1.1.0\n";
  serve_artifact(other);
  serve_directive(directive({manifest("1.1.0", good)}));
  start_agent();
  ASSERT_TRUE(eventually([&] { return !reports().empty(); }));
  EXPECT_EQ(reports().front().error_code.value_or(""), "too_large");
  serve_directive(directive({manifest("1.1.0", other)}));
  EXPECT_TRUE(refused_with("sequence_reused")) << "refusals:" << codes_logged(kRefused);
  const int downloads = artifact_requests();
  wait_checkins(2);
  EXPECT_EQ(artifact_requests(), downloads) << "the second directive must not be acted on";
  EXPECT_EQ(log().find("update accepted", log().find("sequence_reused")), std::string::npos);
  expect_only_old_version();
}

TEST_F(Attack, WrongOsOrArch) {
  expect_refused(directive({manifest("1.1.0", "bytes", 1, "windows", "x86_64")}), "wrong_platform");
}

TEST_F(Attack, ReplayedOldDirective) {
  install_first();
  const int seen = static_cast<int>(reports().size());
  DirectiveSpec old{manifest("1.2.0", build("1.2.0"))};
  old.sequence = 4;  // below the 5 already accepted
  serve_directive(directive(old));
  EXPECT_TRUE(refused_with("replayed_directive")) << "refusals:" << codes_logged(kRefused);
  wait_checkins(2);
  EXPECT_EQ(static_cast<int>(reports().size()), seen);
  EXPECT_EQ(fs::read_symlink(root() / "current").string(), "versions/1.1.0");
  EXPECT_FALSE(fs::exists(root() / "versions" / "1.2.0"));
}

TEST_F(Attack, ExpiredDirective) {
  DirectiveSpec s{manifest("1.1.0", "bytes")};
  s.issued_offset = seconds(-7200);
  s.expires_offset = seconds(-3600);
  expect_refused(directive(s), "expired");
}

TEST_F(Attack, DowngradeWithoutADowngradeDirective) {
  expect_refused(directive({manifest("0.9.0", "bytes")}), "not_an_upgrade");
}

TEST_F(Attack, DowngradeBelowTheSecurityFloor) {
  install_first(5);  // committing 1.1.0 raises the floor to 5
  DirectiveSpec down{manifest("1.0.0", "old bytes", 1)};
  down.action = DirectiveAction::downgrade;
  down.sequence = 6;
  serve_directive(directive(down));
  EXPECT_TRUE(refused_with("below_security_floor")) << "refusals:" << codes_logged(kRefused);
  wait_checkins(2);
  EXPECT_EQ(fs::read_symlink(root() / "current").string(), "versions/1.1.0");
}

TEST_F(Attack, DirectiveForAnotherAgent) {
  DirectiveSpec s{manifest("1.1.0", "bytes")};
  s.agent_id = "0b6d3c1e-2f4a-4b5c-8d9e-aaaaaaaaaaaa";
  expect_refused(directive(s), "wrong_agent");
}

TEST_F(Attack, EndlessBody) {
  const std::string good = build("1.1.0");
  set_artifact_script([](const ScriptedRequest&, ScriptedConnection& c) {
    c.write("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n");
    const std::string chunk = "10000\r\n" + std::string(0x10000, 'x') + "\r\n";
    while (c.write(chunk)) {
    }
  });
  serve_directive(directive({manifest("1.1.0", good)}));
  start_agent();
  ASSERT_TRUE(eventually([&] { return !reports().empty(); }));
  EXPECT_EQ(reports().front().error_code.value_or(""), "too_large");
  EXPECT_TRUE(logged("longer than the signed size"));
  expect_only_old_version();
}

TEST_F(Attack, BodyLongerThanTheSignedSize) {
  const std::string good = build("1.1.0");
  serve_artifact(good + "trailing bytes the manifest never signed");
  serve_directive(directive({manifest("1.1.0", good)}));
  start_agent();
  ASSERT_TRUE(eventually([&] { return !reports().empty(); }));
  EXPECT_EQ(reports().front().outcome, "failure");
  EXPECT_EQ(reports().front().error_code.value_or(""), "too_large");
  expect_only_old_version();
}

TEST_F(Attack, OneBytePerSecondServerTimesOutAndIsRetriedLater) {
  const std::string good = build("1.1.0");
  set_artifact_script([good](const ScriptedRequest&, ScriptedConnection& c) {
    c.write("HTTP/1.1 200 OK\r\nContent-Length: " + std::to_string(good.size()) +
            "\r\nConnection: close\r\n\r\n");
    c.drip(good, std::chrono::milliseconds(1000));
  });
  serve_directive(directive({manifest("1.1.0", good)}));
  start_agent();
  EXPECT_TRUE(failed_with("download failed", "timeout"))
      << "download failures:" << codes_logged("download failed");
  EXPECT_TRUE(eventually([&] { return artifact_requests() >= 2; })) << "no retry";
  EXPECT_NE(log().find("attempt=1"), std::string::npos);
  EXPECT_EQ(fs::read_symlink(root() / "current").string(), "versions/1.0.0");
  EXPECT_FALSE(fs::exists(root() / "versions" / "1.1.0"));
}

TEST_F(Attack, CheckinAnsweredWithHtml500sAndGarbageJson) {
  auto n = std::make_shared<int>(0);
  set_checkin_script([n](ScriptedConnection& c) {
    switch ((*n)++ % 3) {
      case 0:
        c.write(ScriptedServer::response(200, "<html><body>proxy login</body></html>", "",
                                         "text/html"));
        break;
      case 1:
        c.write(ScriptedServer::response(500, "{\"error\":\"boom\"}"));
        break;
      default:
        c.write(ScriptedServer::response(200, "{\"poll_interval_s\": [1, {\"directive\""));
    }
  });
  start_agent();
  EXPECT_TRUE(eventually([&] { return checkins() >= 4; }));
  // The HTML page and the cut JSON are unreadable answers, the 500 an HTTP status.
  EXPECT_TRUE(failed_with("check-in failed", "invalid_body"))
      << "check-in failures:" << codes_logged("check-in failed");
  EXPECT_TRUE(failed_with("check-in failed", "http_status"))
      << "check-in failures:" << codes_logged("check-in failed");
  EXPECT_NE(log().find("HTTP 500"), std::string::npos);
  EXPECT_NE(log().find("unreadable answer"), std::string::npos);
  expect_nothing_persisted();
  // The managed agent keeps running through all of it.
  EXPECT_NE(log().find("managed agent started"), std::string::npos);
  EXPECT_EQ(agent_->wait(std::chrono::milliseconds(0)), -1) << "the controller exited";
}

TEST_F(Attack, PreplacedSymlinkAtTheStagingPath) {
  const std::string good = build("1.1.0");
  const auto victim = dir_.path() / "victim.txt";
  rollout::testing::write_file(victim, "precious");
  fs::create_directories(root() / "staging");
  fs::permissions(root() / "staging", fs::perms::owner_all);
  fs::create_symlink(victim, root() / "staging" / (crypto::sha256_hex(good) + ".part"));
  serve_artifact(good);
  serve_directive(directive({manifest("1.1.0", good)}));
  start_agent();
  ASSERT_TRUE(eventually([&] { return !reports().empty(); }));
  EXPECT_EQ(reports().front().outcome, "failure");
  EXPECT_EQ(reports().front().error_code.value_or(""), "insecure");
  EXPECT_EQ(rollout::testing::read_file(victim), "precious");
  EXPECT_TRUE(logged("not a regular file"));
  EXPECT_EQ(fs::read_symlink(root() / "current").string(), "versions/1.0.0");
  EXPECT_FALSE(fs::exists(root() / "versions" / "1.1.0"));
}

TEST_F(Attack, VersionStringWithPathCharacters) {
  Envelope good = manifest("1.1.0", "bytes");
  std::string payload = good.payload;
  const std::string from = "\"version\":\"1.1.0\"";
  ASSERT_NE(payload.find(from), std::string::npos) << payload;
  payload.replace(payload.find(from), from.size(), "\"version\":\"../../../etc/x\"");
  // Signed by the real release key: only the version rule can stop it.
  Envelope evil = sign_envelope(std::string(kReleasePayloadType), payload, {*release_key_}).value();
  expect_refused(directive({evil}), "release_invalid_document", "'version'");
  EXPECT_FALSE(fs::exists(root() / "etc"));
}

}  // namespace
}  // namespace rollout::agent::test
