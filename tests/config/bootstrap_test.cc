#include "config/bootstrap.h"

#include <gtest/gtest.h>

#include <string>

#include "config/yaml_tree.h"
#include "support/status_matchers.h"
#include "test_util.h"

namespace vsray::config {
namespace {

using ::testing::Not;
using ::vsray::testing::IsOk;
using ::vsray::testing::StatusIs;

using nlohmann::json;
using testing::CredentialEnv;
using testing::FakeEnv;
using testing::FileMode;
using testing::ReadFile;
using testing::TempDir;
using testing::TestData;

BootstrapOptions OptionsFor(const TempDir& home,
                            std::map<std::string, std::string> env = CredentialEnv()) {
  env["HOME"] = home.path();
  BootstrapOptions options;
  options.load.env = FakeEnv(std::move(env));
  return options;
}

TEST(BootstrapTest, CreatesTheKeyPairAndCompletesTheConfig) {
  TempDir home;
  auto config = BootstrapConfigFile(TestData("minimal.yaml"), OptionsFor(home));
  ASSERT_THAT(config, IsOk());
  const std::string private_key = home.path() + "/ray-bootstrap-key.pem";
  const std::string public_key = home.path() + "/ray_bootstrap_public_key.key";
  EXPECT_EQ(FileMode(private_key), 0600U);
  EXPECT_EQ(config->auth.ssh_private_key, private_key);
  EXPECT_EQ(config->file_mounts.at("~/ray_bootstrap_public_key.key"), public_key);
  const std::string public_line = ReadFile(public_key).substr(0, ReadFile(public_key).size() - 1);
  ASSERT_EQ(config->vsphere.cloud_init.ssh_authorized_keys.size(), 1U);
  EXPECT_EQ(config->vsphere.cloud_init.ssh_authorized_keys[0], public_line);
  EXPECT_EQ(public_line.rfind("ssh-ed25519 ", 0), 0U);

  const json& tree = config->tree;
  EXPECT_EQ(tree["auth"]["ssh_private_key"], private_key);
  EXPECT_EQ(tree["file_mounts"]["~/ray_bootstrap_public_key.key"], public_key);
  const json& vsphere = tree["provider"]["vsphere_config"];
  EXPECT_EQ(vsphere["cloud_init"]["ssh_user"], "ray");
  EXPECT_EQ(vsphere["cloud_init"]["ssh_authorized_keys"], json::array({public_line}));
  // The head's autoscaler has no VSPHERE_* environment: the credentials travel in the config.
  EXPECT_EQ(vsphere["credentials"]["server"], "vc.env.example.com");
  EXPECT_EQ(vsphere["credentials"]["password"], "env-Pa55word-xyz");
  EXPECT_EQ(config->ToJson()["provider"]["vsphere_config"]["credentials"]["password"],
            "<redacted>");

  // What the head node's provider gets is enough to write node userdata.
  auto provider = ParseProviderConfig(tree["provider"], "mini", testing::TestLoadOptions({}));
  ASSERT_THAT(provider, IsOk());
  EXPECT_EQ(provider->cloud_init.ssh_authorized_keys, json::array({public_line}));
  EXPECT_EQ(provider->credentials.password, "env-Pa55word-xyz");
}

TEST(BootstrapTest, BootstrappingItsOutputAgainChangesNothing) {
  TempDir home;
  const BootstrapOptions options = OptionsFor(home);
  auto first = BootstrapConfigText(ReadFile(TestData("full.yaml")), options);
  ASSERT_THAT(first, IsOk());
  const std::string private_text = ReadFile(home.path() + "/ray-bootstrap-key.pem");
  auto second = BootstrapConfigJson(*first, options);
  ASSERT_THAT(second, IsOk());
  EXPECT_EQ(*second, *first);
  auto third = BootstrapConfigText(ToYaml(*first), options);
  ASSERT_THAT(third, IsOk());
  EXPECT_EQ(*third, *first);
  EXPECT_EQ(ReadFile(home.path() + "/ray-bootstrap-key.pem"), private_text);
  // full.yaml asks for RSA and already lists one key: the bootstrap key is added once.
  const json& keys = (*first)["provider"]["vsphere_config"]["cloud_init"]["ssh_authorized_keys"];
  ASSERT_EQ(keys.size(), 2U);
  EXPECT_EQ(keys[1].get<std::string>().rfind("ssh-rsa ", 0), 0U);
}

TEST(BootstrapTest, TakesTheDictAndTheJsonDumpOfThePythonAdapter) {
  TempDir home;
  const json config = json::parse(ReadFile(TestData("cluster.json")));
  auto from_dict = BootstrapConfigJson(config, OptionsFor(home, {}));
  ASSERT_THAT(from_dict, IsOk());
  auto from_dump = BootstrapConfigText(config.dump(), OptionsFor(home, {}));
  ASSERT_THAT(from_dump, IsOk());
  EXPECT_EQ(*from_dict, *from_dump);
  EXPECT_EQ((*from_dict)["setup_commands"], json::array({"echo json"}));
  EXPECT_EQ((*from_dict)["auth"]["ssh_private_key"], home.path() + "/ray-bootstrap-key.pem");

  json bad = config;
  bad["provider"]["vsphere_config"]["frozen_vm"] = {{"library_item", "ovf"}};
  auto error = BootstrapConfigJson(bad, OptionsFor(home, {}));
  ASSERT_THAT(error, Not(IsOk()));
  EXPECT_THAT(error, StatusIs(StatusCode::kInvalidArgument));
  EXPECT_EQ(error.status().message().rfind(
                "cluster_config:1: provider.vsphere_config.frozen_vm: 'datastore' is required "
                "when 'library_item' is given",
                0),
            0U)
      << error.status().message();
}

TEST(BootstrapTest, RaysDefaultKeyPathIsVsraysKeyPair) {
  // Ray's examples set ssh_private_key: ~/ray-bootstrap-key.pem; the pair is made there.
  TempDir home;
  std::string text = ReadFile(TestData("ray-vsphere-example.yaml"));
  text.replace(text.find("#    ssh_private_key: /path/to/your/key.pem"),
               std::string("#    ssh_private_key: /path/to/your/key.pem").size(),
               "    ssh_private_key: ~/ray-bootstrap-key.pem");
  auto config = BootstrapConfigText(text, OptionsFor(home));
  ASSERT_THAT(config, IsOk());
  EXPECT_EQ((*config)["auth"]["ssh_private_key"], home.path() + "/ray-bootstrap-key.pem");
  EXPECT_EQ(FileMode(home.path() + "/ray-bootstrap-key.pem"), 0600U);
  EXPECT_EQ((*config)["docker"]["container_name"], "ray_container");
}

TEST(BootstrapTest, UsesTheUsersOwnKey) {
  TempDir home;
  TempDir keys;
  const KeyPairPaths own{keys.File("id_ed25519"), keys.File("id_ed25519.pub")};
  auto pair = EnsureKeyPair(own, SshKeyType::kEd25519);
  ASSERT_THAT(pair, IsOk());
  std::string text = ReadFile(TestData("external.yaml"));
  text.replace(text.find("  ssh_user: ubuntu"), std::string("  ssh_user: ubuntu").size(),
               "  ssh_user: ubuntu\n  ssh_private_key: " + own.private_key);
  auto config = BootstrapConfigText(text, OptionsFor(home));
  ASSERT_THAT(config, IsOk());
  EXPECT_FALSE(std::filesystem::exists(home.path() + "/ray-bootstrap-key.pem"));
  EXPECT_EQ((*config)["auth"]["ssh_private_key"], own.private_key);
  EXPECT_EQ((*config)["file_mounts"]["~/ray_bootstrap_public_key.key"], own.public_key);
  const json& authorized =
      (*config)["provider"]["vsphere_config"]["cloud_init"]["ssh_authorized_keys"];
  ASSERT_EQ(authorized.size(), 1U);
  EXPECT_EQ(*CanonicalPublicKey(authorized[0].get<std::string>()),
            *CanonicalPublicKey(pair->public_key));

  // A .pub next to it that is not its public key is refused.
  TempDir other;
  auto stranger = EnsureKeyPair(DefaultKeyPairPaths(other.path()), SshKeyType::kEd25519);
  ASSERT_THAT(stranger, IsOk());
  testing::WriteFile(own.public_key, stranger->public_key + "\n");
  auto mismatched = BootstrapConfigText(text, OptionsFor(home));
  ASSERT_THAT(mismatched, Not(IsOk()));
  EXPECT_THAT(mismatched, StatusIs(StatusCode::kFailedPrecondition));
  EXPECT_NE(mismatched.status().message().find("is not the public key of"), std::string::npos);
}

TEST(BootstrapTest, CorruptDefaultKeyIsAnErrorNotReplaced) {
  TempDir home;
  testing::WriteFile(home.path() + "/ray-bootstrap-key.pem", "garbage\n");
  testing::WriteFile(home.path() + "/ray_bootstrap_public_key.key", "garbage\n");
  auto config = BootstrapConfigFile(TestData("minimal.yaml"), OptionsFor(home));
  ASSERT_THAT(config, Not(IsOk()));
  EXPECT_THAT(config, StatusIs(StatusCode::kFailedPrecondition));
  EXPECT_EQ(ReadFile(home.path() + "/ray-bootstrap-key.pem"), "garbage\n");
}

TEST(BootstrapTest, NeedsAHomeForTheDefaultKey) {
  BootstrapOptions options;
  options.load.env = FakeEnv(CredentialEnv());  // no HOME
  auto config = BootstrapConfigFile(TestData("minimal.yaml"), options);
  ASSERT_THAT(config, Not(IsOk()));
  EXPECT_THAT(config, StatusIs(StatusCode::kFailedPrecondition));
  EXPECT_NE(config.status().message().find("HOME"), std::string::npos);
}

}  // namespace
}  // namespace vsray::config
