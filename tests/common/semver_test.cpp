#include "common/semver.hpp"

#include <gtest/gtest.h>

namespace rollout {
namespace {

SemVer v(std::string_view s) {
  auto r = SemVer::parse(s);
  EXPECT_TRUE(r.ok()) << s << ": " << (r.ok() ? "" : r.error().message);
  return r.ok() ? r.value() : SemVer{};
}

TEST(SemVer, ParsesAndPrintsCanonically) {
  for (const char* s : {"0.0.0", "1.2.3", "10.20.30", "1.0.0-alpha", "1.0.0-alpha.1", "1.0.0-0.3.7",
                        "1.0.0-x.7.z.92", "1.0.0+20130313144700", "1.0.0-beta+exp.sha.5114f85",
                        "1.0.0-x-y-z.--", "18446744073709551615.0.0"}) {
    EXPECT_EQ(v(s).str(), s);
  }
  auto x = v("1.2.3-rc.1+b.7");
  EXPECT_EQ(x.major(), 1u);
  EXPECT_EQ(x.minor(), 2u);
  EXPECT_EQ(x.patch(), 3u);
  EXPECT_EQ(x.prerelease(), (std::vector<std::string>{"rc", "1"}));
  EXPECT_EQ(x.build(), (std::vector<std::string>{"b", "7"}));
}

TEST(SemVer, PrecedenceFollowsTheSpecExampleChain) {
  const char* chain[] = {"1.0.0-alpha", "1.0.0-alpha.1", "1.0.0-alpha.beta",
                         "1.0.0-beta",  "1.0.0-beta.2",  "1.0.0-beta.11",
                         "1.0.0-rc.1",  "1.0.0",         "1.0.1",
                         "1.1.0",       "2.0.0",         "10.0.0"};
  for (std::size_t i = 0; i + 1 < std::size(chain); ++i) {
    EXPECT_LT(v(chain[i]), v(chain[i + 1])) << chain[i] << " < " << chain[i + 1];
    EXPECT_GT(v(chain[i + 1]), v(chain[i]));
  }
  EXPECT_EQ(v("1.0.0+a"), v("1.0.0+b")) << "build metadata is ignored for precedence";
  EXPECT_LT(v("0.6.27"), v("0.6.28"));
  EXPECT_LT(v("0.9.0"), v("0.10.0")) << "numeric, not lexical";
}

struct Bad {
  const char* text;
  const char* why;
};

TEST(SemVer, RejectsGarbageWithAReason) {
  const std::string long_one(300, '1');
  const Bad cases[] = {
      {"", "is empty"},
      {"1.2", "MAJOR.MINOR.PATCH"},
      {"1.2.3.4", "MAJOR.MINOR.PATCH"},
      {"01.2.3", "major has a leading zero"},
      {"1.02.3", "minor has a leading zero"},
      {"1.2.03", "patch has a leading zero"},
      {"v1.2.3", "major must be digits only"},
      {"../1.0.0", "MAJOR.MINOR.PATCH"},
      {"1.0.0/..", "MAJOR.MINOR.PATCH"},
      {"1.0.0/x", "patch must be digits only"},
      {"1.0.0-", "pre-release is empty"},
      {"1.0.0+", "build metadata is empty"},
      {"1.0.0-a..b", "empty identifier"},
      {"1.0.0-01", "leading zero"},
      {"1.0.0-a/b", "only [0-9A-Za-z-]"},
      {" 1.0.0", "major must be digits only"},
      {"1.0.0 ", "patch must be digits only"},
      {"18446744073709551616.0.0", "major is too large"},
      {"1.0.0-\xc3\xa9", "only [0-9A-Za-z-]"},
  };
  for (const auto& c : cases) {
    auto r = SemVer::parse(c.text);
    ASSERT_FALSE(r.ok()) << c.text;
    EXPECT_EQ(r.error().code, "invalid_version");
    EXPECT_NE(r.error().message.find(c.why), std::string::npos)
        << c.text << " -> " << r.error().message;
  }
  auto r = SemVer::parse(long_one);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message.find("longer than 128"), std::string::npos);
  EXPECT_LT(r.error().message.size(), 200u) << "untrusted input is not echoed in full";
}

TEST(SemVer, LeadingZeroAllowedInBuildMetadataOnly) {
  EXPECT_TRUE(SemVer::parse("1.0.0+001").ok());
  EXPECT_TRUE(SemVer::parse("1.0.0-0a").ok()) << "alphanumeric, not numeric";
}

}  // namespace
}  // namespace rollout
