#include "server-plugin/app/artifact_upload.hpp"

#include "common/encoding.hpp"

namespace rollout::server {

Expected<std::shared_ptr<ArtifactUpload>> ArtifactUpload::begin(const std::string& dir,
                                                                std::string sha256,
                                                                std::uint64_t size,
                                                                platform::FileSystem& fs) {
  if (sha256.size() != 64 || sha256.find_first_not_of("0123456789abcdef") != std::string::npos)
    return make_error("invalid_argument", "artifact name must be a lower-case hex SHA-256");
  // A name of its own per upload: two uploads of one artifact never write the same file.
  const std::string tmp =
      dir + "/." + sha256 + "." + encoding::hex(crypto::random_bytes(8)) + ".tmp";
  auto file = fs.create_new(tmp, 0644);
  if (!file) return file.error().context("storing the artifact");
  return std::shared_ptr<ArtifactUpload>(
      new ArtifactUpload(fs, dir, std::move(sha256), size, tmp, std::move(file.value())));
}

ArtifactUpload::ArtifactUpload(platform::FileSystem& fs, std::string dir, std::string sha256,
                               std::uint64_t size, std::string tmp, platform::File file)
    : fs_(fs),
      dir_(std::move(dir)),
      sha256_(std::move(sha256)),
      tmp_(std::move(tmp)),
      size_(size),
      file_(std::move(file)) {}

ArtifactUpload::~ArtifactUpload() {
  if (done_) return;
  if (file_.is_open()) (void)fs_.close(file_);
  (void)fs_.remove(tmp_);
}

void ArtifactUpload::write(std::string_view chunk) {
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

Status ArtifactUpload::commit() {
  Status st = publish();
  if (file_.is_open()) (void)fs_.close(file_);
  (void)fs_.remove(tmp_);  // after a rename there is nothing left to remove
  done_ = true;
  return st;
}

Status ArtifactUpload::publish() {
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

bool ArtifactUpload::already_there(const std::string& path) {
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

}  // namespace rollout::server
