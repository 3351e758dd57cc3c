#include "cluster/privileges.h"

#include <algorithm>
#include <tuple>
#include <utility>

namespace vsray::cluster {
namespace {

using config::CloneMode;
using config::ClusterConfig;
using config::FrozenVmConfig;
using config::FrozenVmMode;

// Privilege ids, spelled once.
constexpr const char* kManageCustomFields = "Global.ManageCustomFields";
constexpr const char* kSetCustomField = "Global.SetCustomField";
constexpr const char* kCreateCategory = "InventoryService.Tagging.CreateCategory";
constexpr const char* kCreateTag = "InventoryService.Tagging.CreateTag";
constexpr const char* kAttachTag = "InventoryService.Tagging.AttachTag";
constexpr const char* kImport = "VApp.Import";
constexpr const char* kClone = "VirtualMachine.Provisioning.Clone";
constexpr const char* kCreateFromExisting = "VirtualMachine.Inventory.CreateFromExisting";
constexpr const char* kDelete = "VirtualMachine.Inventory.Delete";
constexpr const char* kPowerOn = "VirtualMachine.Interact.PowerOn";
constexpr const char* kPowerOff = "VirtualMachine.Interact.PowerOff";
constexpr const char* kCpuCount = "VirtualMachine.Config.CPUCount";
constexpr const char* kMemory = "VirtualMachine.Config.Memory";
constexpr const char* kAdvancedConfig = "VirtualMachine.Config.AdvancedConfig";
constexpr const char* kSnapshot = "VirtualMachine.State.CreateSnapshot";
constexpr const char* kAssignVmToPool = "Resource.AssignVMToPool";
constexpr const char* kAllocateSpace = "Datastore.AllocateSpace";
constexpr const char* kFolderCreate = "Folder.Create";
constexpr const char* kAddRemoveDevice = "VirtualMachine.Config.AddRemoveDevice";
constexpr const char* kFolderDelete = "Folder.Delete";

// Accumulates (entity, privilege, operation).
class Builder {
 public:
  void Need(EntityKind kind, const std::string& name, const char* privilege,
            const std::string& operation, bool propagate = false, bool deployed = false) {
    auto& entity = entities_[{kind, name, deployed}];
    entity.propagate = entity.propagate || propagate;
    if (privilege != nullptr) entity.privileges[privilege].insert(operation);
  }
  // An entity that must only be readable (System.Read, part of every role).
  void Read(EntityKind kind, const std::string& name) { Need(kind, name, nullptr, ""); }

  RequiredPrivileges Build() const {
    RequiredPrivileges out;
    for (const auto& [key, entity] : entities_) {
      EntityPrivileges e{
          std::get<0>(key), std::get<1>(key), entity.propagate, std::get<2>(key), {}};
      for (const auto& [id, operations] : entity.privileges)
        e.privileges.push_back({id, operations});
      out.entities.push_back(std::move(e));
    }
    return out;
  }

