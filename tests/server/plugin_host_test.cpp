// The C ABI as an RMM server in another language would use it: create from a YAML file, hand it
// requests with the host's authenticated identity, free what it returns, destroy.
#include <gtest/gtest.h>

#include <cstring>
#include <string>

#include "server-plugin/include/rollout_plugin.h"
#include "tests/server/app_fixture.hpp"

namespace rollout::server::testing {
namespace {

class PluginHost : public AppFixture {
 protected:
  std::string config_file() {
    const auto path = dir_.path() / "plugin.yaml";
    rollout::testing::write_file(
        path, "database_url: " + cfg_.database_url + "\ndata_dir: " + cfg_.data_dir +
                  "\ndirective_key: " + cfg_.directive_key + "\nrelease_keys: [" +
                  cfg_.release_keys[0] + "]\npassword_cost: 10\n");
    return path.string();
  }

  rollout_response call(rollout_plugin* p, const char* method, const char* target,
                        const std::string& body, const char* user, const char* role) {
    rollout_header h{"Content-Type", "application/json"};
    rollout_request req{};
    req.method = method;
    req.target = target;
    req.headers = &h;
    req.header_count = 1;
    req.body = body.data();
    req.body_len = body.size();
    req.remote_addr = "10.0.0.1";
    req.user = user;
    req.role = role;
    rollout_response resp{};
    EXPECT_EQ(rollout_plugin_handle(p, &req, &resp), 0);
    return resp;
  }
};

TEST_F(PluginHost, HostIdentityDecidesWhatACallerMayDo) {
  ASSERT_EQ(publish(admin(), "1.0.0").status, 201u);
  app_.reset();
  char* error = nullptr;
  rollout_plugin* p = rollout_plugin_create(config_file().c_str(), &error);
  ASSERT_NE(p, nullptr) << (error ? error : "");
  EXPECT_EQ(rollout_plugin_abi_version(), ROLLOUT_PLUGIN_ABI_VERSION);

  auto rows = call(p, "GET", "/api/updates/rollouts", "", "alice", "viewer");
  EXPECT_EQ(rows.status, 200);
  EXPECT_NE(std::string(rows.body, rows.body_len).find("\"version\":\"1.0.0\""), std::string::npos);
  rollout_response_free(&rows);
  EXPECT_EQ(rows.body, nullptr) << "freed and cleared";

  const std::string promote =
      R"({"os":"linux","arch":"x86_64","force":true,"reason":"host says so"})";
  auto denied = call(p, "POST", "/api/updates/rollouts/1.0.0/promote", promote, "alice", "viewer");
  EXPECT_EQ(denied.status, 403);
  rollout_response_free(&denied);
  auto anonymous =
      call(p, "POST", "/api/updates/rollouts/1.0.0/promote", promote, nullptr, nullptr);
  EXPECT_EQ(anonymous.status, 401) << "no host identity: the plugin's own authentication applies";
  rollout_response_free(&anonymous);
  auto ok = call(p, "POST", "/api/updates/rollouts/1.0.0/promote", promote, "bob", "operator");
  EXPECT_EQ(ok.status, 200) << std::string(ok.body, ok.body_len);
  rollout_response_free(&ok);
  EXPECT_EQ(rollout_plugin_body_limit(p, "POST", "/api/updates/releases"), cfg_.upload_limit);
  EXPECT_EQ(rollout_plugin_body_limit(p, "POST", "/api/updates/rollouts/1.0.0/promote"),
            cfg_.body_limit);
  EXPECT_EQ(rollout_plugin_body_limit(p, nullptr, "/x"), 0u);
  rollout_plugin_destroy(p);

  auto events = store()->list_events(0, 10, std::nullopt).value();
  ASSERT_FALSE(events.empty());
  EXPECT_EQ(events[0].user, "bob") << "audit rows carry the host's user";
}

TEST_F(PluginHost, AdmitDecidesFromTheHeadersBeforeTheHostReadsTheBody) {
  app_.reset();
  char* error = nullptr;
  rollout_plugin* p = rollout_plugin_create(config_file().c_str(), &error);
  ASSERT_NE(p, nullptr) << (error ? error : "");
  const std::string declared = std::to_string(200ull << 20);
  rollout_header h[] = {{"Content-Type", "application/json"}, {"Content-Length", declared.c_str()}};
  rollout_request head{};
  head.method = "POST";
  head.target = "/api/updates/releases";
  head.headers = h;
  head.header_count = 2;
  rollout_response refusal;
  std::memset(&refusal, 0xAB, sizeof refusal);  // whatever the host's stack held
  std::uint64_t limit = 7;
  ASSERT_EQ(rollout_plugin_admit(p, &head, &refusal, &limit), 1) << "no identity: refused";
  EXPECT_EQ(refusal.status, 401);
  EXPECT_NE(std::string(refusal.body, refusal.body_len).find("unauthorized"), std::string::npos);
  EXPECT_EQ(limit, 0u);
  rollout_response_free(&refusal);
  head.user = "alice";
  head.role = "viewer";
  ASSERT_EQ(rollout_plugin_admit(p, &head, &refusal, &limit), 1);
  EXPECT_EQ(refusal.status, 403) << "a viewer may not publish";
  rollout_response_free(&refusal);
  head.role = "operator";
  ASSERT_EQ(rollout_plugin_admit(p, &head, &refusal, &limit), 1);
  EXPECT_EQ(refusal.status, 413) << "200 MiB declared for a JSON body (no streamed manifest)";
  rollout_response_free(&refusal);
  head.target = "/api/updates/rollouts/1.0.0/promote";
  ASSERT_EQ(rollout_plugin_admit(p, &head, &refusal, &limit), 1);
  EXPECT_EQ(refusal.status, 413) << "200 MiB declared for a JSON route";
  rollout_response_free(&refusal);
  h[1].value = "64";
  ASSERT_EQ(rollout_plugin_admit(p, &head, &refusal, &limit), 0);
  EXPECT_EQ(limit, cfg_.body_limit);
  EXPECT_EQ(refusal.body, nullptr) << "nothing to free when admitted";
  EXPECT_EQ(rollout_plugin_admit(p, nullptr, &refusal, &limit), -1);
  rollout_plugin_destroy(p);
}

// A request the plugin fails on (here a body length no string can hold) must not free the
// caller's uninitialised response struct: it used to call rollout_response_free() on it.
TEST_F(PluginHost, AFailedRequestNeverFreesWhatTheHostPassedIn) {
  app_.reset();
  char* error = nullptr;
  rollout_plugin* p = rollout_plugin_create(config_file().c_str(), &error);
  ASSERT_NE(p, nullptr) << (error ? error : "");
  char not_heap[16] = "stack bytes";
  rollout_request req{};
  req.method = "POST";
  req.target = "/api/auth/login";
  req.body = not_heap;
  req.body_len = SIZE_MAX;  // std::string refuses it with an exception before reading
  rollout_response resp;
  std::memset(&resp, 0, sizeof resp);
  resp.body = not_heap;  // what a reused or uninitialised struct may point at
  resp.file_path = not_heap;
  ASSERT_EQ(rollout_plugin_handle(p, &req, &resp), 0);
  EXPECT_EQ(resp.status, 500);
  EXPECT_NE(std::string(resp.body, resp.body_len).find("internal"), std::string::npos);
  EXPECT_EQ(resp.file_path, nullptr);
  rollout_response_free(&resp);
  rollout_plugin_destroy(p);
}

// An artifact download through the ABI-3 entry: a file range (local artifacts) or a body the
// host reads piece by piece (artifacts in the database) — the same bytes either way, and the
// same as the ABI-1 entry gives in memory.
TEST_F(PluginHost, ArtifactDownloadsStreamThroughHandleStreamed) {
  ASSERT_EQ(publish(admin(), "1.0.0").status, 201u);
  const std::string artifact = "artifact of 1.0.0 linux/x86_64";
  auto agent = enroll("m1", "0.9.0");
  app_.reset();
  char* error = nullptr;
  rollout_plugin* p = rollout_plugin_create(config_file().c_str(), &error);
  ASSERT_NE(p, nullptr) << (error ? error : "");
  const std::string target = "/api/agent/v1/artifacts/" + crypto::sha256_hex(artifact);
  const std::string bearer = "Bearer " + agent.token;
  rollout_header h[2] = {{"Authorization", bearer.c_str()}, {"Range", "bytes=3-9"}};
  rollout_request req{};
  req.method = "GET";
  req.target = target.c_str();
  req.headers = h;
  req.header_count = 2;
  req.remote_addr = "10.0.0.1";

  rollout_response resp;
  rollout_body* body = reinterpret_cast<rollout_body*>(&resp);  // overwritten, never read
  ASSERT_EQ(rollout_plugin_handle_streamed(p, &req, &resp, &body), 0);
  EXPECT_EQ(resp.status, 206);
  std::string got;
  if (body != nullptr) {
    EXPECT_EQ(resp.file_path, nullptr);
    EXPECT_EQ(rollout_body_length(body), 7u);
    char buf[3];
    for (int guard = 0; guard < 100; ++guard) {
      const int64_t n = rollout_body_read(body, buf, sizeof buf);
      ASSERT_GE(n, 0);
      if (n == 0) break;
      got.append(buf, static_cast<std::size_t>(n));
    }
    rollout_body_free(body);
  } else {
    ASSERT_NE(resp.file_path, nullptr) << "local artifacts are a file range";
    const std::string file = rollout::testing::read_file(resp.file_path);
    got = file.substr(resp.file_offset, resp.file_length);
  }
  EXPECT_EQ(got, artifact.substr(3, 7));
  rollout_response_free(&resp);

  rollout_response whole{};
  ASSERT_EQ(rollout_plugin_handle(p, &req, &whole), 0);
  EXPECT_EQ(whole.status, 206);
  if (whole.file_path == nullptr) {
    EXPECT_EQ(std::string(whole.body, whole.body_len), got);
  }
  rollout_response_free(&whole);

  EXPECT_EQ(rollout_plugin_handle_streamed(p, &req, &resp, nullptr), -1);
  char buf[4];
  EXPECT_EQ(rollout_body_read(nullptr, buf, sizeof buf), -1);
  EXPECT_EQ(rollout_body_length(nullptr), 0u);
  rollout_body_free(nullptr);
  rollout_plugin_destroy(p);
}

TEST_F(PluginHost, BadConfigIsAnErrorStringAndNullArgumentsAreRefused) {
  char* error = nullptr;
  EXPECT_EQ(rollout_plugin_create((dir_.path() / "missing.yaml").c_str(), &error), nullptr);
  ASSERT_NE(error, nullptr);
  EXPECT_NE(std::string(error).find("missing.yaml"), std::string::npos);
  rollout_string_free(error);
  EXPECT_EQ(rollout_plugin_create(nullptr, nullptr), nullptr);
  EXPECT_EQ(rollout_plugin_handle(nullptr, nullptr, nullptr), -1);
}

}  // namespace
}  // namespace rollout::server::testing
