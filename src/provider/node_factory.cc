#include "provider/node_factory.h"

#include <utility>

#include "common/log.h"

namespace vsray::provider {

std::string_view SetupStepName(SetupStep step) {
  switch (step) {
    case SetupStep::kWaitGuest:
      return "wait for the guest";
    case SetupStep::kPowerOff:
      return "power off";
    case SetupStep::kAttachGpus:
      return "attach GPUs";
    case SetupStep::kPowerOn:
      return "power on";
    case SetupStep::kResize:
      return "resize";
    case SetupStep::kMarkCreated:
      return "mark created";
    case SetupStep::kMirrorTags:
      return "mirror tags";
  }
  return "unknown";
}

std::vector<SetupStep> PlanSetup(const NodeSpec& spec, bool mirror) {
  std::vector<SetupStep> steps;
  if (spec.gpu && spec.gpu->count > 0) {
    // An instant clone is born running; a linked or full clone is still off.
    if (spec.clone_mode == CloneMode::kInstant) {
      steps.push_back(SetupStep::kWaitGuest);
      steps.push_back(SetupStep::kPowerOff);
    }
    steps.push_back(SetupStep::kAttachGpus);  // CPU and memory too
    steps.push_back(SetupStep::kPowerOn);
  } else {
    if (spec.clone_mode != CloneMode::kInstant) steps.push_back(SetupStep::kPowerOn);
    if (spec.cpus || spec.memory_mb) steps.push_back(SetupStep::kResize);
  }
  // Ray's tags need no step: they are born with the node (its birth tags, read as its tags
  // until an attribute overrides one), so the one write of a new node is `created`.
  steps.push_back(SetupStep::kMarkCreated);
  if (mirror) steps.push_back(SetupStep::kMirrorTags);
  return steps;
}

vsphere::ConfigSpec GpuConfigSpec(const NodeSpec& spec,
                                  const std::vector<vsphere::PciPassthroughSpec>& devices) {
  vsphere::ConfigSpec config;
  config.num_cpus = spec.cpus;
  config.memory_mb = spec.memory_mb;
  config.add_passthrough = devices;
  config.memory_reservation_locked_to_max = true;  // passthrough maps all of guest memory
  if (spec.gpu && spec.gpu->use_64bit_mmio) {
    config.extra_config.push_back({"pciPassthru.use64bitMMIO", "TRUE"});
    if (spec.gpu->mmio_size_gb > 0) {
      config.extra_config.push_back(
          {"pciPassthru.64bitMMIOSizeGB", std::to_string(spec.gpu->mmio_size_gb)});
    }
  }
  return config;
}

NodeFactory::NodeFactory(VcenterConnection& vcenter, FieldRegistry& fields, NodeCache& cache,
                         ParentScheduler& scheduler, GpuAllocator& gpus, TagMirrorClient* mirror,
                         const ProviderOptions& options, std::string cluster, MoRef folder)
    : vcenter_(vcenter),
      fields_(fields),
      cache_(cache),
      scheduler_(scheduler),
      gpus_(gpus),
      mirror_(mirror),
      options_(options),
      cluster_(std::move(cluster)),
      folder_(std::move(folder)) {}

void NodeFactory::Report(const std::string& vm, const std::string& state) const {
  if (options_.progress) options_.progress(vm, state);
}

NodesPerHost NodeFactory::KnownLoad() const {
  const NodeReader reader = fields_.Reader(cluster_);
  NodesPerHost known;
  cache_.ForEach([&](const Node& node) {
    if (reader.IsOurs(node) && !node.host.empty()) known[node.host].insert(node.name);
  });
  return known;
}

StatusOr<NodeFactory::Choice> NodeFactory::Choose(const NodeSpec& spec, const TagMap& tags,
                                                  const Parents& parents, const std::string& name) {
  Choice choice;
  const auto known = [this] { return KnownLoad(); };
  if (!spec.gpu || spec.gpu->count <= 0) {
    choice.lease.emplace(scheduler_.Pick(parents.vms, parents.set, name, known));
    return choice;
  }
  // The parent among those whose host can give the GPUs, chosen as usual among them.
  const auto type = tags.find(std::string(kTagRayUserNodeType));
  auto grant = gpus_.Reserve(
      *spec.gpu, type == tags.end() ? std::string() : type->second, parents.vms,
      [&](const std::vector<FrozenVm>& eligible) {
        choice.lease.emplace(scheduler_.Pick(eligible, parents.set, name, known));
        return choice.lease->parent();
      },
      parents.spare_hosts);
  if (!grant.ok()) return grant.status();
  choice.gpus.emplace(*std::move(grant));
  return choice;
}

StatusOr<CreatedNode> NodeFactory::Create(const NodeSpec& type_spec, const TagMap& tags,
                                          const Placement& placement, const Parents& parents) {
  if (options_.cancel && options_.cancel->cancelled()) {
    return CancelledError("not started: interrupted");
  }
  CloneRequest request;
  request.name = NodeName(tags, cluster_, RandomSuffix());
  request.cluster = cluster_;
  auto choice = Choose(type_spec, tags, parents, request.name);
  if (!choice.ok()) {
    Report(request.name, "failed: " + choice.status().message());
    return choice.status();
  }
  request.parent = choice->parent();
  NodeSpec spec = type_spec;  // the clone mode actually used
  std::string how = "cloning";
  if (choice->gpus && choice->gpus->fallback()) {
    spec.clone_mode = FallbackMode(type_spec.clone_mode);
    request.host = choice->gpus->host();
    how = std::string(CloneModeName(spec.clone_mode)) + " clone of '" + request.parent.name +
          "' to host " + choice->gpus->host_name() + " (no usable frozen VM there)";
    Log()->info("node '{}': {}", request.name, how);
  }
  request.folder = folder_;
  request.pool = placement.pool;
  request.datastore = placement.datastore;
  request.tags = LaunchTags(tags, cluster_);
  request.created_at = options_.now_seconds();
  request.intent = FormatIntent({spec.cpus, spec.memory_mb, spec.clone_mode});
  request.extra_config = spec.extra_config;
  if (spec.node_config) {
    auto per_node = spec.node_config(request.name);
    request.extra_config.insert(request.extra_config.end(), per_node.begin(), per_node.end());
  }
  if (choice->gpus) {
    request.extra_config.push_back(
        {std::string(kGuestinfoGpus), std::to_string(choice->gpus->devices().size())});
  }

  Report(request.name, how);
  auto vm = Clone(spec, request);
  if (!vm.ok()) {
    Status failed =
        vm.status().WithContext(std::string(CloneModeName(spec.clone_mode)) + " clone of '" +
                                request.parent.name + "' as '" + request.name + "'");
    Report(request.name, "failed: " + failed.message());
    return failed;
  }
  NewNode node{request.name, *vm, request.parent, std::move(request.tags), {}};
  if (!request.host.empty()) node.parent.host = request.host;  // where the node runs
  if (choice->gpus) {
    choice->gpus->Bind(node.vm.value);
    node.gpus = choice->gpus->devices();
  }
  Report(node.name, "configuring");
  if (Status status = SetUp(spec, node); !status.ok()) {
    Rollback(node, status);  // then the GPUs go with `choice`
    Status failed =
        status.WithContext("setting up node '" + node.name + "' (" + node.vm.value + ")");
    Report(node.name, "failed: " + failed.message());
    return failed;
  }
  Remember(node);
  if (choice->gpus) choice->gpus->Keep();
  Report(node.name, "created");
  return CreatedNode{node.vm.value, node.name, node.parent.host.value};
}

Status NodeFactory::Finish(const Node& found) {
  const auto intent = ParseIntent(found.Identity(kGuestinfoIntent));
  NodeSpec spec;
  if (intent) {
    spec.cpus = intent->cpus;
    spec.memory_mb = intent->memory_mb;
    spec.clone_mode = intent->clone_mode;
  }
  TagMap tags = found.BirthTags();
  tags.erase(std::string(kTagVsrayNodeStatus));
  NewNode node{found.name, {"VirtualMachine", found.id}, {}, LaunchTags(tags, cluster_), {}};
  node.parent.host = {"HostSystem", found.host};
  Report(node.name, "finishing (half-made by an earlier run)");
  if (Status status = SetUp(spec, node); !status.ok()) {
    Rollback(node, status);
    Status failed =
        status.WithContext("finishing half-made node '" + node.name + "' (" + node.vm.value + ")");
    Report(node.name, "failed: " + failed.message());
    return failed;
  }
  Remember(node);
  Report(node.name, "created");
  return OkStatus();
}

StatusOr<MoRef> NodeFactory::Clone(const NodeSpec& spec, const CloneRequest& request) {
  if (spec.clone_mode == CloneMode::kInstant) {
    return vcenter_.vms().InstantClone(request.parent.vm, InstantCloneSpecFor(request),
                                       options_.clone_timeout);
  }
  MoRef snapshot;
  if (spec.clone_mode == CloneMode::kLinked) {
    VSRAY_ASSIGN_OR_RETURN(snapshot, BaseSnapshot(request.parent));
  }
  return vcenter_.vms().Clone(request.parent.vm, folder_, request.name,
                              CloneSpecFor(request, spec.clone_mode, snapshot),
                              options_.clone_timeout);
}

Status NodeFactory::SetUp(const NodeSpec& spec, const NewNode& node) {
  for (const SetupStep step : PlanSetup(spec, mirror_ != nullptr)) {
    if (Status status = RunStep(step, spec, node); !status.ok()) {
      return status.WithContext(SetupStepName(step));
    }
  }
  return OkStatus();
}

Status NodeFactory::RunStep(SetupStep step, const NodeSpec& spec, const NewNode& node) {
  switch (step) {
    case SetupStep::kWaitGuest:
      return vcenter_.vms().WaitGuestRunning(node.vm, options_.clone_timeout);
    case SetupStep::kPowerOff:
      return vcenter_.vms().PowerOff(node.vm, options_.clone_timeout);
    case SetupStep::kAttachGpus:
      return vcenter_.vms().Reconfigure(node.vm, GpuConfigSpec(spec, node.gpus),
                                        options_.clone_timeout);
    case SetupStep::kPowerOn:
      return vcenter_.vms().PowerOn(node.vm, options_.clone_timeout);
    case SetupStep::kResize: {
      vsphere::ConfigSpec config;
      config.num_cpus = spec.cpus;
      config.memory_mb = spec.memory_mb;
      return vcenter_.vms().Reconfigure(node.vm, config, options_.clone_timeout);
    }
    case SetupStep::kMarkCreated:
      return fields_.Write(node.vm.value,
                           {{std::string(kTagVsrayNodeStatus), std::string(kVsrayStatusCreated)}},
                           cache_);
    case SetupStep::kMirrorTags:
      if (mirror_ == nullptr) return OkStatus();
      if (Status status = mirror_->Attach(node.vm.value, node.tags); !status.ok()) {
        Log()->warn("vSphere tags mirror: node {}: {}", node.vm.value, status.message());
      }
      return OkStatus();
  }
  return InternalError("unknown set-up step");
}

void NodeFactory::Rollback(const NewNode& node, const Status& why) {
  Log()->warn("node '{}' ({}) failed while being set up, destroying it: {}", node.name,
              node.vm.value, why.message());
  if (Status cleanup = vcenter_.vms().Destroy(node.vm, /*known_off=*/false, options_.clone_timeout);
      !cleanup.ok()) {
    Log()->error("could not destroy half-created node {}: {}", node.vm.value, cleanup.message());
  }
  cache_.Remove(node.vm.value);
}

void NodeFactory::Remember(const NewNode& node) {
  Node cached;
  cached.id = node.vm.value;
  cached.name = node.name;
  cached.power_state = "poweredOn";
  cached.host = node.parent.host.value;
  cached.identity[std::string(kGuestinfoCluster)] = cluster_;
  const auto user_type = node.tags.find(std::string(kTagRayUserNodeType));
  cached.identity[std::string(kGuestinfoNodeType)] =
      user_type == node.tags.end() ? std::string() : user_type->second;
  // Its tags are its birth tags until attributes override them: known here before the
  // watcher reports the clone's extraConfig (read-your-writes).
  for (auto& [key, value] : BirthTags(node.tags)) cached.identity[key] = std::move(value);
  if (auto existing = cache_.Get(node.vm.value)) {
    // The watcher may already know more (guest IPs, fresher values).
    cached.nics = existing->nics;
    cached.custom = existing->custom;
    cached.identity.insert(existing->identity.begin(), existing->identity.end());
  }
  cache_.Put(std::move(cached));
}

StatusOr<MoRef> NodeFactory::BaseSnapshot(const FrozenVm& parent) {
  std::lock_guard lock(snapshot_mu_);
  if (auto it = base_snapshots_.find(parent.vm.value); it != base_snapshots_.end()) {
    return it->second;
  }
  VSRAY_ASSIGN_OR_RETURN(MoRef snapshot, vcenter_.inventory().CurrentSnapshot(parent.vm));
  if (snapshot.empty()) {
    if (!options_.create_base_snapshot) {
      return FailedPreconditionError("clone_mode linked needs a snapshot on '" + parent.name +
                                     "', which has none (snapshot creation is not allowed)");
    }
    Log()->info("creating snapshot 'vsray-base' of '{}' for linked clones", parent.name);
    VSRAY_ASSIGN_OR_RETURN(
        snapshot, vcenter_.vms().CreateSnapshot(parent.vm, "vsray-base", options_.clone_timeout));
  }
  base_snapshots_[parent.vm.value] = snapshot;
  return snapshot;
}

}  // namespace vsray::provider
