#include "provider/node_provider.h"

#include <algorithm>
#include <future>
#include <limits>
#include <random>
#include <set>

#include "common/log.h"

namespace vsray::provider {
namespace {

using vsphere::Any;
using vsphere::MoRef;

std::string Hex8() {
  thread_local std::mt19937_64 rng{std::random_device{}()};
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out(8, '0');
  for (auto& c : out) c = kHex[rng() & 0xFU];
  return out;
}

std::int64_t WallSeconds() {
  return std::chrono::duration_cast<std::chrono::seconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

using vsphere::RefOf;
using vsphere::TextOf;

}  // namespace

NodeProvider::NodeProvider(ProviderOptions options, std::string cluster_name)
    : options_(std::move(options)), cluster_name_(std::move(cluster_name)) {
  if (options_.folder.empty()) options_.folder = DefaultFolderName(cluster_name_);
  if (!options_.now_seconds) options_.now_seconds = WallSeconds;
  options_.max_concurrency = std::max(1, options_.max_concurrency);
}

NodeProvider::~NodeProvider() {
  watcher_.reset();  // stop reading before the pool and waiter go away
  pool_.reset();
  waiter_.reset();
}

StatusOr<std::unique_ptr<NodeProvider>> NodeProvider::Create(ProviderOptions options,
                                                             std::string cluster_name) {
  if (cluster_name.empty()) return InvalidArgumentError("cluster name is empty");
  std::unique_ptr<NodeProvider> provider(
      new NodeProvider(std::move(options), std::move(cluster_name)));
  VSRAY_RETURN_IF_ERROR(provider->Init());
  return provider;
}

Status NodeProvider::InitBase() {
  VSRAY_ASSIGN_OR_RETURN(session_, vsphere::Session::Shared(options_.connect));
  vim_ = std::make_unique<vsphere::Vim>(*session_, session_->content());
  waiter_ = std::make_unique<vsphere::TaskWaiter>(session_);
  vm_ops_ = std::make_unique<vsphere::VmOps>(*vim_, *waiter_, *options_.connect.clock);
  pool_ = std::make_unique<ThreadPool>(static_cast<std::size_t>(options_.max_concurrency));
  if (options_.mirror_vsphere_tags) mirror_ = std::make_unique<TagMirror>(session_->options());
  VSRAY_RETURN_IF_ERROR(FindDatacenter());
  resolver_ = std::make_unique<FrozenVmResolver>(MakeFrozenEnv());
  return OkStatus();
}

Status NodeProvider::Init() {
  VSRAY_RETURN_IF_ERROR(InitBase());
  if (options_.prepare_frozen_vms) {
    VSRAY_RETURN_IF_ERROR(FindFrozenVms());
  } else {
    // Read-only: learn the frozen VMs that exist (never to be touched), deploy or power on
    // nothing; the first CreateNode prepares them.
    std::lock_guard resolving(resolve_mu_);
    auto parents = resolver_->Resolve(options_.frozen_vm, /*prepare=*/false);
    if (parents.ok()) {
      std::lock_guard lock(mu_);
      for (const auto& parent : *parents) frozen_ids_.insert(parent.vm.value);
      frozen_vms_ = *parents;
    } else {
      Log()->debug("frozen VMs not resolved (not needed here): {}", parents.status().message());
    }
  }
  VSRAY_RETURN_IF_ERROR(EnsureFolder());
  VSRAY_RETURN_IF_ERROR(LoadFieldKeys());
  VSRAY_RETURN_IF_ERROR(Refresh());
  VSRAY_RETURN_IF_ERROR(RecoverCrashedNodes());
  if (options_.watch) {
    FolderWatcherOptions watch;
    watch.resync_interval = options_.node_resync_interval;
    watcher_ = std::make_unique<FolderWatcher>(session_, folder_, cache_, watch);
    watcher_->Start();
  }
  return OkStatus();
}

Status NodeProvider::FindDatacenter() {
  if (options_.datacenter.empty()) {
    VSRAY_ASSIGN_OR_RETURN(auto dcs, vim_->ListByType("Datacenter", {"name", "vmFolder"}));
    if (dcs.size() != 1) {
      std::string names;
      for (const auto& dc : dcs) names += (names.empty() ? "" : ", ") + TextOf(dc, "name");
      return InvalidArgumentError("vCenter has " + std::to_string(dcs.size()) + " datacenters (" +
                                  names + "): set vsphere_config.datacenter to one of them");
    }
    datacenter_ = dcs.front().obj;
    vm_root_folder_ = RefOf(dcs.front(), "vmFolder");
    return OkStatus();
  }
  VSRAY_ASSIGN_OR_RETURN(auto found, vim_->FindByInventoryPath(options_.datacenter));
  if (!found || found->type != "Datacenter") {
    Status status = NotFoundError("datacenter '" + options_.datacenter + "' not found");
    status.set_fault("NotFound");
    return status;
  }
  datacenter_ = *found;
  VSRAY_ASSIGN_OR_RETURN(auto content, vim_->RetrieveOne(datacenter_, {"vmFolder"}));
  vm_root_folder_ = RefOf(content, "vmFolder");
  return OkStatus();
}

StatusOr<MoRef> NodeProvider::FindPlacement(const std::string& type, const std::string& name) {
  const std::string key = type + "/" + name;
  {
    std::lock_guard lock(mu_);
    if (auto it = placement_.find(key); it != placement_.end()) return it->second;
  }
  std::vector<MoRef> found;
  if (name.find('/') != std::string::npos) {
    VSRAY_ASSIGN_OR_RETURN(auto by_path, vim_->FindByInventoryPath(name));
    if (by_path && by_path->type == type) found.push_back(*by_path);
  } else {
    VSRAY_ASSIGN_OR_RETURN(found, vim_->FindByName(type, name, datacenter_));
  }
  if (found.empty()) {
    return NotFoundError(type + " '" + name + "' not found in the datacenter");
  }
  if (found.size() > 1) {
    return FailedPreconditionError(std::to_string(found.size()) + " objects of type " + type +
                                   " are named '" + name + "': give its inventory path instead");
  }
  std::lock_guard lock(mu_);
  placement_[key] = found.front();
  return found.front();
}

FrozenVmEnv NodeProvider::MakeFrozenEnv() {
  FrozenVmEnv env;
  env.vim = vim_.get();
  env.ops = vm_ops_.get();
  env.pool = pool_.get();
  env.connect = session_->options();
  env.datacenter = datacenter_;
  env.vm_root_folder = vm_root_folder_;
  env.find = [this](const std::string& type, const std::string& name) {
    return FindPlacement(type, name);
  };
  env.extra_config = options_.frozen_vm_extra_config;
  env.ready_timeout = options_.frozen_vm_ready_timeout;
  env.deploy_timeout = options_.frozen_vm_deploy_timeout;
  env.progress = options_.frozen_vm_progress;
  return env;
}

Status NodeProvider::FindFrozenVms() { return ParentsFor(NodeSpec{}).status(); }

StatusOr<std::vector<FrozenVm>> NodeProvider::ParentsFor(const NodeSpec& spec) {
  const FrozenVmSpec& frozen = spec.frozen_vm ? *spec.frozen_vm : options_.frozen_vm;
  std::lock_guard resolving(resolve_mu_);
  // Prepared (deployed, powered on, awaited) on first use; afterwards only re-read, so that
  // hosts entering maintenance mode and parents that stopped being frozen are skipped.
  const bool prepare = prepared_specs_.insert(frozen.Key()).second;
  auto parents = prepare ? resolver_->Resolve(frozen, true) : resolver_->Refresh(frozen);
  if (!parents.ok()) {
    if (prepare) prepared_specs_.erase(frozen.Key());
    return parents.status();
  }
  std::lock_guard lock(mu_);
  for (const auto& parent : *parents) frozen_ids_.insert(parent.vm.value);
  if (!spec.frozen_vm || *spec.frozen_vm == options_.frozen_vm) frozen_vms_ = *parents;
  return parents;
}

Status NodeProvider::EnsureFolder() {
  // Next to the (first) frozen VM; in the datacenter's VM folder when none is known yet.
  const MoRef parent = frozen_vms_.empty() || frozen_vms_.front().folder.empty()
                           ? vm_root_folder_
                           : frozen_vms_.front().folder;
  VSRAY_ASSIGN_OR_RETURN(auto existing, vim_->FindChild(parent, options_.folder));
  if (existing) {
    folder_ = *existing;
    return OkStatus();
  }
  auto created = vim_->CreateFolder(parent, options_.folder);
  if (created.ok()) {
    folder_ = *created;
    return OkStatus();
  }
  if (created.status().code() != StatusCode::kAlreadyExists) {
    return created.status().WithContext("creating VM folder '" + options_.folder + "'");
  }
  // Another provider created it meanwhile.
  VSRAY_ASSIGN_OR_RETURN(existing, vim_->FindChild(parent, options_.folder));
  if (!existing) return InternalError("VM folder '" + options_.folder + "' vanished");
  folder_ = *existing;
  return OkStatus();
}

Status NodeProvider::LoadFieldKeys() {
  VSRAY_ASSIGN_OR_RETURN(auto defs, vim_->CustomFieldDefs("VirtualMachine"));
  std::lock_guard lock(mu_);
  for (const auto& [name, key] : defs) field_keys_[name] = key;
  return OkStatus();
}

void NodeProvider::RefreshFieldKeysIfUnknown(const Node* node, const TagMap* filters) const {
  {
    std::lock_guard lock(mu_);
    bool unknown = false;
    if (node != nullptr) {
      for (const auto& entry : node->custom) {
        const int key = entry.first;
        unknown |= std::none_of(field_keys_.begin(), field_keys_.end(),
                                [key](const auto& field) { return field.second == key; });
      }
    }
    if (filters != nullptr) {
      for (const auto& [name, value] : *filters) unknown |= !field_keys_.contains(name);
    }
    const auto now = std::chrono::steady_clock::now();
    if (!unknown || now - last_field_refresh_ < std::chrono::seconds(1)) return;
    last_field_refresh_ = now;
  }
  // Logically const: the definitions are a cache of vCenter's.
  auto* self = const_cast<NodeProvider*>(this);  // NOLINT(cppcoreguidelines-pro-type-const-cast)
  if (Status status = self->LoadFieldKeys(); !status.ok()) {
    Log()->warn("cannot read custom attribute definitions: {}", status.message());
  }
}

StatusOr<int> NodeProvider::FieldKey(const std::string& name) {
  {
    std::lock_guard lock(mu_);
    if (auto it = field_keys_.find(name); it != field_keys_.end()) return it->second;
  }
  auto key = vim_->AddCustomFieldDef(name, "VirtualMachine");
  if (key.ok()) {
    std::lock_guard lock(mu_);
    field_keys_[name] = *key;
    return *key;
  }
  if (key.status().code() != StatusCode::kAlreadyExists) {
    return key.status().WithContext("defining custom attribute '" + name + "'");
  }
  VSRAY_RETURN_IF_ERROR(LoadFieldKeys());
  std::lock_guard lock(mu_);
  if (auto it = field_keys_.find(name); it != field_keys_.end()) return it->second;
  return InternalError("custom attribute '" + name + "' exists but cannot be read");
}

Status NodeProvider::Refresh() {
  std::lock_guard lock(refresh_mu_);
  VSRAY_ASSIGN_OR_RETURN(auto nodes, ListFolder(*vim_, folder_));
  cache_.Reconcile(std::move(nodes));
  return OkStatus();
}

Status NodeProvider::RecoverCrashedNodes() {
  const int status_key = FieldKeyIfKnown(kTagVsrayNodeStatus);
  const std::int64_t now = options_.now_seconds();
  std::vector<std::string> stale;
  cache_.ForEach([&](const Node& node) {
    if (!IsOurs(node) || node.created_at() == 0) return;
    const std::string* status = TagValue(node, status_key, kTagVsrayNodeStatus);
    if (status != nullptr && *status == kVsrayStatusCreated) return;
    if (now - node.created_at() > options_.creating_timeout.count()) stale.push_back(node.id);
  });
  for (const auto& id : stale) {
    Log()->warn("removing node {}: left 'creating' by an earlier run for longer than {} s", id,
                options_.creating_timeout.count());
    VSRAY_RETURN_IF_ERROR(TerminateNode(id));
    recovered_.push_back(id);
  }
  return OkStatus();
}

bool NodeProvider::IsOurs(const Node& node) const {
  const std::string_view cluster = node.Identity(kGuestinfoCluster);
  if (!cluster.empty()) return cluster == cluster_name_;
  // No guestinfo identity reported (yet): the ray-cluster-name attribute, which only this
  // provider writes, identifies the node too.
  const auto value = node.custom.find(FieldKeyIfKnown(kTagRayClusterName));
  return value != node.custom.end() && value->second == cluster_name_;
}

int NodeProvider::FieldKeyIfKnown(std::string_view name) const {
  std::lock_guard lock(mu_);
  const auto it = field_keys_.find(std::string(name));
  return it == field_keys_.end() ? -1 : it->second;
}

const std::string* NodeProvider::TagValue(const Node& node, int key, std::string_view name) {
  if (const auto it = node.custom.find(key); it != node.custom.end()) return &it->second;
  const auto birth = node.identity.find(std::string(kGuestinfoTagPrefix) + std::string(name));
  return birth == node.identity.end() ? nullptr : &birth->second;
}

bool NodeProvider::IsFrozenParent(const std::string& id) const {
  std::lock_guard lock(mu_);
  return frozen_ids_.contains(id);
}

StatusOr<std::vector<std::string>> NodeProvider::NonTerminatedNodes(const TagMap& filters) {
  if (!watcher_) VSRAY_RETURN_IF_ERROR(Refresh());
  RefreshFieldKeysIfUnknown(nullptr, &filters);
  // A filter key no custom attribute is defined for yet can still match birth tags.
  struct Wanted {
    int key;
    const std::string& name;
    const std::string& value;
  };
  std::vector<Wanted> wanted;
  wanted.reserve(filters.size());
  for (const auto& [name, value] : filters) wanted.push_back({FieldKeyIfKnown(name), name, value});
  const int status_key = FieldKeyIfKnown(kTagVsrayNodeStatus);
  std::vector<std::string> ids;
  cache_.ForEach([&](const Node& node) {
    if (!IsOurs(node) || node.frozen || IsFrozenParent(node.id)) return;
    if (node.power_state != "poweredOn") {
      const std::string* status = TagValue(node, status_key, kTagVsrayNodeStatus);
      if (node.power_state != "poweredOff" || status == nullptr ||
          *status != kVsrayStatusCreating) {
        return;
      }
    }
    for (const auto& want : wanted) {
      const std::string* value = TagValue(node, want.key, want.name);
      if (value == nullptr || *value != want.value) return;
    }
    ids.push_back(node.id);
  });
  std::sort(ids.begin(), ids.end());
  return ids;
}

StatusOr<std::vector<std::string>> NodeProvider::AllNodes() {
  if (!watcher_) VSRAY_RETURN_IF_ERROR(Refresh());
  std::vector<std::string> ids;
  cache_.ForEach([&](const Node& node) {
    if (IsOurs(node) && !node.frozen && !IsFrozenParent(node.id)) ids.push_back(node.id);
  });
  std::sort(ids.begin(), ids.end());
  return ids;
}

std::optional<Node> NodeProvider::GetNode(const std::string& id) const {
  auto node = cache_.Get(id);
  if (!node || !IsOurs(*node)) return std::nullopt;
  return node;
}

bool NodeProvider::IsRunning(const std::string& id) const {
  const auto node = cache_.Get(id);
  return node && IsOurs(*node) && node->power_state == "poweredOn";
}

bool NodeProvider::IsTerminated(const std::string& id) const {
  const auto node = cache_.Get(id);
  if (!node || !IsOurs(*node)) return true;
  if (node->power_state == "poweredOn") return false;
  const std::string* status =
      TagValue(*node, FieldKeyIfKnown(kTagVsrayNodeStatus), kTagVsrayNodeStatus);
  return status == nullptr || *status != kVsrayStatusCreating;
}

TagMap NodeProvider::NodeTags(const std::string& id) const {
  TagMap tags;
  const auto node = cache_.Get(id);
  if (!node) return tags;
  RefreshFieldKeysIfUnknown(&*node, nullptr);
  tags = node->BirthTags();
  std::lock_guard lock(mu_);
  for (const auto& [name, key] : field_keys_) {
    if (auto it = node->custom.find(key); it != node->custom.end()) tags[name] = it->second;
  }
  return tags;
}

std::optional<std::string> NodeProvider::ExternalIp(const std::string& id) const {
  const auto node = cache_.Get(id);
  if (!node) return std::nullopt;
  return provider::ExternalIp(*node, options_.addresses);
}

std::optional<std::string> NodeProvider::InternalIp(const std::string& id) const {
  const auto node = cache_.Get(id);
  if (!node) return std::nullopt;
  return provider::InternalIp(*node, options_.addresses);
}

std::optional<std::string> NodeProvider::GetNodeId(const std::string& ip,
                                                   bool use_internal_ip) const {
  std::optional<std::string> found;
  cache_.ForEach([&](const Node& node) {
    if (found || !IsOurs(node)) return;
    const auto address = use_internal_ip ? provider::InternalIp(node, options_.addresses)
                                         : provider::ExternalIp(node, options_.addresses);
    if (address && *address == ip) found = node.id;
  });
  return found;
}

std::string NodeProvider::NewNodeName(const TagMap& tags) {
  if (auto it = tags.find(std::string(kTagRayNodeName)); it != tags.end() && !it->second.empty()) {
    return it->second + "-" + Hex8();
  }
  std::string kind = "node";
  if (auto it = tags.find(std::string(kTagRayNodeKind)); it != tags.end() && !it->second.empty()) {
    kind = it->second;
  }
  return "ray-" + cluster_name_ + "-" + kind + "-" + Hex8();
}

FrozenVm NodeProvider::PickParent(const std::vector<FrozenVm>& parents, const std::string& set,
                                  const std::string& node_name) {
  // Load of a host: this cluster's nodes on it, known (cache) or being made (in flight),
  // counted once each by name.
  std::map<std::string, std::set<std::string>> nodes_on;
  cache_.ForEach([&](const Node& node) {
    if (IsOurs(node) && !node.host.empty()) nodes_on[node.host].insert(node.name);
  });
  std::lock_guard lock(mu_);
  for (const auto& [host, names] : inflight_per_host_) {
    nodes_on[host].insert(names.begin(), names.end());
  }
  const std::size_t n = parents.size();
  std::size_t& round_robin = round_robin_[set];
  std::size_t best = 0;
  std::size_t best_load = std::numeric_limits<std::size_t>::max();
  for (std::size_t step = 0; step < n; ++step) {
    const std::size_t i = (round_robin + step) % n;
    const std::size_t l = nodes_on[parents[i].host.value].size();
    if (l < best_load) {
      best_load = l;
      best = i;
    }
  }
  round_robin = best + 1;
  inflight_per_host_[parents[best].host.value].insert(node_name);
  return parents[best];
}

void NodeProvider::ReleaseParent(const FrozenVm& parent, const std::string& node_name) {
  std::lock_guard lock(mu_);
  inflight_per_host_[parent.host.value].erase(node_name);
}

StatusOr<MoRef> NodeProvider::BaseSnapshot(const FrozenVm& parent) {
  std::lock_guard lock(snapshot_mu_);
  if (auto it = base_snapshots_.find(parent.vm.value); it != base_snapshots_.end()) {
    return it->second;
  }
  VSRAY_ASSIGN_OR_RETURN(auto content, vim_->RetrieveOne(parent.vm, {"snapshot"}));
  MoRef snapshot;
  if (const Any* current = content.Get("snapshot"); current != nullptr) {
    if (const Any* ref = current->Get("currentSnapshot")) snapshot = ref->AsMoRef();
  }
  if (snapshot.empty()) {
    if (!options_.create_base_snapshot) {
      return FailedPreconditionError("clone_mode linked needs a snapshot on '" + parent.name +
                                     "', which has none (snapshot creation is not allowed)");
    }
    Log()->info("creating snapshot 'vsray-base' of '{}' for linked clones", parent.name);
    VSRAY_ASSIGN_OR_RETURN(
        snapshot, vm_ops_->CreateSnapshot(parent.vm, "vsray-base", options_.clone_timeout));
  }
  base_snapshots_[parent.vm.value] = snapshot;
  return snapshot;
}

StatusOr<MoRef> NodeProvider::CloneParent(const NodeSpec& spec, const FrozenVm& parent,
                                          const std::string& name,
                                          const std::vector<vsphere::OptionValue>& identity,
                                          const MoRef& pool, const MoRef& datastore) {
  vsphere::CloneSpec clone;
  clone.location.folder = folder_;
  clone.location.pool = pool.empty() ? parent.pool : pool;
  clone.location.datastore = datastore;
  clone.location.host = parent.host;  // spread like instant clones: on the parent's host
  clone.extra_config = identity;
  if (spec.clone_mode == CloneMode::kLinked) {
    VSRAY_ASSIGN_OR_RETURN(clone.snapshot, BaseSnapshot(parent));
    clone.location.disk_move_type = "createNewChildDiskBacking";
  }
  return vm_ops_->Clone(parent.vm, folder_, name, clone, options_.clone_timeout);
}

Status NodeProvider::DestroyVm(const MoRef& vm, bool known_off) {
  return vm_ops_->Destroy(vm, known_off, options_.clone_timeout);
}

Status NodeProvider::WriteTags(const std::string& id, const TagMap& tags) {
  const MoRef vm{"VirtualMachine", id};
  std::map<int, std::string> written;
  for (const auto& [name, value] : tags) {
    VSRAY_ASSIGN_OR_RETURN(int key, FieldKey(name));
    VSRAY_RETURN_IF_ERROR(vim_->SetField(vm, key, value));
    written[key] = value;
    // Visible at once, tag by tag, so a reader never sees a stale value after we return.
    cache_.SetPending(id, {{key, value}});
  }
  return OkStatus();
}

void NodeProvider::MirrorNewNode(const std::string& id, const TagMap& tags) {
  if (!mirror_) return;
  if (Status status = mirror_->Attach(id, tags); !status.ok()) {
    Log()->warn("vSphere tags mirror: node {}: {}", id, status.message());
  }
}

void NodeProvider::MirrorChange(const std::string& id, const TagMap& previous,
                                const TagMap& changed) {
  if (!mirror_) return;
  TagMap mirrored = changed;
  mirrored.erase(std::string(kTagVsrayNodeStatus));  // vsray's own, not one of Ray's tags
  if (Status status = mirror_->Change(id, previous, mirrored); !status.ok()) {
    Log()->warn("vSphere tags mirror: node {}: {}", id, status.message());
  }
}

StatusOr<CreatedNode> NodeProvider::CreateOne(const NodeSpec& spec, const TagMap& tags,
                                              const MoRef& pool, const MoRef& datastore,
                                              const std::vector<FrozenVm>& parents) {
  const std::string name = NewNodeName(tags);
  const FrozenVm parent =
      PickParent(parents, spec.frozen_vm ? spec.frozen_vm->Key() : options_.frozen_vm.Key(), name);
  struct Release {
    NodeProvider* self;
    const FrozenVm& parent;
    const std::string& name;
    ~Release() { self->ReleaseParent(parent, name); }
  } release{this, parent, name};

  const std::string node_type = tags.contains(std::string(kTagRayUserNodeType))
                                    ? tags.at(std::string(kTagRayUserNodeType))
                                    : std::string();
  // Ray's tags as this node is launched with them; `vsray-node-status` is vsray's.
  TagMap all = tags;
  all[std::string(kTagRayClusterName)] = cluster_name_;
  all.erase(std::string(kTagVsrayNodeStatus));
  vsphere::InstantCloneSpec clone;
  clone.name = name;
  clone.location.folder = folder_;
  clone.location.pool = pool;
  clone.location.datastore = datastore;
  // The frozen VM's NICs are disconnected (so that it keeps no address); the clone's are
  // connected in the clone spec itself, which renews its network as it resumes.
  for (const auto& nic : parent.nics) {
    Any connected = nic;
    vsphere::SetNicConnected(connected, true);
    clone.location.edit_devices.push_back(std::move(connected));
  }
  clone.config = {{std::string(kGuestinfoCluster), cluster_name_},
                  {std::string(kGuestinfoNodeType), node_type},
                  {std::string(kGuestinfoCreatedAt), std::to_string(options_.now_seconds())}};
  // Birth tags: the node is listed with its tags (and as `creating`) from the moment it
  // exists, before any custom attribute is written, by this process or by any other.
  for (const auto& [key, value] : all) {
    clone.config.push_back({std::string(kGuestinfoTagPrefix) + key, value});
  }
  clone.config.push_back({std::string(kGuestinfoTagPrefix) + std::string(kTagVsrayNodeStatus),
                          std::string(kVsrayStatusCreating)});
  clone.config.insert(clone.config.end(), spec.extra_config.begin(), spec.extra_config.end());
  if (spec.node_config) {
    auto per_node = spec.node_config(name);
    clone.config.insert(clone.config.end(), per_node.begin(), per_node.end());
  }

  const auto report = [&](const std::string& state) {
    if (options_.progress) options_.progress(name, state);
  };
  report("cloning");
  auto cloned = spec.clone_mode == CloneMode::kInstant
                    ? vm_ops_->InstantClone(parent.vm, clone, options_.clone_timeout)
                    : CloneParent(spec, parent, name, clone.config, pool, datastore);
  if (!cloned.ok()) {
    Status failed = cloned.status().WithContext(
        std::string(spec.clone_mode == CloneMode::kInstant ? "instant" : "") +
        (spec.clone_mode == CloneMode::kLinked ? "linked" : "") +
        (spec.clone_mode == CloneMode::kFull ? "full" : "") + " clone of '" + parent.name +
        "' as '" + name + "'");
    report("failed: " + failed.message());
    return failed;
  }
  const MoRef vm = *cloned;
  report("configuring");

  auto finish = [&]() -> Status {
    if (spec.clone_mode != CloneMode::kInstant) {
      // CloneVM_Task's powerOn is not relied upon (the simulator ignores it): power on here;
      // already on counts as done.
      VSRAY_RETURN_IF_ERROR(vm_ops_->PowerOn(vm, options_.clone_timeout));
    }
    vsphere::ConfigSpec config;
    config.num_cpus = spec.cpus;
    config.memory_mb = spec.memory_mb;
    if (config.num_cpus || config.memory_mb) {
      VSRAY_RETURN_IF_ERROR(vm_ops_->Reconfigure(vm, config, options_.clone_timeout));
    }
    VSRAY_RETURN_IF_ERROR(WriteTags(vm.value, all));
    VSRAY_RETURN_IF_ERROR(WriteTags(
        vm.value, {{std::string(kTagVsrayNodeStatus), std::string(kVsrayStatusCreated)}}));
    MirrorNewNode(vm.value, all);
    return OkStatus();
  };
  if (Status status = finish(); !status.ok()) {
    Log()->warn("node '{}' ({}) failed while being set up, destroying it: {}", name, vm.value,
                status.message());
    if (Status cleanup = DestroyVm(vm); !cleanup.ok()) {
      Log()->error("could not destroy half-created node {}: {}", vm.value, cleanup.message());
    }
    cache_.Remove(vm.value);
    Status failed = status.WithContext("setting up node '" + name + "' (" + vm.value + ")");
    report("failed: " + failed.message());
    return failed;
  }

  Node node;
  node.id = vm.value;
  node.name = name;
  node.power_state = "poweredOn";
  node.host = parent.host.value;
  node.identity[std::string(kGuestinfoCluster)] = cluster_name_;
  node.identity[std::string(kGuestinfoNodeType)] = node_type;
  if (auto existing = cache_.Get(vm.value)) {
    // The watcher may already know more (guest IPs, fresher values).
    node.nics = existing->nics;
    node.custom = existing->custom;
    node.identity.insert(existing->identity.begin(), existing->identity.end());
  }
  cache_.Put(std::move(node));
  report("created");
  return CreatedNode{vm.value, name, parent.host.value};
}

StatusOr<CreateResult> NodeProvider::CreateNode(const NodeSpec& spec, const TagMap& tags,
                                                int count) {
  if (count <= 0) return InvalidArgumentError("count must be at least 1");
  MoRef pool;
  MoRef datastore;
  if (!spec.resource_pool.empty()) {
    VSRAY_ASSIGN_OR_RETURN(pool, FindPlacement("ResourcePool", spec.resource_pool));
  }
  if (!spec.datastore.empty()) {
    VSRAY_ASSIGN_OR_RETURN(datastore, FindPlacement("Datastore", spec.datastore));
  }
  // Define every custom attribute once, before the parallel work.
  for (const auto& [name, value] : tags) VSRAY_RETURN_IF_ERROR(FieldKey(name).status());
  for (const auto name : {kTagRayClusterName, kTagVsrayNodeStatus}) {
    VSRAY_RETURN_IF_ERROR(FieldKey(std::string(name)).status());
  }

  // The parents, with the current state of their hosts (maintenance mode, disconnected).
  VSRAY_ASSIGN_OR_RETURN(const auto parents, ParentsFor(spec));

  std::vector<std::future<StatusOr<CreatedNode>>> futures;
  futures.reserve(static_cast<std::size_t>(count));
  for (int i = 0; i < count; ++i) {
    futures.push_back(
        pool_->Submit([&] { return CreateOne(spec, tags, pool, datastore, parents); }));
  }
  CreateResult result;
  for (auto& future : futures) {
    auto node = future.get();
    if (node.ok()) {
      result.created.push_back(*std::move(node));
    } else {
      result.failures.push_back(node.status());
    }
  }
  if (result.created.empty()) {
    Status first = result.failures.front();
    return Status(first.code(),
                  "all " + std::to_string(count) + " node(s) failed; first: " + first.message())
        .set_fault(first.fault());
  }
  return result;
}

Status NodeProvider::SetNodeTags(const std::string& id, const TagMap& tags) {
  const auto node = cache_.Get(id);
  if (!node || !IsOurs(*node))
    return NotFoundError("node " + id + " is not in cluster '" + cluster_name_ + "'");
  const TagMap previous = mirror_ ? NodeTags(id) : TagMap();
  VSRAY_RETURN_IF_ERROR(WriteTags(id, tags));
  MirrorChange(id, previous, tags);
  return OkStatus();
}

Status NodeProvider::TerminateNode(const std::string& id) {
  if (IsFrozenParent(id)) {
    return PermissionDeniedError("VM " + id + " is a frozen VM of this cluster: never terminated");
  }
  auto node = cache_.Get(id);
  if (!node) {
    if (cache_.WasRemoved(id)) return OkStatus();
    auto content = vim_->RetrieveOne({"VirtualMachine", id}, WatchedProperties());
    if (!content.ok()) {
      return content.status().code() == StatusCode::kNotFound ? OkStatus() : content.status();
    }
    node = NodeFromContent(*content);
  }
  if (node->frozen) {
    return PermissionDeniedError("VM " + id + " ('" + node->name +
                                 "') is a frozen VM: never terminated");
  }
  if (!IsOurs(*node)) {
    return PermissionDeniedError("VM " + id + " ('" + node->name +
                                 "') does not belong to cluster '" + cluster_name_ +
                                 "': left alone");
  }
  VSRAY_RETURN_IF_ERROR(DestroyVm({"VirtualMachine", id}, node->power_state == "poweredOff")
                            .WithContext("terminating " + id + " ('" + node->name + "')"));
  cache_.Remove(id);
  return OkStatus();
}

Status NodeProvider::TerminateNodes(const std::vector<std::string>& ids) {
  std::vector<std::future<Status>> futures;
  futures.reserve(ids.size());
  for (const auto& id : ids)
    futures.push_back(pool_->Submit([this, id] { return TerminateNode(id); }));
  Status first;
  int failed = 0;
  for (auto& future : futures) {
    Status status = future.get();
    if (!status.ok()) {
      if (first.ok()) first = status;
      ++failed;
    }
  }
  if (failed == 0) return OkStatus();
  return Status(first.code(), std::to_string(failed) + " of " + std::to_string(ids.size()) +
                                  " node(s) not terminated; first: " + first.message())
      .set_fault(first.fault());
}

StatusOr<std::vector<std::vector<FrozenVm>>> NodeProvider::PrepareFrozenVms(
    ProviderOptions options, const std::vector<FrozenVmSpec>& extra_specs) {
  std::unique_ptr<NodeProvider> provider(new NodeProvider(std::move(options), "frozen-vm"));
  VSRAY_RETURN_IF_ERROR(provider->InitBase());
  std::vector<FrozenVmSpec> specs = {provider->options_.frozen_vm};
  specs.insert(specs.end(), extra_specs.begin(), extra_specs.end());
  std::vector<std::vector<FrozenVm>> out;
  for (const auto& spec : specs) {
    VSRAY_ASSIGN_OR_RETURN(auto vms, provider->resolver_->Resolve(spec, /*prepare=*/true));
    out.push_back(std::move(vms));
  }
  return out;
}

StatusOr<std::vector<provider::FrozenVmStatus>> NodeProvider::FrozenVmStatuses(
    const std::optional<FrozenVmSpec>& spec) {
  std::vector<provider::FrozenVmStatus> statuses;
  {
    std::lock_guard resolving(resolve_mu_);
    VSRAY_ASSIGN_OR_RETURN(statuses, resolver_->Statuses(spec ? *spec : options_.frozen_vm));
  }
  if (!watcher_ && !folder_.empty()) VSRAY_RETURN_IF_ERROR(Refresh());
  std::map<std::string, int> per_host;
  cache_.ForEach([&](const Node& node) {
    if (IsOurs(node) && !node.frozen && !node.host.empty()) ++per_host[node.host];
  });
  for (auto& status : statuses) status.clones_on_host = per_host[status.host_id];
  return statuses;
}

StatusOr<std::vector<provider::FrozenVmStatus>> NodeProvider::FrozenVmStatusOf(
    ProviderOptions options, const std::string& cluster_name) {
  if (cluster_name.empty()) return InvalidArgumentError("cluster name is empty");
  options.watch = false;
  std::unique_ptr<NodeProvider> provider(new NodeProvider(std::move(options), cluster_name));
  VSRAY_RETURN_IF_ERROR(provider->InitBase());
  VSRAY_RETURN_IF_ERROR(provider->LoadFieldKeys());
  VSRAY_ASSIGN_OR_RETURN(auto statuses, provider->FrozenVmStatuses());
  // The cluster folder sits next to the first frozen VM; count nodes only if it exists.
  for (const auto& status : statuses) {
    if (status.id.empty()) continue;
    VSRAY_ASSIGN_OR_RETURN(auto content,
                           provider->vim_->RetrieveOne({"VirtualMachine", status.id}, {"parent"}));
    VSRAY_ASSIGN_OR_RETURN(auto folder, provider->vim_->FindChild(RefOf(content, "parent"),
                                                                  provider->options_.folder));
    if (!folder) break;
    provider->folder_ = *folder;
    return provider->FrozenVmStatuses();
  }
  return statuses;
}

}  // namespace vsray::provider
