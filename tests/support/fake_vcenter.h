// An in-memory vCenter behind the provider's seam (provider/vcenter.h), for unit tests of
// provider logic without a simulator: one datacenter with hosts (and their states), resource
// pools, folders, VMs (name, host, folder, pool, power, frozen flag, custom values,
// extraConfig, a guest address when on, snapshots, PCI passthrough devices), GPUs of hosts,
// custom field definitions, content-library items, and operations that succeed or fail on
// demand. It keeps the interfaces' contracts
// (desired-state VM operations, ALREADY_EXISTS, NOT_FOUND...). A watch keeps a cache in step
// with a folder synchronously, after every change. Thread-safe.
#ifndef VSRAY_TESTS_SUPPORT_FAKE_VCENTER_H_
#define VSRAY_TESTS_SUPPORT_FAKE_VCENTER_H_

#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "provider/vcenter.h"

namespace vsray::testing {

using provider::MoRef;

struct FakeVm {
  MoRef ref;
  std::string name;
  MoRef host;
  MoRef folder;
  MoRef pool;
  std::string power_state = "poweredOn";
  bool frozen = false;
  bool frozen_image = false;  // freezes when powered on (a frozen-VM image)
  std::map<std::string, std::string> extra_config;
  std::map<int, std::string> custom;  // custom field key -> value
  std::optional<int> cpus;
  std::optional<std::int64_t> memory_mb;
  MoRef snapshot;       // current snapshot
  std::string address;  // the guest's IPv4, reported while powered on
  // PCI passthrough devices (ReconfigVM), and what a dynamic one was bound to while on.
  std::vector<vsphere::PciPassthroughSpec> gpus;
  std::vector<std::string> assigned;  // dynamic: the bound PCI id, per device ("" if none)
  bool memory_locked = false;         // memoryReservationLockedToMax
};

// A GPU of a fake host.
struct FakeGpu {
  std::string id;  // "0000:3b:00.0"
  std::uint16_t vendor_id = 0x10de;
  std::uint16_t device_id = 0x20f1;
  std::uint16_t class_id = 0x0302;
  std::string name = "GA100 [A100 PCIe 40GB]";
  std::string label;
  // vGPU mode (shared direct) with this much memory, instead of passthrough.
  std::vector<std::string> vgpu_profiles;
  std::int64_t memory_gb = 0;
};

class FakeVcenter final : public provider::VcenterConnection,
                          public provider::InventoryClient,
                          public provider::FieldsClient,
                          public provider::VmClient,
                          public provider::WatchClient,
                          public provider::LibraryClient,
                          public provider::LeaseClient,
                          public provider::GpuClient,
                          public std::enable_shared_from_this<FakeVcenter> {
 public:
  // A datacenter "DC0" (its VM folder: vm_folder()) with one datastore; no hosts yet.
  FakeVcenter();

  // ---- The world ----
  const MoRef& datacenter() const { return datacenter_; }
  const MoRef& vm_folder() const { return vm_folder_; }
  const MoRef& datastore() const { return datastore_; }
  MoRef AddHost(const std::string& name, const std::string& state = "connected");
  void SetHostState(const MoRef& host, const std::string& state);
  // A resource pool owned by a cluster of `hosts`, named `name`.
  MoRef AddPool(const std::string& name, const std::vector<MoRef>& hosts);
  MoRef AddFolder(const std::string& name, const MoRef& parent);
  // A VM (ref assigned when empty); returns its ref.
  MoRef AddVm(FakeVm vm);
  // A powered-on, frozen VM with one NIC on `host`, in the datacenter's VM folder.
  MoRef AddFrozenVm(const std::string& name, const MoRef& host, const MoRef& pool = {});
  void SetFrozen(const MoRef& vm, bool frozen);
  void SetPower(const MoRef& vm, const std::string& power_state);
  void AddLibraryItem(const std::string& name, bool frozen_image);
  // A GPU on `host` (its id: the next bus from 3b when empty); returns its id. Power-ons bind
  // GPUs as vCenter does: a fixed device held by a running VM, or no free device for a
  // dynamic one, fails the power-on (GenericVmConfigFault, InsufficientResourcesFault).
  std::string AddGpu(const MoRef& host, FakeGpu gpu = {});

  // ---- Looking ----
  std::optional<FakeVm> Find(const MoRef& vm) const;
  std::optional<FakeVm> FindNamed(const std::string& name) const;
  std::vector<FakeVm> VmsIn(const MoRef& folder) const;
  // Every operation so far, in order: "InstantClone <name>", "Reconfigure vm-N",
  // "Set vm-N <field name>=<value>", "Destroy vm-N", "PowerOn vm-N", "DeployOvf <name>"...
  std::vector<std::string> journal() const;
  // How many times operation `op` ("InstantClone", "Set"...) was called.
  int calls(const std::string& op) const;

  // ---- Faults and hooks ----
  // The `nth` call of `op` from now (and every later one with `and_after`) fails with
  // `status` and changes nothing.
  void Fail(const std::string& op, Status status, int nth = 1, bool and_after = false);
  // Runs before every operation, without the fake's lock (it may look at the provider).
  void BeforeCall(std::function<void(const std::string& op)> hook);

  // For ProviderOptions::vcenter: this fake, whatever the connect options.
  provider::VcenterFactory Factory();
  // Journals a call of the tags mirror NewTagMirror returns ("Mirror" operation).
  Status Mirror(const std::string& entry);

  // ---- VcenterConnection ----
  provider::InventoryClient& inventory() override { return *this; }
  provider::FieldsClient& fields() override { return *this; }
  provider::VmClient& vms() override { return *this; }
  provider::WatchClient& watch() override { return *this; }
  provider::LibraryClient& library() override { return *this; }
  provider::LeaseClient& leases() override { return *this; }
  provider::GpuClient& gpus() override { return *this; }
  std::unique_ptr<provider::TagMirrorClient> NewTagMirror() override;

  // ---- InventoryClient ----
  StatusOr<std::vector<provider::DatacenterInfo>> Datacenters() override;
  StatusOr<provider::DatacenterInfo> Datacenter(const MoRef& datacenter) override;
  StatusOr<std::optional<MoRef>> FindByPath(const std::string& path) override;
  StatusOr<std::vector<MoRef>> FindByName(const std::string& type, const std::string& name,
                                          const MoRef& root) override;
  StatusOr<std::vector<std::string>> NamesOf(const std::string& type, const MoRef& root) override;
  StatusOr<std::optional<MoRef>> FindChild(const MoRef& parent, const std::string& name) override;
  StatusOr<MoRef> CreateFolder(const MoRef& parent, const std::string& name) override;
  StatusOr<std::map<std::string, provider::HostInfo>> Hosts(const MoRef& datacenter) override;
  StatusOr<std::vector<MoRef>> PoolHosts(const MoRef& pool) override;
  StatusOr<MoRef> ClusterPool(const MoRef& cluster) override;
  StatusOr<std::set<std::string>> DatastoreHosts(const MoRef& datastore) override;
  StatusOr<provider::VmRecord> Vm(const MoRef& vm) override;
  StatusOr<std::vector<provider::VmRecord>> Vms(const std::vector<MoRef>& vms) override;
  StatusOr<std::vector<provider::VmRecord>> VmsInPool(const MoRef& pool) override;
  StatusOr<MoRef> CurrentSnapshot(const MoRef& vm) override;
  StatusOr<std::vector<provider::Node>> Nodes(const MoRef& folder) override;
  StatusOr<provider::Node> NodeOf(const MoRef& vm) override;

  // ---- FieldsClient ----
  StatusOr<std::vector<std::pair<std::string, int>>> Definitions() override;
  StatusOr<int> Define(const std::string& name) override;
  Status Set(const MoRef& vm, int key, const std::string& value) override;

  // ---- VmClient ----
  StatusOr<MoRef> InstantClone(const MoRef& parent, const vsphere::InstantCloneSpec& spec,
                               Timeout timeout) override;
  StatusOr<MoRef> Clone(const MoRef& parent, const MoRef& folder, const std::string& name,
                        const vsphere::CloneSpec& spec, Timeout timeout) override;
  Status PowerOn(const MoRef& vm, Timeout timeout) override;
  Status PowerOff(const MoRef& vm, Timeout timeout) override;
  Status Destroy(const MoRef& vm, bool known_off, Timeout timeout) override;
  Status Reconfigure(const MoRef& vm, const vsphere::ConfigSpec& spec, Timeout timeout) override;
  StatusOr<MoRef> CreateSnapshot(const MoRef& vm, const std::string& name,
                                 Timeout timeout) override;
  Status WaitFrozen(const MoRef& vm, Timeout timeout) override;
  Status WaitGuestRunning(const MoRef& vm, Timeout timeout) override;

  // ---- GpuClient ----
  StatusOr<std::vector<vsphere::HostGpuInfo>> HostGpus(const std::vector<MoRef>& hosts,
                                                       bool assignable_hardware) override;
  StatusOr<std::map<std::string, std::string>> SystemIds(const MoRef& host) override;
  StatusOr<std::vector<vsphere::VmPassthroughInfo>> VmGpus(const std::vector<MoRef>& vms) override;

  // ---- WatchClient ----
  std::unique_ptr<provider::NodeWatch> Watch(const MoRef& folder, provider::NodeCache& cache,
                                             std::chrono::seconds resync) override;

  // ---- LibraryClient ----
  StatusOr<std::string> FindItem(const std::string& item) override;
  StatusOr<MoRef> DeployOvf(const std::string& item_id,
                            const vsphere::OvfDeploySpec& spec) override;

  // ---- LeaseClient (operations "LeaseList", "LeaseCreate", "LeaseWrite", "LeaseRemove") ----
  StatusOr<std::vector<Entry>> List(const MoRef& parent, const std::string& prefix) override;
  StatusOr<MoRef> Create(const MoRef& parent, const std::string& name) override;
  Status Write(const MoRef& folder, const std::string& record) override;
  Status Remove(const MoRef& folder) override;
  // The record of a lease folder, as written.
  std::optional<std::string> LeaseRecordOf(const MoRef& folder) const;

 private:
  class FakeWatch;
  struct Fault {
    Status status;
    int nth;
    bool and_after;
    int seen = 0;
  };
  struct Pool {
    std::string name;
    std::vector<MoRef> hosts;
  };

  // Counts the call, runs the hook, journals `entry` and returns the fault due, if any.
  // Takes the lock itself; call without it.
  Status Enter(const std::string& op, const std::string& entry);
  // Callers hold mu_.
  FakeVm* VmLocked(const MoRef& vm);
  provider::Node NodeLocked(const FakeVm& vm) const;
  provider::VmRecord RecordLocked(const FakeVm& vm) const;
  MoRef NewRef(const std::string& type, const std::string& prefix);
  std::string FieldName(int key) const;
  StatusOr<MoRef> MakeClone(const MoRef& parent, const std::string& name, const MoRef& folder,
                            const std::vector<vsphere::OptionValue>& config, bool powered_on);
  // Brings every watching cache in step (without the lock).
  void Notify();
  // Binds the GPUs of `vm` for a power-on; the fault if they cannot be (callers hold mu_).
  Status BindGpusLocked(FakeVm& vm);
  // Who holds PCI id `id` on `host` among running VMs ("" if none; callers hold mu_).
  std::string HolderLocked(const MoRef& host, const std::string& id) const;
  vsphere::VmPassthroughInfo PassthroughLocked(const FakeVm& vm) const;

  std::mutex notify_mu_;  // one Notify at a time, so that listings reach caches in order
  mutable std::mutex mu_;
  int next_id_ = 100;
  MoRef datacenter_;
  MoRef vm_folder_;
  MoRef datastore_;
  std::map<std::string, provider::HostInfo> hosts_;               // id -> host
  std::map<std::string, std::vector<FakeGpu>> gpus_;              // host id -> GPUs
  std::map<std::string, Pool> pools_;                             // id -> pool
  std::map<std::string, std::pair<std::string, MoRef>> folders_;  // id -> (name, parent)
  std::map<std::string, FakeVm> vms_;                             // id -> VM
  std::map<std::string, int> fields_;                             // name -> key
  std::map<std::string, bool> items_;                             // library item -> frozen image
  std::map<std::string, std::vector<Fault>> faults_;              // op -> faults
  std::map<std::string, int> calls_;
  std::vector<std::string> journal_;
  std::function<void(const std::string&)> hook_;
  std::vector<std::pair<MoRef, provider::NodeCache*>> watches_;
  std::map<std::string, std::string> lease_records_;  // folder id -> record
};

}  // namespace vsray::testing

#endif  // VSRAY_TESTS_SUPPORT_FAKE_VCENTER_H_
