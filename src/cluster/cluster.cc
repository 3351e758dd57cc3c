#include "cluster/cluster.h"

#include <utility>
#include <vector>

#include "config/userdata.h"

namespace vsray::cluster {

using provider::NodeSpec;
using provider::ProviderOptions;
using provider::TagMap;

provider::FrozenVmSpec ToFrozenVmSpec(const config::FrozenVmConfig& frozen) {
  provider::FrozenVmSpec spec;
  spec.name = frozen.name;
  spec.library_item = frozen.library_item;
  spec.resource_pool = frozen.resource_pool;
  spec.cluster = frozen.cluster;
  spec.datastore = frozen.datastore;
  spec.mode = frozen.mode;
  return spec;
}

StatusOr<ProviderOptions> MakeProviderOptions(const config::VsphereConfig& vsphere,
                                              const config::NodeConfig* head_node, bool watch) {
  ProviderOptions options;
  options.connect.server = vsphere.credentials.server;
  options.connect.credentials = {vsphere.credentials.user, vsphere.credentials.password};
  options.connect.tls = vsphere.tls;
  options.connect.call_timeout = vsphere.timeouts.call;
  options.connect.connect_timeout = vsphere.timeouts.connect;
  options.lease_ttl = vsphere.timeouts.lease;
  // A one-shot command needs no keepalive; a long-lived provider keeps its session warm.
  if (!watch) options.connect.keepalive_interval = std::chrono::milliseconds(0);
  options.datacenter = vsphere.datacenter;
  options.folder = vsphere.folder;
  options.max_concurrency = vsphere.max_concurrency;
  options.mirror_vsphere_tags = vsphere.mirror_vsphere_tags;
  options.clone_timeout = vsphere.timeouts.clone;
  options.frozen_vm_ready_timeout = vsphere.timeouts.frozen_vm_ready;
  options.creating_timeout = vsphere.timeouts.creating;
  options.watch = watch;
  options.addresses.choose = [network = vsphere.network](const std::vector<std::string>& all) {
    auto ips = network.ChooseIps(all);
    return std::pair{std::move(ips.internal), std::move(ips.external)};
  };

  std::optional<config::FrozenVmConfig> frozen = vsphere.frozen_vm;
  if (!frozen && head_node != nullptr) frozen = head_node->frozen_vm;
  if (!frozen) {
    return InvalidArgumentError(
        "provider.vsphere_config.frozen_vm: no frozen VM is configured (set it there or in the "
        "head node type's node_config)");
  }
  options.frozen_vm = ToFrozenVmSpec(*frozen);
  options.frozen_vm_deploy_timeout = vsphere.timeouts.deploy;
  // A frozen VM that vsray deploys or powers on gets the cluster's userdata, so that clones
  // start with the SSH user and key.
  if (vsphere.cloud_init.enabled) {
    const std::string name = frozen->name.empty() ? "ray-frozen-vm" : frozen->name;
    for (auto& [key, value] : config::CloudInitGuestinfo(vsphere.cloud_init, name, name)) {
      options.frozen_vm_extra_config.push_back({std::move(key), std::move(value)});
    }
  }
  return options;
}

StatusOr<ProviderOptions> MakeProviderOptions(const config::ClusterConfig& cluster, bool watch) {
  const config::NodeType* head = cluster.FindNodeType(cluster.head_node_type);
  return MakeProviderOptions(cluster.vsphere, head == nullptr ? nullptr : &head->node_config,
                             watch);
}

std::optional<provider::GpuNeed> MakeGpuNeed(const config::NodeConfig& node,
                                             const config::GpuConfig& gpu) {
  if (node.gpus <= 0) return std::nullopt;
  provider::GpuNeed need;
  need.count = node.gpus;
  need.mode = !node.gpu.vgpu_profile.empty() ? provider::GpuMode::kVgpu
              : gpu.dynamic_pci_passthrough  ? provider::GpuMode::kDynamic
                                             : provider::GpuMode::kPassthrough;
  need.vendor_id = node.gpu.vendor_id;
  need.device_id = node.gpu.device_id;
  need.custom_label = node.gpu.custom_label;
  need.vgpu_profile = node.gpu.vgpu_profile;
  need.classes = gpu.device_classes;
  need.use_64bit_mmio = gpu.use_64bit_mmio;
  need.mmio_size_gb = gpu.mmio_size_gb;
  return need;
}

NodeSpec MakeNodeSpec(const config::NodeConfig& node, const config::VsphereConfig& vsphere) {
  NodeSpec spec;
  spec.gpu = MakeGpuNeed(node, vsphere.gpu);
  if (node.cpus > 0) spec.cpus = node.cpus;
  if (node.memory_mib > 0) spec.memory_mb = node.memory_mib;
  spec.resource_pool = node.resource_pool;
  spec.datastore = node.datastore;
  spec.clone_mode = node.clone_mode;
  if (node.frozen_vm) spec.frozen_vm = ToFrozenVmSpec(*node.frozen_vm);
  if (vsphere.cloud_init.enabled) {
    spec.node_config = [cloud_init = vsphere.cloud_init](const std::string& vm_name) {
      std::vector<vsphere::OptionValue> values;
      for (auto& [key, value] : config::CloudInitGuestinfo(cloud_init, vm_name, vm_name)) {
        values.push_back({std::move(key), std::move(value)});
      }
      return values;
    };
  }
  return spec;
}

TagMap NewNodeTags(const config::ClusterConfig& cluster, const std::string& node_type) {
  const bool head = node_type == cluster.head_node_type;
  TagMap tags;
  tags[std::string(provider::kTagRayNodeKind)] =
      head ? provider::kNodeKindHead : provider::kNodeKindWorker;
  tags[std::string(provider::kTagRayUserNodeType)] = node_type;
  tags[std::string(provider::kTagRayNodeStatus)] = provider::kRayStatusUninitialized;
  if (const config::NodeType* type = cluster.FindNodeType(node_type);
      type != nullptr && !type->launch_hash.empty()) {
    tags[std::string(provider::kTagRayLaunchConfig)] = type->launch_hash;  // as Ray's launcher
  }
  if (head) {
    tags[std::string(provider::kTagRayNodeName)] = "ray-" + cluster.cluster_name + "-head";
  }
  return tags;
}

StatusOr<std::unique_ptr<provider::NodeProvider>> OpenProvider(
    const config::ClusterConfig& cluster, bool watch,
    std::function<void(const std::string& vm, const std::string& state)> progress) {
  VSRAY_ASSIGN_OR_RETURN(ProviderOptions options, MakeProviderOptions(cluster, watch));
  options.progress = progress;
  options.frozen_vm_progress = std::move(progress);
  return provider::NodeProvider::Create(std::move(options), cluster.cluster_name);
}

}  // namespace vsray::cluster
