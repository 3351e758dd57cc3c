#include "cluster/grants.h"

#include <algorithm>
#include <map>
#include <utility>

#include "cluster/cluster.h"
#include "provider/inventory.h"
#include "provider/node_provider.h"
#include "provider/vcenter_vsphere.h"
#include "vsphere/authorization.h"
#include "vsphere/vim.h"

namespace vsray::cluster {
namespace {

using vsphere::MoRef;

// Every distinct frozen_vm of the config (the provider's, then the node types' own).
std::vector<config::FrozenVmConfig> FrozenVmConfigs(const config::ClusterConfig& config) {
  std::vector<config::FrozenVmConfig> out;
  if (config.vsphere.frozen_vm) out.push_back(*config.vsphere.frozen_vm);
  for (const auto& [name, type] : config.node_types) {
    const auto& own = type.node_config.frozen_vm;
    if (own && std::find(out.begin(), out.end(), *own) == out.end()) out.push_back(*own);
  }
  return out;
}

// Resolves entities of a config in one vCenter, and gathers the grants.
class Resolver {
 public:
  Resolver(const config::ClusterConfig& config, std::shared_ptr<vsphere::Session> session)
      : config_(config),
        session_(std::move(session)),
        vim_(*session_, session_->content()),
        auth_(vim_),
        vcenter_(provider::VcenterOver(session_)) {}

  Status Open() {
    VSRAY_ASSIGN_OR_RETURN(
        inventory_, provider::Inventory::Open(vcenter_->inventory(), config_.vsphere.datacenter));
    return LoadFrozenVms();
  }

  Status Add(const EntityPrivileges& e, bool create_folder) {
    VSRAY_ASSIGN_OR_RETURN(auto refs, Entities(e, create_folder));
    std::set<std::string> ids;
    for (const auto& p : e.privileges) ids.insert(p.id);
    for (const MoRef& ref : refs) {
      VSRAY_ASSIGN_OR_RETURN(const MoRef holder, auth_.PermissionHolder(ref));
      Grant& g = grants_[holder.value];
      g.entity = holder;
      const std::string label = EntityLabel(e) + " (" + holder.value + ")";
      g.label += (g.label.empty() ? "" : "; ") + label;
      // An owner granted for a child it holds for (a root pool's cluster) propagates only
      // if the child's grant asks for it: the child inherits either way.
      g.propagate = g.propagate || e.propagate;
      g.privileges.insert(ids.begin(), ids.end());
    }
    return OkStatus();
  }

  Grants Take() {
    Grants out;
    for (auto& [ref, g] : grants_) out.grants.push_back(std::move(g));
    out.pending = std::move(pending_);
    return out;
  }

 private:
  Status LoadFrozenVms() {
    for (const auto& frozen : FrozenVmConfigs(config_)) {
      if (frozen.Deploys()) continue;
      VSRAY_ASSIGN_OR_RETURN(auto options, MakeProviderOptions(config_, /*watch=*/false));
      options.frozen_vm = ToFrozenVmSpec(frozen);
      options.vcenter = [conn = vcenter_](const vsphere::ConnectOptions&) {
        return StatusOr<std::shared_ptr<provider::VcenterConnection>>(conn);
      };
      VSRAY_ASSIGN_OR_RETURN(
          auto statuses, provider::NodeProvider::FrozenVmStatusOf(options, config_.cluster_name));
      const std::string key =
          frozen.mode == config::FrozenVmMode::kExistingPool ? frozen.resource_pool : frozen.name;
      for (const auto& s : statuses) {
        if (s.id.empty()) continue;
        VSRAY_ASSIGN_OR_RETURN(auto record, vcenter_->inventory().Vm({"VirtualMachine", s.id}));
        frozen_[key].push_back(record.vm);
        all_frozen_.push_back(record.vm);
      }
    }
    return OkStatus();
  }

  // A pool, or a cluster (a deploy's `frozen_vm.cluster`), by name.
  StatusOr<MoRef> PoolOrCluster(const std::string& name) {
    auto pool = inventory_->FindPlacement("ResourcePool", name);
    if (pool.ok() || pool.status().code() != StatusCode::kNotFound) return pool;
    auto cluster = inventory_->FindPlacement("ClusterComputeResource", name);
    if (!cluster.ok()) return pool.status();
    return vcenter_->inventory().ClusterPool(*cluster);
  }

