// The local-directory artifact store: uploads to a temporary file, published by rename.
#include "server-plugin/artifacts/local_artifacts.hpp"

#include <cstdio>

#include "common/encoding.hpp"

namespace rollout::server::artifacts {

Expected<std::shared_ptr<LocalUpload>> LocalUpload::begin(const std::string& dir,
                                                          std::string sha256, std::uint64_t size,
                                                          platform::FileSystem& fs) {
  if (!valid_name(sha256))
    return make_error("invalid_argument", "artifact name must be a lower-case hex SHA-256");
  // A name of its own per upload: two uploads of one artifact never write the same file.
  const std::string tmp =
      dir + "/." + sha256 + "." + encoding::hex(crypto::random_bytes(8)) + ".tmp";
  auto file = fs.create_new(tmp, 0644);
  if (!file) return file.error().context("storing the artifact");
  return std::shared_ptr<LocalUpload>(
      new LocalUpload(fs, dir, std::move(sha256), size, tmp, std::move(file.value())));
}

LocalUpload::LocalUpload(platform::FileSystem& fs, std::string dir, std::string sha256,
                         std::uint64_t size, std::string tmp, platform::File file)
    : fs_(fs),
      dir_(std::move(dir)),
      sha256_(std::move(sha256)),
      tmp_(std::move(tmp)),
      size_(size),
      file_(std::move(file)) {}

LocalUpload::~LocalUpload() {
  if (done_) return;
  if (file_.is_open()) (void)fs_.close(file_);
  (void)fs_.remove(tmp_);
}

void LocalUpload::write(std::string_view chunk) {
  if (failed_ || chunk.empty()) return;
  received_ += chunk.size();
  if (received_ > size_) {
    failed_ = make_error("artifact_mismatch", "the artifact is larger than the signed manifest's " +
                                                  std::to_string(size_) + " bytes");
    return;
  }
  hash_.update(chunk);
  if (auto st = fs_.write(file_, chunk); !st) failed_ = st.error().context("storing the artifact");
}

Status LocalUpload::commit() {
  Status st = publish();
  if (file_.is_open()) (void)fs_.close(file_);
  (void)fs_.remove(tmp_);  // after a rename there is nothing left to remove
  done_ = true;
  return st;
}

Status LocalUpload::publish() {
  if (failed_) return *failed_;
  if (received_ != size_ || encoding::hex(hash_.finish()) != sha256_) {
    return make_error("artifact_mismatch",
                      "the artifact's size or SHA-256 differs from the signed manifest (got " +
                          std::to_string(received_) + " of " + std::to_string(size_) + " bytes)");
  }
  if (auto s = fs_.sync(file_); !s) return s.error().context("storing the artifact");
  if (auto s = fs_.close(file_); !s) return s.error().context("storing the artifact");
  const std::string final_path = dir_ + "/" + sha256_;
  if (already_there(final_path)) return {};
  if (auto s = fs_.rename(tmp_, final_path); !s) return s.error().context("storing the artifact");
  if (auto s = fs_.fsync_dir(dir_); !s) return s.error().context("storing the artifact");
  return {};
}

bool LocalUpload::already_there(const std::string& path) {
  auto info = fs_.stat_no_follow(path);
  if (!info || info->type != platform::FileType::regular || info->size != size_) return false;
  auto f = fs_.open_read(path);
  if (!f) return false;
  crypto::Sha256 h;
  for (;;) {
    auto piece = fs_.read(*f, 64 * 1024);
    if (!piece) return false;
    if (piece->empty()) break;
    h.update(*piece);
  }
  (void)fs_.close(*f);
  return encoding::hex(h.finish()) == sha256_;
}

namespace {

// Bytes of an open file from where it stands, `left` of them (read() of the local store; the
// host itself streams a FileRange).
class FileSource final : public http::BodySource {
 public:
  FileSource(std::FILE* f, std::uint64_t length)
      : f_(f, &std::fclose), size_(length), left_(length) {}
  std::uint64_t size() const override { return size_; }
  Expected<std::string> read(std::size_t max) override {
    std::string out(static_cast<std::size_t>(std::min<std::uint64_t>(left_, max)), '\0');
    if (out.empty()) return out;
    const std::size_t got = std::fread(out.data(), 1, out.size(), f_.get());
    if (got == 0) return make_error("storage", "the artifact file ended early");
    out.resize(got);
    left_ -= got;
    return out;
  }

 private:
  std::unique_ptr<std::FILE, int (*)(std::FILE*)> f_;
  const std::uint64_t size_;
  std::uint64_t left_;
};

}  // namespace

Expected<std::shared_ptr<Upload>> LocalArtifactStore::begin(const std::string& sha256,
                                                            std::uint64_t size) {
  auto up = LocalUpload::begin(dir_, sha256, size, fs_);
  if (!up) return up.error();
  return std::shared_ptr<Upload>(std::move(up.value()));
}

Expected<std::optional<std::uint64_t>> LocalArtifactStore::published_size(
    const std::string& sha256) {
  if (!valid_name(sha256))
    return make_error("invalid_argument", "artifact name must be a lower-case hex SHA-256");
  auto info = fs_.stat_no_follow(dir_ + "/" + sha256);
  if (!info || info->type != platform::FileType::regular) return std::optional<std::uint64_t>();
  return std::optional<std::uint64_t>(info->size);
}

Expected<std::string> LocalArtifactStore::checked_path(const std::string& sha256,
                                                       std::uint64_t offset, std::uint64_t length) {
  auto size = published_size(sha256);
  if (!size) return size.error();
  if (!*size) return make_error("not_found", "artifact " + sha256 + " is not stored here");
  if (offset > **size || length > **size - offset)
    return make_error("invalid_argument", "the range is outside the artifact");
  return dir_ + "/" + sha256;
}

Expected<std::shared_ptr<http::BodySource>> LocalArtifactStore::read(const std::string& sha256,
                                                                     std::uint64_t offset,
                                                                     std::uint64_t length) {
  auto path = checked_path(sha256, offset, length);
  if (!path) return path.error();
  std::FILE* f = std::fopen(path->c_str(), "rb");
  if (f == nullptr) return make_error("storage", "cannot open artifact " + sha256);
  if (::fseeko(f, static_cast<off_t>(offset), SEEK_SET) != 0) {
    std::fclose(f);
    return make_error("storage", "cannot seek in artifact " + sha256);
  }
  return std::shared_ptr<http::BodySource>(std::make_shared<FileSource>(f, length));
}

Status LocalArtifactStore::attach(const std::string& sha256, std::uint64_t offset,
                                  std::uint64_t length, http::Response& r) {
  auto path = checked_path(sha256, offset, length);
  if (!path) return path.error();
  r.file = http::FileRange{*path, offset, length};
  return {};
}

}  // namespace rollout::server::artifacts
