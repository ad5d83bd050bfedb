#include "common/crypto.hpp"

#include <gtest/gtest.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <sys/stat.h>

#include "common/encoding.hpp"
#include "platform/secret_file.hpp"
#include "tests/testing/testing.hpp"

namespace rollout::crypto {
namespace {

// PEM of a freshly generated key of another type, for wrong-key-type tests.
std::string foreign_pem(const char* algorithm, const char* param, bool private_key) {
  EVP_PKEY* k = param ? EVP_PKEY_Q_keygen(nullptr, nullptr, algorithm, param)
                      : EVP_PKEY_Q_keygen(nullptr, nullptr, algorithm, static_cast<size_t>(2048));
  BIO* bio = BIO_new(BIO_s_mem());
  if (private_key) {
    PEM_write_bio_PrivateKey(bio, k, nullptr, nullptr, 0, nullptr, nullptr);
  } else {
    PEM_write_bio_PUBKEY(bio, k);
  }
  char* data = nullptr;
  const long n = BIO_get_mem_data(bio, &data);
  std::string out(data, static_cast<std::size_t>(n));
  BIO_free(bio);
  EVP_PKEY_free(k);
  return out;
}

TEST(Crypto, SignVerifyRoundTripAndPemRoundTrip) {
  auto key = PrivateKey::generate().value();
  auto sig = key.sign("payload").value();
  EXPECT_EQ(sig.size(), kSignatureSize);
  EXPECT_TRUE(verify(key.public_key(), "payload", sig));
  auto again = PrivateKey::from_pem(key.pem()).value();
  auto pub = PublicKey::from_pem(key.public_key().pem()).value();
  EXPECT_EQ(pub.id(), key.public_key().id());
  EXPECT_EQ(pub.id().size(), 64u);
  EXPECT_TRUE(verify(pub, "payload", again.sign("payload").value()));
}

TEST(Crypto, VerificationFailsClosed) {
  auto key = PrivateKey::generate().value();
  auto other = PrivateKey::generate().value();
  const std::string msg = "the exact bytes";
  const std::string sig = key.sign(msg).value();
  EXPECT_FALSE(verify(other.public_key(), msg, sig)) << "wrong key";
  EXPECT_FALSE(verify(key.public_key(), msg + " ", sig)) << "different message";
  EXPECT_FALSE(verify(key.public_key(), "", sig)) << "empty message";
  EXPECT_FALSE(verify(key.public_key(), msg, "")) << "empty signature";
  EXPECT_FALSE(verify(key.public_key(), msg, sig.substr(0, 63))) << "truncated";
  EXPECT_FALSE(verify(key.public_key(), msg, sig + "x")) << "too long";
  for (std::size_t i = 0; i < sig.size(); ++i) {
    for (int bit = 0; bit < 8; ++bit) {
      std::string flipped = sig;
      flipped[i] = static_cast<char>(flipped[i] ^ (1 << bit));
      ASSERT_FALSE(verify(key.public_key(), msg, flipped)) << "byte " << i << " bit " << bit;
    }
  }
}

TEST(Crypto, MalformedAndForeignKeysAreRefused) {
  EXPECT_EQ(PublicKey::from_pem("").error().code, "invalid_key");
  EXPECT_EQ(PublicKey::from_pem("-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n")
                .error()
                .code,
            "invalid_key");
  EXPECT_EQ(PrivateKey::from_pem("garbage").error().code, "invalid_key");
  auto rsa_pub = PublicKey::from_pem(foreign_pem("RSA", nullptr, false));
  ASSERT_FALSE(rsa_pub.ok());
  EXPECT_NE(rsa_pub.error().message.find("not an Ed25519"), std::string::npos);
  EXPECT_FALSE(PublicKey::from_pem(foreign_pem("EC", "P-256", false)).ok());
  EXPECT_FALSE(PrivateKey::from_pem(foreign_pem("EC", "P-256", true)).ok());
  EXPECT_FALSE(PrivateKey::from_pem(foreign_pem("RSA", nullptr, true)).ok());
  EXPECT_FALSE(PublicKey::from_raw("short").ok());
}

TEST(Crypto, PrivateKeyFileIsOwnerOnlyAndNeverOverwritten) {
  testing::TempDir dir;
  auto key = PrivateKey::generate().value();
  const auto path = (dir / "release.key").string();
  ASSERT_TRUE(platform::write_new_secret_file(path, key.pem()).ok());
  struct stat st {};
  ASSERT_EQ(::stat(path.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  auto second = platform::write_new_secret_file(path, "x");
  ASSERT_FALSE(second.ok());
  EXPECT_EQ(second.error().code, "exists");
  EXPECT_EQ(load_private_key(path).value().public_key().id(), key.public_key().id());
  EXPECT_EQ(load_private_key((dir / "missing").string()).error().code, "io_error");
}

TEST(Crypto, Sha256KnownVectorAndStreamingEqualsOneShot) {
  EXPECT_EQ(sha256_hex("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  EXPECT_EQ(sha256_hex(""), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  std::string big;
  for (int i = 0; i < 100000; ++i) big += static_cast<char>(i * 7);
  Sha256 h;
  for (std::size_t i = 0; i < big.size(); i += 997) h.update(std::string_view(big).substr(i, 997));
  EXPECT_EQ(encoding::hex(h.finish()), sha256_hex(big));
}

TEST(Crypto, RandomAndConstantTimeCompare) {
  EXPECT_EQ(random_bytes(32).size(), 32u);
  EXPECT_NE(random_bytes(32), random_bytes(32));
  EXPECT_TRUE(constant_time_equal("abc", "abc"));
  EXPECT_FALSE(constant_time_equal("abc", "abd"));
  EXPECT_FALSE(constant_time_equal("abc", "abcd"));
}

TEST(Crypto, HmacSha256MatchesRfc4231) {
  EXPECT_EQ(encoding::hex(hmac_sha256(std::string(20, '\x0b'), "Hi There")),
            "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7");
  EXPECT_EQ(encoding::hex(hmac_sha256("Jefe", "what do ya want for nothing?")),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
  EXPECT_EQ(hmac_sha256("", "").size(), 32u);
}

}  // namespace
}  // namespace rollout::crypto
