#include "config/userdata.h"

#include <gtest/gtest.h>

#include <string>

#include "config/yaml_tree.h"
#include "support/status_matchers.h"

namespace vsray::config {
namespace {

using ::testing::Not;
using ::vsray::testing::IsOk;

using nlohmann::json;

const char* const kKey =
    "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHK5ZGSrqfO8fzMn9Dn1tnbg0GmLRfgwWkxt9XT4eP7H "
    "ray-bootstrap-key";

TEST(MakeCloudConfigTest, CreatesTheUserWithTheKeysAndNoPassword) {
  const std::string odd_key = "ssh-rsa AAAAB3NzaC1yc2E= comment: with # and 'quotes'";
  const std::string userdata = MakeCloudConfig("ray", {kKey, odd_key});
  ASSERT_EQ(userdata.rfind("#cloud-config\n", 0), 0U) << userdata;
  auto document = ParseConfigText(userdata, "userdata");
  ASSERT_THAT(document, IsOk()) << document.status() << "\n" << userdata;
  const json& root = document->root;
  ASSERT_TRUE(root["users"].is_array());
  ASSERT_EQ(root["users"].size(), 2U);
  EXPECT_EQ(root["users"][0], "default");
  const json& user = root["users"][1];
  EXPECT_EQ(user["name"], "ray");
  EXPECT_EQ(user["ssh_authorized_keys"], json::array({kKey, odd_key}));
  EXPECT_EQ(user["lock_passwd"], true);
  EXPECT_EQ(user["sudo"], "ALL=(ALL) NOPASSWD:ALL");
  EXPECT_FALSE(user.contains("passwd"));
  EXPECT_FALSE(user.contains("plain_text_passwd"));
  EXPECT_FALSE(user.contains("hashed_passwd"));
  EXPECT_EQ(root["ssh_pwauth"], false);
  EXPECT_FALSE(root.contains("chpasswd"));
  EXPECT_EQ(userdata.find("password"), std::string::npos);
}

TEST(MakeMetadataTest, IsJsonWithInstanceIdAndHostname) {
  const json metadata = json::parse(MakeMetadata("vm-42-abc", "ray-test-worker-1"));
  EXPECT_EQ(metadata,
            json({{"instance-id", "vm-42-abc"}, {"local-hostname", "ray-test-worker-1"}}));
}

TEST(MakeGuestinfoTest, GivesTheFourKeysBase64Encoded) {
  const std::string userdata = MakeCloudConfig("ray", {kKey});
  const std::string metadata = MakeMetadata("id-1", "host-1");
  const GuestinfoPairs pairs = MakeGuestinfo(userdata, metadata);
  ASSERT_EQ(pairs.size(), 4U);
  EXPECT_EQ(pairs[0].first, "guestinfo.userdata");
  EXPECT_EQ(pairs[1],
            (std::pair<std::string, std::string>("guestinfo.userdata.encoding", "base64")));
  EXPECT_EQ(pairs[2].first, "guestinfo.metadata");
  EXPECT_EQ(pairs[3],
            (std::pair<std::string, std::string>("guestinfo.metadata.encoding", "base64")));
  EXPECT_EQ(*Base64Decode(pairs[0].second), userdata);
  EXPECT_EQ(*Base64Decode(pairs[2].second), metadata);
}

TEST(CloudInitGuestinfoTest, FollowsTheConfig) {
  CloudInitConfig cloud_init;
  cloud_init.ssh_user = "ubuntu";
  cloud_init.ssh_authorized_keys = {kKey};
  const GuestinfoPairs pairs = CloudInitGuestinfo(cloud_init, "ray-My_Cluster-worker-ab12", "i1");
  ASSERT_EQ(pairs.size(), 4U);
  auto userdata = ParseConfigText(*Base64Decode(pairs[0].second), "u");
  ASSERT_THAT(userdata, IsOk());
  EXPECT_EQ(userdata->root["users"][1]["name"], "ubuntu");
  const json metadata = json::parse(*Base64Decode(pairs[2].second));
  EXPECT_EQ(metadata["local-hostname"], "ray-my-cluster-worker-ab12");
  EXPECT_EQ(metadata["instance-id"], "i1");
  cloud_init.enabled = false;
  EXPECT_TRUE(CloudInitGuestinfo(cloud_init, "x", "i").empty());
}

TEST(HostnameForTest, MakesValidHostNames) {
  EXPECT_EQ(HostnameFor("ray-default-head-1a2b"), "ray-default-head-1a2b");
  EXPECT_EQ(HostnameFor("Ray.Head_Default"), "ray-head-default");
  EXPECT_EQ(HostnameFor("--x--"), "x");
  EXPECT_EQ(HostnameFor("!!!"), "ray-node");
  EXPECT_EQ(HostnameFor(std::string(100, 'a')).size(), 63U);
  EXPECT_EQ(HostnameFor(std::string(62, 'a') + "-b"), std::string(62, 'a'));
}

TEST(Base64Test, MatchesRfc4648Vectors) {
  const std::pair<const char*, const char*> vectors[] = {{"", ""},
                                                         {"f", "Zg=="},
                                                         {"fo", "Zm8="},
                                                         {"foo", "Zm9v"},
                                                         {"foob", "Zm9vYg=="},
                                                         {"fooba", "Zm9vYmE="},
                                                         {"foobar", "Zm9vYmFy"}};
  for (const auto& [plain, encoded] : vectors) {
    EXPECT_EQ(Base64Encode(plain), encoded);
    EXPECT_EQ(*Base64Decode(encoded), plain);
  }
}

TEST(Base64Test, RoundTripsEveryByteAndRejectsJunk) {
  std::string all;
  for (int i = 0; i < 256; ++i) all += static_cast<char>(i);
  for (std::size_t length = 0; length <= all.size(); length += 37) {
    const std::string data = all.substr(0, length);
    EXPECT_EQ(*Base64Decode(Base64Encode(data)), data);
  }
  for (const char* bad : {"Zg=", "Zg=a", "Z===", "Zm9v!A==", "====", "Zg==Zg==", "Zm9v Zg==",
                          "Zm9v\nZg==", "Zm9vYmFy\n"}) {
    EXPECT_THAT(Base64Decode(bad), Not(IsOk())) << bad;
  }
}

// Past OpenSSL's int lengths the work goes in chunks (of 3 MiB): the seams must not show.
TEST(Base64Test, RoundTripsAcrossChunks) {
  std::string data;
  for (std::size_t i = 0; i < std::size_t{3} * 1024 * 1024 * 2 + 7; ++i) {
    data += static_cast<char>((i * 131 + i / 977) % 256);
  }
  const std::string encoded = Base64Encode(data);
  ASSERT_EQ(encoded.size(), (data.size() + 2) / 3 * 4);
  // The groups around the first seam decode, on their own, to the bytes they stand for.
  const std::size_t seam = std::size_t{3} * 1024 * 1024;
  EXPECT_EQ(*Base64Decode(encoded.substr(seam / 3 * 4 - 8, 16)), data.substr(seam - 6, 12));
  EXPECT_EQ(*Base64Decode(encoded), data);
}

}  // namespace
}  // namespace vsray::config
