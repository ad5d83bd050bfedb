#include <gtest/gtest.h>

#include <boost/json.hpp>

#include "common/encoding.hpp"
#include "tests/testing/testing.hpp"

namespace rollout {
namespace {

using testing::read_file;
using testing::run;
using testing::RunResult;
using testing::write_file;

const std::string kCtl = ROLLOUTCTL_PATH;
const std::string kOpenssl = "/usr/bin/openssl";

RunResult ctl(std::vector<std::string> args) {
  args.insert(args.begin(), kCtl);
  return run(args);
}

int count_lines(const std::string& s) {
  return static_cast<int>(std::count(s.begin(), s.end(), '\n'));
}

class Rolloutctl : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_EQ(ctl({"keygen", "--role", "release", "--out", keys()}).exit_code, 0);
    ASSERT_EQ(ctl({"keygen", "--role", "directive", "--out", keys()}).exit_code, 0);
    std::string blob;
    for (int i = 0; i < 96; ++i) blob += static_cast<char>(i * 37 + 11);
    write_file(artifact(), blob);
    auto r = ctl({"sign-release", "--key", keys() + "/release.key", "--artifact", artifact(),
                  "--version", "1.2.3", "--os", "linux", "--arch", "x86_64", "--security-version",
                  "4", "--out", manifest()});
    ASSERT_EQ(r.exit_code, 0) << r.err;
  }
  std::string keys() const { return (dir / "keys").string(); }
  std::string artifact() const { return (dir / "artifact.bin").string(); }
  std::string manifest() const { return (dir / "release.manifest").string(); }
  RunResult verify(const std::string& m, const std::string& art) {
    return ctl({"verify", "--pubkey", keys() + "/release.pub", m, "--artifact", art});
  }

  testing::TempDir dir;
};

TEST_F(Rolloutctl, RoundTripVerifies) {
  auto r = verify(manifest(), artifact());
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("verified rollout-agent 1.2.3 linux/x86_64 size 96"), std::string::npos)
      << r.out;
  EXPECT_NE(r.out.find("security_version 4"), std::string::npos);
  auto without_artifact = ctl({"verify", "--pubkey", keys() + "/release.pub", manifest()});
  EXPECT_EQ(without_artifact.exit_code, 0) << without_artifact.err;
}

TEST_F(Rolloutctl, AnyFlippedManifestByteFailsWithExit1) {
  const std::string original = read_file(manifest());
  const auto bad = (dir / "bad.manifest").string();
  for (std::size_t i = 0; i < original.size(); ++i) {
    std::string m = original;
    m[i] = static_cast<char>(m[i] ^ 0x20);
    write_file(bad, m);
    auto r = verify(bad, artifact());
    ASSERT_EQ(r.exit_code, 1) << "byte " << i << " -> " << r.err;
    ASSERT_EQ(count_lines(r.err), 1) << r.err;
  }
}

TEST_F(Rolloutctl, AnyFlippedSignatureByteFailsWithExit1) {
  auto env = boost::json::parse(read_file(manifest())).as_object();
  const std::string sig =
      encoding::unbase64(
          std::string(env["signatures"].as_array()[0].as_object()["sig"].as_string()))
          .value();
  const auto bad = (dir / "bad.manifest").string();
  for (std::size_t i = 0; i < sig.size(); ++i) {
    std::string s = sig;
    s[i] = static_cast<char>(s[i] ^ 0x01);
    env["signatures"].as_array()[0].as_object()["sig"] = encoding::base64(s);
    write_file(bad, boost::json::serialize(env));
    ASSERT_EQ(verify(bad, artifact()).exit_code, 1) << "signature byte " << i;
  }
}

TEST_F(Rolloutctl, AnyFlippedArtifactByteFailsWithExit1) {
  const std::string original = read_file(artifact());
  const auto bad = (dir / "bad.bin").string();
  for (std::size_t i = 0; i < original.size(); ++i) {
    std::string a = original;
    a[i] = static_cast<char>(a[i] ^ 0x80);
    write_file(bad, a);
    auto r = verify(manifest(), bad);
    ASSERT_EQ(r.exit_code, 1) << "artifact byte " << i;
  }
  write_file(bad, original + "x");
  EXPECT_EQ(verify(manifest(), bad).exit_code, 1) << "longer artifact";
  write_file(bad, original.substr(1));
  EXPECT_EQ(verify(manifest(), bad).exit_code, 1) << "shorter artifact";
}

TEST_F(Rolloutctl, WrongKeyFailsWithExit1) {
  auto r = ctl({"verify", "--pubkey", keys() + "/directive.pub", manifest()});
  EXPECT_EQ(r.exit_code, 1);
  // Key rotation: a list containing the right key verifies.
  r = ctl({"verify", "--pubkey", keys() + "/directive.pub", "--pubkey", keys() + "/release.pub",
           manifest()});
  EXPECT_EQ(r.exit_code, 0) << r.err;
}

