// The bridge from a cluster config (src/config) to the node provider (src/provider): the
// provider's options for a cluster, the NodeSpec of a node type (with per-node cloud-init
// userdata), and Ray's tags for a new node. Shared by the vsray command line and the Python
// adapter, so both build the same provider from the same YAML.
#ifndef VSRAY_CLUSTER_CLUSTER_H_
#define VSRAY_CLUSTER_CLUSTER_H_

#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "common/status.h"
#include "config/cluster_config.h"
#include "provider/node_provider.h"

namespace vsray::cluster {

// The provider's form of a frozen_vm config.
provider::FrozenVmSpec ToFrozenVmSpec(const config::FrozenVmConfig& frozen);

// The provider options for a cluster: server, credentials, TLS, datacenter, folder, frozen
// VM(s) (from vsphere_config.frozen_vm, else the head node type's), concurrency, timeouts and
// the address rules of vsphere_config.network, and the cloud-init userdata of a frozen VM that
// vsray deploys or powers on. `watch`: keep a live cache (long-lived users); false for
// one-shot commands. INVALID_ARGUMENT when no frozen VM is configured anywhere.
StatusOr<provider::ProviderOptions> MakeProviderOptions(const config::VsphereConfig& vsphere,
                                                        const config::NodeConfig* head_node,
                                                        bool watch);
StatusOr<provider::ProviderOptions> MakeProviderOptions(const config::ClusterConfig& cluster,
                                                        bool watch);

// What a node type with resources.GPU > 0 asks for (mode from gpu_config and node_config.gpu);
// nullopt for a node type without GPUs.
std::optional<provider::GpuNeed> MakeGpuNeed(const config::NodeConfig& node,
                                             const config::GpuConfig& gpu);

// A NodeSpec for a node type's config: CPU, memory, GPUs, placement, and (when cloud_init is
// enabled) the guestinfo userdata/metadata of each node, naming it.
provider::NodeSpec MakeNodeSpec(const config::NodeConfig& node,
                                const config::VsphereConfig& vsphere);

// Ray's tags for a new node of `node_type`: kind (head when it is the head node type),
// user node type, status "uninitialized", and for the head Ray's name "ray-<cluster>-head".
provider::TagMap NewNodeTags(const config::ClusterConfig& cluster, const std::string& node_type);

// Connects and builds the provider of `cluster` (see MakeProviderOptions).
StatusOr<std::unique_ptr<provider::NodeProvider>> OpenProvider(
    const config::ClusterConfig& cluster, bool watch,
    std::function<void(const std::string& vm, const std::string& state)> progress = nullptr);

}  // namespace vsray::cluster

#endif  // VSRAY_CLUSTER_CLUSTER_H_
