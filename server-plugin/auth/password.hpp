// Password hashing with scrypt (OpenSSL EVP_PBE_scrypt): "scrypt$<log2 N>$<r>$<p>$<salt>$<hash>"
// with base64 salt and hash, so the cost travels with each hash and can be raised later.
// Verification is constant-time and fails closed on any malformed stored hash. Thread-safe.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "common/error.hpp"

namespace rollout::auth {

Expected<std::string> hash_password(std::string_view password, std::uint32_t log2_n = 15);
bool verify_password(std::string_view password, std::string_view stored);

}  // namespace rollout::auth
