#include "config/cluster_config.h"

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
using testing::TestData;
using testing::TestLoadOptions;

bool Contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

TEST(LoadClusterConfigTest, MinimalConfigGetsDefaultsAndEnvironmentCredentials) {
  auto config = LoadClusterConfigFile(TestData("minimal.yaml"), TestLoadOptions());
  ASSERT_THAT(config, IsOk());
  EXPECT_EQ(config->cluster_name, "mini");
  EXPECT_EQ(config->max_workers, 2);
  EXPECT_EQ(config->upscaling_speed, 1.0);
  EXPECT_EQ(config->idle_timeout_minutes, 5);
  EXPECT_EQ(config->auth.ssh_user, "ray");
  EXPECT_EQ(config->auth.ssh_private_key, "");
  EXPECT_EQ(config->provider_type, ProviderType::kExternal);
  EXPECT_EQ(config->provider_module, "vsray.ray_provider.VsphereNodeProvider");
  const VsphereConfig& vsphere = config->vsphere;
  EXPECT_EQ(vsphere.credentials.server, "vc.env.example.com");
  EXPECT_EQ(vsphere.credentials.user, "env-user@vsphere.local");
  EXPECT_EQ(vsphere.credentials.password, "env-Pa55word-xyz");
  EXPECT_FALSE(vsphere.tls.insecure);
  EXPECT_EQ(vsphere.folder, "ray-mini");
  EXPECT_EQ(vsphere.max_concurrency, provider::kDefaultMaxConcurrency);
  EXPECT_EQ(vsphere.ssh_key_type, SshKeyType::kEd25519);
  EXPECT_EQ(vsphere.timeouts.frozen_vm_ready.count(), 600);
  EXPECT_EQ(vsphere.timeouts.creating.count(), 900);
  EXPECT_TRUE(vsphere.cloud_init.enabled);
  EXPECT_EQ(vsphere.cloud_init.ssh_user, "ray");
  ASSERT_TRUE(vsphere.frozen_vm.has_value());
  EXPECT_EQ(vsphere.frozen_vm->mode, FrozenVmMode::kExisting);
  ASSERT_EQ(config->node_types.size(), 2U);
  EXPECT_EQ(config->head().name, "head");
  EXPECT_EQ(config->head().max_workers, 0);
  const NodeType* worker = config->FindNodeType("worker");
  ASSERT_NE(worker, nullptr);
  EXPECT_EQ(worker->max_workers, 2);  // the cluster's
  ASSERT_TRUE(worker->node_config.frozen_vm.has_value());
  EXPECT_EQ(worker->node_config.frozen_vm->name, "frozen-vm");
  EXPECT_EQ(worker->node_config.clone_mode, CloneMode::kInstant);
  EXPECT_TRUE(config->warnings.empty());

  // The tree carries the defaults for Ray and for a provider built from it.
  const json& tree = config->tree;
  EXPECT_EQ(tree["max_workers"], 2);
  EXPECT_EQ(tree["file_mounts"], json::object());
  EXPECT_EQ(tree["setup_commands"], json::array());
  EXPECT_EQ(tree["head_start_ray_commands"][0], "ray stop");
  EXPECT_EQ(tree["provider"]["vsphere_config"]["folder"], "ray-mini");
  EXPECT_EQ(tree["provider"]["vsphere_config"]["credentials"]["password"], "env-Pa55word-xyz");
  EXPECT_EQ(tree["available_node_types"]["worker"]["node_config"]["frozen_vm"]["name"],
            "frozen-vm");
  EXPECT_EQ(tree["available_node_types"]["worker"]["node_config"]["resources"], json::object());
}

TEST(LoadClusterConfigTest, UnreadableFilesAreErrors) {
  auto missing = LoadClusterConfigFile("/nonexistent/cluster.yaml", TestLoadOptions());
  ASSERT_THAT(missing, Not(IsOk()));
  EXPECT_THAT(missing, StatusIs(StatusCode::kNotFound));
  EXPECT_TRUE(Contains(missing.status().message(), "/nonexistent/cluster.yaml"));
  auto directory = LoadClusterConfigFile(TestData("bad"), TestLoadOptions());
  ASSERT_THAT(directory, Not(IsOk()));
  EXPECT_THAT(directory, StatusIs(StatusCode::kInvalidArgument));
}

