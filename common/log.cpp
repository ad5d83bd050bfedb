#include "common/log.hpp"

#include <atomic>
#include <boost/json.hpp>
#include <chrono>
#include <cstdio>
#include <mutex>

namespace rollout::log {
namespace {

std::mutex g_mutex;  // guards g_sink and serialises writes so lines never interleave
std::shared_ptr<Sink> g_sink;
std::atomic<int> g_level{static_cast<int>(Level::info)};

// Calendar arithmetic from <chrono> rather than gmtime_r, which is POSIX (mingw has none).
std::string iso8601(std::chrono::system_clock::time_point t) {
  const auto ms = std::chrono::floor<std::chrono::milliseconds>(t);
  const auto day = std::chrono::floor<std::chrono::days>(ms);
  const std::chrono::year_month_day ymd(day);
  const std::chrono::hh_mm_ss hms(ms - day);
  char buf[96];
  std::snprintf(buf, sizeof buf, "%04d-%02u-%02uT%02d:%02d:%02d.%03dZ",
                static_cast<int>(ymd.year()), static_cast<unsigned>(ymd.month()),
                static_cast<unsigned>(ymd.day()), static_cast<int>(hms.hours().count()),
                static_cast<int>(hms.minutes().count()), static_cast<int>(hms.seconds().count()),
                static_cast<int>(hms.subseconds().count()));
  return buf;
}

int syslog_priority(Level level) {
  switch (level) {
    case Level::debug:
      return 7;
    case Level::info:
      return 6;
    case Level::warn:
      return 4;
    case Level::error:
      return 3;
  }
  return 6;
}

// Values with spaces, quotes or '=' are quoted so "key=value" stays machine-splittable.
std::string logfmt_value(const std::string& v) {
  if (!v.empty() && v.find_first_of(" \"=\n\t") == std::string::npos) return v;
  std::string out = "\"";
  for (char c : v) {
    if (c == '"' || c == '\\') {
      out += '\\';
      out += c;
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out += c;
    }
  }
  return out + "\"";
}

class StreamSink final : public Sink {
 public:
  StreamSink(std::FILE* stream, Format format) : stream_(stream), format_(format) {}
  void write(const Record& record) override {
    std::string line = format_record(record, format_);
    line += '\n';
    std::fwrite(line.data(), 1, line.size(), stream_);
    std::fflush(stream_);
  }

 private:
  std::FILE* stream_;
  Format format_;
};

class TeeSink final : public Sink {
 public:
  explicit TeeSink(std::vector<std::shared_ptr<Sink>> sinks) : sinks_(std::move(sinks)) {}
  void write(const Record& record) override {
    for (auto& s : sinks_) s->write(record);
  }

 private:
  std::vector<std::shared_ptr<Sink>> sinks_;
};

}  // namespace

std::string_view to_string(Level level) {
  switch (level) {
    case Level::debug:
      return "debug";
    case Level::info:
      return "info";
    case Level::warn:
      return "warn";
    case Level::error:
      return "error";
  }
  return "info";
}

Expected<Level> parse_level(std::string_view text) {
  if (text == "debug") return Level::debug;
  if (text == "info") return Level::info;
  if (text == "warn" || text == "warning") return Level::warn;
  if (text == "error") return Level::error;
  return make_error("invalid_argument", "log level must be one of debug, info, warn, error (got '" +
                                            std::string(text.substr(0, 40)) + "')");
}

Expected<Format> parse_format(std::string_view text) {
  if (text == "json") return Format::json;
  if (text == "journal") return Format::journal;
  if (text == "text") return Format::text;
  return make_error("invalid_argument", "log format must be 'json', 'journal' or 'text' (got '" +
                                            std::string(text.substr(0, 40)) + "')");
}

std::string format_record(const Record& record, Format format) {
  if (format == Format::json) {
    boost::json::object o;
    o["ts"] = iso8601(record.time);
    o["level"] = to_string(record.level);
    o["component"] = record.component;
    o["msg"] = record.message;
    for (const auto& [k, v] : record.fields) o[k] = v;
    return boost::json::serialize(o);
  }
  std::string line = format == Format::text
                         ? iso8601(record.time) + " " + std::string(to_string(record.level)) + " "
                         : "<" + std::to_string(syslog_priority(record.level)) + ">";
  line += record.component;
  line += ": ";
  line += record.message;
  for (const auto& [k, v] : record.fields) {
    line += ' ';
    line += k;
    line += '=';
    line += logfmt_value(v);
  }
  return line;
}

std::shared_ptr<Sink> make_stream_sink(std::FILE* stream, Format format) {
  return std::make_shared<StreamSink>(stream, format);
}

std::shared_ptr<Sink> make_tee_sink(std::vector<std::shared_ptr<Sink>> sinks) {
  return std::make_shared<TeeSink>(std::move(sinks));
}

void set_sink(std::shared_ptr<Sink> sink) {
  std::lock_guard lock(g_mutex);
  g_sink = std::move(sink);
}

void set_level(Level level) {
  g_level.store(static_cast<int>(level));
}
Level level() {
  return static_cast<Level>(g_level.load());
}

void Logger::emit(Level lvl, std::string_view msg, const Fields& fields) const {
  if (static_cast<int>(lvl) < g_level.load()) return;
  const Record record{std::chrono::system_clock::now(), lvl, component_, msg, fields};
  std::lock_guard lock(g_mutex);
  if (!g_sink) g_sink = make_stream_sink(stderr, Format::journal);
  g_sink->write(record);
}

}  // namespace rollout::log
