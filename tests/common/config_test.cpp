#include "common/config.hpp"

#include <gtest/gtest.h>

#include <filesystem>

#include "tests/testing/testing.hpp"

namespace rollout::config {
namespace {

using namespace std::chrono_literals;

// An example component config, as an agent or server would define it.
struct Example {
  std::string server_url = "https://default";
  std::chrono::milliseconds poll_interval = 60s;
  std::uint64_t bandwidth = 0;
  bool allow_plain_http = false;
  std::string channel = "stable";
  std::vector<std::string> keys;
  std::uint64_t min_attempts = 5;
  double healthy_success = 0.95;
  std::uint16_t port = 8443;
};

Apply applier(Example& c) {
  return [&c](Reader& r) {
    r.string("server_url", c.server_url);
    r.duration("poll_interval", c.poll_interval);
    r.size("bandwidth", c.bandwidth);
    r.boolean("allow_plain_http", c.allow_plain_http);
    r.one_of("channel", c.channel, {"beta", "stable"});
    r.string_list("keys", c.keys);
    r.number<std::uint16_t>("port", c.port, 1);
    r.section("health", [&](Reader& h) {
      h.uint("min_attempts", c.min_attempts, 1, 1000);
      h.ratio("healthy_success", c.healthy_success);
    });
    return r.finish();
  };
}

Status load(const std::string& yaml, Example& c) {
  return load_string(yaml, "/etc/x.yaml", applier(c));
}

TEST(Config, DefaultsStayWhenKeysAreAbsent) {
  Example c;
  ASSERT_TRUE(load("", c).ok());
  EXPECT_EQ(c.server_url, "https://default");
  EXPECT_EQ(c.poll_interval, 60s);
  ASSERT_TRUE(load("# only a comment\n", c).ok());
}

TEST(Config, ReadsEveryKind) {
  Example c;
  auto st = load(
      "server_url: https://rmm.example\n"
      "poll_interval: 90s\n"
      "bandwidth: 10MiB\n"
      "allow_plain_http: true\n"
      "channel: beta\n"
      "keys: [a.pub, b.pub]\n"
      "port: 9443\n"
      "health:\n"
      "  min_attempts: 7\n"
      "  healthy_success: 96%\n",
      c);
  ASSERT_TRUE(st.ok()) << st.error().message;
  EXPECT_EQ(c.server_url, "https://rmm.example");
  EXPECT_EQ(c.poll_interval, 90s);
  EXPECT_EQ(c.bandwidth, 10u << 20);
  EXPECT_TRUE(c.allow_plain_http);
  EXPECT_EQ(c.channel, "beta");
  EXPECT_EQ(c.keys, (std::vector<std::string>{"a.pub", "b.pub"}));
  EXPECT_EQ(c.port, 9443);
  EXPECT_EQ(c.min_attempts, 7u);
  EXPECT_DOUBLE_EQ(c.healthy_success, 0.96);
}

TEST(Config, ErrorsNameFileLineAndKey) {
  const std::pair<const char*, const char*> cases[] = {
      {"server_url: x\npoll_interval: soon\n",
       "config /etc/x.yaml line 2: 'poll_interval' must be a duration like 60s"},
      {"pol_interval: 60s\n", "config /etc/x.yaml line 1: unknown key 'pol_interval'"},
      {"health:\n  min_attempts: 0\n",
       "config /etc/x.yaml line 2: 'health.min_attempts' must be between 1 and 1000"},
      {"health:\n  bogus: 1\n", "config /etc/x.yaml line 2: unknown key 'health.bogus'"},
      {"channel: alpha\n", "line 1: 'channel' must be one of beta, stable"},
      {"allow_plain_http: maybe\n", "'allow_plain_http' must be true or false"},
      {"bandwidth: 10MB\n", "'bandwidth' must be a size like 10MiB"},
      {"keys: a.pub\n", "'keys' must be a list"},
      {"port: 70000\n", "'port' must be between 1 and 65535"},
      {"port: -1\n", "'port' must be a whole number"},
      {"server_url: [1, 2]\n", "'server_url' must be a string"},
      {"health: 3\n", "'health' must be a mapping"},
      {"health:\n  healthy_success: 1.5\n", "'health.healthy_success' must be a fraction"},
      {"- a\n- b\n", "the top level must be a mapping"},
      {"a: [\n", "not valid YAML"},
      {"channel: beta\nchannel: stable\n", "line 2: 'channel' appears twice"},
  };
  for (auto [yaml, expected] : cases) {
    Example c;
    const Example before;
    auto st = load(yaml, c);
    ASSERT_FALSE(st.ok()) << yaml;
    EXPECT_NE(st.error().message.find(expected), std::string::npos)
        << yaml << "\n got: " << st.error().message;
    EXPECT_EQ(st.error().code, "invalid_config");
  }
}

TEST(Config, GarbageAndOversizeAreErrorsNotCrashes) {
  Example c;
  std::string binary;
  for (int i = 0; i < 4096; ++i) binary += static_cast<char>((i * 131) & 0xff);
  EXPECT_FALSE(load(binary, c).ok());
  EXPECT_FALSE(load(std::string(kMaxFileBytes + 1, 'a'), c).ok());
  EXPECT_FALSE(load("a: &x [*x]\n", c).ok());
  EXPECT_FALSE(load("? [a]\n: b\n", c).ok());
}

TEST(Config, LayersApplyInOrder) {
  testing::TempDir dir;
  testing::write_file(dir / "main.yaml",
                      "server_url: https://main\npoll_interval: 30s\nchannel: beta\n");
  std::filesystem::create_directory(dir / "conf.d");
  testing::write_file(dir / "conf.d" / "20-late.yaml", "poll_interval: 20s\n");
  testing::write_file(dir / "conf.d" / "10-early.yaml", "poll_interval: 10s\nport: 1000\n");
  testing::write_file(dir / "conf.d" / "ignored.txt", "garbage: [\n");
  Example c;
  auto st = load_layers((dir / "main.yaml").string(), (dir / "conf.d").string(),
                        {"health.min_attempts=9", "channel=stable"}, applier(c));
  ASSERT_TRUE(st.ok()) << st.error().message;
  EXPECT_EQ(c.server_url, "https://main");
  EXPECT_EQ(c.poll_interval, 20s) << "conf.d files apply in name order, after the main file";
  EXPECT_EQ(c.port, 1000);
  EXPECT_EQ(c.min_attempts, 9u) << "command line overrides last";
  EXPECT_EQ(c.channel, "stable");
}

TEST(Config, LayerErrorsNameTheirSource) {
  testing::TempDir dir;
  testing::write_file(dir / "main.yaml", "server_url: https://main\n");
  std::filesystem::create_directory(dir / "conf.d");
  testing::write_file(dir / "conf.d" / "10.yaml", "\nport: zero\n");
  Example c;
  auto st = load_layers((dir / "main.yaml").string(), (dir / "conf.d").string(), {}, applier(c));
  ASSERT_FALSE(st.ok());
  // The layer's path as the OS spells it (conf.d\10.yaml on Windows).
  const auto layer = (dir / "conf.d" / "10.yaml").string();
  EXPECT_NE(st.error().message.find(layer + " line 2: 'port'"), std::string::npos)
      << st.error().message;
  st = load_layers((dir / "missing.yaml").string(), "", {}, applier(c));
  EXPECT_NE(st.error().message.find("missing.yaml: cannot be read"), std::string::npos);
  st = load_layers((dir / "main.yaml").string(), "", {"poll_interval=forever"}, applier(c));
  EXPECT_NE(st.error().message.find("command line: 'poll_interval'"), std::string::npos)
      << st.error().message;
  st = load_layers((dir / "main.yaml").string(), "", {"novalue"}, applier(c));
  EXPECT_FALSE(st.ok());
}

// A list of mappings: each item read by the same function, errors named "key[i].sub" with the
// item's line; anything but a list of mappings is refused.
TEST(Config, SectionListsReadEachItemAndNameItsIndex) {
  struct Item {
    std::string url;
    std::uint64_t n = 1;
  };
  auto read = [](const std::string& yaml, std::vector<Item>& out) {
    return load_string(yaml, "/etc/x.yaml", [&out](Reader& r) {
      r.section_list("hooks", 3, [&](Reader& item, std::size_t i) {
        out.resize(i + 1);
        item.string("url", out[i].url);
        item.uint("n", out[i].n, 1, 9);
      });
      return r.finish();
    });
  };
  std::vector<Item> items;
  ASSERT_TRUE(read("hooks:\n  - url: a\n  - url: b\n    n: 3\n", items).ok());
  ASSERT_EQ(items.size(), 2u);
  EXPECT_EQ(items[1].url, "b");
  EXPECT_EQ(items[1].n, 3u);
  EXPECT_EQ(items[0].n, 1u);
  const std::pair<const char*, const char*> bad[] = {
      {"hooks:\n  - url: a\n  - url: b\n    n: 30\n", "line 4: 'hooks[1].n'"},
      {"hooks:\n  - url: a\n    colour: red\n", "line 3: unknown key 'hooks[0].colour'"},
      {"hooks: {url: a}\n", "'hooks' must be a list"},
      {"hooks: [a]\n", "'hooks[0]' must be a mapping"},
      {"hooks: [{url: a}, {url: b}, {url: c}, {url: d}]\n", "more than 3"},
      {"hooks:\n  - url: a\n    url: b\n", "'url' appears twice"},
  };
  for (const auto& [yaml, want] : bad) {
    std::vector<Item> ignored;
    auto st = read(yaml, ignored);
    ASSERT_FALSE(st.ok()) << yaml;
    EXPECT_NE(st.error().message.find(want), std::string::npos) << st.error().message;
  }
}

TEST(Config, UnitParsers) {
  EXPECT_EQ(parse_duration("500ms").value(), 500ms);
  EXPECT_EQ(parse_duration("7d").value(), std::chrono::hours(168));
  for (const char* bad : {"", "s", "10", "10 s", "1.5s", "-1s", "99999999999999999999s"}) {
    EXPECT_FALSE(parse_duration(bad).ok()) << bad;
  }
  EXPECT_EQ(parse_size("512KiB").value(), 512u * 1024);
  EXPECT_EQ(parse_size("42").value(), 42u);
  for (const char* bad : {"", "KiB", "1TB", "1 MiB", "99999999999999GiB"})
    EXPECT_FALSE(parse_size(bad).ok()) << bad;
}

}  // namespace
}  // namespace rollout::config
