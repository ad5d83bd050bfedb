#include <openssl/bio.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/pem.h>
#include <openssl/rand.h>

#include <cstdlib>

#include "common/crypto.hpp"
#include "common/encoding.hpp"
#include "common/files.hpp"

namespace rollout::crypto {
namespace {

constexpr std::size_t kMaxKeyFile = 16 * 1024;

std::shared_ptr<EVP_PKEY> own(EVP_PKEY* k) {
  return {k, &EVP_PKEY_free};
}

std::string openssl_error() {
  const unsigned long e = ERR_get_error();
  ERR_clear_error();
  if (e == 0) return "unknown OpenSSL error";
  char buf[256];
  ERR_error_string_n(e, buf, sizeof buf);
  return buf;
}

bool is_ed25519(EVP_PKEY* k) {
  return k != nullptr && EVP_PKEY_get_id(k) == EVP_PKEY_ED25519;
}

std::string bio_to_string(BIO* bio) {
  char* data = nullptr;
  const long n = BIO_get_mem_data(bio, &data);
  return n > 0 ? std::string(data, static_cast<std::size_t>(n)) : std::string();
}

}  // namespace

PublicKey::PublicKey(std::shared_ptr<EVP_PKEY> key) : key_(std::move(key)) {
  id_ = sha256_hex(raw());
}

Expected<PublicKey> PublicKey::from_pem(std::string_view pem) {
  if (pem.size() > kMaxKeyFile) return make_error("invalid_key", "public key PEM is too large");
  std::unique_ptr<BIO, decltype(&BIO_free)> bio(
      BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())), &BIO_free);
  if (!bio) return make_error("internal", "BIO_new_mem_buf failed");
  EVP_PKEY* k = PEM_read_bio_PUBKEY(bio.get(), nullptr, nullptr, nullptr);
  if (k == nullptr) {
    return make_error("invalid_key", "not a PEM public key: " + openssl_error());
  }
  auto key = own(k);
  if (!is_ed25519(k)) return make_error("invalid_key", "public key is not an Ed25519 key");
  return PublicKey(std::move(key));
}

Expected<PublicKey> PublicKey::from_raw(std::string_view raw32) {
  if (raw32.size() != kPublicKeySize)
    return make_error("invalid_key", "raw Ed25519 key must be 32 bytes");
  EVP_PKEY* k = EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, nullptr,
                                            reinterpret_cast<const unsigned char*>(raw32.data()),
                                            raw32.size());
  if (k == nullptr) return make_error("invalid_key", "bad raw Ed25519 key: " + openssl_error());
  return PublicKey(own(k));
}

std::string PublicKey::raw() const {
  std::string out(kPublicKeySize, '\0');
  std::size_t len = out.size();
  if (EVP_PKEY_get_raw_public_key(key_.get(), reinterpret_cast<unsigned char*>(out.data()), &len) !=
          1 ||
      len != kPublicKeySize) {
    return {};
  }
  return out;
}

std::string PublicKey::pem() const {
  std::unique_ptr<BIO, decltype(&BIO_free)> bio(BIO_new(BIO_s_mem()), &BIO_free);
  if (!bio || PEM_write_bio_PUBKEY(bio.get(), key_.get()) != 1) return {};
  return bio_to_string(bio.get());
}

Expected<PrivateKey> PrivateKey::generate() {
  EVP_PKEY* k = EVP_PKEY_Q_keygen(nullptr, nullptr, "ED25519");
  if (k == nullptr)
    return make_error("internal", "Ed25519 key generation failed: " + openssl_error());
  return PrivateKey(own(k));
}

Expected<PrivateKey> PrivateKey::from_pem(std::string_view pem) {
  if (pem.size() > kMaxKeyFile) return make_error("invalid_key", "private key PEM is too large");
  std::unique_ptr<BIO, decltype(&BIO_free)> bio(
      BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())), &BIO_free);
  if (!bio) return make_error("internal", "BIO_new_mem_buf failed");
  // An empty passphrase callback: an encrypted key fails instead of prompting on a terminal.
  EVP_PKEY* k = PEM_read_bio_PrivateKey(
      bio.get(), nullptr, [](char*, int, int, void*) { return 0; }, nullptr);
  if (k == nullptr) return make_error("invalid_key", "not a PEM private key: " + openssl_error());
  auto key = own(k);
  if (!is_ed25519(k)) return make_error("invalid_key", "private key is not an Ed25519 key");
  return PrivateKey(std::move(key));
}

std::string PrivateKey::pem() const {
  std::unique_ptr<BIO, decltype(&BIO_free)> bio(BIO_new(BIO_s_mem()), &BIO_free);
  if (!bio ||
      PEM_write_bio_PrivateKey(bio.get(), key_.get(), nullptr, nullptr, 0, nullptr, nullptr) != 1) {
    return {};
  }
  return bio_to_string(bio.get());
}

