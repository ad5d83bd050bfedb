// Fetching a release artifact into the owner-only staging directory: resumes from whatever part
// of the file is already there (also across restarts, re-hashing those bytes), checks free space
// first, hashes while streaming and stops hard at the signed size. The caller compares the hash
// with the signed one; the file it stages is the file that was hashed, in a directory only this
// user can write. It blocks its thread for the whole transfer: the controller runs it on a
// DownloadWorker (download_worker.hpp) so its loop never waits for the network.
#pragma once

#include <cstdint>
#include <functional>
#include <string>

#include "agent/installer.hpp"
#include "common/error.hpp"
#include "common/http/client.hpp"
#include "platform/fs.hpp"

namespace rollout::agent {

struct DownloadJob {
  std::string url;
  std::string token;
  std::string part_path;  // inside the staging directory
  UpdateTarget target;
  // Polled during the transfer (at least once a second): true stops it with "cancelled", keeping
  // the bytes received so far for the next attempt. May be empty.
  net::CancelCheck cancelled;
  // Told how many bytes of the file are on disk and hashed, after each chunk. May be empty.
  std::function<void(std::uint64_t)> progress;
};

struct Downloaded {
  std::string sha256_hex;
  std::uint64_t size = 0;
};

// Errors: "disk_full" (before or during), "insecure" (something other than a regular file at
// part_path), "cancelled", and the transport's ("network", "timeout", "too_large", "http_status",
// ...); after a transport error the bytes received so far stay on disk for the next attempt.
Expected<Downloaded> download_artifact(platform::FileSystem& fs, net::Transport& transport,
                                       const DownloadJob& job);

}  // namespace rollout::agent