TEST(LoadClusterConfigTest, FileCredentialsWinOverEnvironment) {
  auto config = LoadClusterConfigFile(TestData("external.yaml"), TestLoadOptions());
  ASSERT_THAT(config, IsOk());
  EXPECT_EQ(config->vsphere.credentials.server, "vc.example.com");
  EXPECT_EQ(config->vsphere.credentials.user, "ray-bot@vsphere.local");
  EXPECT_EQ(config->vsphere.credentials.password, "ext-Pa55word");
}

TEST(LoadClusterConfigTest, CredentialsMissingEverywhereNamesBothPlaces) {
  auto config = LoadClusterConfigFile(
      TestData("minimal.yaml"), TestLoadOptions({{"VSPHERE_SERVER", "vc"}, {"VSPHERE_USER", "u"}}));
  ASSERT_THAT(config, Not(IsOk()));
  EXPECT_THAT(config, StatusIs(StatusCode::kInvalidArgument));
  const std::string message = config.status().message();
  EXPECT_TRUE(Contains(message,
                       "minimal.yaml:6: provider.vsphere_config.credentials: "
                       "'password' is not set"))
      << message;
  EXPECT_TRUE(Contains(message, "provider.vsphere_config.credentials.password")) << message;
  EXPECT_TRUE(Contains(message, "VSPHERE_PASSWORD")) << message;
}

