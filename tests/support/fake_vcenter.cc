#include "support/fake_vcenter.h"

#include <algorithm>
#include <utility>

namespace vsray::testing {

using provider::DatacenterInfo;
using provider::HostInfo;
using provider::Node;
using provider::VmRecord;

namespace {

Status NotFound(const MoRef& ref) {
  Status status = NotFoundError(ref.type + " " + ref.value + " does not exist");
  status.set_fault("ManagedObjectNotFound");
  return status;
}

// The one NIC every fake VM has, as config.hardware.device lists it.
vsphere::Any FakeNic() {
  vsphere::Any nic;
  nic.xsi_type = "VirtualVmxnet3";
  nic.Add("key", "4000");
  nic.Add("macAddress", "00:50:56:00:00:01");
  nic.Add("addressType", "generated");
  vsphere::SetNicConnected(nic, false);
  return nic;
}

}  // namespace

// Keeps one cache in step with one folder until destroyed.
class FakeVcenter::FakeWatch final : public provider::NodeWatch {
 public:
  FakeWatch(FakeVcenter& fake, MoRef folder, provider::NodeCache& cache)
      : fake_(fake), cache_(cache) {
    {
      std::lock_guard lock(fake_.mu_);
      fake_.watches_.emplace_back(std::move(folder), &cache_);
    }
    fake_.Notify();
  }
  ~FakeWatch() override {
    std::lock_guard notify(fake_.notify_mu_);
    std::lock_guard lock(fake_.mu_);
    std::erase_if(fake_.watches_, [this](const auto& w) { return w.second == &cache_; });
  }
  FakeWatch(const FakeWatch&) = delete;
  FakeWatch& operator=(const FakeWatch&) = delete;

 private:
  FakeVcenter& fake_;
  provider::NodeCache& cache_;
};

// Records mirror calls in the fake's journal.
class FakeTagMirror final : public provider::TagMirrorClient {
 public:
  explicit FakeTagMirror(std::shared_ptr<FakeVcenter> fake) : fake_(std::move(fake)) {}
  Status Attach(const std::string& vm_id, const provider::TagMap& tags) override {
    return fake_->Mirror("MirrorAttach " + vm_id + " " + std::to_string(tags.size()));
  }
  Status Change(const std::string& vm_id, const provider::TagMap& /*previous*/,
                const provider::TagMap& changed) override {
    return fake_->Mirror("MirrorChange " + vm_id + " " + std::to_string(changed.size()));
  }

