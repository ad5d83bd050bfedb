#include "agent/report_queue.hpp"

#include <algorithm>
#include <boost/json.hpp>

#include "common/crypto.hpp"
#include "common/encoding.hpp"
#include "common/log.hpp"

namespace rollout::agent {

namespace {

constexpr std::size_t kMaxReportFile = 64 * 1024;
constexpr std::string_view kSuffix = ".json";

const log::Logger& logger() {
  static const log::Logger l("reports");
  return l;
}

}  // namespace

std::string outcome_report_id(const std::string& agent_id, const std::string& version,
                              std::uint64_t sequence, const std::string& outcome) {
  std::string h = encoding::hex(crypto::sha256(agent_id + "|" + version + "|" +
                                               std::to_string(sequence) + "|" + outcome))
                      .substr(0, 32);
  h[12] = '5';  // name-based
  h[16] = "89ab"[static_cast<unsigned char>(h[16]) % 4];
  return h.substr(0, 8) + "-" + h.substr(8, 4) + "-" + h.substr(12, 4) + "-" + h.substr(16, 4) +
         "-" + h.substr(20, 12);
}

Status ReportQueue::enqueue(const protocol::Report& report) {
  if (!protocol::valid_uuid(report.id)) {
    return make_error("invalid_report", "report id '" + report.id + "' is not a UUID");
  }
  const std::string path = file_for(report.id);
  if (fs_.stat_no_follow(path)) return {};  // already queued: the same report
  if (size() >= kMaxReports) {
    return make_error("queue_full", "the report queue holds " + std::to_string(kMaxReports) +
                                        " unacknowledged reports");
  }
  return platform::atomic_write_file(fs_, path, boost::json::serialize(report.to_object()), 0600);
}

Expected<std::vector<protocol::Report>> ReportQueue::pending(std::size_t max) {
  auto names = fs_.list_dir(dir_);
  if (!names) return names.error();
  std::vector<protocol::Report> out;
  std::vector<std::pair<std::string, protocol::Report>> found;
  for (const auto& name : *names) {
    if (name.size() <= kSuffix.size() ||
        name.compare(name.size() - kSuffix.size(), kSuffix.size(), kSuffix) != 0) {
      continue;
    }
    const std::string path = dir_ + "/" + name;
    auto text = platform::read_whole_file(fs_, path, kMaxReportFile);
    Expected<protocol::Report> report = make_error("invalid_report", "unreadable");
    if (text) {
      boost::json::error_code ec;
      auto v = boost::json::parse(*text, ec);
      if (!ec && v.is_object()) report = protocol::Report::from_object(v.as_object());
    }
    if (!report || report->id + std::string(kSuffix) != name) {
      logger().warn("an unreadable queued report was set aside", {{"file", path}});
      (void)fs_.rename(path, path + ".bad");
      continue;
    }
    found.emplace_back(report->occurred_at + report->id, std::move(report).value());
  }
  std::sort(found.begin(), found.end(),
            [](const auto& a, const auto& b) { return a.first < b.first; });
  for (auto& f : found) {
    if (out.size() >= max) break;
    out.push_back(std::move(f.second));
  }
  return out;
}

Status ReportQueue::acknowledge(const std::vector<std::string>& ids) {
  for (const auto& id : ids) {
    if (!protocol::valid_uuid(id)) continue;  // never a path from the server
    if (auto st = fs_.remove(file_for(id)); !st) return st;
  }
  return fs_.fsync_dir(dir_);
}

std::size_t ReportQueue::set_aside_refused(long status, std::string_view body,
                                           const std::vector<protocol::Report>& sent) {
  if (status != 422) return 0;
  auto refusal = protocol::ReportRefusal::parse(body);
  if (!refusal) return 0;
  std::size_t moved = 0;
  for (const auto& r : refusal->refused) {
    // Only ids of the batch just sent: never a path, and never a report the server was not asked
    // about.
    const bool was_sent = std::any_of(sent.begin(), sent.end(),
                                      [&](const protocol::Report& s) { return s.id == r.id; });
    if (!was_sent) continue;
    const std::string path = file_for(r.id);
    if (auto st = fs_.rename(path, path + ".refused"); !st) {
      logger().error("could not set a refused report aside",
                     {{"file", path}, {"error", st.error().message}});
      continue;
    }
    logger().error("the server refused a report for good; it was set aside",
                   {{"id", r.id}, {"reason", r.reason}, {"message", r.message}});
    ++moved;
  }
  if (moved > 0) (void)fs_.fsync_dir(dir_);
  return moved;
}

std::size_t ReportQueue::size() {
  auto names = fs_.list_dir(dir_);
  if (!names) return 0;
  return static_cast<std::size_t>(std::count_if(names->begin(), names->end(), [](const auto& n) {
    return n.size() > kSuffix.size() &&
           n.compare(n.size() - kSuffix.size(), kSuffix.size(), kSuffix) == 0;
  }));
}

}  // namespace rollout::agent