PublicKey PrivateKey::public_key() const {
  unsigned char raw[kPublicKeySize];
  std::size_t len = sizeof raw;
  EVP_PKEY_get_raw_public_key(key_.get(), raw, &len);
  auto pub = PublicKey::from_raw(std::string_view(reinterpret_cast<char*>(raw), len));
  if (!pub) std::abort();  // a valid private key always has a public half
  return pub.value();
}

Expected<std::string> PrivateKey::sign(std::string_view message) const {
  std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> ctx(EVP_MD_CTX_new(), &EVP_MD_CTX_free);
  if (!ctx || EVP_DigestSignInit(ctx.get(), nullptr, nullptr, nullptr, key_.get()) != 1) {
    return make_error("internal", "EVP_DigestSignInit failed: " + openssl_error());
  }
  std::string sig(kSignatureSize, '\0');
  std::size_t len = sig.size();
  if (EVP_DigestSign(ctx.get(), reinterpret_cast<unsigned char*>(sig.data()), &len,
                     reinterpret_cast<const unsigned char*>(message.data()), message.size()) != 1 ||
      len != kSignatureSize) {
    return make_error("internal", "EVP_DigestSign failed: " + openssl_error());
  }
  return sig;
}

Expected<PrivateKey> load_private_key(const std::string& path) {
  auto data = read_file_capped(path, kMaxKeyFile);
  if (!data)
    return make_error(data.error().code == "too_large" ? "invalid_key" : "io_error",
                      "key file " + data.error().message);
  auto key = PrivateKey::from_pem(*data);
  if (!key) return key.error().context(path);
  return key;
}

Expected<PublicKey> load_public_key(const std::string& path) {
  auto data = read_file_capped(path, kMaxKeyFile);
  if (!data)
    return make_error(data.error().code == "too_large" ? "invalid_key" : "io_error",
                      "key file " + data.error().message);
  auto key = PublicKey::from_pem(*data);
  if (!key) return key.error().context(path);
  return key;
}

bool verify(const PublicKey& key, std::string_view message, std::string_view signature) {
  if (signature.size() != kSignatureSize || !is_ed25519(key.get())) return false;
  std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> ctx(EVP_MD_CTX_new(), &EVP_MD_CTX_free);
  if (!ctx || EVP_DigestVerifyInit(ctx.get(), nullptr, nullptr, nullptr, key.get()) != 1) {
    ERR_clear_error();
    return false;
  }
  const int rc = EVP_DigestVerify(
      ctx.get(), reinterpret_cast<const unsigned char*>(signature.data()), signature.size(),
      reinterpret_cast<const unsigned char*>(message.data()), message.size());
  ERR_clear_error();
  return rc == 1;  // 0 is "bad signature", negative is an error: both fail closed
}

Sha256::Sha256() : ctx_(EVP_MD_CTX_new()) {
  if (ctx_ == nullptr || EVP_DigestInit_ex(ctx_, EVP_sha256(), nullptr) != 1) std::abort();
}
Sha256::~Sha256() {
  EVP_MD_CTX_free(ctx_);
}
void Sha256::update(std::string_view data) {
  update(data.data(), data.size());
}
void Sha256::update(const void* data, std::size_t size) {
  if (EVP_DigestUpdate(ctx_, data, size) != 1) std::abort();
}
std::string Sha256::finish() {
  std::string out(32, '\0');
  unsigned int len = 0;
  if (EVP_DigestFinal_ex(ctx_, reinterpret_cast<unsigned char*>(out.data()), &len) != 1 ||
      len != 32) {
    std::abort();
  }
  return out;
}

std::string sha256(std::string_view data) {
  Sha256 h;
  h.update(data);
  return h.finish();
}

std::string sha256_hex(std::string_view data) {
  return encoding::hex(sha256(data));
}

std::string hmac_sha256(std::string_view key, std::string_view data) {
  unsigned char out[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  // An empty key is valid HMAC; OpenSSL wants a non-null pointer for it.
  static const unsigned char kEmpty = 0;
  const void* k = key.empty() ? static_cast<const void*>(&kEmpty) : key.data();
  if (HMAC(EVP_sha256(), k, static_cast<int>(key.size()),
           reinterpret_cast<const unsigned char*>(data.data()), data.size(), out,
           &len) == nullptr) {
    std::abort();  // SHA-256 HMAC cannot fail short of a broken library
  }
  return std::string(reinterpret_cast<const char*>(out), len);
}

std::string random_bytes(std::size_t n) {
  std::string out(n, '\0');
  if (n > 0 && RAND_bytes(reinterpret_cast<unsigned char*>(out.data()), static_cast<int>(n)) != 1) {
    std::abort();  // no entropy: nothing secure can be done
  }
  return out;
}

bool constant_time_equal(std::string_view a, std::string_view b) {
  return a.size() == b.size() && CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

}  // namespace rollout::crypto
