// Which URLs and addresses a webhook may deliver to.
#include <boost/asio/ip/address.hpp>
#include <boost/url/parse.hpp>
#include <boost/url/url_view.hpp>

#include "server-plugin/webhooks.hpp"

namespace rollout::server::webhooks {
namespace {

Error bad_url(const std::string& why) {
  return Error{"invalid_webhook_url", "webhook url: " + why};
}

Error forbidden(const std::string& why) {
  return Error{"forbidden_webhook_target", "webhook target refused: " + why};
}

bool link_local_v4(const boost::asio::ip::address_v4& a) {
  const auto b = a.to_bytes();
  return b[0] == 169 && b[1] == 254;
}

}  // namespace

Expected<Target> parse_target(std::string_view url, const TargetPolicy& policy) {
  if (url.size() > 2048) return bad_url("longer than 2048 bytes");
  auto parsed = boost::urls::parse_absolute_uri(url);
  if (!parsed) return bad_url("not an absolute URL");
  const boost::urls::url_view& u = *parsed;
  Target t;
  t.scheme = std::string(u.scheme());
  if (t.scheme != "https" && !(t.scheme == "http" && policy.allow_http)) {
    return bad_url(t.scheme == "http" ? "plain http is not allowed (use https)"
                                      : "scheme must be https");
  }
  if (u.has_userinfo()) return bad_url("user info in the URL is not allowed (use the secret)");
  if (u.has_fragment()) return bad_url("a fragment is not allowed");
  t.host = std::string(u.encoded_host_address());
  if (u.host_type() == boost::urls::host_type::ipv6) {
    // encoded_host_address has no brackets for IPv6, which is what resolvers want
    t.host = std::string(u.host_address());
  }
  if (t.host.empty()) return bad_url("no host");
  if (u.has_port()) {
    const auto p = u.port();
    if (p.empty() || p.size() > 5 || p.find_first_not_of("0123456789") != std::string::npos ||
        std::stoul(std::string(p)) == 0 || std::stoul(std::string(p)) > 65535) {
      return bad_url("port must be 1-65535");
    }
    t.port = static_cast<std::uint16_t>(std::stoul(std::string(p)));
  } else {
    t.port = t.scheme == "https" ? 443 : 80;
  }
  t.target = std::string(u.encoded_path());
  if (t.target.empty()) t.target = "/";
  if (u.has_query()) t.target += "?" + std::string(u.encoded_query());
  // A literal address is checked now as well as at delivery.
  boost::system::error_code ec;
  (void)boost::asio::ip::make_address(t.host, ec);
  if (!ec) {
    if (auto st = check_address(t.host, t.port, policy); !st) return st.error();
  }
  return t;
}

Status check_address(std::string_view address, std::uint16_t port, const TargetPolicy& policy) {
  boost::system::error_code ec;
  auto a = boost::asio::ip::make_address(std::string(address), ec);
  if (ec) return forbidden("'" + std::string(address.substr(0, 64)) + "' is not an address");
  if (a.is_v6() && a.to_v6().is_v4_mapped()) {
    a = boost::asio::ip::make_address_v4(boost::asio::ip::v4_mapped, a.to_v6());
  }
  if (a.is_unspecified()) return forbidden("the unspecified address");
  if (a.is_multicast()) return forbidden("a multicast address");
  if ((a.is_v4() && link_local_v4(a.to_v4())) || (a.is_v6() && a.to_v6().is_link_local())) {
    return forbidden("a link-local address (cloud metadata lives there)");
  }
  if (a.is_loopback()) {
    using L = TargetPolicy::Loopback;
    if (policy.loopback == L::refuse) return forbidden("a loopback address");
    if (policy.loopback == L::refuse_own_port && port == policy.own_port) {
      return forbidden("this server's own port on loopback (its admin API)");
    }
  }
  return {};
}

}  // namespace rollout::server::webhooks
