#include "provider/vcenter_vsphere.h"

#include <mutex>
#include <utility>

#include "provider/folder_watcher.h"
#include "provider/lease_vsphere.h"
#include "provider/tag_mirror.h"
#include "vsphere/passthrough.h"
#include "vsphere/rest.h"
#include "vsphere/task_waiter.h"
#include "vsphere/vim.h"
#include "vsphere/vm_ops.h"

namespace vsray::provider {
namespace {

using vsphere::Any;
using vsphere::ObjectContent;
using vsphere::RefOf;
using vsphere::TextOf;

// The elements of an ArrayOfManagedObjectReference property.
std::vector<MoRef> RefsOf(const ObjectContent& content, std::string_view path) {
  std::vector<MoRef> out;
  if (const Any* value = content.Get(path)) {
    for (const auto& field : value->fields) out.push_back(field.value.AsMoRef());
  }
  return out;
}

std::vector<VmRecord> RecordsOf(const std::vector<ObjectContent>& contents) {
  std::vector<VmRecord> records;
  records.reserve(contents.size());
  for (const auto& content : contents) records.push_back(VmRecordFromContent(content));
  return records;
}

// vCenter over vim25 SOAP (and vAPI REST for content libraries): every client interface in
// one object, sharing one session, one Vim, one TaskWaiter.
class VsphereVcenter final : public VcenterConnection,
                             public InventoryClient,
                             public FieldsClient,
                             public VmClient,
                             public WatchClient,
                             public LibraryClient,
                             public GpuClient {
 public:
  explicit VsphereVcenter(std::shared_ptr<vsphere::Session> session)
      : session_(std::move(session)),
        vim_(*session_, session_->content()),
        waiter_(session_),
        ops_(vim_, waiter_, *session_->options().clock),
        leases_(vim_, waiter_) {}

  InventoryClient& inventory() override { return *this; }
  FieldsClient& fields() override { return *this; }
  VmClient& vms() override { return *this; }
  WatchClient& watch() override { return *this; }
  LibraryClient& library() override { return *this; }
  LeaseClient& leases() override { return leases_; }
  GpuClient& gpus() override { return *this; }
  std::unique_ptr<TagMirrorClient> NewTagMirror() override {
    return std::make_unique<TagMirror>(session_->options());
  }

  // ---- InventoryClient ----
  StatusOr<std::vector<DatacenterInfo>> Datacenters() override {
    VSRAY_ASSIGN_OR_RETURN(auto contents, vim_.ListByType("Datacenter", {"name", "vmFolder"}));
    std::vector<DatacenterInfo> out;
    out.reserve(contents.size());
    for (const auto& content : contents) {
      out.push_back({content.obj, TextOf(content, "name"), RefOf(content, "vmFolder")});
    }
    return out;
  }
  StatusOr<DatacenterInfo> Datacenter(const MoRef& datacenter) override {
    VSRAY_ASSIGN_OR_RETURN(auto content, vim_.RetrieveOne(datacenter, {"name", "vmFolder"}));
    return DatacenterInfo{datacenter, TextOf(content, "name"), RefOf(content, "vmFolder")};
  }
  StatusOr<std::optional<MoRef>> FindByPath(const std::string& path) override {
    return vim_.FindByInventoryPath(path);
  }
  StatusOr<std::vector<MoRef>> FindByName(const std::string& type, const std::string& name,
                                          const MoRef& root) override {
    return vim_.FindByName(type, name, root);
  }
  StatusOr<std::vector<std::string>> NamesOf(const std::string& type, const MoRef& root) override {
    VSRAY_ASSIGN_OR_RETURN(auto contents, vim_.ListByType(type, {"name"}, root));
    std::vector<std::string> names;
    for (const auto& content : contents) {
      if (const Any* name = content.Get("name"); name != nullptr) {
        names.push_back(name->text);
      }
    }
    return names;
  }
  StatusOr<std::optional<MoRef>> FindChild(const MoRef& parent, const std::string& name) override {
    return vim_.FindChild(parent, name);
  }
  StatusOr<MoRef> CreateFolder(const MoRef& parent, const std::string& name) override {
    return vim_.CreateFolder(parent, name);
  }
  StatusOr<std::map<std::string, HostInfo>> Hosts(const MoRef& datacenter) override {
    VSRAY_ASSIGN_OR_RETURN(auto contents, vim_.ListByType("HostSystem",
                                                          {"name", "runtime.connectionState",
                                                           "runtime.inMaintenanceMode"},
                                                          datacenter));
    std::map<std::string, HostInfo> hosts;
    for (const auto& content : contents) {
      HostInfo info{TextOf(content, "name"), TextOf(content, "runtime.connectionState")};
      if (TextOf(content, "runtime.inMaintenanceMode") == "true") info.state = "maintenance";
      hosts[content.obj.value] = std::move(info);
    }
    return hosts;
  }
  StatusOr<std::vector<MoRef>> PoolHosts(const MoRef& pool) override {
    VSRAY_ASSIGN_OR_RETURN(auto pool_content, vim_.RetrieveOne(pool, {"owner"}));
    const MoRef owner = RefOf(pool_content, "owner");
    if (owner.empty()) return NotFoundError("resource pool " + pool.value + " has no owner");
    VSRAY_ASSIGN_OR_RETURN(auto owner_content, vim_.RetrieveOne(owner, {"host"}));
    return RefsOf(owner_content, "host");
  }
  StatusOr<MoRef> ClusterPool(const MoRef& cluster) override {
    VSRAY_ASSIGN_OR_RETURN(auto content, vim_.RetrieveOne(cluster, {"resourcePool"}));
    return RefOf(content, "resourcePool");
  }
  StatusOr<std::set<std::string>> DatastoreHosts(const MoRef& datastore) override {
    VSRAY_ASSIGN_OR_RETURN(auto content, vim_.RetrieveOne(datastore, {"host"}));
    std::set<std::string> hosts;
    if (const Any* mounts = content.Get("host")) {
      for (const auto& mount : mounts->fields) {
        if (const Any* key = mount.value.Get("key")) hosts.insert(key->text);
      }
    }
    return hosts;
  }
  StatusOr<VmRecord> Vm(const MoRef& vm) override {
    VSRAY_ASSIGN_OR_RETURN(auto content, vim_.RetrieveOne(vm, VmRecordProperties()));
    return VmRecordFromContent(content);
  }
  StatusOr<std::vector<VmRecord>> Vms(const std::vector<MoRef>& vms) override {
    vsphere::FilterSpec filter;
    filter.props.push_back({"VirtualMachine", VmRecordProperties()});
    for (const auto& vm : vms) filter.objects.push_back({vm, false, {}});
    VSRAY_ASSIGN_OR_RETURN(auto contents, vim_.RetrieveProperties(filter));
    return RecordsOf(contents);
  }
  StatusOr<std::vector<VmRecord>> VmsInPool(const MoRef& pool) override {
    VSRAY_ASSIGN_OR_RETURN(auto contents,
                           vim_.ListByType("VirtualMachine", VmRecordProperties(), pool));
    return RecordsOf(contents);
  }
  StatusOr<MoRef> CurrentSnapshot(const MoRef& vm) override {
    VSRAY_ASSIGN_OR_RETURN(auto content, vim_.RetrieveOne(vm, {"snapshot"}));
    const Any* snapshot = content.Get("snapshot");
    const Any* current = snapshot == nullptr ? nullptr : snapshot->Get("currentSnapshot");
    return current == nullptr ? MoRef{} : current->AsMoRef();
  }
  StatusOr<std::vector<Node>> Nodes(const MoRef& folder) override {
    return ListFolder(vim_, folder);
  }
  StatusOr<Node> NodeOf(const MoRef& vm) override {
    VSRAY_ASSIGN_OR_RETURN(auto content, vim_.RetrieveOne(vm, WatchedProperties()));
    return NodeFromContent(content);
  }

  // ---- FieldsClient ----
  StatusOr<std::vector<std::pair<std::string, int>>> Definitions() override {
    return vim_.CustomFieldDefs("VirtualMachine");
  }
  StatusOr<int> Define(const std::string& name) override {
    return vim_.AddCustomFieldDef(name, "VirtualMachine");
  }
  Status Set(const MoRef& vm, int key, const std::string& value) override {
    return vim_.SetField(vm, key, value);
  }

  // ---- VmClient ----
  StatusOr<MoRef> InstantClone(const MoRef& parent, const vsphere::InstantCloneSpec& spec,
                               Timeout timeout) override {
    return ops_.InstantClone(parent, spec, timeout);
  }
  StatusOr<MoRef> Clone(const MoRef& parent, const MoRef& folder, const std::string& name,
                        const vsphere::CloneSpec& spec, Timeout timeout) override {
    return ops_.Clone(parent, folder, name, spec, timeout);
  }
  Status PowerOn(const MoRef& vm, Timeout timeout) override { return ops_.PowerOn(vm, timeout); }
  Status PowerOff(const MoRef& vm, Timeout timeout) override { return ops_.PowerOff(vm, timeout); }
  Status Destroy(const MoRef& vm, bool known_off, Timeout timeout) override {
    return ops_.Destroy(vm, known_off, timeout);
  }
  Status Reconfigure(const MoRef& vm, const vsphere::ConfigSpec& spec, Timeout timeout) override {
    return ops_.Reconfigure(vm, spec, timeout);
  }
  StatusOr<MoRef> CreateSnapshot(const MoRef& vm, const std::string& name,
                                 Timeout timeout) override {
    return ops_.CreateSnapshot(vm, name, timeout);
  }
  Status WaitFrozen(const MoRef& vm, Timeout timeout) override {
    return ops_.WaitForProperty(vm, "runtime.instantCloneFrozen", "true", timeout);
  }
  Status WaitGuestRunning(const MoRef& vm, Timeout timeout) override {
    return ops_.WaitForProperty(vm, "guest.toolsRunningStatus", "guestToolsRunning", timeout);
  }

  // ---- GpuClient ----
  StatusOr<std::vector<vsphere::HostGpuInfo>> HostGpus(const std::vector<MoRef>& hosts,
                                                       bool assignable_hardware) override {
    return vsphere::ReadHostGpus(vim_, hosts, assignable_hardware);
  }
  StatusOr<std::map<std::string, std::string>> SystemIds(const MoRef& host) override {
    {
      std::lock_guard lock(system_ids_mu_);
      if (auto it = system_ids_.find(host.value); it != system_ids_.end()) return it->second;
    }
    // A host's system id does not change: ask once.
    VSRAY_ASSIGN_OR_RETURN(auto ids, vsphere::PassthroughSystemIds(vim_, host));
    std::lock_guard lock(system_ids_mu_);
    system_ids_[host.value] = ids;
    return ids;
  }
  StatusOr<std::vector<vsphere::VmPassthroughInfo>> VmGpus(const std::vector<MoRef>& vms) override {
    return vsphere::ReadVmPassthrough(vim_, vms);
  }

  // ---- WatchClient ----
  std::unique_ptr<NodeWatch> Watch(const MoRef& folder, NodeCache& cache,
                                   std::chrono::seconds resync) override {
    FolderWatcherOptions options;
    options.resync_interval = resync;
    auto watcher = std::make_unique<FolderWatcher>(session_, folder, cache, options);
    watcher->Start();
    return watcher;
  }

  // ---- LibraryClient ----
  StatusOr<std::string> FindItem(const std::string& item) override {
    VSRAY_ASSIGN_OR_RETURN(vsphere::RestClient * rest, Rest());
    if (const auto slash = item.find('/'); slash != std::string::npos) {
      VSRAY_ASSIGN_OR_RETURN(auto library, rest->FindLibraryByName(item.substr(0, slash)));
      return rest->FindLibraryItemByName(library, item.substr(slash + 1));
    }
    VSRAY_ASSIGN_OR_RETURN(auto ids, rest->FindLibraryItems(item));
    if (ids.size() > 1) {
      return FailedPreconditionError(std::to_string(ids.size()) +
                                     " content library items are named '" + item +
                                     "': give it as 'library/item'");
    }
    if (ids.size() == 1) return ids.front();
    // Maybe an item id.
    if (auto by_id = rest->GetLibraryItem(item); by_id.ok()) return by_id->id;
    return NotFoundError("no content library item named '" + item + "'");
  }
  StatusOr<MoRef> DeployOvf(const std::string& item_id,
                            const vsphere::OvfDeploySpec& spec) override {
    VSRAY_ASSIGN_OR_RETURN(vsphere::RestClient * rest, Rest());
    VSRAY_ASSIGN_OR_RETURN(auto deployed, rest->DeployOvf(item_id, spec));
    return MoRef{"VirtualMachine", deployed.id};
  }

 private:
  // The vAPI client, connected on first use (sharing the session's transport).
  StatusOr<vsphere::RestClient*> Rest() {
    std::lock_guard lock(rest_mu_);
    if (!rest_) {
      VSRAY_ASSIGN_OR_RETURN(rest_, vsphere::RestClient::Connect(session_->options()));
    }
    return rest_.get();
  }

  std::shared_ptr<vsphere::Session> session_;
  vsphere::Vim vim_;
  vsphere::TaskWaiter waiter_;
  vsphere::VmOps ops_;
  VsphereLeases leases_;
  std::mutex rest_mu_;
  std::unique_ptr<vsphere::RestClient> rest_;
  std::mutex system_ids_mu_;
  std::map<std::string, std::map<std::string, std::string>> system_ids_;  // host -> PCI id -> id
};

}  // namespace

const std::vector<std::string>& VmRecordProperties() {
  static const std::vector<std::string> kProperties = {
      "name",         "runtime.powerState", "runtime.instantCloneFrozen", "runtime.host", "parent",
      "resourcePool", "datastore",          "config.hardware.device"};
  return kProperties;
}

VmRecord VmRecordFromContent(const ObjectContent& content) {
  VmRecord record;
  FrozenVm& vm = record.vm;
  vm.vm = content.obj;
  vm.name = TextOf(content, "name");
  vm.host = RefOf(content, "runtime.host");
  vm.folder = RefOf(content, "parent");
  vm.pool = RefOf(content, "resourcePool");
  if (const Any* datastores = content.Get("datastore"); datastores && !datastores->fields.empty()) {
    vm.datastore = datastores->fields.front().value.AsMoRef();
  }
  if (const Any* devices = content.Get("config.hardware.device")) {
    for (const auto& field : devices->fields) {
      if (vsphere::IsVirtualNic(field.value)) vm.nics.push_back(field.value);
    }
  }
  record.power_state = TextOf(content, "runtime.powerState");
  record.frozen = TextOf(content, "runtime.instantCloneFrozen") == "true";
  return record;
}

StatusOr<std::shared_ptr<VcenterConnection>> ConnectVcenter(
    const vsphere::ConnectOptions& options) {
  VSRAY_ASSIGN_OR_RETURN(auto session, vsphere::Session::Shared(options));
  return VcenterOver(std::move(session));
}

std::shared_ptr<VcenterConnection> VcenterOver(std::shared_ptr<vsphere::Session> session) {
  return std::make_shared<VsphereVcenter>(std::move(session));
}

}  // namespace vsray::provider
