// Publishing an artifact: streamed to a temporary file of its own while hashed, checked against
// the signed manifest before it is published (fsync, rename, fsync), never held whole in memory;
// refused with a 4xx leaving nothing behind when its bytes are not the signed ones; an existing
// artifact file is trusted only once its hash has been checked. These are the guarantees of the
// local directory (artifact_store: local, pinned here, so pg_tests checks them with PostgreSQL
// holding the rows too); the database store's own (nothing published on a mismatch, nothing left
// by an abandoned or concurrent upload) are in suites/artifact_store_suite.cpp on both backends.
#include <gtest/gtest.h>

#include <future>

#include "tests/server/app_fixture.hpp"

namespace rollout::server::testing {
namespace {

class PublishStream : public AppFixture {
 protected:
  void SetUp() override {
    AppFixture::SetUp();
    if (HasFatalFailure()) return;
    cfg_.artifact_store = "local";
    app_.reset();
    Start();
  }

  // The signed manifest envelope (JSON text) for `artifact`.
  std::string manifest_for(const std::string& version, const std::string& artifact) {
    ReleaseManifest m;
    m.version = SemVer::parse(version).value();
    m.os = "linux";
    m.arch = "x86_64";
    m.size = artifact.size();
    m.sha256 = crypto::sha256_hex(artifact);
    m.security_version = 1;
    m.created_at = SysTime(std::chrono::seconds(now_));
    auto env =
        sign_envelope(std::string(kReleasePayloadType), m.to_payload(), {*release_key_}).value();
    return bj::serialize(envelope_to_json(env));
  }
  // The streamed form rolloutctl sends: the manifest in a header, the raw artifact as the body.
  http::Response publish_streamed(const Session& s, const std::string& manifest,
                                  const std::string& body) {
    return call("POST", "/api/updates/releases", body,
                {{"Cookie", "rollout_session=" + s.cookie},
                 {"X-CSRF-Token", s.csrf},
                 {"Content-Type", "application/octet-stream"},
                 {"X-Rollout-Manifest", encoding::base64(manifest)}});
  }
  std::string download(const std::string& sha) {
    auto agent = enroll("m-" + sha.substr(0, 8), "1.0.0");
    auto r = call("GET", "/api/agent/v1/artifacts/" + sha, "",
                  {{"Authorization", "Bearer " + agent.token}});
    EXPECT_EQ(r.status, 200u);
    return r.body;
  }
  std::filesystem::path artifacts() { return std::filesystem::path(cfg_.data_dir) / "artifacts"; }
  std::vector<std::string> artifact_files() {
    std::vector<std::string> out;
    for (const auto& e : std::filesystem::directory_iterator(artifacts()))
      out.push_back(e.path().filename().string());
    std::sort(out.begin(), out.end());
    return out;
  }
  static std::string bytes(std::size_t n, char seed) {
    std::string out(n, '\0');
    for (std::size_t i = 0; i < n; ++i)
      out[i] = static_cast<char>(static_cast<std::size_t>(seed) + i * 7 + i / 4096);
    return out;
  }
};

TEST_F(PublishStream, ALargeArtifactIsStreamedToDiskNotHeldInMemory) {
  const Session ops = admin();
  const std::string artifact = bytes(6 << 20, 'a');  // six times the JSON cap
  ASSERT_GT(artifact.size(), cfg_.body_limit);
  largest_body_ = 0;
  auto r = publish_streamed(ops, manifest_for("1.0.0", artifact), artifact);
  ASSERT_EQ(r.status, 201u) << r.body;
  EXPECT_LT(largest_body_.load(), 64u * 1024) << "the body reached the App through its sink";
  const std::string sha = crypto::sha256_hex(artifact);
  EXPECT_EQ(artifact_files(), std::vector<std::string>{sha}) << "no temporary file left";
  EXPECT_TRUE(download(sha) == artifact);
  // The JSON form holds the artifact in memory, so it gets only the JSON cap.
  auto json = as(ops, "POST", "/api/updates/releases",
                 bj::serialize(bj::object{{"manifest", bj::parse(manifest_for("1.1.0", artifact))},
                                          {"artifact", encoding::base64(artifact)}}));
  EXPECT_EQ(json.status, 413u) << json.body;
}

TEST_F(PublishStream, BytesThatAreNotTheSignedOnesAreRefusedAndLeaveNothing) {
  const Session ops = admin();
  const std::string artifact = bytes(300'000, 'b');
  std::string tampered = artifact;
  tampered[150'000] ^= 1;
  auto r = publish_streamed(ops, manifest_for("1.0.0", artifact), tampered);
  EXPECT_EQ(r.status, 400u) << r.body;
  EXPECT_NE(r.body.find("artifact_mismatch"), std::string::npos) << r.body;
  EXPECT_TRUE(artifact_files().empty()) << "no temporary or final file";
  EXPECT_FALSE(store()->get_release({"1.0.0", "linux", "x86_64"}).value());
  // A length other than the signed size is refused from the headers.
  auto shorter = publish_streamed(ops, manifest_for("1.0.0", artifact), artifact.substr(1));
  EXPECT_EQ(shorter.status, 400u) << shorter.body;
  EXPECT_NE(shorter.body.find("Content-Length must be the signed manifest's size"),
            std::string::npos)
      << shorter.body;
  auto garbage = call("POST", "/api/updates/releases", artifact,
                      {{"Cookie", "rollout_session=" + ops.cookie},
                       {"X-CSRF-Token", ops.csrf},
                       {"X-Rollout-Manifest", "%%% not base64"}});
  EXPECT_EQ(garbage.status, 400u) << garbage.body;
  auto unsigned_manifest = publish_streamed(ops, R"({"payload_type":"x"})", artifact);
  EXPECT_EQ(unsigned_manifest.status, 400u) << unsigned_manifest.body;
  EXPECT_TRUE(artifact_files().empty());
  // Nothing was refused for a wrong caller first: a viewer gets 403 before any of that.
  auto viewer = user_with_role("vic", "viewer");
  EXPECT_EQ(publish_streamed(viewer, manifest_for("1.0.0", artifact), artifact).status, 403u);
}

TEST_F(PublishStream, AnEmptyOrTruncatedArtifactFileLeftByAPowerCutIsReplaced) {
  const Session ops = admin();
  const std::string first = "artifact of 1.0.0 linux/x86_64";  // what publish() uploads
  std::filesystem::create_directories(artifacts());
  rollout::testing::write_file(artifacts() / crypto::sha256_hex(first), "");
  ASSERT_EQ(publish(ops, "1.0.0").status, 201u);
  EXPECT_EQ(download(crypto::sha256_hex(first)), first);

  const std::string second = "artifact of 1.1.0 linux/x86_64";
  rollout::testing::write_file(artifacts() / crypto::sha256_hex(second), second.substr(0, 9));
  ASSERT_EQ(publish(ops, "1.1.0").status, 201u);
  EXPECT_EQ(download(crypto::sha256_hex(second)), second);
}

TEST_F(PublishStream, ConcurrentUploadsOfOneArtifactEachUseTheirOwnTemporaryFile) {
  const Session ops = admin();
  const std::string artifact = bytes(512 << 10, 'c');  // small enough for the JSON form too
  constexpr int kUploads = 8;
  std::vector<std::string> manifests;
  for (int i = 0; i < kUploads; ++i)
    manifests.push_back(manifest_for("1.0." + std::to_string(i), artifact));
  std::vector<std::future<unsigned>> answers;
  for (int i = 0; i < kUploads; ++i) {
    answers.push_back(std::async(std::launch::async, [&, i] {
      const std::string& manifest = manifests[static_cast<std::size_t>(i)];
      if (i % 2 == 0) return publish_streamed(ops, manifest, artifact).status;
      return as(ops, "POST", "/api/updates/releases",
                bj::serialize(bj::object{{"manifest", bj::parse(manifest)},
                                         {"artifact", encoding::base64(artifact)}}))
          .status;
    }));
  }
  for (auto& a : answers) EXPECT_EQ(a.get(), 201u);
  const std::string sha = crypto::sha256_hex(artifact);
  EXPECT_EQ(artifact_files(), std::vector<std::string>{sha});
  EXPECT_TRUE(download(sha) == artifact);
}

}  // namespace
}  // namespace rollout::server::testing
