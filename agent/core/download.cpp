#include "agent/download.hpp"

#include <optional>

#include "agent/crash_point.hpp"
#include "common/crypto.hpp"
#include "common/encoding.hpp"

namespace rollout::agent {

namespace {

constexpr std::size_t kChunk = 256 * 1024;
constexpr std::uint64_t kFreeSpaceMargin = 1024 * 1024;

// Hashes what `file` holds from its current position to its end; the number of bytes.
Expected<std::uint64_t> hash_rest(platform::FileSystem& fs, platform::File& file,
                                  crypto::Sha256& hash, std::uint64_t cap) {
  std::uint64_t total = 0;
  for (;;) {
    auto chunk = fs.read(file, kChunk);
    if (!chunk) return chunk.error();
    if (chunk->empty()) return total;
    total += chunk->size();
    if (total > cap) return make_error("too_large", "file is longer than " + std::to_string(cap));
    hash.update(*chunk);
  }
}

}  // namespace

Expected<Downloaded> download_artifact(platform::FileSystem& fs, net::Transport& transport,
                                       const DownloadJob& job) {
  const std::uint64_t size = job.target.size;
  std::optional<crypto::Sha256> hash(std::in_place);
  std::uint64_t offset = 0;
  bool have_part = false;  // a part file from an earlier attempt is on disk (maybe 0 bytes)
  std::optional<platform::File> file;

  auto info = fs.stat_no_follow(job.part_path);
  if (info && info->type != platform::FileType::regular) {
    return make_error("insecure", job.part_path + " is not a regular file; refusing to use it");
  }
  if (info) {
    auto existing = fs.open_read(job.part_path);
    if (!existing) return existing.error();
    auto n = hash_rest(fs, *existing, *hash, size);
    (void)fs.close(*existing);
    if (!n) {
      // Longer than the signed size or unreadable: start over.
      if (auto st = fs.remove(job.part_path); !st) return st.error();
      hash.emplace();
    } else {
      offset = *n;
      have_part = true;
    }
  }
  if (job.progress) job.progress(offset);
  if (offset < size) {
    auto free = fs.free_space(platform::parent_dir(job.part_path));
    if (free && *free < size - offset + kFreeSpaceMargin) {
      return make_error("disk_full", "not enough free space for " + std::to_string(size - offset) +
                                         " bytes in " + platform::parent_dir(job.part_path));
    }
    auto opened = have_part ? fs.open_append(job.part_path) : fs.create_new(job.part_path, 0600);
    if (!opened) return opened.error();
    file.emplace(std::move(opened).value());
    bool first_chunk = true;
    std::uint64_t done = offset;
    auto sink = [&](const char* data, std::size_t n) -> Status {
      if (auto st = fs.write(*file, std::string_view(data, n)); !st) return st;
      hash->update(data, n);
      done += n;
      if (job.progress) job.progress(done);
      if (first_chunk) {
        first_chunk = false;
        ROLLOUT_CRASH_POINT("mid_download");
      }
      return {};
    };
    auto restart = [&]() -> Status {
      // The server ignored the Range: start the file and the hash again.
      (void)fs.close(*file);
      if (auto st = fs.remove(job.part_path); !st) return st;
      auto again = fs.create_new(job.part_path, 0600);
      if (!again) return again.error();
      *file = std::move(again).value();
      hash.emplace();
      offset = 0;
      done = 0;
      return {};
    };
    auto result =
        transport.download(job.url, job.token, offset, size, sink, restart, job.cancelled);
    // Keep what arrived (resume later) whatever happened; a sync failure is a disk problem.
    auto synced = fs.sync(*file);
    auto closed = fs.close(*file);
    if (!result) return result.error();
    if (!synced) return synced.error();
    if (!closed) return closed.error();
    offset += result->received;
    if (offset < size) {
      return make_error("network", "download ended after " + std::to_string(offset) + " of " +
                                       std::to_string(size) + " bytes");
    }
  }
  ROLLOUT_CRASH_POINT("after_download");
  return Downloaded{encoding::hex(hash->finish()), offset};
}

}  // namespace rollout::agent
