#include "config/keypair.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <cstdlib>
#include <string>
#include <thread>
#include <vector>

#include "support/status_matchers.h"
#include "test_util.h"

namespace vsray::config {
namespace {

using ::testing::Not;
using ::vsray::testing::IsOk;
using ::vsray::testing::StatusIs;

using testing::FileMode;
using testing::ReadFile;
using testing::TempDir;
using testing::WriteFile;

bool StartsWith(const std::string& text, const std::string& prefix) {
  return text.rfind(prefix, 0) == 0;
}

TEST(EnsureKeyPairTest, CreatesEd25519WithPrivateKey0600) {
  TempDir home;
  const KeyPairPaths paths = DefaultKeyPairPaths(home.path());
  EXPECT_EQ(paths.private_key, home.path() + "/ray-bootstrap-key.pem");
  EXPECT_EQ(paths.public_key, home.path() + "/ray_bootstrap_public_key.key");
  auto pair = EnsureKeyPair(paths, SshKeyType::kEd25519);
  ASSERT_THAT(pair, IsOk());
  EXPECT_TRUE(pair->created);
  EXPECT_EQ(pair->type_name, "ssh-ed25519");
  EXPECT_TRUE(StartsWith(pair->public_key, "ssh-ed25519 AAAA")) << pair->public_key;
  EXPECT_EQ(FileMode(paths.private_key), 0600U);
  EXPECT_EQ(FileMode(paths.public_key), 0644U);
  EXPECT_TRUE(StartsWith(ReadFile(paths.private_key), "-----BEGIN "));
  EXPECT_EQ(ReadFile(paths.public_key), pair->public_key + "\n");
  auto derived = PublicKeyOfPrivateKeyFile(paths.private_key);
  ASSERT_THAT(derived, IsOk());
  EXPECT_EQ(*CanonicalPublicKey(*derived), *CanonicalPublicKey(pair->public_key));
  // No temporary files left behind.
  int files = 0;
  for ([[maybe_unused]] const auto& entry : std::filesystem::directory_iterator(home.path())) {
    ++files;
  }
  EXPECT_EQ(files, 2);
}

TEST(EnsureKeyPairTest, CreatesRsaOnRequest) {
  TempDir home;
  auto pair = EnsureKeyPair(DefaultKeyPairPaths(home.path()), SshKeyType::kRsa);
  ASSERT_THAT(pair, IsOk());
  EXPECT_EQ(pair->type_name, "ssh-rsa");
  EXPECT_TRUE(StartsWith(pair->public_key, "ssh-rsa AAAA"));
  EXPECT_EQ(FileMode(pair->paths.private_key), 0600U);
  // 3072-bit modulus: the base64 blob is well over 500 characters.
  EXPECT_GT(pair->public_key.size(), 500U);
}

TEST(EnsureKeyPairTest, ReusesAnExistingPair) {
  TempDir home;
  const KeyPairPaths paths = DefaultKeyPairPaths(home.path());
  auto first = EnsureKeyPair(paths, SshKeyType::kEd25519);
  ASSERT_THAT(first, IsOk());
  const std::string private_text = ReadFile(paths.private_key);
  // Asking for another type does not replace what is there.
  auto second = EnsureKeyPair(paths, SshKeyType::kRsa);
  ASSERT_THAT(second, IsOk());
  EXPECT_FALSE(second->created);
  EXPECT_EQ(second->public_key, first->public_key);
  EXPECT_EQ(second->type_name, "ssh-ed25519");
  EXPECT_EQ(ReadFile(paths.private_key), private_text);
}

TEST(EnsureKeyPairTest, CorruptPrivateKeyIsAnErrorAndKept) {
  TempDir home;
  const KeyPairPaths paths = DefaultKeyPairPaths(home.path());
  ASSERT_THAT(EnsureKeyPair(paths, SshKeyType::kEd25519), IsOk());
  const std::string corrupt =
      "-----BEGIN OPENSSH PRIVATE KEY-----\nbm90IGEga2V5\n"
      "-----END OPENSSH PRIVATE KEY-----\n";
  WriteFile(paths.private_key, corrupt);
  auto pair = EnsureKeyPair(paths, SshKeyType::kEd25519);
  ASSERT_THAT(pair, Not(IsOk()));
  EXPECT_THAT(pair, StatusIs(StatusCode::kFailedPrecondition));
  EXPECT_NE(pair.status().message().find(paths.private_key), std::string::npos);
  EXPECT_NE(pair.status().message().find("not a usable SSH private key"), std::string::npos);
  EXPECT_EQ(ReadFile(paths.private_key), corrupt);
}

TEST(EnsureKeyPairTest, CorruptPublicKeyIsAnError) {
  TempDir home;
  const KeyPairPaths paths = DefaultKeyPairPaths(home.path());
  ASSERT_THAT(EnsureKeyPair(paths, SshKeyType::kEd25519), IsOk());
  WriteFile(paths.public_key, "ssh-ed25519 !!!notbase64!!!\n");
  auto pair = EnsureKeyPair(paths, SshKeyType::kEd25519);
  ASSERT_THAT(pair, Not(IsOk()));
  EXPECT_THAT(pair, StatusIs(StatusCode::kFailedPrecondition));
  EXPECT_NE(pair.status().message().find(paths.public_key), std::string::npos);
  EXPECT_EQ(ReadFile(paths.public_key), "ssh-ed25519 !!!notbase64!!!\n");
}

TEST(EnsureKeyPairTest, MismatchedPairIsAnErrorAndKept) {
  TempDir one;
  TempDir two;
  const KeyPairPaths first = DefaultKeyPairPaths(one.path());
  const KeyPairPaths second = DefaultKeyPairPaths(two.path());
  ASSERT_THAT(EnsureKeyPair(first, SshKeyType::kEd25519), IsOk());
  ASSERT_THAT(EnsureKeyPair(second, SshKeyType::kEd25519), IsOk());
  const std::string other_public = ReadFile(second.public_key);
  WriteFile(first.public_key, other_public);
  auto pair = EnsureKeyPair(first, SshKeyType::kEd25519);
  ASSERT_THAT(pair, Not(IsOk()));
  EXPECT_THAT(pair, StatusIs(StatusCode::kFailedPrecondition));
  EXPECT_NE(pair.status().message().find("is not the public key of"), std::string::npos);
  EXPECT_EQ(ReadFile(first.public_key), other_public);
}

TEST(EnsureKeyPairTest, LonePublicKeyIsAnError) {
  TempDir home;
  const KeyPairPaths paths = DefaultKeyPairPaths(home.path());
  ASSERT_THAT(EnsureKeyPair(paths, SshKeyType::kEd25519), IsOk());
  ASSERT_EQ(std::remove(paths.private_key.c_str()), 0);
  auto pair = EnsureKeyPair(paths, SshKeyType::kEd25519);
  ASSERT_THAT(pair, Not(IsOk()));
  EXPECT_THAT(pair, StatusIs(StatusCode::kFailedPrecondition));
  EXPECT_FALSE(std::filesystem::exists(paths.private_key));
}

TEST(EnsureKeyPairTest, LonePrivateKeyGetsItsPublicKeyBack) {
  TempDir home;
  const KeyPairPaths paths = DefaultKeyPairPaths(home.path());
  auto first = EnsureKeyPair(paths, SshKeyType::kEd25519);
  ASSERT_THAT(first, IsOk());
  ASSERT_EQ(std::remove(paths.public_key.c_str()), 0);
  auto again = EnsureKeyPair(paths, SshKeyType::kEd25519);
  ASSERT_THAT(again, IsOk());
  EXPECT_FALSE(again->created);
  EXPECT_EQ(*CanonicalPublicKey(again->public_key), *CanonicalPublicKey(first->public_key));
}

TEST(EnsureKeyPairTest, TightensAReadablePrivateKey) {
  TempDir home;
  const KeyPairPaths paths = DefaultKeyPairPaths(home.path());
  ASSERT_THAT(EnsureKeyPair(paths, SshKeyType::kEd25519), IsOk());
  ASSERT_EQ(chmod(paths.private_key.c_str(), 0644), 0);
  auto pair = EnsureKeyPair(paths, SshKeyType::kEd25519);
  ASSERT_THAT(pair, IsOk());
  EXPECT_TRUE(pair->permissions_fixed);
  EXPECT_EQ(FileMode(paths.private_key), 0600U);
}

TEST(EnsureKeyPairTest, ConcurrentCallersAgreeOnOneKey) {
  TempDir home;
  const KeyPairPaths paths = DefaultKeyPairPaths(home.path());
  constexpr int kThreads = 6;
  std::vector<std::string> keys(kThreads);
  std::vector<std::thread> threads;
  for (int i = 0; i < kThreads; ++i) {
    threads.emplace_back([&, i] {
      auto pair = EnsureKeyPair(paths, SshKeyType::kEd25519);
      keys[static_cast<std::size_t>(i)] = pair.ok() ? pair->public_key : pair.status().message();
    });
  }
  for (std::thread& thread : threads) thread.join();
  for (const std::string& key : keys) EXPECT_EQ(key, keys[0]);
  EXPECT_TRUE(StartsWith(keys[0], "ssh-ed25519 "));
}

TEST(EnsureKeyPairTest, OpenSshReadsTheKeys) {
  if (!std::filesystem::exists("/usr/bin/ssh-keygen")) GTEST_SKIP() << "no ssh-keygen";
  TempDir home;
  for (const SshKeyType type : {SshKeyType::kEd25519, SshKeyType::kRsa}) {
    const KeyPairPaths paths{home.File(std::string(SshKeyTypeName(type)) + ".pem"),
                             home.File(std::string(SshKeyTypeName(type)) + ".pub")};
    auto pair = EnsureKeyPair(paths, type);
    ASSERT_THAT(pair, IsOk());
    const std::string out = home.File("derived.pub");
    const std::string command =
        "/usr/bin/ssh-keygen -y -f '" + paths.private_key + "' > '" + out + "' 2>/dev/null";
    ASSERT_EQ(std::system(command.c_str()), 0) << command;  // NOLINT(concurrency-mt-unsafe)
    EXPECT_EQ(*CanonicalPublicKey(ReadFile(out)), *CanonicalPublicKey(pair->public_key));
  }
}

TEST(CanonicalPublicKeyTest, AcceptsKeysAndDropsComments) {
  const std::string key =
      "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHK5ZGSrqfO8fzMn9Dn1tnbg0GmLRfgwWkxt9XT4eP7H";
  EXPECT_EQ(*CanonicalPublicKey(key + " someone@host\n"), key);
  EXPECT_EQ(*CanonicalPublicKey("  " + key), key);
  const std::vector<std::string> bad_lines = {
      "",
      "ssh-ed25519",
      "not a key",
      "ssh-foo AAAA",
      "ssh-ed25519 AAAA!!!!",
      key + "\n" + key,
      "ssh-rsa AAAAC3NzaC1lZDI1NTE5AAAAIHK5ZGSrqfO8fzMn9Dn1tnbg0GmLRfgwWkxt9XT4eP7H"};
  for (const std::string& bad : bad_lines) {
    EXPECT_THAT(CanonicalPublicKey(bad), Not(IsOk())) << bad;
  }
}

TEST(PublicKeyOfPrivateKeyFileTest, MissingFileIsAnError) {
  auto key = PublicKeyOfPrivateKeyFile("/nonexistent/key.pem");
  ASSERT_THAT(key, Not(IsOk()));
  EXPECT_THAT(key, StatusIs(StatusCode::kFailedPrecondition));
}

}  // namespace
}  // namespace vsray::config