TEST_F(Rolloutctl, UsageAndInputErrorsExit2WithOneLine) {
  const std::vector<std::vector<std::string>> cases = {
      {},
      {"frobnicate"},
      {"keygen"},
      {"keygen", "--role", "admin", "--out", keys()},
      {"keygen", "--role", "release", "--out", keys()},  // exists: never overwritten
      {"sign-release", "--key", keys() + "/release.key"},
      {"sign-release", "--key", keys() + "/release.key", "--artifact", artifact(), "--version",
       "1.2", "--os", "linux", "--arch", "x86_64", "--security-version", "1", "--out", manifest()},
      {"sign-release", "--key", keys() + "/release.key", "--artifact", artifact(), "--version",
       "1.2.4", "--os", "beos", "--arch", "x86_64", "--security-version", "1", "--out", manifest()},
      {"sign-release", "--key", keys() + "/release.pub", "--artifact", artifact(), "--version",
       "1.2.4", "--os", "linux", "--arch", "x86_64", "--security-version", "1", "--out",
       manifest()},
      {"sign-release", "--key", keys() + "/release.key", "--artifact", "/nonexistent", "--version",
       "1.2.4", "--os", "linux", "--arch", "x86_64", "--security-version", "1", "--out",
       manifest()},
      {"verify", manifest()},
      {"verify", "--pubkey", "/nonexistent.pub", manifest()},
      {"verify", "--pubkey", keys() + "/release.pub", "/nonexistent.manifest"},
      {"verify", "--pubkey", keys() + "/release.pub", manifest(), "--artifact", "/nonexistent"},
      {"verify", "--bogus", manifest()},
      // An abort rolls the whole release back: it takes no --group (refused before any call).
      {"rollout", "abort", "1.1.0", "--os", "linux", "--arch", "x86_64", "--reason", "bad",
       "--group", "site:lab"},
      {"rollout", "pause", "1.1.0", "--os", "linux", "--arch", "x86_64", "--group", " "},
  };
  for (const auto& c : cases) {
    auto r = ctl(c);
    std::string joined;
    for (const auto& a : c) joined += a + " ";
    EXPECT_EQ(r.exit_code, 2) << joined << "\n" << r.err;
    EXPECT_EQ(count_lines(r.err), 1) << joined << "\n" << r.err;
  }
  EXPECT_EQ(verify(manifest(), artifact()).exit_code, 0) << "nothing above changed the release";
}

TEST_F(Rolloutctl, HelpAndVersion) {
  for (const std::vector<std::string>& c :
       std::vector<std::vector<std::string>>{{"--help"},
                                             {"--version"},
                                             {"keygen", "--help"},
                                             {"sign-release", "--help"},
                                             {"verify", "--help"}}) {
    auto r = ctl(c);
    EXPECT_EQ(r.exit_code, 0) << c[0];
    EXPECT_FALSE(r.out.empty());
  }
}

TEST_F(Rolloutctl, PrivateKeyIsOwnerOnly) {
  auto r = run({"/usr/bin/stat", "-c", "%a", keys() + "/release.key"});
  EXPECT_EQ(r.out, "600\n");
}

// The payload bytes of our manifest, as signed.
std::string payload_of(const std::string& manifest_path) {
  auto env = boost::json::parse(read_file(manifest_path)).as_object();
  return encoding::unbase64(std::string(env["payload"].as_string())).value();
}

TEST_F(Rolloutctl, OpensslCliVerifiesOurSignature) {
  const auto payload = (dir / "payload.json").string();
  const auto sig = (dir / "sig.bin").string();
  write_file(payload, payload_of(manifest()));
  auto env = boost::json::parse(read_file(manifest())).as_object();
  write_file(sig, encoding::unbase64(
                      std::string(env["signatures"].as_array()[0].as_object()["sig"].as_string()))
                      .value());
  auto r = run({kOpenssl, "pkeyutl", "-verify", "-pubin", "-inkey", keys() + "/release.pub",
                "-rawin", "-in", payload, "-sigfile", sig});
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_NE(r.out.find("Signature Verified Successfully"), std::string::npos) << r.out;
}

TEST_F(Rolloutctl, OurVerifyAcceptsAnOpensslCliSignature) {
  // Sign our payload with the openssl command line, put that signature in the envelope.
  const auto payload = (dir / "payload.json").string();
  const auto sig = (dir / "openssl.sig").string();
  write_file(payload, payload_of(manifest()));
  auto r = run({kOpenssl, "pkeyutl", "-sign", "-inkey", keys() + "/release.key", "-rawin", "-in",
                payload, "-out", sig});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto env = boost::json::parse(read_file(manifest())).as_object();
  env["signatures"].as_array()[0].as_object()["sig"] = encoding::base64(read_file(sig));
  const auto m = (dir / "openssl.manifest").string();
  write_file(m, boost::json::serialize(env));
  auto v = verify(m, artifact());
  EXPECT_EQ(v.exit_code, 0) << v.err;
  // And a signature by openssl with a different key is refused.
  auto other =
      run({kOpenssl, "genpkey", "-algorithm", "ed25519", "-out", (dir / "other.key").string()});
  ASSERT_EQ(other.exit_code, 0);
  ASSERT_EQ(run({kOpenssl, "pkeyutl", "-sign", "-inkey", (dir / "other.key").string(), "-rawin",
                 "-in", payload, "-out", sig})
                .exit_code,
            0);
  env["signatures"].as_array()[0].as_object()["sig"] = encoding::base64(read_file(sig));
  write_file(m, boost::json::serialize(env));
  EXPECT_EQ(verify(m, artifact()).exit_code, 1);
}

}  // namespace
}  // namespace rollout
