// Agent API bodies: every parser the server and the agent run on bodies from the network.
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "common/protocol.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace rollout::protocol;
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  (void)EnrollRequest::parse(text);
  (void)EnrollResponse::parse(text);
  (void)CheckinRequest::parse(text);
  (void)CheckinResponse::parse(text);
  (void)ReportAck::parse(text);
  if (auto w = parse_wait_preference(text); w && (*w < 1 || *w > kMaxWaitSeconds)) std::abort();
  if (auto r = ReportRefusal::parse(text)) {
    auto again = ReportRefusal::parse(r->to_json());
    if (!again || again->refused.size() != r->refused.size()) std::abort();
  }
  if (auto b = ReportBatch::parse(text)) {
    // What parses re-serialises to something that parses to the same batch.
    auto again = ReportBatch::parse(b->to_json());
    if (!again || again->reports.size() != b->reports.size()) std::abort();
  }
  return 0;
}
