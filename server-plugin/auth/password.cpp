#include "server-plugin/auth/password.hpp"

#include <openssl/evp.h>

#include <vector>

#include "common/crypto.hpp"
#include "common/encoding.hpp"

namespace rollout::auth {
namespace {

constexpr std::size_t kHashLen = 32;
constexpr std::uint64_t kR = 8, kP = 1;

bool scrypt(std::string_view password, std::string_view salt, std::uint32_t log2_n, std::uint64_t r,
            std::uint64_t p, std::string& out) {
  if (log2_n < 10 || log2_n > 20 || r == 0 || r > 16 || p == 0 || p > 4) return false;
  out.assign(kHashLen, '\0');
  const std::uint64_t n = 1ull << log2_n;
  const std::uint64_t maxmem = 128 * n * r * 2 + (1u << 20);
  return EVP_PBE_scrypt(password.data(), password.size(),
                        reinterpret_cast<const unsigned char*>(salt.data()), salt.size(), n, r, p,
                        maxmem, reinterpret_cast<unsigned char*>(out.data()), out.size()) == 1;
}

std::vector<std::string_view> split(std::string_view s, char sep) {
  std::vector<std::string_view> parts;
  std::size_t pos = 0;
  while (parts.size() < 8) {
    const auto next = s.find(sep, pos);
    parts.push_back(
        s.substr(pos, next == std::string_view::npos ? std::string_view::npos : next - pos));
    if (next == std::string_view::npos) break;
    pos = next + 1;
  }
  return parts;
}

bool small_number(std::string_view s, std::uint64_t& out) {
  if (s.empty() || s.size() > 2 || s.find_first_not_of("0123456789") != std::string_view::npos)
    return false;
  out = std::stoull(std::string(s));
  return true;
}

}  // namespace

Expected<std::string> hash_password(std::string_view password, std::uint32_t log2_n) {
  if (password.size() > 1024) return make_error("invalid_argument", "password is too long");
  const std::string salt = crypto::random_bytes(16);
  std::string hash;
  if (!scrypt(password, salt, log2_n, kR, kP, hash)) return make_error("internal", "scrypt failed");
  return "scrypt$" + std::to_string(log2_n) + "$" + std::to_string(kR) + "$" + std::to_string(kP) +
         "$" + encoding::base64(salt) + "$" + encoding::base64(hash);
}

bool verify_password(std::string_view password, std::string_view stored) {
  if (password.size() > 1024) return false;
  const auto parts = split(stored, '$');
  std::uint64_t log2_n = 0, r = 0, p = 0;
  if (parts.size() != 6 || parts[0] != "scrypt" || !small_number(parts[1], log2_n) ||
      !small_number(parts[2], r) || !small_number(parts[3], p)) {
    return false;
  }
  auto salt = encoding::unbase64(parts[4]);
  auto expected = encoding::unbase64(parts[5]);
  if (!salt || !expected || expected->size() != kHashLen) return false;
  std::string got;
  if (!scrypt(password, *salt, static_cast<std::uint32_t>(log2_n), r, p, got)) return false;
  return crypto::constant_time_equal(got, *expected);
}

}  // namespace rollout::auth