TEST(LoadClusterConfigTest, FullConfigReadsEveryKey) {
  auto config = LoadClusterConfigFile(TestData("full.yaml"), TestLoadOptions({}));
  ASSERT_THAT(config, IsOk());
  EXPECT_TRUE(config->warnings.empty()) << config->warnings.front();
  EXPECT_EQ(config->max_workers, 10);
  EXPECT_EQ(config->upscaling_speed, 2.5);
  EXPECT_EQ(config->idle_timeout_minutes, 15);
  const VsphereConfig& vsphere = config->vsphere;
  EXPECT_EQ(vsphere.credentials.server, "https://vc.example.com:8443");
  EXPECT_EQ(vsphere.credentials.password, "full-Pa55word");
  EXPECT_EQ(vsphere.tls.thumbprint,
            "AB:CD:EF:01:23:45:67:89:AB:CD:EF:01:23:45:67:89:AB:CD:EF:01:23:45:67:89:AB:CD:EF:01:"
            "23:45:67:89");
  EXPECT_EQ(vsphere.datacenter, "dc1");
  EXPECT_EQ(vsphere.folder, "ray/clusters/full");
  ASSERT_TRUE(vsphere.frozen_vm.has_value());
  EXPECT_EQ(vsphere.frozen_vm->mode, FrozenVmMode::kDeployPerHost);
  EXPECT_EQ(vsphere.frozen_vm->library_item, "frozen-vm-ovf");
  EXPECT_TRUE(vsphere.gpu.dynamic_pci_passthrough);  // "yes"
  EXPECT_EQ(vsphere.gpu.device_classes,
            (std::vector<provider::PciClass>{{0x0302, 0xFFFF}, {0x1200, 0xFF00}}));
  EXPECT_TRUE(vsphere.gpu.use_64bit_mmio);
  EXPECT_EQ(vsphere.gpu.mmio_size_gb, 128);
  EXPECT_TRUE(vsphere.mirror_vsphere_tags);
  EXPECT_EQ(vsphere.max_concurrency, 16);
  EXPECT_EQ(vsphere.ssh_key_type, SshKeyType::kRsa);
  EXPECT_EQ(vsphere.timeouts.frozen_vm_ready.count(), 300);
  EXPECT_EQ(vsphere.timeouts.clone.count(), 120);
  EXPECT_EQ(vsphere.timeouts.deploy.count(), 900);
  EXPECT_EQ(vsphere.timeouts.node_ready.count(), 240);
  EXPECT_EQ(vsphere.timeouts.creating.count(), 1200);
  EXPECT_EQ(vsphere.timeouts.call.count(), 60);
  ASSERT_EQ(vsphere.network.ignore_cidrs.size(), 2U);
  EXPECT_EQ(vsphere.network.ignore_cidrs[1].ToString(), "10.99.0.1/32");
  EXPECT_EQ(vsphere.network.internal_cidrs[0].ToString(), "10.0.0.0/8");
  EXPECT_EQ(vsphere.cloud_init.ssh_authorized_keys.size(), 1U);

  const NodeType& head = config->head();
  EXPECT_EQ(head.node_config.resource_pool, "head-pool");
  EXPECT_EQ(head.node_config.cpus, 4);
  EXPECT_EQ(head.node_config.memory_mib, 8192);
  EXPECT_EQ(head.labels.at("role"), "head");
  const NodeType& cpu = config->node_types.at("cpu_worker");
  EXPECT_EQ(cpu.node_config.resource_pool, "head-pool");  // inherited
  EXPECT_EQ(cpu.node_config.datastore, "head-ds");        // inherited
  EXPECT_EQ(cpu.node_config.clone_mode, CloneMode::kLinked);
  EXPECT_EQ(cpu.node_config.frozen_vm, vsphere.frozen_vm);
  EXPECT_EQ(cpu.resources.at("custom_accel"), 1.0);
  EXPECT_EQ(cpu.min_workers, 2);
  EXPECT_EQ(cpu.max_workers, 6);
  const NodeType& gpu = config->node_types.at("gpu_worker");
  EXPECT_EQ(gpu.node_config.resource_pool, "gpu-pool");
  EXPECT_EQ(gpu.node_config.clone_mode, CloneMode::kFull);
  EXPECT_EQ(gpu.node_config.gpus, 1);
  EXPECT_EQ(gpu.node_config.gpu.vendor_id, 0x10de);
  EXPECT_EQ(gpu.node_config.gpu.device_id, 0x20f1);  // YAML's 0x20f1 is an integer
  EXPECT_EQ(gpu.node_config.gpu.custom_label, "a100");
  EXPECT_EQ(gpu.node_config.gpu.vgpu_profile, "");
  ASSERT_TRUE(gpu.node_config.frozen_vm.has_value());
  EXPECT_EQ(gpu.node_config.frozen_vm->name, "frozen-gpu");
  EXPECT_EQ(gpu.node_config.frozen_vm->mode, FrozenVmMode::kExisting);
  EXPECT_EQ(config->file_mounts.at("/home/ray/data"), "/tmp/data");
  // Ray's keys vsray does not read pass through.
  EXPECT_EQ(config->tree["provider"]["use_internal_ips"], true);
  EXPECT_EQ(config->tree["available_node_types"]["gpu_worker"]["worker_setup_commands"][0],
            "nvidia-smi");
}

