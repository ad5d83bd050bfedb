// Every rule of accept_directive (DESIGN.md §2), one test each, at and beyond its boundary.
#include <gtest/gtest.h>

#include "agent/policy.hpp"

namespace rollout::agent {
namespace {

using namespace std::chrono_literals;

const auto kNow = std::chrono::system_clock::time_point(std::chrono::seconds(1'800'000'000));

VerifiedDirective directive(const std::string& version, DirectiveAction action,
                            std::uint64_t sequence = 10, std::uint64_t security_version = 3) {
  VerifiedDirective v;
  v.directive.agent_id = "agent-1";
  v.directive.channel = "stable";
  v.directive.action = action;
  v.directive.sequence = sequence;
  v.directive.issued_at = std::chrono::time_point_cast<std::chrono::seconds>(kNow - 1min);
  v.directive.expires_at = std::chrono::time_point_cast<std::chrono::seconds>(kNow + 1h);
  VerifiedRelease r;
  r.manifest.version = SemVer::parse(version).value();
  r.manifest.os = "linux";
  r.manifest.arch = "x86_64";
  r.manifest.size = 100;
  r.manifest.sha256 = std::string(64, 'a');
  r.manifest.security_version = security_version;
  v.release = r;
  v.digest = std::string(64, 'f');
  return v;
}

AgentFacts facts() {
  return AgentFacts{"agent-1", "linux", "x86_64", "1.5.0", 7, 2, kNow, 5min, "rollout-agent"};
}

std::string code(const Expected<UpdateTarget>& r) {
  return r ? "ok" : r.error().code;
}

TEST(DirectivePolicy, AcceptsAnUpgradeAndCarriesTheSignedFacts) {
  auto t = accept_directive(directive("1.6.0", DirectiveAction::install), facts());
  ASSERT_TRUE(t.ok()) << t.error().message;
  EXPECT_EQ(t->version, "1.6.0");
  EXPECT_EQ(t->sha256, std::string(64, 'a'));
  EXPECT_EQ(t->size, 100u);
  EXPECT_EQ(t->security_version, 3u);
  EXPECT_EQ(t->directive_sequence, 10u);
  EXPECT_EQ(t->directive_digest, std::string(64, 'f'));
}

TEST(DirectivePolicy, DirectiveForAnotherAgent) {
  auto d = directive("1.6.0", DirectiveAction::install);
  d.directive.agent_id = "agent-2";
  EXPECT_EQ(code(accept_directive(d, facts())), "wrong_agent");
}

TEST(DirectivePolicy, ReleaseForAnotherProduct) {
  // Signed by the same release key, but for another program: never installed in this one's place.
  auto d = directive("1.6.0", DirectiveAction::install);
  d.release->manifest.product = "rollout-demo-agent";
  EXPECT_EQ(code(accept_directive(d, facts())), "wrong_product");
  auto f = facts();
  f.product = "rollout-demo-agent";
  EXPECT_EQ(code(accept_directive(d, f)), "ok");
  d.release->manifest.product = "rollout-agent";
  EXPECT_EQ(code(accept_directive(d, f)), "wrong_product");
  d.directive.action = DirectiveAction::downgrade;  // a downgrade is no way around it
  d.release->manifest.version = SemVer::parse("1.4.0").value();
  EXPECT_EQ(code(accept_directive(d, f)), "wrong_product");
}

TEST(DirectivePolicy, WrongOsOrArch) {
  auto d = directive("1.6.0", DirectiveAction::install);
  d.release->manifest.os = "windows";
  EXPECT_EQ(code(accept_directive(d, facts())), "wrong_platform");
  d = directive("1.6.0", DirectiveAction::install);
  d.release->manifest.arch = "aarch64";
  EXPECT_EQ(code(accept_directive(d, facts())), "wrong_platform");
}

TEST(DirectivePolicy, ReplayedOlderDirective) {
  EXPECT_EQ(code(accept_directive(directive("1.6.0", DirectiveAction::install, 6), facts())),
            "replayed_directive");
  // The same sequence is the installer's call (a failed attempt may be retried under it).
  EXPECT_EQ(code(accept_directive(directive("1.6.0", DirectiveAction::install, 7), facts())), "ok");
}

TEST(DirectivePolicy, ExpiryHonoursTheClockTolerance) {
  auto f = facts();
  auto d = directive("1.6.0", DirectiveAction::install);
  f.now = d.directive.expires_at + 5min;  // at the edge of the tolerance: still fine
  EXPECT_EQ(code(accept_directive(d, f)), "ok");
  f.now = d.directive.expires_at + 5min + 1s;
  EXPECT_EQ(code(accept_directive(d, f)), "expired");
}

TEST(DirectivePolicy, IssuedInTheFutureBeyondTheTolerance) {
  auto f = facts();
  auto d = directive("1.6.0", DirectiveAction::install);
  d.directive.issued_at = std::chrono::time_point_cast<std::chrono::seconds>(kNow + 5min);
  EXPECT_EQ(code(accept_directive(d, f)), "ok");
  d.directive.issued_at = std::chrono::time_point_cast<std::chrono::seconds>(kNow + 6min);
  EXPECT_EQ(code(accept_directive(d, f)), "not_yet_valid");
}

TEST(DirectivePolicy, ClockSkewOfTwoDays) {
  // An agent whose clock runs 2 days late or early: beyond a 5 minute tolerance the directive is
  // refused; with a tolerance of 3 days it is accepted.
  auto d = directive("1.6.0", DirectiveAction::install);
  auto f = facts();
  f.now = kNow + 48h;
  EXPECT_EQ(code(accept_directive(d, f)), "expired");
  f.now = kNow - 48h;
  EXPECT_EQ(code(accept_directive(d, f)), "not_yet_valid");
  f.clock_tolerance = 72h;
  EXPECT_EQ(code(accept_directive(d, f)), "ok");
  f.now = kNow + 48h;
  EXPECT_EQ(code(accept_directive(d, f)), "ok");
}

TEST(DirectivePolicy, InstallMustMoveUp) {
  EXPECT_EQ(code(accept_directive(directive("1.5.0", DirectiveAction::install), facts())),
            "not_an_upgrade");
  EXPECT_EQ(code(accept_directive(directive("1.4.9", DirectiveAction::install), facts())),
            "not_an_upgrade");
  EXPECT_EQ(code(accept_directive(directive("1.5.1-rc.1", DirectiveAction::install), facts())),
            "ok");
}

TEST(DirectivePolicy, DowngradeOnlyByExplicitDirectiveAndOnlyDown) {
  EXPECT_EQ(code(accept_directive(directive("1.4.0", DirectiveAction::downgrade), facts())), "ok");
  EXPECT_EQ(code(accept_directive(directive("1.6.0", DirectiveAction::downgrade), facts())),
            "not_a_downgrade");
}

TEST(DirectivePolicy, DowngradeBelowTheSecurityFloor) {
  EXPECT_EQ(code(accept_directive(directive("1.4.0", DirectiveAction::downgrade, 10, 1), facts())),
            "below_security_floor");
  EXPECT_EQ(code(accept_directive(directive("1.4.0", DirectiveAction::downgrade, 10, 2), facts())),
            "ok");
}

TEST(DirectivePolicy, NoneAndMissingRelease) {
  EXPECT_EQ(code(accept_directive(directive("1.6.0", DirectiveAction::none), facts())),
            "nothing_to_do");
  auto d = directive("1.6.0", DirectiveAction::install);
  d.release.reset();
  EXPECT_EQ(code(accept_directive(d, facts())), "no_release");
}

TEST(DirectivePolicy, VersionWithPathCharactersCannotBeSigned) {
  // SemVer itself refuses '/', '..' and the like, so a manifest cannot carry them; build
  // metadata is the only free-form part and it allows [0-9A-Za-z-.] only.
  EXPECT_FALSE(SemVer::parse("1.6.0/../../etc").ok());
  EXPECT_FALSE(SemVer::parse("../1.6.0").ok());
  EXPECT_FALSE(SemVer::parse("1.6.0+a/b").ok());
}

}  // namespace
}  // namespace rollout::agent
