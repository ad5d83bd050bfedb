// The installer's properties into the agent's config (agent/setup.hpp): what they render loads as
// a config with its pinned keys, and every bad or missing property is refused naming it.
#include <gtest/gtest.h>

#include "agent/config.hpp"
#include "agent/setup.hpp"
#include "common/crypto.hpp"
#include "common/signed_document.hpp"
#include "tests/testing/testing.hpp"

namespace rollout::agent {
namespace {

// The base64 between a .pub file's armour lines, as an admin copies it into RELEASE_KEYS.
std::string key_body() {
  const std::string pem = crypto::PrivateKey::generate().value().public_key().pem();
  std::string body;
  std::size_t at = pem.find('\n') + 1;
  while (pem.compare(at, 5, "-----") != 0) {
    const auto end = pem.find('\n', at);
    body += pem.substr(at, end - at);
    at = end + 1;
  }
  return body;
}

SetupProperties good() {
  SetupProperties p;
  p.server_url = "https://rollout.example.net:8443";
  p.enrollment_key = "0123456789abcdef";
  p.release_keys = key_body() + "," + key_body();
  p.directive_keys = key_body();
  p.state_dir = "C:\\ProgramData\\Rollout'Agent";
  p.install_root = "C:\\Program Files\\RolloutAgent\\managed";
  return p;
}

std::string refusal(const SetupProperties& p) {
  auto r = render_setup(p, "C:\\ProgramData\\RolloutAgent\\config");
  return r ? "rendered" : r.error().code + ": " + r.error().message;
}

TEST(Setup, RendersAConfigTheAgentLoadsWithItsPinnedKeys) {
  testing::TempDir dir;
  const auto files = render_setup(good(), dir.path().string());
  ASSERT_TRUE(files) << files.error().message;
  ASSERT_EQ(files->size(), 4u);  // agent.yaml, release-1.pub, release-2.pub, directive-1.pub
  for (const auto& f : *files) testing::write_file(dir / f.name, f.bytes);
  auto cfg = load_agent_config((dir / "agent.yaml").string());
  ASSERT_TRUE(cfg) << cfg.error().message;
  EXPECT_EQ(cfg->server_url, "https://rollout.example.net:8443");
  EXPECT_EQ(cfg->enrollment_key, "0123456789abcdef");
  EXPECT_EQ(cfg->channel_hint, "stable");
  EXPECT_EQ(cfg->ca_file, "");
  EXPECT_EQ(cfg->state_dir, "C:\\ProgramData\\Rollout'Agent");  // quotes and backslashes kept
  EXPECT_EQ(cfg->install_root, "C:\\Program Files\\RolloutAgent\\managed");
  ASSERT_EQ(cfg->release_keys.size(), 2u);
  EXPECT_TRUE(KeyRing::load(cfg->release_keys)) << "release keys";
  EXPECT_TRUE(KeyRing::load(cfg->directive_keys)) << "directive keys";
}

TEST(Setup, PinsTheServersCaAndTheChannel) {
  SetupProperties p = good();
  p.server_ca = "MIIBszCCAVmgAwIBAgIU";  // a DER SEQUENCE's start is enough to be taken as one
  p.channel = "beta";
  auto files = render_setup(p, "C:\\cfg");
  ASSERT_TRUE(files) << files.error().message;
  EXPECT_EQ(files->back().name, "server-ca.pem");
  EXPECT_EQ(files->back().bytes,
            "-----BEGIN CERTIFICATE-----\nMIIBszCCAVmgAwIBAgIU\n-----END CERTIFICATE-----\n");
  EXPECT_NE(files->front().bytes.find("ca_file: 'C:\\cfg/server-ca.pem'\n"), std::string::npos);
  EXPECT_NE(files->front().bytes.find("channel_hint: beta\n"), std::string::npos);
  EXPECT_EQ(files->front().bytes.find("executable:"), std::string::npos) << "the default";
  p.executable = "rmm-agent.exe";
  files = render_setup(p, "C:\\cfg");
  ASSERT_TRUE(files) << files.error().message;
  EXPECT_NE(files->front().bytes.find("executable: 'rmm-agent.exe'\n"), std::string::npos);
}

TEST(Setup, EachMissingOrBadPropertyIsRefusedByName) {
  struct Case {
    void (*spoil)(SetupProperties&);
    const char* expected;
  };
  const Case cases[] = {
      {[](SetupProperties& p) { p.server_url.clear(); }, "SERVER_URL: is required"},
      {[](SetupProperties& p) { p.server_url = "http://x:80"; }, "SERVER_URL: must be an https"},
      {[](SetupProperties& p) { p.server_url = "https://a b"; }, "SERVER_URL: must be"},
      {[](SetupProperties& p) { p.server_url = "https://" + std::string(20000, 'a'); },
       "SERVER_URL: longer than 16384 bytes"},
      {[](SetupProperties& p) { p.enrollment_key.clear(); }, "ENROLLMENT_KEY: is required"},
      {[](SetupProperties& p) { p.enrollment_key = "a'b"; }, "ENROLLMENT_KEY: must be"},
      {[](SetupProperties& p) { p.enrollment_key = std::string(257, 'k'); }, "ENROLLMENT_KEY"},
      {[](SetupProperties& p) { p.release_keys.clear(); }, "RELEASE_KEYS: is required"},
      {[](SetupProperties& p) { p.release_keys = "not base64!"; }, "RELEASE_KEYS: key 1 is not"},
      {[](SetupProperties& p) { p.release_keys += ","; }, "RELEASE_KEYS: key 3 is not base64"},
      {[](SetupProperties& p) { p.directive_keys = "AAAA"; },
       "DIRECTIVE_KEYS: key 1 is not an Ed25519 public key"},
      {[](SetupProperties& p) { p.directive_keys.clear(); }, "DIRECTIVE_KEYS: is required"},
      {[](SetupProperties& p) {
         std::string many;
         for (int i = 0; i < 17; ++i) many += (i ? "," : "") + std::string("AAAA");
         p.directive_keys = many;
       },
       "DIRECTIVE_KEYS: at most 16 keys"},
      {[](SetupProperties& p) { p.server_ca = "aGVsbG8="; }, "SERVER_CA: must be the CA"},
      {[](SetupProperties& p) { p.server_ca = "%%%"; }, "SERVER_CA: must be"},
      {[](SetupProperties& p) { p.channel = "nightly"; }, "CHANNEL: must be beta or stable"},
      {[](SetupProperties& p) { p.executable = "../agent.exe"; }, "EXECUTABLE: must be a file"},
      {[](SetupProperties& p) { p.executable = ".."; }, "EXECUTABLE: must be a file"},
      {[](SetupProperties& p) { p.executable = "C:\\a.exe"; }, "EXECUTABLE: must be a file"},
  };
  for (const auto& c : cases) {
    SetupProperties p = good();
    c.spoil(p);
    const std::string got = refusal(p);
    EXPECT_EQ(got.rfind("invalid_property: ", 0), 0u) << got;
    EXPECT_NE(got.find(c.expected), std::string::npos) << got;
  }
}

TEST(Setup, APathWithAControlCharacterIsRefused) {
  SetupProperties p = good();
  p.state_dir = "C:\\x\ninjected: true";
  auto r = render_setup(p, "C:\\cfg");
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, "invalid_path");
}

TEST(Setup, GarbageBytesAreRefusedNotRendered) {
  // Every byte value in every property: never a crash, and only a clean token renders.
  for (int b = 0; b < 256; ++b) {
    SetupProperties p = good();
    p.enrollment_key = "key" + std::string(1, static_cast<char>(b));
    const bool printable = b > 0x20 && b < 0x7f && b != '\'' && b != '"' && b != '\\';
    EXPECT_EQ(refusal(p) == "rendered", printable) << "byte " << b;
  }
}

}  // namespace
}  // namespace rollout::agent