TEST(LoadClusterConfigTest, RayExampleLoadsUnchanged) {
  const std::string path = TestData("ray-vsphere-example.yaml");
  auto config = LoadClusterConfigFile(path, TestLoadOptions());
  ASSERT_THAT(config, IsOk());
  EXPECT_TRUE(config->warnings.empty()) << config->warnings.front();
  EXPECT_EQ(config->provider_type, ProviderType::kVsphere);
  EXPECT_EQ(config->cluster_name, "default");
  EXPECT_EQ(config->max_workers, 5);
  ASSERT_TRUE(config->vsphere.frozen_vm.has_value());
  EXPECT_EQ(config->vsphere.frozen_vm->mode, FrozenVmMode::kExisting);  // nulls are unset
  EXPECT_FALSE(config->vsphere.gpu.dynamic_pci_passthrough);
  EXPECT_EQ(config->head().node_config.resource_pool, "");
  EXPECT_EQ(config->node_types.at("worker").min_workers, 1);

  // Every key of the input is still there, with its value (Ray's keys untouched).
  auto original = ParseConfigText(testing::ReadFile(path), path);
  ASSERT_THAT(original, IsOk());
  const json& tree = config->tree;
  for (const auto& [key, value] : original->root.items()) {
    ASSERT_TRUE(tree.contains(key)) << key;
    if (key == "provider" || key == "available_node_types") continue;
    EXPECT_EQ(tree[key], value) << key;
  }
  EXPECT_EQ(tree["docker"]["pull_before_run"], true);
  EXPECT_EQ(tree["docker"]["run_options"][0], "--ulimit nofile=65536:65536");
  EXPECT_EQ(tree["rsync_exclude"], json::array());
  EXPECT_EQ(tree["file_mounts_sync_continuously"], false);
  EXPECT_EQ(tree["head_setup_commands"].size(), 1U);
  EXPECT_EQ(tree["provider"]["type"], "vsphere");
}

TEST(LoadClusterConfigTest, ExternalProviderWithPoolOfFrozenVms) {
  auto config = LoadClusterConfigFile(TestData("external.yaml"), TestLoadOptions());
  ASSERT_THAT(config, IsOk());
  EXPECT_EQ(config->vsphere.frozen_vm->mode, FrozenVmMode::kExistingPool);
  EXPECT_EQ(config->auth.ssh_user, "ubuntu");
  EXPECT_EQ(config->vsphere.cloud_init.ssh_user, "ubuntu");
  const NodeType& worker = config->node_types.at("worker");
  EXPECT_EQ(worker.node_config.resource_pool, "ray-pool");
  EXPECT_EQ(worker.node_config.datastore, "ds-1");
  const NodeType& big = config->node_types.at("big_worker");
  EXPECT_EQ(big.node_config.resource_pool, "ray-pool");
  EXPECT_EQ(big.node_config.datastore, "ds-fast");
  EXPECT_EQ(big.node_config.memory_mib, 65536);
  EXPECT_EQ(big.max_workers, 1);
  EXPECT_EQ(config->tree["available_node_types"]["big_worker"]["node_config"]["resource_pool"],
            "ray-pool");
}

TEST(LoadClusterConfigTest, JsonTextAndJsonObjectsLoad) {
  auto from_file = LoadClusterConfigFile(TestData("cluster.json"), TestLoadOptions({}));
  ASSERT_THAT(from_file, IsOk());
  EXPECT_EQ(from_file->vsphere.max_concurrency, 4);
  EXPECT_EQ(from_file->node_types.at("worker").node_config.memory_mib, 2048);

  const json object = json::parse(testing::ReadFile(TestData("cluster.json")));
  auto from_object = LoadClusterConfigJson(object, TestLoadOptions({}));
  ASSERT_THAT(from_object, IsOk());
  EXPECT_EQ(from_object->tree, from_file->tree);

  // json.dumps() output: one line.
  auto from_dump = LoadClusterConfigText(object.dump(), TestLoadOptions({}));
  ASSERT_THAT(from_dump, IsOk());
  EXPECT_EQ(from_dump->tree, from_file->tree);

  json bad = object;
  bad["provider"]["vsphere_config"]["max_concurrency"] = 0;
  auto error = LoadClusterConfigJson(bad, TestLoadOptions({}));
  ASSERT_THAT(error, Not(IsOk()));
  EXPECT_EQ(error.status().message(),
            "cluster_config:1: provider.vsphere_config.max_concurrency: expected a whole number "
            "from 1 to 256, got 0");
  EXPECT_FALSE(Contains(error.status().message(), "json-Pa55word"));

  auto error_from_file = LoadClusterConfigText(
      testing::ReadFile(TestData("cluster.json"))
          .replace(testing::ReadFile(TestData("cluster.json")).find("\"max_concurrency\": 4"), 20,
                   "\"max_concurrency\": \"4\""),
      [] {
        LoadOptions options = TestLoadOptions({});
        options.source_name = "cluster.json";
        return options;
      }());
  ASSERT_THAT(error_from_file, Not(IsOk()));
  EXPECT_EQ(error_from_file.status().message().rfind(
                "cluster.json:10: provider.vsphere_config.max_concurrency: expected a whole "
                "number from 1 to 256, got a string",
                0),
            0U)
      << error_from_file.status().message();
}

