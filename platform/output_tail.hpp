// The last lines of a child's output (its stderr), bounded both in lines and in bytes so a child
// that prints endlessly or writes one enormous line cannot grow the supervisor's memory. Used as
// crash evidence ("last lines of its stderr"). Portable; a plain value, not thread-safe.
#pragma once

#include <cstddef>
#include <deque>
#include <string>
#include <string_view>
#include <vector>

namespace rollout::platform {

class OutputTail {
 public:
  OutputTail(std::size_t max_lines, std::size_t max_bytes)
      : max_lines_(max_lines), max_bytes_(max_bytes) {}

  // Adds raw bytes as they arrive (lines may be split across calls).
  void append(std::string_view bytes);
  // Complete lines plus the unfinished last one, oldest first, without newlines. A line longer
  // than the byte bound keeps its end (the most recent bytes).
  std::vector<std::string> lines() const;
  // Lines joined with '\n'.
  std::string text() const;

 private:
  void trim();

  std::size_t max_lines_;
  std::size_t max_bytes_;
  std::deque<std::string> lines_;
  std::string partial_;
  std::size_t bytes_ = 0;  // total size of lines_
};

}  // namespace rollout::platform
