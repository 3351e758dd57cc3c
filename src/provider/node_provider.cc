#include "provider/node_provider.h"

#include <algorithm>
#include <future>
#include <map>
#include <set>

#include "common/log.h"

namespace vsray::provider {
namespace {

// The longest WaitUntil sleeps before looking at its clock again (a fake clock moves without
// notifying anyone).
constexpr auto kWakeAtLeastEvery = std::chrono::seconds(1);

// Fills in clones_on_host: `cluster`'s nodes (not frozen VMs) among `nodes`, per host.
void CountClones(const NodeReader& reader, const std::vector<Node>& nodes,
                 std::vector<FrozenVmStatus>& statuses) {
  std::map<std::string, int> per_host;
  for (const auto& node : nodes) {
    if (reader.IsOurs(node) && !node.frozen && !node.host.empty()) ++per_host[node.host];
  }
  for (auto& status : statuses) status.clones_on_host = per_host[status.host_id];
}

// A status naming how many of `count` operations failed, with the first failure's code.
Status Failures(const std::string& what, int failed, std::size_t count, const Status& first) {
  return Status(first.code(), std::to_string(failed) + " of " + std::to_string(count) + what +
                                  "; first: " + first.message())
      .set_fault(first.fault());
}

// What the cluster lease and the frozen-VM lease share: expiry, waits, clocks, cancellation,
// and progress lines under `label` while waiting for another run.
LeaseOptions LeaseOptionsFor(const ProviderOptions& options, const MoRef& parent,
                             const FrozenVmProgress& progress, const std::string& label) {
  LeaseOptions lease;
  lease.parent = parent;
  lease.ttl = options.lease_ttl;
  lease.wait = options.lease_wait;
  lease.now_seconds = options.now_seconds;
  lease.clock = options.clock;
  lease.cancel = options.cancel.get();
  if (progress) {
    lease.progress = [progress, label](const std::string& line) { progress(label, line); };
  }
  return lease;
}

}  // namespace

NodeProvider::NodeProvider(ProviderOptions options, std::string cluster_name, ProviderBase base)
    : options_(std::move(options)),
      cluster_name_(std::move(cluster_name)),
      base_(std::move(base)),
      fields_(base_.vcenter->fields(), *options_.clock),
      cache_(*options_.clock) {
  if (options_.mirror_vsphere_tags) mirror_ = base_.vcenter->NewTagMirror();
}

NodeProvider::~NodeProvider() {
  watch_.reset();  // stop feeding the cache first
}

StatusOr<std::unique_ptr<NodeProvider>> NodeProvider::Create(ProviderOptions options,
                                                             std::string cluster_name) {
  if (cluster_name.empty()) return InvalidArgumentError("cluster name is empty");
  options = WithDefaults(std::move(options), cluster_name);
  VSRAY_ASSIGN_OR_RETURN(auto base, OpenProviderBase(options));
  std::unique_ptr<NodeProvider> provider(
      new NodeProvider(std::move(options), std::move(cluster_name), std::move(base)));
  VSRAY_RETURN_IF_ERROR(provider->Start());
  return provider;
}

Status NodeProvider::Start() {
  ParentCatalog& catalog = *base_.catalog;
  if (options_.prepare_frozen_vms) {
    VSRAY_RETURN_IF_ERROR(catalog.ParentsFor(std::nullopt).status());
  } else {
    // Read-only: learn the frozen VMs that exist (never to be touched), deploy or power on
    // nothing; the first CreateNode prepares them.
    catalog.Learn();
  }
  // The folder goes next to the (first) frozen VM; in the datacenter's VM folder when none is
  // known yet.
  const auto parents = catalog.defaults();
  const MoRef next_to = parents.empty() ? MoRef{} : parents.front().folder;
  VSRAY_ASSIGN_OR_RETURN(folder_, base_.inventory->EnsureFolder(next_to, options_.folder));
  gpus_ = std::make_unique<GpuAllocator>(
      base_.vcenter->gpus(), folder_,
      [this](const std::string& vm) { return cache_.Get(vm).has_value(); });
  factory_ = std::make_unique<NodeFactory>(*base_.vcenter, fields_, cache_, scheduler_, *gpus_,
                                           mirror_.get(), options_, cluster_name_, folder_);
  LeaseOptions lease = LeaseOptionsFor(options_, folder_, options_.progress, "cluster lease");
  lease_ = std::make_unique<LeaseKeeper>(base_.vcenter->leases(), std::move(lease));
  VSRAY_RETURN_IF_ERROR(fields_.Load());
  VSRAY_RETURN_IF_ERROR(Refresh());
  RepairAtStart();
  if (options_.watch) {
    watch_ = base_.vcenter->watch().Watch(folder_, cache_, options_.node_resync_interval);
  }
  return OkStatus();
}

Status NodeProvider::Refresh() {
  std::lock_guard lock(refresh_mu_);
  VSRAY_ASSIGN_OR_RETURN(auto nodes, base_.vcenter->inventory().Nodes(folder_));
  cache_.Reconcile(std::move(nodes));
  return OkStatus();
}

void NodeProvider::RepairAtStart() {
  if (options_.repair_at_start == StartRepair::kIfLeaseFree) {
    auto hold = HoldLease("repairing half-made nodes", std::chrono::seconds(0));
    if (!hold.ok()) Log()->info("half-made nodes: only stale ones: {}", hold.status().message());
    recovered_ = Repair().removed;  // exclusive while the hold lives
    return;
  }
  recovered_ = Repair().removed;
}

StatusOr<LeaseKeeper::Hold> NodeProvider::HoldLease(const std::string& what,
                                                    std::chrono::seconds wait) {
  return lease_->Acquire(what, wait);
}

RepairReport NodeProvider::Repair() {
  RepairReport report;
  // Fresh definitions, so that no attribute another run defined meanwhile is read as missing
  // (a complete node would look half-made), and a fresh listing without a watcher.
  Status fresh = fields_.Load();
  if (fresh.ok() && !watch_) fresh = Refresh();
  if (!fresh.ok()) {
    report.failures.push_back("cannot look for half-made nodes: " + fresh.message());
    return report;
  }
  RepairContext context;
  context.exclusive = lease_->held();
  context.now = options_.now_seconds();
  context.creating_timeout = options_.creating_timeout;
  std::set<std::string> flying;
  for (const auto& [host, names] : scheduler_.InFlight()) flying.insert(names.begin(), names.end());
  const NodeReader reader = Reader();
  std::vector<std::pair<Node, RepairDecision>> todo;
  cache_.ForEach([&](const Node& node) {
    context.frozen_parent = base_.catalog->IsFrozenParent(node.id);
    context.in_flight_here = flying.contains(node.name);
    RepairDecision decision = DecideRepair(reader, node, context);
    if (decision.action == RepairAction::kLeave) report.left.push_back(node.id);
    if (decision.action == RepairAction::kFinish || decision.action == RepairAction::kRemove) {
      todo.emplace_back(node, std::move(decision));
    }
  });
  std::vector<std::future<std::string>> futures;
  futures.reserve(todo.size());
  for (const auto& item : todo) {
    futures.push_back(
        base_.pool->Submit([this, &item] { return RepairOne(item.first, item.second); }));
  }
  for (std::size_t i = 0; i < futures.size(); ++i) {
    std::string failure = futures[i].get();
    const bool finish = todo[i].second.action == RepairAction::kFinish;
    if (!failure.empty()) {
      report.failures.push_back(std::move(failure));
    } else {
      (finish ? report.finished : report.removed).push_back(todo[i].first.id);
    }
  }
  return report;
}

std::string NodeProvider::RepairOne(const Node& node, const RepairDecision& decision) {
  if (decision.action == RepairAction::kFinish) {
    Log()->warn("finishing node {} ('{}'): {}", node.id, node.name, decision.why);
    Status finished = factory_->Finish(node);
    return finished.ok() ? std::string() : finished.message();
  }
  Log()->warn("removing node {} ('{}'): {}", node.id, node.name, decision.why);
  if (options_.progress) options_.progress(node.name, "removing (" + decision.why + ")");
  Status removed = TerminateNode(node.id);
  if (!removed.ok()) return "removing half-made node " + node.id + ": " + removed.message();
  if (options_.progress) options_.progress(node.name, "removed");
  return "";
}

bool NodeProvider::IsNode(const NodeReader& reader, const Node& node) const {
  return reader.IsOurs(node) && !node.frozen && !base_.catalog->IsFrozenParent(node.id);
}

Status NodeProvider::ForEachMatching(const TagMap& filters,
                                     const std::function<void(const Node&)>& fn,
                                     std::uint64_t* version) {
  if (!watch_) VSRAY_RETURN_IF_ERROR(Refresh());
  fields_.RefreshIfUnknown(nullptr, &filters);
  // A filter key no custom attribute is defined for yet can still match birth tags.
  struct Wanted {
    int key;
    const std::string& name;
    const std::string& value;
  };
  std::vector<Wanted> wanted;
  wanted.reserve(filters.size());
  for (const auto& [name, value] : filters)
    wanted.push_back({fields_.KeyIfKnown(name), name, value});
  const NodeReader reader = Reader();
  // Taken before the pass: a change during it makes the result look older, never newer.
  if (version != nullptr) *version = cache_.version();
  cache_.ForEach([&](const Node& node) {
    if (!reader.IsNonTerminated(node) || !IsNode(reader, node)) return;
    for (const auto& want : wanted) {
      const std::string* value = NodeReader::Tag(node, want.key, want.name);
      if (value == nullptr || *value != want.value) return;
    }
    fn(node);
  });
  return OkStatus();
}

StatusOr<std::vector<std::string>> NodeProvider::NonTerminatedNodes(const TagMap& filters) {
  std::vector<std::string> ids;
  VSRAY_RETURN_IF_ERROR(
      ForEachMatching(filters, [&](const Node& node) { ids.push_back(node.id); }));
  std::sort(ids.begin(), ids.end());
  return ids;
}

StatusOr<std::vector<ListedNode>> NodeProvider::ListNodes(const TagMap& filters,
                                                          std::uint64_t* version) {
  std::vector<ListedNode> listed;
  std::optional<Node> unknown;  // a node with an attribute not known yet: look again once
  for (int pass = 0; pass < 2; ++pass) {
    listed.clear();
    const std::map<std::string, int> fields = fields_.All();
    VSRAY_RETURN_IF_ERROR(ForEachMatching(
        filters,
        [&](const Node& node) {
          bool all_known = true;
          ListedNode entry{node.id, TagsOf(node, fields, &all_known), std::nullopt, std::nullopt};
          if (!AwaitsGpuSetUp(node)) {
            entry.internal_ip = provider::InternalIp(node, options_.addresses);
            entry.external_ip = provider::ExternalIp(node, options_.addresses);
          }
          if (!all_known && !unknown) unknown = node;
          listed.push_back(std::move(entry));
        },
        version));
    if (!unknown || pass > 0) break;
    fields_.RefreshIfUnknown(&*unknown, nullptr);
    if (fields_.All() == fields) break;  // nothing new defined: the attribute stays unnamed
  }
  std::sort(listed.begin(), listed.end(),
            [](const ListedNode& a, const ListedNode& b) { return a.id < b.id; });
  return listed;
}

std::vector<Node> NodeProvider::ForeignVms() const {
  const NodeReader reader = Reader();
  std::vector<Node> foreign;
  cache_.ForEach([&](const Node& node) {
    if (!reader.IsOurs(node) && !node.frozen && !base_.catalog->IsFrozenParent(node.id)) {
      foreign.push_back(node);
    }
  });
  std::sort(foreign.begin(), foreign.end(),
            [](const Node& a, const Node& b) { return a.name < b.name; });
  return foreign;
}

StatusOr<std::vector<std::string>> NodeProvider::AllNodes() {
  if (!watch_) VSRAY_RETURN_IF_ERROR(Refresh());
  const NodeReader reader = Reader();
  std::vector<std::string> ids;
  cache_.ForEach([&](const Node& node) {
    if (IsNode(reader, node)) ids.push_back(node.id);
  });
  std::sort(ids.begin(), ids.end());
  return ids;
}

std::optional<Node> NodeProvider::GetNode(const std::string& id) const {
  auto node = cache_.Get(id);
  if (!node || !Reader().IsOurs(*node)) return std::nullopt;
  return node;
}

bool NodeProvider::IsRunning(const std::string& id) const {
  const auto node = cache_.Get(id);
  return node && Reader().IsOurs(*node) && node->power_state == "poweredOn";
}

bool NodeProvider::IsTerminated(const std::string& id) const {
  const auto node = cache_.Get(id);
  return !node || Reader().IsTerminated(*node);
}

TagMap NodeProvider::TagsOf(const Node& node, const std::map<std::string, int>& fields,
                            bool* all_known) {
  TagMap tags = node.BirthTags();
  std::size_t named = 0;
  for (const auto& [name, key] : fields) {
    if (auto it = node.custom.find(key); it != node.custom.end()) {
      tags[name] = it->second;
      ++named;
    }
  }
  if (all_known != nullptr) *all_known = named == node.custom.size();
  return tags;
}

TagMap NodeProvider::NodeTags(const std::string& id) const {
  const auto node = cache_.Get(id);
  if (!node) return {};
  fields_.RefreshIfUnknown(&*node, nullptr);
  return TagsOf(*node, fields_.All());
}

bool NodeProvider::AwaitsGpuSetUp(const Node& node) const {
  if (node.Identity(kGuestinfoGpus).empty()) return false;
  const std::string* status = Reader().Status(node);
  return status != nullptr && *status == kVsrayStatusCreating;
}

std::optional<std::string> NodeProvider::ExternalIp(const std::string& id) const {
  const auto node = cache_.Get(id);
  if (!node || AwaitsGpuSetUp(*node)) return std::nullopt;
  return provider::ExternalIp(*node, options_.addresses);
}

std::optional<std::string> NodeProvider::InternalIp(const std::string& id) const {
  const auto node = cache_.Get(id);
  if (!node || AwaitsGpuSetUp(*node)) return std::nullopt;
  return provider::InternalIp(*node, options_.addresses);
}

std::optional<std::string> NodeProvider::GetNodeId(const std::string& ip,
                                                   bool use_internal_ip) const {
  const NodeReader reader = Reader();
  std::optional<std::string> found;
  cache_.ForEach([&](const Node& node) {
    if (found || !reader.IsOurs(node) || AwaitsGpuSetUp(node)) return;
    const auto address = use_internal_ip ? provider::InternalIp(node, options_.addresses)
                                         : provider::ExternalIp(node, options_.addresses);
    if (address && *address == ip) found = node.id;
  });
  return found;
}

Status NodeProvider::WaitUntil(const std::function<bool()>& done,
                               std::chrono::milliseconds timeout) const {
  const Clock& clock = *options_.clock;
  const auto deadline = clock.Now() + timeout;
  for (std::uint64_t seen = cache_.version();;) {
    if (done()) return OkStatus();
    const auto now = clock.Now();
    if (now >= deadline) {
      return DeadlineExceededError("not done within " + std::to_string(timeout.count() / 1000) +
                                   " s");
    }
    seen = cache_.WaitForChange(seen, std::min<Clock::Duration>(deadline - now, kWakeAtLeastEvery));
  }
}

Status NodeProvider::PrepareCreate(const NodeSpec& spec, const TagMap& tags, Placement& placement,
                                   Parents& parents) {
  if (!spec.resource_pool.empty()) {
    VSRAY_ASSIGN_OR_RETURN(placement.pool,
                           base_.inventory->FindPlacement("ResourcePool", spec.resource_pool));
  }
  if (!spec.datastore.empty()) {
    VSRAY_ASSIGN_OR_RETURN(placement.datastore,
                           base_.inventory->FindPlacement("Datastore", spec.datastore));
  }
  // Define every custom attribute once, before the parallel work.
  for (const auto& [name, value] : tags) VSRAY_RETURN_IF_ERROR(fields_.KeyFor(name).status());
  for (const auto name : {kTagRayClusterName, kTagVsrayNodeStatus}) {
    VSRAY_RETURN_IF_ERROR(fields_.KeyFor(std::string(name)).status());
  }
  // The parents, with the current state of their hosts (maintenance mode, disconnected).
  parents.set = spec.frozen_vm ? spec.frozen_vm->Key() : options_.frozen_vm.Key();
  VSRAY_ASSIGN_OR_RETURN(parents.vms, base_.catalog->ParentsFor(spec.frozen_vm));
  if (spec.gpu && spec.gpu->count > 0) {
    // Without them the node can still be an instant clone: a failed lookup only narrows.
    auto spare = SpareHosts(placement, parents.vms);
    if (spare.ok()) {
      parents.spare_hosts = *std::move(spare);
    } else {
      Log()->warn("hosts for GPU nodes without a frozen VM not known: {}",
                  spare.status().message());
    }
  }
  return OkStatus();
}

StatusOr<std::vector<MoRef>> NodeProvider::SpareHosts(const Placement& placement,
                                                      const std::vector<FrozenVm>& parents) {
  InventoryClient& inventory = base_.vcenter->inventory();
  std::vector<MoRef> pools;
  std::vector<MoRef> datastores;  // the node's: the placement's, else its parent's
  std::set<std::string> parent_hosts;
  const auto add = [](std::vector<MoRef>& refs, const MoRef& ref) {
    if (std::find(refs.begin(), refs.end(), ref) == refs.end()) refs.push_back(ref);
  };
  for (const auto& parent : parents) {
    add(pools, placement.pool.empty() ? parent.pool : placement.pool);
    add(datastores, placement.datastore.empty() ? parent.datastore : placement.datastore);
    parent_hosts.insert(parent.host.value);
  }
  VSRAY_ASSIGN_OR_RETURN(const auto states, base_.inventory->Hosts());
  std::vector<std::set<std::string>> seeing;  // per datastore, the hosts that mount it
  for (const auto& datastore : datastores) {
    if (datastore.empty()) continue;
    VSRAY_ASSIGN_OR_RETURN(auto mounted, inventory.DatastoreHosts(datastore));
    seeing.push_back(std::move(mounted));
  }
  std::vector<MoRef> spare;
  for (const auto& pool : pools) {
    if (pool.empty()) continue;
    VSRAY_ASSIGN_OR_RETURN(const auto hosts, inventory.PoolHosts(pool));
    for (const auto& host : hosts) {
      const auto state = states.find(host.value);
      const bool usable = state != states.end() && state->second.state == "connected" &&
                          !parent_hosts.contains(host.value) &&
                          std::all_of(seeing.begin(), seeing.end(),
                                      [&](const auto& set) { return set.contains(host.value); });
      if (usable && std::find(spare.begin(), spare.end(), host) == spare.end()) {
        spare.push_back(host);
      }
    }
  }
  return spare;
}

StatusOr<CreateResult> NodeProvider::CreateNode(const NodeSpec& spec, const TagMap& tags,
                                                int count) {
  if (count <= 0) return InvalidArgumentError("count must be at least 1");
  VSRAY_ASSIGN_OR_RETURN(auto hold, HoldLease("create_node", options_.lease_wait));
  Placement placement;
  Parents parents;
  VSRAY_RETURN_IF_ERROR(PrepareCreate(spec, tags, placement, parents));
  std::vector<std::future<StatusOr<CreatedNode>>> futures;
  futures.reserve(static_cast<std::size_t>(count));
  for (int i = 0; i < count; ++i) {
    futures.push_back(
        base_.pool->Submit([&] { return factory_->Create(spec, tags, placement, parents); }));
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
    const Status& first = result.failures.front();
    return Status(first.code(),
                  "all " + std::to_string(count) + " node(s) failed; first: " + first.message())
        .set_fault(first.fault());
  }
  return result;
}

Status NodeProvider::SetNodeTags(const std::string& id, const TagMap& tags) {
  const auto node = cache_.Get(id);
  if (!node || !Reader().IsOurs(*node)) {
    return NotFoundError("node " + id + " is not in cluster '" + cluster_name_ + "'");
  }
  const TagMap previous = mirror_ ? NodeTags(id) : TagMap();
  VSRAY_RETURN_IF_ERROR(fields_.Write(id, tags, cache_));
  MirrorChange(id, previous, tags);
  return OkStatus();
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

Status NodeProvider::TerminateNode(const std::string& id) {
  if (base_.catalog->IsFrozenParent(id)) {
    return PermissionDeniedError("VM " + id + " is a frozen VM of this cluster: never terminated");
  }
  auto node = cache_.Get(id);
  if (!node) {
    if (cache_.WasRemoved(id)) {
      gpus_->Release(id);
      return OkStatus();
    }
    auto read = base_.vcenter->inventory().NodeOf({"VirtualMachine", id});
    if (!read.ok()) {
      if (read.status().code() != StatusCode::kNotFound) return read.status();
      gpus_->Release(id);
      return OkStatus();
    }
    node = *std::move(read);
  }
  if (node->frozen) {
    return PermissionDeniedError("VM " + id + " ('" + node->name +
                                 "') is a frozen VM: never terminated");
  }
  if (!Reader().IsOurs(*node)) {
    return PermissionDeniedError("VM " + id + " ('" + node->name +
                                 "') does not belong to cluster '" + cluster_name_ +
                                 "': left alone");
  }
  VSRAY_RETURN_IF_ERROR(base_.vcenter->vms()
                            .Destroy({"VirtualMachine", id}, node->power_state == "poweredOff",
                                     options_.clone_timeout)
                            .WithContext("terminating " + id + " ('" + node->name + "')"));
  cache_.Remove(id);
  gpus_->Release(id);
  return OkStatus();
}

StatusOr<std::map<std::string, std::vector<vsphere::VmPassthroughDevice>>> NodeProvider::NodeGpus(
    const std::vector<std::string>& ids) {
  std::vector<MoRef> vms;
  vms.reserve(ids.size());
  for (const auto& id : ids) {
    // Only GPU nodes (their birth config says so): nothing is read for a cluster without them.
    const auto node = cache_.Get(id);
    if (node && !node->Identity(kGuestinfoGpus).empty()) vms.push_back({"VirtualMachine", id});
  }
  std::map<std::string, std::vector<vsphere::VmPassthroughDevice>> out;
  if (vms.empty()) return out;
  VSRAY_ASSIGN_OR_RETURN(auto infos, base_.vcenter->gpus().VmGpus(vms));
  for (auto& info : infos) {
    if (!info.devices.empty()) out[info.vm.value] = std::move(info.devices);
  }
  return out;
}

Status NodeProvider::TerminateNodes(const std::vector<std::string>& ids) {
  std::vector<std::future<Status>> futures;
  futures.reserve(ids.size());
  for (const auto& id : ids) {
    futures.push_back(base_.light_pool->Submit([this, id] {
      if (options_.cancel && options_.cancel->cancelled()) {
        return CancelledError("node " + id + " not terminated: interrupted");
      }
      return TerminateNode(id);
    }));
  }
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
  return Failures(" node(s) not terminated", failed, ids.size(), first);
}

StatusOr<std::vector<std::vector<FrozenVm>>> NodeProvider::PrepareFrozenVms(
    ProviderOptions options, const std::vector<FrozenVmSpec>& extra_specs) {
  options = WithDefaults(std::move(options), "frozen-vm");
  VSRAY_ASSIGN_OR_RETURN(auto base, OpenProviderBase(options));
  std::vector<FrozenVmSpec> specs = {options.frozen_vm};
  specs.insert(specs.end(), extra_specs.begin(), extra_specs.end());
  const bool deploys = std::any_of(specs.begin(), specs.end(), [](const FrozenVmSpec& spec) {
    return spec.mode == FrozenVmMode::kDeployOne || spec.mode == FrozenVmMode::kDeployPerHost;
  });
  // One deploying prepare at a time per datacenter, whichever machine it runs on: the second
  // one finds what the first deployed instead of deploying the same names again. Preparing
  // existing frozen VMs (power on, wait) is idempotent and takes no lease.
  std::unique_ptr<Lease> held;
  if (deploys) {
    VSRAY_ASSIGN_OR_RETURN(held, AcquirePrepareLease(base, options));
  }
  std::vector<std::vector<FrozenVm>> out;
  for (const auto& spec : specs) {
    VSRAY_ASSIGN_OR_RETURN(auto vms, base.catalog->Prepare(spec));
    out.push_back(std::move(vms));
  }
  return out;
}

StatusOr<std::unique_ptr<Lease>> NodeProvider::AcquirePrepareLease(ProviderBase& base,
                                                                   const ProviderOptions& options) {
  LeaseOptions lease = LeaseOptionsFor(options, base.inventory->datacenter().vm_folder,
                                       options.frozen_vm_progress, "frozen-VM lease");
  lease.prefix = "vsray-frozen-lease-";
  lease.what = "vsray frozen-vm prepare";
  return Lease::Acquire(base.vcenter->leases(), std::move(lease));
}

StatusOr<std::vector<FrozenVmStatus>> NodeProvider::FrozenVmStatuses(
    const std::optional<FrozenVmSpec>& spec) {
  VSRAY_ASSIGN_OR_RETURN(auto statuses, base_.catalog->Statuses(spec));
  if (!watch_) VSRAY_RETURN_IF_ERROR(Refresh());
  std::vector<Node> nodes;
  cache_.ForEach([&](const Node& node) { nodes.push_back(node); });
  CountClones(Reader(), nodes, statuses);
  return statuses;
}

StatusOr<std::vector<FrozenVmStatus>> NodeProvider::FrozenVmStatusOf(
    ProviderOptions options, const std::string& cluster_name) {
  if (cluster_name.empty()) return InvalidArgumentError("cluster name is empty");
  options = WithDefaults(std::move(options), cluster_name);
  VSRAY_ASSIGN_OR_RETURN(auto base, OpenProviderBase(options));
  VSRAY_ASSIGN_OR_RETURN(auto statuses, base.catalog->Statuses(std::nullopt));
  // The cluster folder sits next to the first frozen VM; count nodes only if it exists.
  InventoryClient& inventory = base.vcenter->inventory();
  const auto first = std::find_if(statuses.begin(), statuses.end(),
                                  [](const FrozenVmStatus& s) { return !s.id.empty(); });
  if (first == statuses.end()) return statuses;
  VSRAY_ASSIGN_OR_RETURN(auto frozen, inventory.Vm({"VirtualMachine", first->id}));
  VSRAY_ASSIGN_OR_RETURN(auto folder, inventory.FindChild(frozen.vm.folder, options.folder));
  if (!folder) return statuses;
  FieldRegistry fields(base.vcenter->fields(), *options.clock);
  VSRAY_RETURN_IF_ERROR(fields.Load());
  VSRAY_ASSIGN_OR_RETURN(auto nodes, inventory.Nodes(*folder));
  CountClones(fields.Reader(cluster_name), nodes, statuses);
  return statuses;
}

}  // namespace vsray::provider
