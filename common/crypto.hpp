// Cryptographic primitives through OpenSSL 3 EVP: Ed25519 keys (generate, PEM load/save,
// sign, verify), SHA-256 (one-shot and streaming), HMAC-SHA256, random bytes and constant-time
// comparison. Verification fails closed: any error anywhere (wrong key type, malformed key or
// signature, EVP failure) is "not verified". Keys are immutable values that share the underlying
// EVP_PKEY; they are safe to use from several threads at once. Sha256 is single-threaded.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "common/error.hpp"

using EVP_PKEY = struct evp_pkey_st;
using EVP_MD_CTX = struct evp_md_ctx_st;

namespace rollout::crypto {

constexpr std::size_t kSignatureSize = 64;
constexpr std::size_t kPublicKeySize = 32;

class PublicKey {
 public:
  // PEM "PUBLIC KEY" (SubjectPublicKeyInfo). Any key type other than Ed25519 is refused.
  static Expected<PublicKey> from_pem(std::string_view pem);
  static Expected<PublicKey> from_raw(std::string_view raw32);

  std::string raw() const;  // 32 bytes
  std::string pem() const;
  // Lower-case hex SHA-256 of the raw public key: how signatures name their key.
  const std::string& id() const { return id_; }
  EVP_PKEY* get() const { return key_.get(); }

 private:
  explicit PublicKey(std::shared_ptr<EVP_PKEY> key);
  std::shared_ptr<EVP_PKEY> key_;
  std::string id_;
};

class PrivateKey {
 public:
  static Expected<PrivateKey> generate();
  // PEM "PRIVATE KEY" (PKCS#8, unencrypted). Any key type other than Ed25519 is refused.
  static Expected<PrivateKey> from_pem(std::string_view pem);

  std::string pem() const;
  PublicKey public_key() const;
  Expected<std::string> sign(std::string_view message) const;

 private:
  explicit PrivateKey(std::shared_ptr<EVP_PKEY> key) : key_(std::move(key)) {}
  std::shared_ptr<EVP_PKEY> key_;
};

// Reads a key file (size-capped).
Expected<PrivateKey> load_private_key(const std::string& path);
Expected<PublicKey> load_public_key(const std::string& path);
// Saving a private key is platform::write_new_secret_file(path, key.pem()): owner-only from the
// first byte, never over an existing file.

// True only when `signature` is a valid Ed25519 signature of `message` by `key`.
bool verify(const PublicKey& key, std::string_view message, std::string_view signature);

class Sha256 {
 public:
  Sha256();
  ~Sha256();
  Sha256(const Sha256&) = delete;
  Sha256& operator=(const Sha256&) = delete;
  void update(std::string_view data);
  void update(const void* data, std::size_t size);
  std::string finish();  // 32 raw bytes; the object must not be used afterwards

 private:
  EVP_MD_CTX* ctx_;
};

std::string sha256(std::string_view data);      // raw
std::string sha256_hex(std::string_view data);  // lower-case hex

// HMAC-SHA256 (RFC 2104), 32 raw bytes: how webhook bodies are signed for their receivers.
std::string hmac_sha256(std::string_view key, std::string_view data);

std::string random_bytes(std::size_t n);  // aborts if the system RNG fails
bool constant_time_equal(std::string_view a, std::string_view b);

}  // namespace rollout::crypto