 private:
  struct Entity {
    bool propagate = false;
    std::map<std::string, std::set<std::string>> privileges;
  };
  std::map<std::tuple<EntityKind, std::string, bool>, Entity> entities_;
};

// The frozen VMs' own needs: clone, power on, snapshot, deploy.
void FrozenVmNeeds(const FrozenVmConfig& frozen, const ClusterConfig& config,
                   const std::set<CloneMode>& modes, Builder& b) {
  const bool deploys = frozen.Deploys();
  // A deployed frozen VM is granted through its pool (it does not exist yet).
  const std::string where =
      deploys ? frozen.resource_pool.empty() ? frozen.cluster : frozen.resource_pool
      : frozen.mode == FrozenVmMode::kExistingPool ? frozen.resource_pool
                                                   : frozen.name;
  const auto need = [&](const char* privilege, const std::string& operation) {
    b.Need(EntityKind::kFrozenVm, where, privilege, operation, deploys, deploys);
  };
  // Their hosts (where instant clones run) must be readable.
  b.Need(EntityKind::kHost, where, nullptr, "", false, deploys);
  if (modes.contains(CloneMode::kInstant)) need(kClone, "instant clone");
  if (modes.contains(CloneMode::kLinked) || modes.contains(CloneMode::kFull)) {
    need(kClone, "clone");
  }
  if (modes.contains(CloneMode::kLinked)) need(kSnapshot, "linked clone (base snapshot)");
  if (frozen.mode != FrozenVmMode::kExistingPool) need(kPowerOn, "frozen VM power-on");
  if (!deploys) return;
  if (config.vsphere.cloud_init.enabled) need(kAdvancedConfig, "frozen VM cloud-init");
  // The OVF deploy: VApp.Import on the target pool and folder (the datacenter's VM folder).
  b.Need(EntityKind::kResourcePool,
         frozen.resource_pool.empty() ? frozen.cluster : frozen.resource_pool, kImport,
         "frozen VM deploy");
  b.Need(EntityKind::kDatastore, frozen.datastore, kAllocateSpace, "frozen VM deploy");
  b.Need(EntityKind::kDatacenter, config.vsphere.datacenter, kImport, "frozen VM deploy");
  // The prepare lease (a folder with an attribute, made and removed in the datacenter's VM
  // folder) that keeps two deploys of one name apart. Folder.Delete must hold on the lease
  // folder itself, so this grant propagates through the datacenter.
  const std::string lease = "frozen-VM prepare lease";
  b.Need(EntityKind::kDatacenter, config.vsphere.datacenter, kFolderCreate, lease, true);
  b.Need(EntityKind::kDatacenter, config.vsphere.datacenter, kFolderDelete, lease, true);
  b.Need(EntityKind::kDatacenter, config.vsphere.datacenter, kSetCustomField, lease, true);
}

// The frozen VMs a node type clones from: its own, else the provider's.
FrozenVmConfig FrozenVmOf(const ClusterConfig& config, const config::NodeConfig& node) {
  if (node.frozen_vm) return *node.frozen_vm;
  return config.vsphere.frozen_vm ? *config.vsphere.frozen_vm : FrozenVmConfig{};
}

// A placement name: the node type's, else a deployed frozen VM's (named by its config), else
// "" (the frozen VM's, found at run time).
std::string PlacementName(const std::string& own, const FrozenVmConfig& frozen,
                          const std::string& deployed) {
  if (!own.empty()) return own;
  return frozen.Deploys() ? deployed : "";
}

// What creating nodes of one node type needs.
void NodeTypeNeeds(const config::NodeConfig& node, const FrozenVmConfig& frozen,
                   const std::string& folder, Builder& b) {
  const bool instant = node.clone_mode == CloneMode::kInstant;
  const std::string clone = instant ? "instant clone" : "clone";
  b.Need(EntityKind::kClusterFolder, folder, kCreateFromExisting, clone, true);
  b.Need(EntityKind::kClusterFolder, folder, kPowerOn, instant ? clone : "node power-on", true);
  if (node.cpus > 0) b.Need(EntityKind::kClusterFolder, folder, kCpuCount, "node resize", true);
  if (node.memory_mib > 0) b.Need(EntityKind::kClusterFolder, folder, kMemory, "node resize", true);
  const std::string deploy_pool =
      frozen.resource_pool.empty() ? frozen.cluster : frozen.resource_pool;
  b.Need(EntityKind::kResourcePool, PlacementName(node.resource_pool, frozen, deploy_pool),
         kAssignVmToPool, clone);
  b.Need(EntityKind::kDatastore, PlacementName(node.datastore, frozen, frozen.datastore),
         kAllocateSpace, clone);
}

// What creating and terminating nodes of each node type needs.
void NodeNeeds(const ClusterConfig& config, Builder& b) {
  const std::string& folder = config.vsphere.folder;
  std::map<std::string, std::set<CloneMode>> modes_per_frozen;  // FrozenVmConfig key
  std::map<std::string, FrozenVmConfig> frozen_vms;
  for (const auto& [name, type] : config.node_types) {
    const FrozenVmConfig frozen = FrozenVmOf(config, type.node_config);
    const std::string key = frozen.ToJson().dump();
    modes_per_frozen[key].insert(type.node_config.clone_mode);
    frozen_vms[key] = frozen;
    NodeTypeNeeds(type.node_config, frozen, folder, b);
    // A GPU node's reconfigure adds PCI passthrough devices (vGPU included). On a host
    // without a usable frozen VM it is a linked clone (FallbackMode) of one, instead of an
    // instant clone: clone, base snapshot, power-on (pool and datastore: as for any clone).
    if (type.node_config.gpus > 0) {
      b.Need(EntityKind::kClusterFolder, folder, kAddRemoveDevice, "GPU devices", true);
      modes_per_frozen[key].insert(provider::FallbackMode(type.node_config.clone_mode));
    }
  }
  for (const auto& [key, modes] : modes_per_frozen) {
    FrozenVmNeeds(frozen_vms[key], config, modes, b);
  }
  b.Need(EntityKind::kClusterFolder, folder, kSetCustomField, "write Ray's tags", true);
  b.Need(EntityKind::kClusterFolder, folder, kPowerOff, "terminate", true);
  b.Need(EntityKind::kClusterFolder, folder, kDelete, "terminate", true);
  // The cluster lease: a folder with an attribute, made and removed in the cluster folder.
  b.Need(EntityKind::kClusterFolder, folder, kFolderCreate, "cluster lease", true);
  b.Need(EntityKind::kClusterFolder, folder, kFolderDelete, "cluster lease", true);
}

}  // namespace

std::string_view EntityKindName(EntityKind kind) {
  switch (kind) {
    case EntityKind::kRoot:
      return "root folder";
    case EntityKind::kDatacenter:
      return "datacenter";
    case EntityKind::kClusterFolder:
      return "cluster folder";
    case EntityKind::kFrozenVm:
      return "frozen VM";
    case EntityKind::kResourcePool:
      return "resource pool";
    case EntityKind::kDatastore:
      return "datastore";
    case EntityKind::kHost:
      return "hosts";
  }
  return "entity";
}

RequiredPrivileges PrivilegesFor(const ClusterConfig& config) {
  Builder b;
  b.Need(EntityKind::kRoot, "", kManageCustomFields, "define Ray's tag keys");
  if (config.vsphere.mirror_vsphere_tags) {
    b.Need(EntityKind::kRoot, "", kCreateCategory, "mirror tags");
    b.Need(EntityKind::kRoot, "", kCreateTag, "mirror tags");
    b.Need(EntityKind::kRoot, "", kAttachTag, "mirror tags");
  }
  b.Read(EntityKind::kDatacenter, config.vsphere.datacenter);
  NodeNeeds(config, b);
  return b.Build();
}

std::vector<std::string> RequiredPrivileges::RoleIds() const {
  std::set<std::string> ids;
  for (const auto& e : entities) {
    for (const auto& p : e.privileges) ids.insert(p.id);
  }
  return {ids.begin(), ids.end()};
}

std::map<std::string, int> RequiredPrivileges::CountPerKind() const {
  std::map<std::string, std::set<std::string>> ids;
  for (const auto& e : entities) {
    auto& set = ids[std::string(EntityKindName(e.kind))];
    for (const auto& p : e.privileges) set.insert(p.id);
  }
  std::map<std::string, int> out;
  for (const auto& [kind, set] : ids) out[kind] = static_cast<int>(set.size());
  return out;
}

std::string EntityLabel(const EntityPrivileges& entity) {
  std::string label(EntityKindName(entity.kind));
  if (entity.deployed) {
    label = entity.kind == EntityKind::kHost ? "hosts of the pool or cluster"
                                             : "frozen VMs deployed in pool or cluster";
  } else if (entity.kind == EntityKind::kHost) {
    label = "hosts of frozen VMs";
  }
  if (!entity.name.empty()) {
    label += " '" + entity.name + "'";
  } else if (entity.kind == EntityKind::kResourcePool || entity.kind == EntityKind::kDatastore) {
    label += " (the frozen VM's)";
  }
  return label;
}

std::string PrivilegesMarkdown(const RequiredPrivileges& required) {
  std::string out = "| Grant on | Propagate | Privilege | Used by |\n|---|---|---|---|\n";
  const auto row = [&out](const std::string& where, const std::string& propagate,
                          const std::string& privilege, const std::string& uses) {
    for (const std::string* cell : {&where, &propagate, &privilege, &uses}) {
      out += "| ";
      out += *cell;
      out += ' ';
    }
    out += "|\n";
  };
  for (const auto& e : required.entities) {
    const std::string where = EntityLabel(e);
    const std::string propagate = e.propagate ? "yes" : "no";
    if (e.privileges.empty()) row(where, propagate, "(read only)", "finding things there");
    for (const auto& p : e.privileges) {
      std::string uses;
      for (const auto& op : p.operations) uses += (uses.empty() ? "" : ", ") + op;
      row(where, propagate, "`" + p.id + "`", uses);
    }
  }
  return out;
}

}  // namespace vsray::cluster
