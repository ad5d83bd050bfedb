// Logging facade. Code logs through a Logger ("component" name) with a level, a message and
// structured fields; where the lines go is decided once by the program (set_sink). Formats:
// JSON lines (one object per line: ts, level, component, msg, fields...), "journal"
// (syslog priority prefix "<6>" that journald understands, then msg and key=value fields) and
// "text" for a file a person reads (common/log_file.hpp): the UTC time and the level in place of
// the priority prefix, "2026-12-02T10:41:00.123Z info controller: msg key=value".
// All functions are thread-safe; the active sink is swapped atomically under a mutex.
#pragma once

#include <chrono>
#include <cstdio>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/error.hpp"

namespace rollout::log {

enum class Level { debug = 0, info = 1, warn = 2, error = 3 };

using Field = std::pair<std::string, std::string>;
using Fields = std::vector<Field>;

struct Record {
  std::chrono::system_clock::time_point time;
  Level level;
  std::string_view component;
  std::string_view message;
  const Fields& fields;
};

class Sink {
 public:
  virtual ~Sink() = default;
  virtual void write(const Record& record) = 0;
};

enum class Format { json, journal, text };

std::string_view to_string(Level level);
Expected<Level> parse_level(std::string_view text);
Expected<Format> parse_format(std::string_view text);

// Renders a record as one line without the trailing newline.
std::string format_record(const Record& record, Format format);

// A sink writing formatted lines to a stdio stream (not owned).
std::shared_ptr<Sink> make_stream_sink(std::FILE* stream, Format format);

// Fans one record out to several sinks (e.g. stderr and the server's logs table).
std::shared_ptr<Sink> make_tee_sink(std::vector<std::shared_ptr<Sink>> sinks);

void set_sink(std::shared_ptr<Sink> sink);
void set_level(Level level);
Level level();

class Logger {
 public:
  explicit Logger(std::string component) : component_(std::move(component)) {}

  void debug(std::string_view msg, const Fields& fields = {}) const {
    emit(Level::debug, msg, fields);
  }
  void info(std::string_view msg, const Fields& fields = {}) const {
    emit(Level::info, msg, fields);
  }
  void warn(std::string_view msg, const Fields& fields = {}) const {
    emit(Level::warn, msg, fields);
  }
  void error(std::string_view msg, const Fields& fields = {}) const {
    emit(Level::error, msg, fields);
  }
  void emit(Level level, std::string_view msg, const Fields& fields) const;

 private:
  std::string component_;
};

}  // namespace rollout::log
