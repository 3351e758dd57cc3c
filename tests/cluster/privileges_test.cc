// The privilege list derived from a cluster config (no vCenter).
#include "cluster/privileges.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <string>

#include "config/cluster_config.h"
#include "config/test_util.h"
#include "support/status_matchers.h"

namespace vsray::cluster {
namespace {

using ::testing::Contains;
using ::testing::Not;
using ::vsray::testing::IsOk;

// A config with one head and one worker type; `vsphere` and `node` are YAML fragments
// inserted under vsphere_config and into both node_configs.
config::ClusterConfig Load(const std::string& vsphere, const std::string& node = "{}",
                           const std::string& resources = "{}") {
  const std::string text = R"(
cluster_name: pv
provider:
  type: vsphere
  vsphere_config:
    credentials: {server: vc.example.com, user: u, password: p}
)" + vsphere + R"(
available_node_types:
  head: {resources: )" + resources +
                           R"(, node_config: )" + node + R"(}
  worker: {min_workers: 1, resources: {}, node_config: )" +
                           node + R"(}
head_node_type: head
)";
  config::LoadOptions options;
  options.env = config::testing::FakeEnv({});
  options.home_dir = "/nonexistent";
  auto loaded = config::LoadClusterConfigText(text, options);
  EXPECT_THAT(loaded, IsOk());
  return loaded.ok() ? *loaded : config::ClusterConfig{};
}

const EntityPrivileges* Find(const RequiredPrivileges& r, EntityKind kind) {
  auto it = std::find_if(r.entities.begin(), r.entities.end(),
                         [&](const EntityPrivileges& e) { return e.kind == kind; });
  return it == r.entities.end() ? nullptr : &*it;
}

std::vector<std::string> Ids(const EntityPrivileges* e) {
  std::vector<std::string> out;
  if (e == nullptr) return out;
  for (const auto& p : e->privileges) out.push_back(p.id);
  return out;
}

constexpr const char* kExisting = "    frozen_vm: {name: frozen}\n";
constexpr const char* kDeploy =
    "    frozen_vm: {name: f, library_item: lib/item, resource_pool: rp, datastore: ds}\n";

TEST(PrivilegesTest, ExistingFrozenVmInstantClonesNeedNoLibraryNorTags) {
  const auto r = PrivilegesFor(Load(kExisting));
  const auto ids = r.RoleIds();
  EXPECT_THAT(ids, Not(Contains(::testing::StartsWith("ContentLibrary."))));
  EXPECT_THAT(ids, Not(Contains("VApp.Import")));
  EXPECT_THAT(ids, Not(Contains(::testing::StartsWith("InventoryService.Tagging."))));
  EXPECT_THAT(ids, Not(Contains("VirtualMachine.State.CreateSnapshot")));
  EXPECT_THAT(ids, Not(Contains("VirtualMachine.Config.CPUCount")));
  EXPECT_THAT(Ids(Find(r, EntityKind::kFrozenVm)),
              ::testing::ElementsAre("VirtualMachine.Interact.PowerOn",
                                     "VirtualMachine.Provisioning.Clone"));
  const auto* folder = Find(r, EntityKind::kClusterFolder);
  ASSERT_NE(folder, nullptr);
  EXPECT_TRUE(folder->propagate);
  EXPECT_EQ(folder->name, "ray-pv");
  EXPECT_THAT(Ids(folder), Contains("VirtualMachine.Inventory.Delete"));
  EXPECT_THAT(Ids(folder), Contains("Global.SetCustomField"));
  EXPECT_THAT(Ids(Find(r, EntityKind::kRoot)), ::testing::ElementsAre("Global.ManageCustomFields"));
  // The datacenter is granted for reading only.
  ASSERT_NE(Find(r, EntityKind::kDatacenter), nullptr);
  EXPECT_TRUE(Find(r, EntityKind::kDatacenter)->privileges.empty());
  EXPECT_EQ(r.CountPerKind().at("frozen VM"), 2);
}

TEST(PrivilegesTest, DeployAsksForImportAndGrantsThroughThePool) {
  const auto r = PrivilegesFor(Load(kDeploy));
  // The deploy, and the prepare lease (a folder with an attribute in the datacenter).
  EXPECT_THAT(Ids(Find(r, EntityKind::kDatacenter)),
              ::testing::ElementsAre("Folder.Create", "Folder.Delete", "Global.SetCustomField",
                                     "VApp.Import"));
  EXPECT_TRUE(Find(r, EntityKind::kDatacenter)->propagate);
  const auto* frozen = Find(r, EntityKind::kFrozenVm);
  ASSERT_NE(frozen, nullptr);
  EXPECT_TRUE(frozen->deployed);
  EXPECT_TRUE(frozen->propagate);
  EXPECT_EQ(frozen->name, "rp");
  EXPECT_THAT(Ids(frozen), Contains("VirtualMachine.Config.AdvancedConfig"));
  const auto* pools = Find(r, EntityKind::kResourcePool);
  ASSERT_NE(pools, nullptr);
}

TEST(PrivilegesTest, LinkedClonesAskForSnapshotsResizeForCpuAndMemory) {
  const auto r = PrivilegesFor(Load(kExisting, "{clone_mode: linked}", "{CPU: 2, Memory: 4096}"));
  EXPECT_THAT(Ids(Find(r, EntityKind::kFrozenVm)), Contains("VirtualMachine.State.CreateSnapshot"));
  EXPECT_THAT(Ids(Find(r, EntityKind::kClusterFolder)), Contains("VirtualMachine.Config.CPUCount"));
  EXPECT_THAT(Ids(Find(r, EntityKind::kClusterFolder)), Contains("VirtualMachine.Config.Memory"));
}

TEST(PrivilegesTest, MirroredTagsAskForTaggingOnTheRoot) {
  const auto r = PrivilegesFor(Load(std::string(kExisting) + "    mirror_vsphere_tags: true\n"));
  EXPECT_THAT(Ids(Find(r, EntityKind::kRoot)), Contains("InventoryService.Tagging.AttachTag"));
  EXPECT_THAT(Ids(Find(r, EntityKind::kRoot)), Contains("InventoryService.Tagging.CreateCategory"));
}

TEST(PrivilegesTest, ExistingPoolNeverPowersOnFrozenVms) {
  const auto r = PrivilegesFor(Load("    frozen_vm: {resource_pool: rp}\n"));
  EXPECT_THAT(Ids(Find(r, EntityKind::kFrozenVm)),
              ::testing::ElementsAre("VirtualMachine.Provisioning.Clone"));
}

TEST(PrivilegesTest, MarkdownHasOneRowPerPrivilegeAndEntity) {
  const auto r = PrivilegesFor(Load(kExisting));
  const std::string md = PrivilegesMarkdown(r);
  size_t rows = 0;
  for (const auto& e : r.entities) rows += std::max<size_t>(1, e.privileges.size());
  EXPECT_EQ(static_cast<size_t>(std::count(md.begin(), md.end(), '\n')), rows + 2);
  EXPECT_THAT(md, ::testing::HasSubstr("| cluster folder 'ray-pv' | yes | "
                                       "`VirtualMachine.Inventory.Delete` | terminate |"));
}

}  // namespace
}  // namespace vsray::cluster
