#include "platform/output_tail.hpp"

namespace rollout::platform {

void OutputTail::append(std::string_view bytes) {
  while (!bytes.empty()) {
    const auto nl = bytes.find('\n');
    if (nl == std::string_view::npos) {
      partial_.append(bytes);
      break;
    }
    partial_.append(bytes.substr(0, nl));
    if (!partial_.empty() && partial_.back() == '\r') partial_.pop_back();
    bytes_ += partial_.size();
    lines_.push_back(std::move(partial_));
    partial_.clear();
    bytes.remove_prefix(nl + 1);
    trim();
  }
  if (partial_.size() > max_bytes_) partial_.erase(0, partial_.size() - max_bytes_);
  trim();
}

void OutputTail::trim() {
  if (!lines_.empty() && lines_.back().size() > max_bytes_) {
    bytes_ -= lines_.back().size() - max_bytes_;
    lines_.back().erase(0, lines_.back().size() - max_bytes_);
  }
  const std::size_t extra_line = partial_.empty() ? 0 : 1;
  while (!lines_.empty() &&
         (lines_.size() + extra_line > max_lines_ || bytes_ + partial_.size() > max_bytes_)) {
    bytes_ -= lines_.front().size();
    lines_.pop_front();
  }
}

std::vector<std::string> OutputTail::lines() const {
  std::vector<std::string> out(lines_.begin(), lines_.end());
  if (!partial_.empty()) out.push_back(partial_);
  return out;
}

std::string OutputTail::text() const {
  std::string out;
  for (const auto& line : lines()) {
    if (!out.empty()) out += '\n';
    out += line;
  }
  return out;
}

}  // namespace rollout::platform
