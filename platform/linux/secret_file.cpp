#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "platform/secret_file.hpp"

namespace rollout::platform {

Status write_new_secret_file(const std::string& path, std::string_view bytes) {
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
  if (fd < 0) {
    const int err = errno;
    return make_error(err == EEXIST ? "exists" : "io_error",
                      "cannot create " + path + ": " + std::strerror(err) +
                          (err == EEXIST ? " (refusing to overwrite an existing key)" : ""));
  }
  // umask may have narrowed the mode further; it can never have widened it.
  std::size_t done = 0;
  while (done < bytes.size()) {
    const ssize_t n = ::write(fd, bytes.data() + done, bytes.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      const int err = errno;
      ::close(fd);
      ::unlink(path.c_str());
      return make_error("io_error", "cannot write " + path + ": " + std::strerror(err));
    }
    done += static_cast<std::size_t>(n);
  }
  if (::fsync(fd) != 0 || ::close(fd) != 0) {
    const int err = errno;
    ::unlink(path.c_str());
    return make_error("io_error", "cannot flush " + path + ": " + std::strerror(err));
  }
  return {};
}

}  // namespace rollout::platform