 private:
  std::shared_ptr<FakeVcenter> fake_;
};

FakeVcenter::FakeVcenter()
    : datacenter_{"Datacenter", "datacenter-1"},
      vm_folder_{"Folder", "group-v1"},
      datastore_{"Datastore", "datastore-1"} {
  folders_[vm_folder_.value] = {"vm", {}};
}

MoRef FakeVcenter::NewRef(const std::string& type, const std::string& prefix) {
  return {type, prefix + std::to_string(++next_id_)};
}

MoRef FakeVcenter::AddHost(const std::string& name, const std::string& state) {
  std::lock_guard lock(mu_);
  MoRef host = NewRef("HostSystem", "host-");
  hosts_[host.value] = {name, state};
  return host;
}

void FakeVcenter::SetHostState(const MoRef& host, const std::string& state) {
  std::lock_guard lock(mu_);
  hosts_[host.value].state = state;
}

MoRef FakeVcenter::AddPool(const std::string& name, const std::vector<MoRef>& hosts) {
  std::lock_guard lock(mu_);
  MoRef pool = NewRef("ResourcePool", "resgroup-");
  pools_[pool.value] = {name, hosts};
  return pool;
}

MoRef FakeVcenter::AddFolder(const std::string& name, const MoRef& parent) {
  std::lock_guard lock(mu_);
  MoRef folder = NewRef("Folder", "group-v");
  folders_[folder.value] = {name, parent.empty() ? vm_folder_ : parent};
  return folder;
}

MoRef FakeVcenter::AddVm(FakeVm vm) {
  {
    std::lock_guard lock(mu_);
    if (vm.ref.empty()) vm.ref = NewRef("VirtualMachine", "vm-");
    if (vm.folder.empty()) vm.folder = vm_folder_;
    vms_[vm.ref.value] = vm;
  }
  Notify();
  return vm.ref;
}

MoRef FakeVcenter::AddFrozenVm(const std::string& name, const MoRef& host, const MoRef& pool) {
  FakeVm vm;
  vm.name = name;
  vm.host = host;
  vm.pool = pool;
  vm.frozen = true;
  return AddVm(std::move(vm));
}

void FakeVcenter::SetFrozen(const MoRef& vm, bool frozen) {
  {
    std::lock_guard lock(mu_);
    if (FakeVm* found = VmLocked(vm)) found->frozen = frozen;
  }
  Notify();
}

void FakeVcenter::SetPower(const MoRef& vm, const std::string& power_state) {
  {
    std::lock_guard lock(mu_);
    if (FakeVm* found = VmLocked(vm)) found->power_state = power_state;
  }
  Notify();
}

void FakeVcenter::AddLibraryItem(const std::string& name, bool frozen_image) {
  std::lock_guard lock(mu_);
  items_[name] = frozen_image;
}

std::string FakeVcenter::AddGpu(const MoRef& host, FakeGpu gpu) {
  std::lock_guard lock(mu_);
  auto& list = gpus_[host.value];
  if (gpu.id.empty()) {
    static constexpr char kHex[] = "0123456789abcdef";
    const auto bus = static_cast<unsigned>(0x3b + list.size());
    gpu.id = std::string("0000:") + kHex[(bus >> 4U) & 0xFU] + kHex[bus & 0xFU] + ":00.0";
  }
  list.push_back(gpu);
  return gpu.id;
}

std::optional<FakeVm> FakeVcenter::Find(const MoRef& vm) const {
  std::lock_guard lock(mu_);
  auto it = vms_.find(vm.value);
  return it == vms_.end() ? std::nullopt : std::optional<FakeVm>(it->second);
}

std::optional<FakeVm> FakeVcenter::FindNamed(const std::string& name) const {
  std::lock_guard lock(mu_);
  for (const auto& [id, vm] : vms_) {
    if (vm.name == name) return vm;
  }
  return std::nullopt;
}

std::vector<FakeVm> FakeVcenter::VmsIn(const MoRef& folder) const {
  std::lock_guard lock(mu_);
  std::vector<FakeVm> out;
  for (const auto& [id, vm] : vms_) {
    if (vm.folder == folder) out.push_back(vm);
  }
  return out;
}

std::vector<std::string> FakeVcenter::journal() const {
  std::lock_guard lock(mu_);
  return journal_;
}

int FakeVcenter::calls(const std::string& op) const {
  std::lock_guard lock(mu_);
  auto it = calls_.find(op);
  return it == calls_.end() ? 0 : it->second;
}

void FakeVcenter::Fail(const std::string& op, Status status, int nth, bool and_after) {
  std::lock_guard lock(mu_);
  faults_[op].push_back({std::move(status), nth, and_after});
}

void FakeVcenter::BeforeCall(std::function<void(const std::string& op)> hook) {
  std::lock_guard lock(mu_);
  hook_ = std::move(hook);
}

provider::VcenterFactory FakeVcenter::Factory() {
  return [self = shared_from_this()](const vsphere::ConnectOptions& /*options*/)
             -> StatusOr<std::shared_ptr<provider::VcenterConnection>> {
    return std::shared_ptr<provider::VcenterConnection>(self);
  };
}

std::unique_ptr<provider::TagMirrorClient> FakeVcenter::NewTagMirror() {
  return std::make_unique<FakeTagMirror>(shared_from_this());
}

Status FakeVcenter::Mirror(const std::string& entry) { return Enter("Mirror", entry); }

Status FakeVcenter::Enter(const std::string& op, const std::string& entry) {
  std::function<void(const std::string&)> hook;
  {
    std::lock_guard lock(mu_);
    hook = hook_;
  }
  if (hook) hook(op);
  std::lock_guard lock(mu_);
  ++calls_[op];
  if (!entry.empty()) journal_.push_back(entry);
  for (auto& fault : faults_[op]) {
    ++fault.seen;
    if (fault.seen == fault.nth || (fault.and_after && fault.seen > fault.nth)) {
      return fault.status;
    }
  }
  return OkStatus();
}

void FakeVcenter::Notify() {
  std::lock_guard notify(notify_mu_);
  std::vector<std::pair<provider::NodeCache*, std::vector<Node>>> listings;
  {
    std::lock_guard lock(mu_);
    for (const auto& [folder, cache] : watches_) {
      std::vector<Node> nodes;
      for (const auto& [id, vm] : vms_) {
        if (vm.folder == folder) nodes.push_back(NodeLocked(vm));
      }
      listings.emplace_back(cache, std::move(nodes));
    }
  }
  for (auto& [cache, nodes] : listings) cache->Reconcile(std::move(nodes));
}

FakeVm* FakeVcenter::VmLocked(const MoRef& vm) {
  auto it = vms_.find(vm.value);
  return it == vms_.end() ? nullptr : &it->second;
}

Node FakeVcenter::NodeLocked(const FakeVm& vm) const {
  Node node;
  node.id = vm.ref.value;
  node.name = vm.name;
  node.power_state = vm.power_state;
  node.host = vm.host.value;
  node.frozen = vm.frozen;
  node.custom = vm.custom;
  for (const auto& [key, value] : vm.extra_config) {
    if (key.starts_with("guestinfo.vsray.")) node.identity[key] = value;
  }
  if (vm.power_state == "poweredOn" && !vm.address.empty()) {
    node.nics.push_back({"VM Network", "00:50:56:00:00:01", true, {vm.address}});
  }
  return node;
}

VmRecord FakeVcenter::RecordLocked(const FakeVm& vm) const {
  VmRecord record;
  record.vm.vm = vm.ref;
  record.vm.name = vm.name;
  record.vm.host = vm.host;
  record.vm.folder = vm.folder;
  record.vm.pool = vm.pool;
  record.vm.datastore = datastore_;
  record.vm.nics.push_back(FakeNic());
  record.power_state = vm.power_state;
  record.frozen = vm.frozen;
  return record;
}

std::string FakeVcenter::FieldName(int key) const {
  for (const auto& [name, field_key] : fields_) {
    if (field_key == key) return name;
  }
  return std::to_string(key);
}

// ---- InventoryClient ----

StatusOr<std::vector<DatacenterInfo>> FakeVcenter::Datacenters() {
  return std::vector<DatacenterInfo>{{datacenter_, "DC0", vm_folder_}};
}

StatusOr<DatacenterInfo> FakeVcenter::Datacenter(const MoRef& datacenter) {
  if (datacenter != datacenter_) return NotFound(datacenter);
  return DatacenterInfo{datacenter_, "DC0", vm_folder_};
}

StatusOr<std::optional<MoRef>> FakeVcenter::FindByPath(const std::string& path) {
  if (path == "DC0") return std::optional<MoRef>(datacenter_);
  return std::optional<MoRef>();
}

StatusOr<std::vector<MoRef>> FakeVcenter::FindByName(const std::string& type,
                                                     const std::string& name,
                                                     const MoRef& /*root*/) {
  std::lock_guard lock(mu_);
  std::vector<MoRef> out;
  if (type == "VirtualMachine") {
    for (const auto& [id, vm] : vms_) {
      if (vm.name == name) out.push_back(vm.ref);
    }
  } else if (type == "ResourcePool") {
    for (const auto& [id, pool] : pools_) {
      if (pool.name == name) out.push_back({"ResourcePool", id});
    }
  } else if (type == "Datastore" && name == "LocalDS_0") {
    out.push_back(datastore_);
  }
  return out;
}

StatusOr<std::vector<std::string>> FakeVcenter::NamesOf(const std::string& type,
                                                        const MoRef& /*root*/) {
  std::lock_guard lock(mu_);
  std::vector<std::string> out;
  if (type == "VirtualMachine") {
    for (const auto& [id, vm] : vms_) out.push_back(vm.name);
  } else if (type == "ResourcePool") {
    for (const auto& [id, pool] : pools_) out.push_back(pool.name);
  } else if (type == "Datastore") {
    out.emplace_back("LocalDS_0");
  }
  return out;
}

StatusOr<std::optional<MoRef>> FakeVcenter::FindChild(const MoRef& parent,
                                                      const std::string& name) {
  std::lock_guard lock(mu_);
  for (const auto& [id, folder] : folders_) {
    if (folder.second == parent && folder.first == name) {
      return std::optional<MoRef>(MoRef{"Folder", id});
    }
  }
  for (const auto& [id, vm] : vms_) {
    if (vm.folder == parent && vm.name == name) return std::optional<MoRef>(vm.ref);
  }
  return std::optional<MoRef>();
}

StatusOr<MoRef> FakeVcenter::CreateFolder(const MoRef& parent, const std::string& name) {
  VSRAY_RETURN_IF_ERROR(Enter("CreateFolder", "CreateFolder " + name));
  VSRAY_ASSIGN_OR_RETURN(auto existing, FindChild(parent, name));
  if (existing) return AlreadyExistsError("DuplicateName: " + name).set_fault("DuplicateName");
  return AddFolder(name, parent);
}

StatusOr<std::map<std::string, HostInfo>> FakeVcenter::Hosts(const MoRef& /*datacenter*/) {
  std::lock_guard lock(mu_);
  return hosts_;
}

StatusOr<std::vector<MoRef>> FakeVcenter::PoolHosts(const MoRef& pool) {
  std::lock_guard lock(mu_);
  auto it = pools_.find(pool.value);
  if (it == pools_.end()) return NotFound(pool);
  return it->second.hosts;
}

StatusOr<MoRef> FakeVcenter::ClusterPool(const MoRef& cluster) { return NotFound(cluster); }

StatusOr<std::set<std::string>> FakeVcenter::DatastoreHosts(const MoRef& /*datastore*/) {
  std::lock_guard lock(mu_);
  std::set<std::string> out;
  for (const auto& [id, host] : hosts_) out.insert(id);
  return out;
}

StatusOr<VmRecord> FakeVcenter::Vm(const MoRef& vm) {
  std::lock_guard lock(mu_);
  const FakeVm* found = VmLocked(vm);
  if (found == nullptr) return NotFound(vm);
  return RecordLocked(*found);
}

StatusOr<std::vector<VmRecord>> FakeVcenter::Vms(const std::vector<MoRef>& vms) {
  std::lock_guard lock(mu_);
  std::vector<VmRecord> out;
  for (const auto& vm : vms) {
    const FakeVm* found = VmLocked(vm);
    if (found == nullptr) return NotFound(vm);
    out.push_back(RecordLocked(*found));
  }
  return out;
}

StatusOr<std::vector<VmRecord>> FakeVcenter::VmsInPool(const MoRef& pool) {
  std::lock_guard lock(mu_);
  std::vector<VmRecord> out;
  for (const auto& [id, vm] : vms_) {
    if (vm.pool == pool) out.push_back(RecordLocked(vm));
  }
  return out;
}

StatusOr<MoRef> FakeVcenter::CurrentSnapshot(const MoRef& vm) {
  std::lock_guard lock(mu_);
  const FakeVm* found = VmLocked(vm);
  if (found == nullptr) return NotFound(vm);
  return found->snapshot;
}

StatusOr<std::vector<Node>> FakeVcenter::Nodes(const MoRef& folder) {
  VSRAY_RETURN_IF_ERROR(Enter("Nodes", ""));
  std::lock_guard lock(mu_);
  std::vector<Node> out;
  for (const auto& [id, vm] : vms_) {
    if (vm.folder == folder) out.push_back(NodeLocked(vm));
  }
  return out;
}

StatusOr<Node> FakeVcenter::NodeOf(const MoRef& vm) {
  std::lock_guard lock(mu_);
  const FakeVm* found = VmLocked(vm);
  if (found == nullptr) return NotFound(vm);
  return NodeLocked(*found);
}

// ---- FieldsClient ----

StatusOr<std::vector<std::pair<std::string, int>>> FakeVcenter::Definitions() {
  VSRAY_RETURN_IF_ERROR(Enter("Definitions", ""));
  std::lock_guard lock(mu_);
  return std::vector<std::pair<std::string, int>>(fields_.begin(), fields_.end());
}

StatusOr<int> FakeVcenter::Define(const std::string& name) {
  VSRAY_RETURN_IF_ERROR(Enter("Define", "Define " + name));
  std::lock_guard lock(mu_);
  if (fields_.contains(name)) {
    return AlreadyExistsError("DuplicateName: " + name).set_fault("DuplicateName");
  }
  const int key = 1000 + static_cast<int>(fields_.size());
  fields_[name] = key;
  return key;
}

Status FakeVcenter::Set(const MoRef& vm, int key, const std::string& value) {
  std::string name;
  {
    std::lock_guard lock(mu_);
    name = FieldName(key);
  }
  VSRAY_RETURN_IF_ERROR(Enter("Set", "Set " + vm.value + " " + name + "=" + value));
  {
    std::lock_guard lock(mu_);
    FakeVm* found = VmLocked(vm);
    if (found == nullptr) return NotFound(vm);
    found->custom[key] = value;
  }
  Notify();
  return OkStatus();
}

// ---- VmClient ----

StatusOr<MoRef> FakeVcenter::MakeClone(const MoRef& parent, const std::string& name,
                                       const MoRef& folder,
                                       const std::vector<vsphere::OptionValue>& config,
                                       bool powered_on) {
  std::lock_guard lock(mu_);
  const FakeVm* source = VmLocked(parent);
  if (source == nullptr) return NotFound(parent);
  FakeVm vm;
  vm.ref = NewRef("VirtualMachine", "vm-");
  vm.name = name;
  vm.host = source->host;
  vm.folder = folder.empty() ? source->folder : folder;
  vm.pool = source->pool;
  vm.power_state = powered_on ? "poweredOn" : "poweredOff";
  vm.address = "127.0.1." + std::to_string(next_id_ % 250);
  for (const auto& option : config) vm.extra_config[option.key] = option.value;
  for (const auto& [id, other] : vms_) {
    if (other.folder == vm.folder && other.name == name) {
      return AlreadyExistsError("DuplicateName: " + name).set_fault("DuplicateName");
    }
  }
  vms_[vm.ref.value] = vm;
  return vm.ref;
}

StatusOr<MoRef> FakeVcenter::InstantClone(const MoRef& parent,
                                          const vsphere::InstantCloneSpec& spec,
                                          Timeout /*timeout*/) {
  VSRAY_RETURN_IF_ERROR(Enter("InstantClone", "InstantClone " + spec.name));
  auto vm = MakeClone(parent, spec.name, spec.location.folder, spec.config, true);
  Notify();
  return vm;
}

StatusOr<MoRef> FakeVcenter::Clone(const MoRef& parent, const MoRef& folder,
                                   const std::string& name, const vsphere::CloneSpec& spec,
                                   Timeout /*timeout*/) {
  VSRAY_RETURN_IF_ERROR(Enter("Clone", "Clone " + name));
  auto vm = MakeClone(parent, name, folder, spec.extra_config, false);
  if (vm.ok() && !spec.location.host.empty()) {  // relocated to another host
    std::lock_guard lock(mu_);
    if (FakeVm* made = VmLocked(*vm)) made->host = spec.location.host;
  }
  Notify();
  return vm;
}

std::string FakeVcenter::HolderLocked(const MoRef& host, const std::string& id) const {
  for (const auto& [vm_id, vm] : vms_) {
    if (vm.host != host || vm.power_state != "poweredOn") continue;
    for (std::size_t i = 0; i < vm.gpus.size(); ++i) {
      const bool fixed = vm.gpus[i].backing == vsphere::PciPassthroughSpec::Backing::kFixed;
      if ((fixed && vm.gpus[i].id == id) || (i < vm.assigned.size() && vm.assigned[i] == id)) {
        return vm_id;
      }
    }
  }
  return "";
}

Status FakeVcenter::BindGpusLocked(FakeVm& vm) {
  using Backing = vsphere::PciPassthroughSpec::Backing;
  std::vector<std::string> assigned(vm.gpus.size());
  const auto fits = [](const vsphere::PciPassthroughSpec& wanted, const FakeGpu& gpu) {
    const auto& profiles = gpu.vgpu_profiles;
    switch (wanted.backing) {
      case Backing::kFixed:
        return profiles.empty() && gpu.id == wanted.id;
      case Backing::kDynamic:
        return profiles.empty() && gpu.vendor_id == wanted.vendor_id &&
               gpu.device_id == wanted.device_id &&
               (wanted.custom_label.empty() || wanted.custom_label == gpu.label);
      case Backing::kVgpu:
        return std::find(profiles.begin(), profiles.end(), wanted.vgpu) != profiles.end();
    }
    return false;
  };
  // The device `wanted` gets: the first that fits and (passthrough) is free; "" if none.
  const auto choose = [&](const vsphere::PciPassthroughSpec& wanted) -> std::string {
    for (const auto& gpu : gpus_[vm.host.value]) {
      if (!fits(wanted, gpu)) continue;
      if (wanted.backing == Backing::kVgpu) return gpu.id;  // room is not modelled
      if (HolderLocked(vm.host, gpu.id).empty() &&
          std::find(assigned.begin(), assigned.end(), gpu.id) == assigned.end()) {
        return gpu.id;
      }
    }
    return "";
  };
  for (std::size_t i = 0; i < vm.gpus.size(); ++i) {
    const auto& wanted = vm.gpus[i];
    const std::string id = choose(wanted);
    if (!id.empty()) {
      assigned[i] = id;
      continue;
    }
    if (wanted.backing == Backing::kFixed) {
      return FailedPreconditionError("Device " + wanted.id + " is already in use.")
          .set_fault("GenericVmConfigFault");
    }
    return Status(StatusCode::kResourceExhausted, "no free device for " + vm.ref.value)
        .set_fault(wanted.backing == Backing::kVgpu ? "InsufficientGraphicsResourcesFault"
                                                    : "InsufficientResourcesFault");
  }
  vm.assigned = std::move(assigned);
  return OkStatus();
}

Status FakeVcenter::PowerOn(const MoRef& vm, Timeout /*timeout*/) {
  VSRAY_RETURN_IF_ERROR(Enter("PowerOn", "PowerOn " + vm.value));
  {
    std::lock_guard lock(mu_);
    FakeVm* found = VmLocked(vm);
    if (found == nullptr) return NotFound(vm);
    if (found->power_state != "poweredOn") VSRAY_RETURN_IF_ERROR(BindGpusLocked(*found));
    found->power_state = "poweredOn";
    if (found->frozen_image) found->frozen = true;
  }
  Notify();
  return OkStatus();
}

Status FakeVcenter::PowerOff(const MoRef& vm, Timeout /*timeout*/) {
  VSRAY_RETURN_IF_ERROR(Enter("PowerOff", "PowerOff " + vm.value));
  {
    std::lock_guard lock(mu_);
    FakeVm* found = VmLocked(vm);
    if (found == nullptr) return NotFound(vm);
    found->power_state = "poweredOff";
    found->frozen = false;
    found->assigned.clear();
  }
  Notify();
  return OkStatus();
}

Status FakeVcenter::Destroy(const MoRef& vm, bool /*known_off*/, Timeout /*timeout*/) {
  VSRAY_RETURN_IF_ERROR(Enter("Destroy", "Destroy " + vm.value));
  {
    std::lock_guard lock(mu_);
    vms_.erase(vm.value);  // gone already counts as done
  }
  Notify();
  return OkStatus();
}

Status FakeVcenter::Reconfigure(const MoRef& vm, const vsphere::ConfigSpec& spec,
                                Timeout /*timeout*/) {
  VSRAY_RETURN_IF_ERROR(Enter("Reconfigure", "Reconfigure " + vm.value));
  {
    std::lock_guard lock(mu_);
    FakeVm* found = VmLocked(vm);
    if (found == nullptr) return NotFound(vm);
    if (!spec.add_passthrough.empty() && found->power_state != "poweredOff") {
      return FailedPreconditionError("PCI passthrough devices need the VM powered off")
          .set_fault("DeviceHotPlugNotSupported");
    }
    if (spec.num_cpus) found->cpus = spec.num_cpus;
    if (spec.memory_mb) found->memory_mb = spec.memory_mb;
    for (const auto& option : spec.extra_config) found->extra_config[option.key] = option.value;
    found->gpus.insert(found->gpus.end(), spec.add_passthrough.begin(), spec.add_passthrough.end());
    found->memory_locked = found->memory_locked || spec.memory_reservation_locked_to_max;
  }
  Notify();
  return OkStatus();
}

StatusOr<MoRef> FakeVcenter::CreateSnapshot(const MoRef& vm, const std::string& name,
                                            Timeout /*timeout*/) {
  VSRAY_RETURN_IF_ERROR(Enter("CreateSnapshot", "CreateSnapshot " + vm.value + " " + name));
  std::lock_guard lock(mu_);
  FakeVm* found = VmLocked(vm);
  if (found == nullptr) return NotFound(vm);
  found->snapshot = NewRef("VirtualMachineSnapshot", "snapshot-");
  return found->snapshot;
}

Status FakeVcenter::WaitFrozen(const MoRef& vm, Timeout /*timeout*/) {
  VSRAY_RETURN_IF_ERROR(Enter("WaitFrozen", ""));
  std::lock_guard lock(mu_);
  const FakeVm* found = VmLocked(vm);
  if (found == nullptr) return NotFound(vm);
  if (found->frozen) return OkStatus();
  return DeadlineExceededError(vm.value + " did not freeze");
}

Status FakeVcenter::WaitGuestRunning(const MoRef& vm, Timeout /*timeout*/) {
  VSRAY_RETURN_IF_ERROR(Enter("WaitGuest", "WaitGuest " + vm.value));
  std::lock_guard lock(mu_);
  const FakeVm* found = VmLocked(vm);
  if (found == nullptr) return NotFound(vm);
  if (found->power_state == "poweredOn") return OkStatus();
  return DeadlineExceededError(vm.value + ": the guest does not run");
}

// ---- GpuClient ----

vsphere::VmPassthroughInfo FakeVcenter::PassthroughLocked(const FakeVm& vm) const {
  using Backing = vsphere::PciPassthroughSpec::Backing;
  vsphere::VmPassthroughInfo info{vm.ref, vm.name, vm.power_state, vm.host, vm.folder, {}};
  for (std::size_t i = 0; i < vm.gpus.size(); ++i) {
    const auto& spec = vm.gpus[i];
    vsphere::VmPassthroughDevice device;
    device.backing = spec.backing;
    device.vendor_id = spec.vendor_id;
    device.device_id = spec.device_id;
    device.custom_label = spec.custom_label;
    device.vgpu = spec.vgpu;
    if (spec.backing == Backing::kFixed) {
      device.id = spec.id;
    } else if (spec.backing == Backing::kDynamic && i < vm.assigned.size()) {
      device.id = vm.assigned[i];
    }
    info.devices.push_back(std::move(device));
  }
  return info;
}

StatusOr<std::vector<vsphere::HostGpuInfo>> FakeVcenter::HostGpus(const std::vector<MoRef>& hosts,
                                                                  bool assignable_hardware) {
  VSRAY_RETURN_IF_ERROR(Enter("HostGpus", ""));
  std::lock_guard lock(mu_);
  std::vector<vsphere::HostGpuInfo> out;
  for (const auto& host : hosts) {
    const auto known = hosts_.find(host.value);
    if (known == hosts_.end()) return NotFound(host);
    vsphere::HostGpuInfo info{host, known->second.name, {}, {}, {}, {}};
    for (const auto& gpu : gpus_[host.value]) {
      vsphere::HostPciDeviceInfo device{gpu.id,
                                        gpu.class_id,
                                        gpu.vendor_id,
                                        gpu.device_id,
                                        "NVIDIA Corporation",
                                        gpu.name,
                                        gpu.vgpu_profiles.empty(),
                                        assignable_hardware ? gpu.label : "",
                                        gpu.vgpu_profiles.empty() ? "direct" : "sharedDirect",
                                        gpu.memory_gb * 1024 * 1024,
                                        {}};
      for (const auto& profile : gpu.vgpu_profiles) {
        if (std::find(info.vgpu_profiles.begin(), info.vgpu_profiles.end(), profile) ==
            info.vgpu_profiles.end()) {
          info.vgpu_profiles.push_back(profile);
        }
      }
      for (const auto& [id, vm] : vms_) {
        if (vm.host != host || vm.power_state != "poweredOn") continue;
        if (std::find(vm.assigned.begin(), vm.assigned.end(), gpu.id) == vm.assigned.end()) {
          continue;
        }
        device.graphics_vms.push_back(id);
        const bool dynamic = std::any_of(vm.gpus.begin(), vm.gpus.end(), [](const auto& g) {
          return g.backing == vsphere::PciPassthroughSpec::Backing::kDynamic;
        });
        if (assignable_hardware && dynamic && gpu.vgpu_profiles.empty()) info.bindings[gpu.id] = id;
      }
      info.devices.push_back(std::move(device));
    }
    for (const auto& [id, vm] : vms_) {
      if (vm.host == host && !vm.gpus.empty()) info.vms.push_back(PassthroughLocked(vm));
    }
    out.push_back(std::move(info));
  }
  return out;
}

StatusOr<std::map<std::string, std::string>> FakeVcenter::SystemIds(const MoRef& host) {
  VSRAY_RETURN_IF_ERROR(Enter("SystemIds", ""));
  std::lock_guard lock(mu_);
  std::map<std::string, std::string> ids;
  for (const auto& gpu : gpus_[host.value]) {
    if (gpu.vgpu_profiles.empty()) ids[gpu.id] = "system-" + host.value;
  }
  return ids;
}

StatusOr<std::vector<vsphere::VmPassthroughInfo>> FakeVcenter::VmGpus(
    const std::vector<MoRef>& vms) {
  std::lock_guard lock(mu_);
  std::vector<vsphere::VmPassthroughInfo> out;
  for (const auto& vm : vms) {
    if (const FakeVm* found = VmLocked(vm)) out.push_back(PassthroughLocked(*found));
  }
  return out;
}

// ---- WatchClient ----

std::unique_ptr<provider::NodeWatch> FakeVcenter::Watch(const MoRef& folder,
                                                        provider::NodeCache& cache,
                                                        std::chrono::seconds /*resync*/) {
  return std::make_unique<FakeWatch>(*this, folder, cache);
}

// ---- LibraryClient ----

StatusOr<std::string> FakeVcenter::FindItem(const std::string& item) {
  std::lock_guard lock(mu_);
  if (!items_.contains(item)) return NotFoundError("no content library item named '" + item + "'");
  return "item-" + item;
}

StatusOr<MoRef> FakeVcenter::DeployOvf(const std::string& item_id,
                                       const vsphere::OvfDeploySpec& spec) {
  VSRAY_RETURN_IF_ERROR(Enter("DeployOvf", "DeployOvf " + spec.name));
  FakeVm vm;
  {
    std::lock_guard lock(mu_);
    auto item = items_.find(item_id.substr(std::string_view("item-").size()));
    if (item == items_.end()) return NotFoundError("no item " + item_id);
    vm.frozen_image = item->second;
  }
  vm.name = spec.name;
  vm.host = {"HostSystem", spec.host_id};
  vm.folder = {"Folder", spec.folder_id};
  vm.pool = {"ResourcePool", spec.resource_pool_id};
  vm.power_state = "poweredOff";
  return AddVm(std::move(vm));
}

// ---- LeaseClient ----

StatusOr<std::vector<provider::LeaseClient::Entry>> FakeVcenter::List(const MoRef& parent,
                                                                      const std::string& prefix) {
  VSRAY_RETURN_IF_ERROR(Enter("LeaseList", ""));  // counted, not journaled (polls)
  std::lock_guard lock(mu_);
  std::vector<Entry> out;
  for (const auto& [id, folder] : folders_) {
    if (folder.second != parent || !folder.first.starts_with(prefix)) continue;
    Entry entry{{"Folder", id}, folder.first, std::nullopt};
    if (auto it = lease_records_.find(id); it != lease_records_.end()) entry.record = it->second;
    out.push_back(std::move(entry));
  }
  return out;
}

StatusOr<MoRef> FakeVcenter::Create(const MoRef& parent, const std::string& name) {
  VSRAY_RETURN_IF_ERROR(Enter("LeaseCreate", "LeaseCreate " + name));
  std::lock_guard lock(mu_);  // one look and one creation: vCenter names are atomic
  for (const auto& [id, folder] : folders_) {
    if (folder.second == parent && folder.first == name) {
      return AlreadyExistsError("DuplicateName: " + name).set_fault("DuplicateName");
    }
  }
  MoRef ref = NewRef("Folder", "group-");
  folders_[ref.value] = {name, parent};
  return ref;
}

Status FakeVcenter::Write(const MoRef& folder, const std::string& record) {
  VSRAY_RETURN_IF_ERROR(Enter("LeaseWrite", "LeaseWrite " + folder.value + " " + record));
  std::lock_guard lock(mu_);
  if (!folders_.contains(folder.value)) return NotFoundError("folder " + folder.value + " is gone");
  lease_records_[folder.value] = record;
  return OkStatus();
}

Status FakeVcenter::Remove(const MoRef& folder) {
  VSRAY_RETURN_IF_ERROR(Enter("LeaseRemove", "LeaseRemove " + folder.value));
  std::lock_guard lock(mu_);
  folders_.erase(folder.value);
  lease_records_.erase(folder.value);
  return OkStatus();
}

std::optional<std::string> FakeVcenter::LeaseRecordOf(const MoRef& folder) const {
  std::lock_guard lock(mu_);
  auto it = lease_records_.find(folder.value);
  if (it == lease_records_.end()) return std::nullopt;
  return it->second;
}

}  // namespace vsray::testing
