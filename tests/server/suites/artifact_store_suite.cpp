// The typed artifact store suite: every test runs against the artifact store of every backend of
// the program that builds it (store_backends(): SQLite's local directory in server_tests,
// PostgreSQL's database store in pg_tests), through open_artifact_store with artifact_store:
// auto, as a server opens it. One body says what both stores guarantee.
#include "server-plugin/artifacts/artifact_store.hpp"

#include <gtest/gtest.h>

#include <filesystem>
#include <random>
#include <thread>

#include "common/crypto.hpp"
#include "common/encoding.hpp"
#include "server-plugin/config.hpp"
#include "server-plugin/store.hpp"
#include "server-plugin/store/postgres/pg_conn.hpp"
#include "tests/server/store_backends.hpp"
#include "tests/testing/testing.hpp"

namespace rollout::server::artifacts {
namespace {

using testing::Backend;

constexpr std::uint64_t kMiB = 1 << 20;  // the database store's chunk size

std::string bytes_of(std::uint64_t n, std::uint32_t seed) {
  std::mt19937 rng(seed);
  std::string out(static_cast<std::size_t>(n), '\0');
  for (auto& c : out) c = static_cast<char>(rng() & 0xff);
  return out;
}

std::string sha_of(std::string_view bytes) {
  crypto::Sha256 h;
  h.update(bytes);
  return encoding::hex(h.finish());
}

// One server's view: its Store and the artifact store the config gives it.
struct Instance {
  std::unique_ptr<Store> store;
  std::unique_ptr<ArtifactStore> artifacts;
};

class ArtifactStoreTest : public ::testing::TestWithParam<Backend> {
 protected:
  void SetUp() override {
    url_ = GetParam().url(dir_.path());
    std::filesystem::create_directories(dir_.path() / "artifacts");
    a_ = open_instance();
  }

  Instance open_instance() {
    Instance i;
    auto s = open_store(url_);
    EXPECT_TRUE(s.ok()) << s.error().message;
    if (!s) return i;
    i.store = std::move(s.value());
    ServerConfig cfg;
    cfg.database_url = url_;
    cfg.data_dir = dir_.path().string();
    auto a = open_artifact_store(cfg, *i.store);
    EXPECT_TRUE(a.ok()) << a.error().message;
    if (a) i.artifacts = std::move(a.value());
    return i;
  }

  bool on_postgres() const { return url_.rfind("postgresql://", 0) == 0; }

  // Writes `bytes` in pieces of `piece` bytes and commits, as the host streams a body.
  static Status publish(ArtifactStore& s, const std::string& sha, std::uint64_t size,
                        std::string_view bytes, std::size_t piece = 64 * 1024) {
    auto up = s.begin(sha, size);
    if (!up) return up.error();
    for (std::size_t at = 0; at < bytes.size(); at += piece) (*up)->write(bytes.substr(at, piece));
    return (*up)->commit();
  }
  static Status publish(ArtifactStore& s, std::string_view bytes) {
    return publish(s, sha_of(bytes), bytes.size(), bytes);
  }