  StatusOr<std::vector<MoRef>> ClusterFolder(const std::string& name, bool create) {
    const MoRef next_to = all_frozen_.empty() ? MoRef{} : all_frozen_.front().folder;
    if (create) {
      VSRAY_ASSIGN_OR_RETURN(auto folder, inventory_->EnsureFolder(next_to, name));
      return std::vector<MoRef>{folder};
    }
    const MoRef parent = next_to.empty() ? inventory_->datacenter().vm_folder : next_to;
    VSRAY_ASSIGN_OR_RETURN(auto folder, vcenter_->inventory().FindChild(parent, name));
    if (!folder) {
      pending_.push_back("cluster folder '" + name +
                         "' does not exist yet: `vsray role create` (as an administrator) "
                         "creates it so that it can be granted");
      return std::vector<MoRef>{};
    }
    return std::vector<MoRef>{*folder};
  }

  // The frozen VMs' own pools or datastores.
  std::vector<MoRef> FrozenPlacements(bool pools) const {
    std::map<std::string, MoRef> out;
    for (const auto& vm : all_frozen_) {
      const MoRef& ref = pools ? vm.pool : vm.datastore;
      out[ref.value] = ref;
    }
    std::vector<MoRef> refs;
    refs.reserve(out.size());
    for (const auto& [id, ref] : out) refs.push_back(ref);
    return refs;
  }

  // The hosts of frozen VMs, or of the pool they are deployed in.
  StatusOr<std::vector<MoRef>> Hosts(const EntityPrivileges& e) {
    if (e.deployed) {
      VSRAY_ASSIGN_OR_RETURN(auto pool, PoolOrCluster(e.name));
      return vcenter_->inventory().PoolHosts(pool);
    }
    std::map<std::string, MoRef> hosts;
    if (const auto it = frozen_.find(e.name); it != frozen_.end()) {
      for (const auto& vm : it->second) hosts[vm.host.value] = vm.host;
    }
    std::vector<MoRef> refs;
    refs.reserve(hosts.size());
    for (const auto& [id, ref] : hosts) refs.push_back(ref);
    return refs;
  }

  StatusOr<std::vector<MoRef>> Entities(const EntityPrivileges& e, bool create_folder) {
    switch (e.kind) {
      case EntityKind::kRoot:
        return std::vector<MoRef>{session_->content().root_folder};
      case EntityKind::kDatacenter:
        return std::vector<MoRef>{inventory_->datacenter().ref};
      case EntityKind::kClusterFolder:
        return ClusterFolder(e.name, create_folder);
      case EntityKind::kFrozenVm: {
        if (e.deployed) {
          VSRAY_ASSIGN_OR_RETURN(auto pool, PoolOrCluster(e.name));
          return std::vector<MoRef>{pool};
        }
        const auto it = frozen_.find(e.name);
        if (it == frozen_.end()) return NotFoundError("frozen VM '" + e.name + "' not found");
        std::vector<MoRef> vms;
        for (const auto& vm : it->second) vms.push_back(vm.vm);
        return vms;
      }
      case EntityKind::kHost:
        return Hosts(e);
      case EntityKind::kResourcePool: {
        if (e.name.empty()) return FrozenPlacements(true);
        VSRAY_ASSIGN_OR_RETURN(auto pool, PoolOrCluster(e.name));
        return std::vector<MoRef>{pool};
      }
      case EntityKind::kDatastore: {
        if (e.name.empty()) return FrozenPlacements(false);
        VSRAY_ASSIGN_OR_RETURN(auto ds, inventory_->FindPlacement("Datastore", e.name));
        return std::vector<MoRef>{ds};
      }
    }
    return std::vector<MoRef>{};
  }

  const config::ClusterConfig& config_;
  std::shared_ptr<vsphere::Session> session_;
  vsphere::Vim vim_;
  vsphere::Authorization auth_;
  std::shared_ptr<provider::VcenterConnection> vcenter_;
  std::unique_ptr<provider::Inventory> inventory_;
  std::map<std::string, std::vector<provider::FrozenVm>> frozen_;
  std::vector<provider::FrozenVm> all_frozen_;
  std::map<std::string, Grant> grants_;  // by entity id
  std::vector<std::string> pending_;
};

}  // namespace

StatusOr<Grants> ResolveGrants(const RequiredPrivileges& required,
                               const config::ClusterConfig& config,
                               const std::shared_ptr<vsphere::Session>& session,
                               bool create_folder) {
  Resolver resolver(config, session);
  VSRAY_RETURN_IF_ERROR(resolver.Open());
  for (const auto& e : required.entities) VSRAY_RETURN_IF_ERROR(resolver.Add(e, create_folder));
  return resolver.Take();
}

}  // namespace vsray::cluster
