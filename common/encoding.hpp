// Hex and standard base64 (RFC 4648 §4, with padding) for signatures, hashes and signed payloads.
// Decoding is strict: any character outside the alphabet, whitespace, missing or misplaced padding,
// or non-zero trailing bits is an error, so one document has exactly one encoding. Pure functions.
#pragma once

#include <string>
#include <string_view>

#include "common/error.hpp"

namespace rollout::encoding {

std::string hex(std::string_view bytes);
Expected<std::string> unhex(std::string_view text);  // lower- or upper-case digits

std::string base64(std::string_view bytes);
Expected<std::string> unbase64(std::string_view text);

}  // namespace rollout::encoding
