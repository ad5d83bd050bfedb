#include "common/log_file.hpp"

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <system_error>

namespace rollout::log {
namespace {
namespace fs = std::filesystem;

constexpr std::uint64_t kMinBytes = 4 * 1024;
constexpr std::uint64_t kMaxBytes = 1024ull * 1024 * 1024;
constexpr unsigned kMaxCount = 100;

class FileSink final : public Sink {
 public:
  explicit FileSink(FileOptions o) : o_(std::move(o)), path_(o_.path) {}

  Status open() {
    std::error_code ec;
    if (path_.has_parent_path()) fs::create_directories(path_.parent_path(), ec);
    if (ec)
      return make_error("io_error",
                        "cannot create the log directory of " + o_.path + ": " + ec.message());
    out_.close();
    out_.clear();
    errno = 0;
    out_.open(path_, std::ios::binary | std::ios::app);
    if (!out_) {
      const int err = errno;
      return make_error("io_error", "cannot open the log file " + o_.path + " for appending" +
                                        (err != 0 ? std::string(": ") + std::strerror(err) : ""));
    }
    const auto size = fs::file_size(path_, ec);
    size_ = ec ? 0 : size;
    return {};
  }

  void write(const Record& record) override {
    std::string line = format_record(record, o_.format);
    line += '\n';
    if (size_ > 0 && size_ + line.size() > o_.max_bytes) rotate();
    if (!out_.is_open() || !out_) {
      if (!open()) return;  // dropped; the next line tries again
    }
    out_.write(line.data(), static_cast<std::streamsize>(line.size()));
    out_.flush();
    if (out_) size_ += line.size();
  }

 private:
  fs::path numbered(unsigned n) const {
    fs::path p = path_;
    p += "." + std::to_string(n);
    return p;
  }

  // On a failure (Windows refuses to rename a file another program holds open without sharing
  // delete) the current file is kept and appended to; the next line past the limit tries again.
  void rotate() {
    out_.close();
    std::error_code ec;
    fs::remove(numbered(o_.count - 1), ec);
    for (unsigned n = o_.count - 1; n > 1; --n) {
      if (fs::exists(numbered(n - 1), ec)) fs::rename(numbered(n - 1), numbered(n), ec);
    }
    fs::rename(path_, numbered(1), ec);
    (void)open();
  }

  FileOptions o_;
  fs::path path_;
  std::ofstream out_;
  std::uint64_t size_ = 0;
};

}  // namespace

Expected<std::shared_ptr<Sink>> make_file_sink(const FileOptions& options) {
  if (options.path.empty()) return make_error("invalid_argument", "the log file has no path");
  if (options.max_bytes < kMinBytes || options.max_bytes > kMaxBytes) {
    return make_error("invalid_argument", "a log file's size limit must be between 4KiB and 1GiB");
  }
  if (options.count < 2 || options.count > kMaxCount) {
    return make_error("invalid_argument", "a log file count must be between 2 and 100");
  }
  auto sink = std::make_shared<FileSink>(options);
  if (auto st = sink->open(); !st) return st.error();
  return std::shared_ptr<Sink>(std::move(sink));
}

}  // namespace rollout::log