TEST(LoadClusterConfigTest, LoadingTheCompletedTreeAgainGivesTheSameTree) {
  for (const char* name :
       {"minimal.yaml", "full.yaml", "external.yaml", "ray-vsphere-example.yaml", "cluster.json"}) {
    auto config = LoadClusterConfigFile(TestData(name), TestLoadOptions());
    ASSERT_THAT(config, IsOk()) << name << ": " << config.status();
    auto again = LoadClusterConfigJson(config->tree, TestLoadOptions());
    ASSERT_THAT(again, IsOk()) << name << ": " << again.status();
    EXPECT_EQ(again->tree, config->tree) << name;
    // ... also through YAML text, as Ray writes ~/ray_bootstrap_config.yaml.
    auto through_yaml = LoadClusterConfigText(ToYaml(config->tree), TestLoadOptions());
    ASSERT_THAT(through_yaml, IsOk()) << name << ": " << through_yaml.status();
    EXPECT_EQ(through_yaml->tree, config->tree) << name;
  }
}

TEST(LoadClusterConfigTest, RedactedOutputHasNoPassword) {
  auto config = LoadClusterConfigFile(TestData("full.yaml"), TestLoadOptions({}));
  ASSERT_THAT(config, IsOk());
  EXPECT_FALSE(Contains(config->ToJson().dump(), "full-Pa55word"));
  EXPECT_FALSE(Contains(config->ToYaml(), "full-Pa55word"));
  EXPECT_FALSE(Contains(config->vsphere.ToJson().dump(), "full-Pa55word"));
  EXPECT_EQ(config->ToJson()["provider"]["vsphere_config"]["credentials"]["password"],
            "<redacted>");
  EXPECT_TRUE(Contains(config->ToJson(false).dump(), "full-Pa55word"));
  EXPECT_EQ(RedactConfigTree(config->tree["provider"])["vsphere_config"]["credentials"]["password"],
            "<redacted>");
}

const char* const kInheritanceConfig = R"(
cluster_name: inherit
provider:
  type: vsphere
  vsphere_config:
    frozen_vm: {name: provider-frozen}
available_node_types:
  head:
    node_config:
      resource_pool: head-pool
      datastore: head-ds
      frozen_vm: {name: head-frozen}
  plain:
    node_config: {}
  own_pool:
    node_config: {resource_pool: own-pool}
  legacy:
    node_config: {frozen_vm_name: legacy-frozen}
head_node_type: head
)";

TEST(LoadClusterConfigTest, WorkersInheritTheHeadsPlacementAndFrozenVm) {
  auto config = LoadClusterConfigText(kInheritanceConfig, TestLoadOptions());
  ASSERT_THAT(config, IsOk());
  const auto& types = config->node_types;
  EXPECT_EQ(types.at("head").node_config.frozen_vm->name, "head-frozen");
  EXPECT_EQ(types.at("plain").node_config.frozen_vm->name, "head-frozen");
  EXPECT_EQ(types.at("plain").node_config.resource_pool, "head-pool");
  EXPECT_EQ(types.at("plain").node_config.datastore, "head-ds");
  EXPECT_EQ(types.at("own_pool").node_config.resource_pool, "own-pool");
  EXPECT_EQ(types.at("own_pool").node_config.datastore, "head-ds");
  EXPECT_EQ(types.at("legacy").node_config.frozen_vm->name, "legacy-frozen");
  const json& legacy = config->tree["available_node_types"]["legacy"]["node_config"];
  EXPECT_FALSE(legacy.contains("frozen_vm_name"));
  EXPECT_EQ(legacy["frozen_vm"], json({{"name", "legacy-frozen"}}));
  EXPECT_EQ(config->tree["available_node_types"]["plain"]["node_config"]["resource_pool"],
            "head-pool");
}

