// The vCenter privileges a cluster config needs, per entity it must be granted on: the one
// list that `vsray role show|create`, `vsray check` and the README's VI-admin section are made
// from. Derived from what vsray does with the config (a config that never deploys from a
// content library asks for no library privilege; clone_mode linked asks for snapshots...).
#ifndef VSRAY_CLUSTER_PRIVILEGES_H_
#define VSRAY_CLUSTER_PRIVILEGES_H_

#include <map>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "config/cluster_config.h"

namespace vsray::cluster {

// The kinds of entities vsray's role is granted on.
enum class EntityKind {
  kRoot,           // vCenter's root folder: custom attribute definitions, tags, libraries
  kDatacenter,     // the datacenter (its VM folder inherits): finding things, OVF deploys
  kClusterFolder,  // the cluster's VM folder (`vsphere_config.folder`), propagating to nodes
  kFrozenVm,       // each frozen VM (the clones' parents)
  kResourcePool,   // each resource pool nodes or frozen VMs are placed in
  kDatastore,      // each datastore nodes or frozen VMs are placed on
  kHost,           // each host of the frozen VMs (the clones run there): read only
};

std::string_view EntityKindName(EntityKind kind);  // "root folder", "cluster folder", ...

// One privilege and the vsray operations that need it ("instant clone", "terminate").
struct PrivilegeUse {
  std::string id;  // e.g. "VirtualMachine.Provisioning.Clone"
  std::set<std::string> operations;
};

// Where the role must be granted, and what it is needed for there.
struct EntityPrivileges {
  EntityKind kind;
  // What the config calls it ("" = found at run time: the frozen VM's pool, datastore...).
  std::string name;
  // The permission propagates to children (the cluster folder: to the nodes).
  bool propagate = false;
  // A frozen VM that vsray deploys: the grant goes on the resource pool it is deployed in,
  // propagating (the VM does not exist when the role is granted).
  bool deployed = false;
  std::vector<PrivilegeUse> privileges;  // sorted by id; System.* are not listed
};

struct RequiredPrivileges {
  std::vector<EntityPrivileges> entities;  // in EntityKind order

  // Every privilege id, sorted: the role's privileges.
  std::vector<std::string> RoleIds() const;
  // Privilege count per entity kind name.
  std::map<std::string, int> CountPerKind() const;
};

// What `config` needs. Pure: no vCenter.
RequiredPrivileges PrivilegesFor(const config::ClusterConfig& config);

// "cluster folder 'ray-x'", "resource pool (the frozen VM's)", ...
std::string EntityLabel(const EntityPrivileges& entity);

// The README's VI-admin section for `config` (Markdown).
std::string PrivilegesMarkdown(const RequiredPrivileges& required);

}  // namespace vsray::cluster

#endif  // VSRAY_CLUSTER_PRIVILEGES_H_
