// A provider's view of one datacenter: which datacenter, its VM folder, placement lookups
// (resource pools, datastores, clusters, VMs by name or inventory path, cached), hosts, and
// the cluster's VM folder. Used by the node provider, the frozen-VM resolver and `vsray
// check`. Thread-safe.
#ifndef VSRAY_PROVIDER_INVENTORY_H_
#define VSRAY_PROVIDER_INVENTORY_H_

#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "common/status.h"
#include "provider/vcenter.h"

namespace vsray::provider {

// The datacenter `wanted` names among `all` (by name), or the only one when `wanted` is "".
// nullopt when `wanted` is not among them (it may still be an inventory path).
// INVALID_ARGUMENT when `wanted` is "" and there are several, or several have that name.
StatusOr<std::optional<DatacenterInfo>> ChooseDatacenter(const std::vector<DatacenterInfo>& all,
                                                         const std::string& wanted);

class Inventory {
 public:
  // Finds datacenter `datacenter` (a name or an inventory path; "" = the only one). Errors:
  // INVALID_ARGUMENT (several and none chosen), NOT_FOUND "'X' not found (have: A, B)".
  static StatusOr<std::unique_ptr<Inventory>> Open(InventoryClient& client,
                                                   const std::string& datacenter);

  const DatacenterInfo& datacenter() const { return datacenter_; }
  InventoryClient& client() const { return client_; }

  // An object of `type` ("ResourcePool", "Datastore", "ClusterComputeResource",
  // "VirtualMachine") by name in the datacenter, or by inventory path when `name` has a '/'.
  // Found objects are cached. NOT_FOUND if none, FAILED_PRECONDITION if several.
  StatusOr<MoRef> FindPlacement(const std::string& type, const std::string& name);
  // Folder `name` in `parent` (the datacenter's VM folder when empty), created if missing
  // (also when another provider creates it at the same moment).
  StatusOr<MoRef> EnsureFolder(const MoRef& parent, const std::string& name);
  // Folder `name` relative to the datacenter's VM folder (an inventory path when it has a
  // '/'); nullopt when it does not exist. Looks only.
  StatusOr<std::optional<MoRef>> FindFolder(const std::string& name);
  // Every host of the datacenter, by id.
  StatusOr<std::map<std::string, HostInfo>> Hosts() { return client_.Hosts(datacenter_.ref); }

 private:
  Inventory(InventoryClient& client, DatacenterInfo datacenter)
      : client_(client), datacenter_(std::move(datacenter)) {}
  // NOT_FOUND for `name`, with the closest names of `type` that exist ("did you mean").
  Status NotFoundWithSuggestions(const std::string& type, const std::string& name);

  InventoryClient& client_;
  const DatacenterInfo datacenter_;
  std::mutex mu_;
  std::map<std::string, MoRef> placement_;  // "type/name" -> object
};

}  // namespace vsray::provider

#endif  // VSRAY_PROVIDER_INVENTORY_H_