TEST(LoadClusterConfigTest, FrozenVmCanComeFromTheHeadNodeConfigAlone) {
  std::string text = kInheritanceConfig;
  text.replace(text.find("    frozen_vm: {name: provider-frozen}\n"),
               std::string("    frozen_vm: {name: provider-frozen}\n").size(), "    {}\n");
  text.replace(text.find("  vsphere_config:\n    {}\n"),
               std::string("  vsphere_config:\n    {}\n").size(), "  vsphere_config: {}\n");
  auto config = LoadClusterConfigText(text, TestLoadOptions());
  ASSERT_THAT(config, IsOk());
  EXPECT_FALSE(config->vsphere.frozen_vm.has_value());
  EXPECT_EQ(config->node_types.at("plain").node_config.frozen_vm->name, "head-frozen");
}

struct FrozenCase {
  const char* yaml;
  FrozenVmMode mode;
};

TEST(LoadClusterConfigTest, AcceptsTheFourFrozenVmCombinations) {
  const FrozenCase cases[] = {
      {"{name: f, library_item: ovf, cluster: c, datastore: d}", FrozenVmMode::kDeployOne},
      {"{name: f}", FrozenVmMode::kExisting},
      {"{name: f, library_item: ovf, resource_pool: p, datastore: d}",
       FrozenVmMode::kDeployPerHost},
      {"{resource_pool: p}", FrozenVmMode::kExistingPool},
      {"{name: prefix, resource_pool: p}", FrozenVmMode::kExistingPool},
  };
  for (const FrozenCase& c : cases) {
    const std::string text = std::string("cluster_name: c\nprovider:\n  type: vsphere\n") +
                             "  vsphere_config:\n    frozen_vm: " + c.yaml +
                             "\navailable_node_types: {head: {}}\nhead_node_type: head\n";
    auto config = LoadClusterConfigText(text, TestLoadOptions());
    ASSERT_THAT(config, IsOk()) << c.yaml << ": " << config.status();
    EXPECT_EQ(config->vsphere.frozen_vm->mode, c.mode) << c.yaml;
    EXPECT_EQ(config->vsphere.frozen_vm->Deploys(),
              c.mode == FrozenVmMode::kDeployOne || c.mode == FrozenVmMode::kDeployPerHost);
  }
}

TEST(LoadClusterConfigTest, WarnsAboutKeysThatDoNothing) {
  const std::string text = R"(cluster_name: w
provider:
  type: external
  module: my.own.Provider
  vsphere_config:
    tls: {insecure: true}
    frozen_vm: {name: f, library_item: ovf, resource_pool: p, cluster: c, datastore: d}
available_node_types:
  head:
    resources: {memory: 4096}
    node_config: {datastor: d1, vm_class: best-effort-xlarge}
head_node_type: head
)";
  auto config = LoadClusterConfigText(text, TestLoadOptions());
  ASSERT_THAT(config, IsOk());
  const auto has = [&](const std::string& part) {
    for (const std::string& warning : config->warnings) {
      if (Contains(warning, part)) return true;
    }
    return false;
  };
  EXPECT_TRUE(has("cluster_config:4: provider.module: 'my.own.Provider' is not vsray's"));
  EXPECT_TRUE(
      has("cluster_config:6: provider.vsphere_config.tls.insecure: vCenter's "
          "certificate is not verified"));
  EXPECT_TRUE(has("provider.vsphere_config.frozen_vm.cluster: ignored"));
  EXPECT_TRUE(
      has("cluster_config:10: available_node_types.head.resources.memory: 'memory' is "
          "Ray's heap memory"));
  EXPECT_TRUE(
      has("cluster_config:11: available_node_types.head.node_config: unknown key "
          "'datastor'; did you mean 'datastore'?"));
  EXPECT_TRUE(has("unknown key 'vm_class'"));
  EXPECT_EQ(config->warnings.size(), 6U);
}

