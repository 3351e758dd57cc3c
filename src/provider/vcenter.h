// The seam under the provider: what provider logic asks of vCenter, in the provider's own
// vocabulary (no SOAP or REST above src/vsphere/). One interface per concern, gathered by a
// VcenterConnection. The real implementation (vcenter_vsphere.h) goes through Session, Vim,
// VmOps, TaskWaiter, FolderWatcher and RestClient; tests/support/fake_vcenter.h is an in-memory
// vCenter for unit tests. Implementations are thread-safe. Besides the errors each method
// lists, any may return the connection's: UNAVAILABLE, DEADLINE_EXCEEDED, UNAUTHENTICATED,
// PERMISSION_DENIED (NoPermission), CANCELLED (closed).
#ifndef VSRAY_PROVIDER_VCENTER_H_
#define VSRAY_PROVIDER_VCENTER_H_

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "common/status.h"
#include "provider/frozen_vm.h"
#include "provider/node.h"
#include "provider/node_cache.h"
#include "vsphere/passthrough.h"
#include "vsphere/rest.h"
#include "vsphere/session.h"
#include "vsphere/vim.h"

namespace vsray::provider {

using vsphere::MoRef;

struct DatacenterInfo {
  MoRef ref;
  std::string name;
  MoRef vm_folder;  // the root of its VM folders
};

struct HostInfo {
  std::string name;
  std::string state;  // connected | disconnected | notResponding | maintenance
};

// A VM as the frozen-VM resolver reads it.
struct VmRecord {
  FrozenVm vm;  // id, name, host, parent folder, pool, first datastore, NICs
  std::string power_state;
  bool frozen = false;  // runtime.instantCloneFrozen
};

// Lookups in the inventory (and the one thing the provider creates there: folders).
class InventoryClient {
 public:
  virtual ~InventoryClient() = default;
  // Every datacenter.
  virtual StatusOr<std::vector<DatacenterInfo>> Datacenters() = 0;
  // One datacenter. NOT_FOUND if there is no such datacenter.
  virtual StatusOr<DatacenterInfo> Datacenter(const MoRef& datacenter) = 0;
  // What is at an inventory path ("DC0/host/C0/Resources"); nullopt if nothing.
  virtual StatusOr<std::optional<MoRef>> FindByPath(const std::string& path) = 0;
  // Every object of `type` named `name` under `root`.
  virtual StatusOr<std::vector<MoRef>> FindByName(const std::string& type, const std::string& name,
                                                  const MoRef& root) = 0;
  // The names of every object of `type` under `root` (for "did you mean" in errors).
  virtual StatusOr<std::vector<std::string>> NamesOf(const std::string& type,
                                                     const MoRef& root) = 0;
  // The child named `name` of folder `parent`; nullopt if none.
  virtual StatusOr<std::optional<MoRef>> FindChild(const MoRef& parent,
                                                   const std::string& name) = 0;
  // A new folder in `parent`. ALREADY_EXISTS if `parent` has a child of that name.
  virtual StatusOr<MoRef> CreateFolder(const MoRef& parent, const std::string& name) = 0;
  // Every host of a datacenter, by id.
  virtual StatusOr<std::map<std::string, HostInfo>> Hosts(const MoRef& datacenter) = 0;
  // The hosts of the cluster (or standalone host) that owns resource pool `pool`. NOT_FOUND
  // if the pool has no owner.
  virtual StatusOr<std::vector<MoRef>> PoolHosts(const MoRef& pool) = 0;
  // The root resource pool of a cluster.
  virtual StatusOr<MoRef> ClusterPool(const MoRef& cluster) = 0;
  // Ids of the hosts that mount datastore `datastore`.
  virtual StatusOr<std::set<std::string>> DatastoreHosts(const MoRef& datastore) = 0;
  // One VM. NOT_FOUND (fault ManagedObjectNotFound) if it doesn't exist.
  virtual StatusOr<VmRecord> Vm(const MoRef& vm) = 0;
  // Several VMs in one call, in no particular order. NOT_FOUND if any of them is gone.
  virtual StatusOr<std::vector<VmRecord>> Vms(const std::vector<MoRef>& vms) = 0;
  // Every VM in resource pool `pool`.
  virtual StatusOr<std::vector<VmRecord>> VmsInPool(const MoRef& pool) = 0;
  // The current snapshot of a VM; an empty ref if it has none. NOT_FOUND if the VM is gone.
  virtual StatusOr<MoRef> CurrentSnapshot(const MoRef& vm) = 0;
  // The VMs of folder `folder` as nodes (one listing).
  virtual StatusOr<std::vector<Node>> Nodes(const MoRef& folder) = 0;
  // One VM as a node. NOT_FOUND if it doesn't exist.
  virtual StatusOr<Node> NodeOf(const MoRef& vm) = 0;
};

// Custom attributes of VMs (Ray's tags live there).
class FieldsClient {
 public:
  virtual ~FieldsClient() = default;
  // The attributes defined for VMs (or for every type), as (name, key).
  virtual StatusOr<std::vector<std::pair<std::string, int>>> Definitions() = 0;
  // Defines a VM attribute; returns its key. ALREADY_EXISTS if one of that name exists.
  virtual StatusOr<int> Define(const std::string& name) = 0;
  // Sets attribute `key` of `vm`. NOT_FOUND if the VM is gone.
  virtual Status Set(const MoRef& vm, int key, const std::string& value) = 0;
};

// VM operations, desired-state (vsphere::VmOps): each returns when the task has ended, and
// "already in that state" / "already gone" counts as done. Errors: the task's fault as its
// status (fault() set, e.g. InvalidState), DEADLINE_EXCEEDED after the timeout.
class VmClient {
 public:
  using Timeout = std::chrono::milliseconds;
  virtual ~VmClient() = default;
  // A new VM instant-cloned from `parent`, on its host. An unknown outcome (UNAVAILABLE,
  // DEADLINE_EXCEEDED) is resolved as VmOps::InstantClone does: a clone that exists after a
  // lost reply is returned; one whose task outlived the wait is destroyed.
  virtual StatusOr<MoRef> InstantClone(const MoRef& parent, const vsphere::InstantCloneSpec& spec,
                                       Timeout timeout) = 0;
  // A linked or full clone (CloneVM_Task) of `parent` into `folder` named `name`; as above.
  virtual StatusOr<MoRef> Clone(const MoRef& parent, const MoRef& folder, const std::string& name,
                                const vsphere::CloneSpec& spec, Timeout timeout) = 0;
  virtual Status PowerOn(const MoRef& vm, Timeout timeout) = 0;
  // NOT_FOUND if the VM is gone.
  virtual Status PowerOff(const MoRef& vm, Timeout timeout) = 0;
  // Powers off (first trying the destroy alone when `known_off`) and destroys; gone is done.
  virtual Status Destroy(const MoRef& vm, bool known_off, Timeout timeout) = 0;
  virtual Status Reconfigure(const MoRef& vm, const vsphere::ConfigSpec& spec, Timeout timeout) = 0;
  // A snapshot of `vm` named `name`; returns it.
  virtual StatusOr<MoRef> CreateSnapshot(const MoRef& vm, const std::string& name,
                                         Timeout timeout) = 0;
  // Waits until runtime.instantCloneFrozen of `vm` is true. DEADLINE_EXCEEDED after `timeout`.
  virtual Status WaitFrozen(const MoRef& vm, Timeout timeout) = 0;
  // Waits until the guest of `vm` runs (VMware Tools report guestToolsRunning): a new instant
  // clone has resumed and can be powered off. DEADLINE_EXCEEDED after `timeout`.
  virtual Status WaitGuestRunning(const MoRef& vm, Timeout timeout) = 0;
};

// GPUs: what hosts have (PCI passthrough, Dynamic DirectPath I/O, vGPU) and what VMs hold.
class GpuClient {
 public:
  virtual ~GpuClient() = default;
  // The GPU-relevant state of `hosts` and their VMs with passthrough devices, read at once.
  // `assignable_hardware`: also custom labels and Dynamic DirectPath bindings (vSphere 7.0
  // properties). NOT_FOUND if a host is gone.
  virtual StatusOr<std::vector<vsphere::HostGpuInfo>> HostGpus(const std::vector<MoRef>& hosts,
                                                               bool assignable_hardware) = 0;
  // The system id of each passthrough device of `host`, by PCI id (QueryConfigTarget).
  virtual StatusOr<std::map<std::string, std::string>> SystemIds(const MoRef& host) = 0;
  // The passthrough devices of `vms`; VMs that are gone are left out.
  virtual StatusOr<std::vector<vsphere::VmPassthroughInfo>> VmGpus(
      const std::vector<MoRef>& vms) = 0;
};

// A live view of a folder, kept until the handle is destroyed.
class NodeWatch {
 public:
  virtual ~NodeWatch() = default;
};

class WatchClient {
 public:
  virtual ~WatchClient() = default;
  // Keeps `cache` in step with the VMs of `folder` (it must outlive the handle), re-listing
  // the folder every `resync` as a safety net (zero: never). Never fails: trouble is retried
  // in the background.
  virtual std::unique_ptr<NodeWatch> Watch(const MoRef& folder, NodeCache& cache,
                                           std::chrono::seconds resync) = 0;
};

// Content libraries (deploys of frozen VMs from OVF).
class LibraryClient {
 public:
  virtual ~LibraryClient() = default;
  // The id of an item: "library/item", an item name unique over all libraries, or an item
  // id. NOT_FOUND if none; FAILED_PRECONDITION if several items have that name.
  virtual StatusOr<std::string> FindItem(const std::string& item) = 0;
  // Deploys OVF item `item_id` as a new VM; returns it. Errors: RestClient::DeployOvf's.
  virtual StatusOr<MoRef> DeployOvf(const std::string& item_id,
                                    const vsphere::OvfDeploySpec& spec) = 0;
};

// Ray's tags mirrored as vSphere tags (vsphere_config.mirror_vsphere_tags); see tag_mirror.h.
class TagMirrorClient {
 public:
  virtual ~TagMirrorClient() = default;
  // A new node: attaches a tag for each of `tags`.
  virtual Status Attach(const std::string& vm_id, const TagMap& tags) = 0;
  // Changed tags of a node: replaces `key:previous` by `key:new` for each changed key.
  virtual Status Change(const std::string& vm_id, const TagMap& previous,
                        const TagMap& changed) = 0;
};

// Lease folders (lease.h): folders made atomically in a parent folder, each with one text
// record (a custom attribute of the folder, "vsray-lease", defined for folders on first use).
class LeaseClient {
 public:
  struct Entry {
    MoRef folder;
    std::string name;
    std::optional<std::string> record;  // nullopt: none written (yet)
  };
  virtual ~LeaseClient() = default;
  // The child folders of `parent` whose names start with `prefix`, with their records.
  virtual StatusOr<std::vector<Entry>> List(const MoRef& parent, const std::string& prefix) = 0;
  // A new child folder of `parent`. ALREADY_EXISTS (DuplicateName) if it has a child of that
  // name: vCenter gives a name to one creator only.
  virtual StatusOr<MoRef> Create(const MoRef& parent, const std::string& name) = 0;
  // Sets the record of lease folder `folder`. NOT_FOUND if it is gone.
  virtual Status Write(const MoRef& folder, const std::string& record) = 0;
  // Removes lease folder `folder`; already gone counts as done.
  virtual Status Remove(const MoRef& folder) = 0;
};

// One provider's connection to vCenter.
class VcenterConnection {
 public:
  virtual ~VcenterConnection() = default;
  virtual InventoryClient& inventory() = 0;
  virtual FieldsClient& fields() = 0;
  virtual VmClient& vms() = 0;
  virtual WatchClient& watch() = 0;
  virtual LibraryClient& library() = 0;
  virtual LeaseClient& leases() = 0;
  virtual GpuClient& gpus() = 0;
  // A mirror of Ray's tags as vSphere tags, for a provider that enables it.
  virtual std::unique_ptr<TagMirrorClient> NewTagMirror() = 0;
};

// Makes a provider's connection. The default (ConnectVcenter) logs in, or shares the session of
// the same server and user. Errors: those of vsphere::Session::Connect.
using VcenterFactory = std::function<StatusOr<std::shared_ptr<VcenterConnection>>(
    const vsphere::ConnectOptions& options)>;

}  // namespace vsray::provider

#endif  // VSRAY_PROVIDER_VCENTER_H_