  // The whole range through read(), checking the source's size and that it ends.
  static std::string read_range(ArtifactStore& s, const std::string& sha, std::uint64_t offset,
                                std::uint64_t length) {
    auto src = s.read(sha, offset, length);
    EXPECT_TRUE(src.ok()) << src.error().message;
    if (!src) return {};
    EXPECT_EQ((*src)->size(), length);
    std::string out;
    for (int guard = 0; guard < 100'000; ++guard) {
      auto piece = (*src)->read(100'000);
      EXPECT_TRUE(piece.ok()) << piece.error().message;
      if (!piece || piece->empty()) break;
      EXPECT_LE(piece->size(), 100'000u);
      out += *piece;
    }
    return out;
  }

  // What a failed, abandoned or duplicate upload might have left: files other than published
  // artifacts in the directory, or upload rows and chunks of no published artifact.
  std::int64_t leftovers() {
    if (!on_postgres()) {
      std::int64_t n = 0;
      for (const auto& e : std::filesystem::directory_iterator(dir_.path() / "artifacts")) {
        const auto name = e.path().filename().string();
        if (!valid_name(name)) ++n;
      }
      return n;
    }
    auto conn = pg::Conn::open(url_);
    EXPECT_TRUE(conn.ok());
    if (!conn) return -1;
    auto r = conn->exec(
        "SELECT (SELECT count(*) FROM artifact_uploads) + (SELECT count(*) FROM artifact_chunks "
        "WHERE upload_id NOT IN (SELECT upload_id FROM artifacts))");
    EXPECT_TRUE(r.ok()) << r.error().message;
    if (!r) return -1;
    return r->i64(0, 0).value();
  }

  std::optional<std::uint64_t> size_of(ArtifactStore& s, const std::string& sha) {
    auto n = s.published_size(sha);
    EXPECT_TRUE(n.ok()) << n.error().message;
    return n ? *n : std::nullopt;
  }

  testing::TempDir dir_;
  std::string url_;
  Instance a_;
};

TEST_P(ArtifactStoreTest, PublishesAndReadsBackWholeAndInRanges) {
  ASSERT_TRUE(a_.artifacts);
  const std::uint64_t n = 3 * kMiB + kMiB / 2 + 17;  // several chunks, the last one partial
  const std::string bytes = bytes_of(n, 1);
  const std::string sha = sha_of(bytes);
  EXPECT_FALSE(size_of(*a_.artifacts, sha).has_value());
  ASSERT_TRUE(publish(*a_.artifacts, bytes));
  EXPECT_EQ(size_of(*a_.artifacts, sha), n);
  EXPECT_TRUE(read_range(*a_.artifacts, sha, 0, n) == bytes) << "the whole artifact, 0..end";
  EXPECT_EQ(read_range(*a_.artifacts, sha, 0, 1), bytes.substr(0, 1)) << "the first byte";
  EXPECT_EQ(read_range(*a_.artifacts, sha, n - 1, 1), bytes.substr(n - 1)) << "the last byte";
  EXPECT_EQ(read_range(*a_.artifacts, sha, kMiB - 10, 20), bytes.substr(kMiB - 10, 20))
      << "across a chunk boundary";
  EXPECT_TRUE(read_range(*a_.artifacts, sha, kMiB - 1, 2 * kMiB + 2) ==
              bytes.substr(kMiB - 1, 2 * kMiB + 2))
      << "across two boundaries";
  EXPECT_TRUE(read_range(*a_.artifacts, sha, 2 * kMiB, kMiB) == bytes.substr(2 * kMiB, kMiB))
      << "exactly one chunk";
  EXPECT_TRUE(read_range(*a_.artifacts, sha, 3 * kMiB + 5, n - 3 * kMiB - 5) ==
              bytes.substr(3 * kMiB + 5))
      << "from inside the last chunk to the end";
  EXPECT_EQ(read_range(*a_.artifacts, sha, n, 0), "");

  EXPECT_EQ(a_.artifacts->read(sha, n - 1, 2).error().code, "invalid_argument");
  EXPECT_EQ(a_.artifacts->read(sha, n + 1, 0).error().code, "invalid_argument");
  http::Response r;
  ASSERT_TRUE(a_.artifacts->attach(sha, 5, 10, r));
  EXPECT_TRUE(r.file || r.source) << "a download body is set";
  if (r.source) {
    EXPECT_EQ(r.source->size(), 10u);
  }
  if (r.file) {
    EXPECT_EQ(r.file->length, 10u);
  }
  EXPECT_EQ(leftovers(), 0);
}

TEST_P(ArtifactStoreTest, UnknownAndMalformedNamesAreRefused) {
  ASSERT_TRUE(a_.artifacts);
  const std::string unknown(64, 'e');
  EXPECT_FALSE(size_of(*a_.artifacts, unknown).has_value());
  EXPECT_EQ(a_.artifacts->read(unknown, 0, 1).error().code, "not_found");
  http::Response r;
  EXPECT_EQ(a_.artifacts->attach(unknown, 0, 1, r).error().code, "not_found");
  for (const std::string& bad :
       std::vector<std::string>{"../../etc/passwd", std::string(64, 'E'), std::string(63, 'a')}) {
    EXPECT_EQ(a_.artifacts->begin(bad, 1).error().code, "invalid_argument") << bad;
    EXPECT_EQ(a_.artifacts->published_size(bad).error().code, "invalid_argument") << bad;
    EXPECT_EQ(a_.artifacts->read(bad, 0, 1).error().code, "invalid_argument") << bad;
  }
}

TEST_P(ArtifactStoreTest, WrongBytesAreArtifactMismatchAndPublishNothing) {
  ASSERT_TRUE(a_.artifacts);
  const std::string bytes = bytes_of(kMiB + 1000, 2);
  const std::string sha = sha_of(bytes);
  std::string flipped = bytes;
  flipped[kMiB + 3] = static_cast<char>(flipped[kMiB + 3] ^ 1);
  struct Case {
    const char* what;
    std::string body;
  };
  for (const auto& c :
       {Case{"wrong hash", flipped}, Case{"too many bytes", bytes + "x"},
        Case{"too few bytes", bytes.substr(0, bytes.size() - 1)}, Case{"nothing", ""}}) {
    auto st = publish(*a_.artifacts, sha, bytes.size(), c.body);
    ASSERT_FALSE(st.ok()) << c.what;
    EXPECT_EQ(st.error().code, "artifact_mismatch") << c.what;
    EXPECT_FALSE(size_of(*a_.artifacts, sha).has_value()) << c.what;
    EXPECT_EQ(leftovers(), 0) << c.what;
  }
  // The right bytes still publish afterwards.
  ASSERT_TRUE(publish(*a_.artifacts, bytes));
  EXPECT_EQ(size_of(*a_.artifacts, sha), bytes.size());
}

TEST_P(ArtifactStoreTest, AnAbandonedUploadLeavesNothing) {
  ASSERT_TRUE(a_.artifacts);
  const std::string bytes = bytes_of(2 * kMiB + 5, 3);
  const std::string sha = sha_of(bytes);
  for (const std::size_t written : {std::size_t{0}, std::size_t{1000}, kMiB + 7, bytes.size()}) {
    {
      auto up = a_.artifacts->begin(sha, bytes.size());
      ASSERT_TRUE(up.ok()) << up.error().message;
      (*up)->write(std::string_view(bytes).substr(0, written));
    }  // dropped without commit(): a client that went away mid-upload
    EXPECT_FALSE(size_of(*a_.artifacts, sha).has_value()) << written;
    EXPECT_EQ(leftovers(), 0) << written;
  }
}

TEST_P(ArtifactStoreTest, ConcurrentUploadsOfOneArtifactBothSucceedAndPublishItOnce) {
  ASSERT_TRUE(a_.artifacts);
  Instance b = open_instance();
  ASSERT_TRUE(b.artifacts);
  const std::string bytes = bytes_of(2 * kMiB + 333, 4);
  const std::string sha = sha_of(bytes);
  // Interleaved by hand: both in progress before either commits.
  auto one = a_.artifacts->begin(sha, bytes.size());
  auto two = b.artifacts->begin(sha, bytes.size());
  ASSERT_TRUE(one.ok() && two.ok());
  for (std::size_t at = 0; at < bytes.size(); at += 300'000) {
    (*one)->write(std::string_view(bytes).substr(at, 300'000));
    (*two)->write(std::string_view(bytes).substr(at, 300'000));
  }
  EXPECT_TRUE((*two)->commit());
  EXPECT_TRUE((*one)->commit());
  EXPECT_TRUE(read_range(*a_.artifacts, sha, 0, bytes.size()) == bytes);
  EXPECT_EQ(leftovers(), 0);

  // And racing on threads, from two instances, several times over.
  for (std::uint32_t round = 0; round < 3; ++round) {
    const std::string other = bytes_of(kMiB + 99 + round, 10 + round);
    Status ra, rb;
    std::thread ta([&] { ra = publish(*a_.artifacts, other); });
    std::thread tb([&] { rb = publish(*b.artifacts, other); });
    ta.join();
    tb.join();
    EXPECT_TRUE(ra.ok()) << ra.error().message;
    EXPECT_TRUE(rb.ok()) << rb.error().message;
    EXPECT_TRUE(read_range(*b.artifacts, sha_of(other), 0, other.size()) == other);
  }
  EXPECT_EQ(leftovers(), 0);
}

TEST_P(ArtifactStoreTest, AnotherInstanceServesWhatOnePublished) {
  ASSERT_TRUE(a_.artifacts);
  Instance b = open_instance();
  ASSERT_TRUE(b.artifacts);
  const std::string bytes = bytes_of(kMiB + 4321, 5);
  const std::string sha = sha_of(bytes);
  ASSERT_TRUE(publish(*a_.artifacts, bytes));
  EXPECT_EQ(size_of(*b.artifacts, sha), bytes.size());
  EXPECT_TRUE(read_range(*b.artifacts, sha, 0, bytes.size()) == bytes);
  EXPECT_EQ(read_range(*b.artifacts, sha, kMiB - 2, 4), bytes.substr(kMiB - 2, 4));
  // A republish through B of what A published is fine and changes nothing.
  ASSERT_TRUE(publish(*b.artifacts, bytes));
  EXPECT_TRUE(read_range(*a_.artifacts, sha, 0, bytes.size()) == bytes);
  EXPECT_EQ(leftovers(), 0);
}

TEST_P(ArtifactStoreTest, AnEmptyArtifactPublishesAndReadsAsEmpty) {
  ASSERT_TRUE(a_.artifacts);
  const std::string sha = sha_of("");
  ASSERT_TRUE(publish(*a_.artifacts, ""));
  EXPECT_EQ(size_of(*a_.artifacts, sha), 0u);
  EXPECT_EQ(read_range(*a_.artifacts, sha, 0, 0), "");
}

TEST_P(ArtifactStoreTest, TheConfigChoosesTheStoreAndDatabaseNeedsPostgres) {
  ASSERT_TRUE(a_.store);
  ServerConfig cfg;
  cfg.database_url = url_;
  cfg.data_dir = dir_.path().string();
  for (const char* kind : {"local", "database"}) {
    cfg.artifact_store = kind;
    auto s = open_artifact_store(cfg, *a_.store);
    if (std::string(kind) == "database" && !on_postgres()) {
      ASSERT_FALSE(s.ok());
      EXPECT_EQ(s.error().code, "invalid_config");
      EXPECT_NE(s.error().message.find("postgresql://"), std::string::npos) << s.error().message;
      continue;
    }
    ASSERT_TRUE(s.ok()) << kind << ": " << s.error().message;
    const std::string bytes = std::string("published through ") + kind;
    ASSERT_TRUE(publish(**s, bytes));
    EXPECT_EQ(read_range(**s, sha_of(bytes), 0, bytes.size()), bytes);
  }
  cfg.artifact_store = "s3";
  auto bogus = open_artifact_store(cfg, *a_.store);
  ASSERT_FALSE(bogus.ok());
  EXPECT_EQ(bogus.error().code, "invalid_config");
}

INSTANTIATE_TEST_SUITE_P(Backends, ArtifactStoreTest,
                         ::testing::ValuesIn(testing::store_backends()), testing::backend_name);

}  // namespace
}  // namespace rollout::server::artifacts