TEST(ParseProviderConfigTest, ReadsTheProviderDictAlone) {
  auto config = LoadClusterConfigFile(TestData("full.yaml"), TestLoadOptions({}));
  ASSERT_THAT(config, IsOk());
  auto vsphere = ParseProviderConfig(config->tree["provider"], "full", TestLoadOptions({}));
  ASSERT_THAT(vsphere, IsOk());
  EXPECT_EQ(vsphere->ToJson(false), config->vsphere.ToJson(false));

  // A bare provider dict: defaults, no frozen VM needed, env credentials.
  const json provider = {{"type", "external"},
                         {"module", "vsray.ray_provider.VsphereNodeProvider"},
                         {"vsphere_config", {{"datacenter", "dc"}}}};
  auto bare = ParseProviderConfig(provider, "c1", TestLoadOptions());
  ASSERT_THAT(bare, IsOk());
  EXPECT_EQ(bare->folder, "ray-c1");
  EXPECT_EQ(bare->credentials.user, "env-user@vsphere.local");
  EXPECT_FALSE(bare->frozen_vm.has_value());
  EXPECT_EQ(bare->cloud_init.ssh_user, "ray");

  json bad = provider;
  bad["vsphere_config"]["frozen_vm"] = {{"libary_item", "x"}};
  auto error = ParseProviderConfig(bad, "c1", TestLoadOptions());
  ASSERT_THAT(error, Not(IsOk()));
  EXPECT_EQ(error.status().message(),
            "provider_config:1: provider.vsphere_config.frozen_vm: unknown key 'libary_item'; did "
            "you mean 'library_item'? Known keys: name, library_item, resource_pool, cluster, "
            "datastore");
  EXPECT_THAT(ParseProviderConfig(json::array(), "c1", TestLoadOptions()), Not(IsOk()));
  EXPECT_THAT(ParseProviderConfig(provider, "", TestLoadOptions()), Not(IsOk()));
}

TEST(ParseNodeConfigTest, ReadsWhatCreateNodeGets) {
  auto config = LoadClusterConfigFile(TestData("full.yaml"), TestLoadOptions({}));
  ASSERT_THAT(config, IsOk());
  for (const auto& [name, node_type] : config->node_types) {
    auto parsed = ParseNodeConfig(config->tree["available_node_types"][name]["node_config"],
                                  config->vsphere, TestLoadOptions({}));
    ASSERT_THAT(parsed, IsOk()) << name << ": " << parsed.status();
    EXPECT_EQ(parsed->resource_pool, node_type.node_config.resource_pool) << name;
    EXPECT_EQ(parsed->datastore, node_type.node_config.datastore) << name;
    EXPECT_EQ(parsed->clone_mode, node_type.node_config.clone_mode) << name;
    EXPECT_EQ(parsed->frozen_vm, node_type.node_config.frozen_vm) << name;
    EXPECT_EQ(parsed->cpus, node_type.node_config.cpus) << name;
    EXPECT_EQ(parsed->memory_mib, node_type.node_config.memory_mib) << name;
    EXPECT_EQ(parsed->gpus, node_type.node_config.gpus) << name;
  }
  auto from_provider = ParseNodeConfig(json::object(), config->vsphere, TestLoadOptions({}));
  ASSERT_THAT(from_provider, IsOk());
  EXPECT_EQ(from_provider->frozen_vm, config->vsphere.frozen_vm);
  EXPECT_EQ(from_provider->cpus, 0);

  auto bad = ParseNodeConfig({{"clone_mode", "fast"}}, config->vsphere, TestLoadOptions({}));
  ASSERT_THAT(bad, Not(IsOk()));
  EXPECT_EQ(bad.status().message(),
            "node_config:1: node_config.clone_mode: 'fast' is not a clone mode; expected "
            "instant, linked or full");
  VsphereConfig no_frozen = config->vsphere;
  no_frozen.frozen_vm.reset();
  EXPECT_THAT(ParseNodeConfig(json::object(), no_frozen, TestLoadOptions({})), Not(IsOk()));
}

TEST(Ipv4Test, ParsesAddressesAndCidrs) {
  EXPECT_EQ(ParseIpv4("10.1.2.3"), 0x0a010203U);
  EXPECT_EQ(ParseIpv4("255.255.255.255"), 0xffffffffU);
  for (const char* bad : {"", "10.1.2", "10.1.2.3.4", "256.1.1.1", "01.1.1.1", "a.b.c.d",
                          "10.1.2.3 ", "::1", "1..2.3"}) {
    EXPECT_FALSE(ParseIpv4(bad).has_value()) << bad;
  }
  auto cidr = ParseIpv4Cidr("192.168.0.0/16");
  ASSERT_THAT(cidr, IsOk());
  EXPECT_TRUE(cidr->Contains(*ParseIpv4("192.168.44.1")));
  EXPECT_FALSE(cidr->Contains(*ParseIpv4("192.169.0.1")));
  EXPECT_EQ(ParseIpv4Cidr("0.0.0.0/0")->Contains(*ParseIpv4("8.8.8.8")), true);
  EXPECT_EQ(ParseIpv4Cidr("10.0.0.7")->ToString(), "10.0.0.7/32");
  EXPECT_THAT(ParseIpv4Cidr("10.0.0.0/33"), Not(IsOk()));
  EXPECT_THAT(ParseIpv4Cidr("10.0.0.0/"), Not(IsOk()));
  EXPECT_THAT(ParseIpv4Cidr("10.0.0.0/-1"), Not(IsOk()));
  auto host_bits = ParseIpv4Cidr("10.0.0.1/8");
  ASSERT_THAT(host_bits, Not(IsOk()));
  EXPECT_TRUE(Contains(host_bits.status().message(), "did you mean '10.0.0.0/8'?"));
}

TEST(NetworkConfigTest, ChoosesInternalAndExternalAddresses) {
  NetworkConfig none;
  auto ips = none.ChooseIps({"fe80::1", "169.254.3.4", "127.0.0.5", "10.0.0.2"});
  EXPECT_EQ(ips.internal, "127.0.0.5");
  EXPECT_EQ(ips.external, "127.0.0.5");
  EXPECT_EQ(none.ChooseIps({"fe80::1", "2001:db8::1"}).internal, "");
  EXPECT_EQ(none.ChooseIps({}).external, "");

  NetworkConfig ignoring;
  ignoring.ignore_cidrs = {*ParseIpv4Cidr("172.17.0.0/16")};
  EXPECT_EQ(ignoring.ChooseIps({"172.17.0.1", "10.0.0.2"}).internal, "10.0.0.2");

  NetworkConfig split;
  split.internal_cidrs = {*ParseIpv4Cidr("10.0.0.0/8")};
  ips = split.ChooseIps({"192.168.1.5", "10.1.1.1"});
  EXPECT_EQ(ips.internal, "10.1.1.1");
  EXPECT_EQ(ips.external, "192.168.1.5");  // first address outside the internal ranges
  ips = split.ChooseIps({"10.1.1.1"});
  EXPECT_EQ(ips.external, "10.1.1.1");  // nothing else: the internal one
  EXPECT_EQ(split.ChooseIps({"192.168.1.5"}).internal, "");

  NetworkConfig both = split;
  both.external_cidrs = {*ParseIpv4Cidr("203.0.113.0/24")};
  ips = both.ChooseIps({"192.168.1.5", "10.1.1.1", "203.0.113.9"});
  EXPECT_EQ(ips.internal, "10.1.1.1");
  EXPECT_EQ(ips.external, "203.0.113.9");
  EXPECT_EQ(both.ChooseIps({"10.1.1.1"}).external, "");  // configured range, no match
}

}  // namespace
}  // namespace vsray::config
