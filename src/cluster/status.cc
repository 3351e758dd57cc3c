#include "cluster/status.h"

#include <algorithm>
#include <cstdlib>
#include <memory>
#include <utility>

#include "cluster/cluster.h"
#include "config/keypair.h"
#include "provider/tags.h"
#include "provider/vcenter_vsphere.h"

namespace vsray::cluster {
namespace {

using provider::TagMap;

std::string TagOr(const TagMap& tags, std::string_view key) {
  auto it = tags.find(std::string(key));
  return it == tags.end() ? std::string() : it->second;
}

// The key `ssh -i` needs: the configured one, else the pair vsray (and Ray) make in $HOME.
std::string SshKeyOf(const config::ClusterConfig& config) {
  if (!config.auth.ssh_private_key.empty()) return config.auth.ssh_private_key;
  const char* home = std::getenv("HOME");  // NOLINT(concurrency-mt-unsafe): read once, no setenv
  if (home == nullptr || *home == '\0')
    return std::string("~/") + config::kDefaultPrivateKeyName.data();
  return config::DefaultKeyPairPaths(home).private_key;
}

// Counts `id` under its node type, or records it as the head.
void AddNode(const StatusInputs& inputs, provider::NodeProvider& provider, const std::string& id,
             ClusterStatus& status) {
  const TagMap tags = provider.NodeTags(id);
  const auto node = provider.GetNode(id);
  const std::string state(NodeState(node ? node->power_state : "", tags));
  if (TagOr(tags, provider::kTagRayNodeKind) == provider::kNodeKindHead) {
    HeadFacts head;
    head.id = id;
    head.name = node ? node->name : id;
    head.state = state;
    head.ip = provider.ExternalIp(id).value_or("");
    if (!head.ip.empty()) head.ssh_command = SshCommand(inputs.ssh_key, inputs.ssh_user, head.ip);
    status.head = std::move(head);
    return;
  }
  const std::string type = TagOr(tags, provider::kTagRayUserNodeType);
  auto it = std::find_if(status.node_types.begin(), status.node_types.end(),
                         [&](const NodeTypeFacts& facts) { return facts.name == type; });
  if (it == status.node_types.end()) {
    // A type the config no longer has: shown, with no limits.
    NodeTypeFacts unknown;
    unknown.name = type;
    status.node_types.push_back(std::move(unknown));
    it = std::prev(status.node_types.end());
  }
  ++it->states[state];
  ++it->workers;
}

// GPUs in use per host, from the nodes' passthrough devices.
void AddGpus(provider::NodeProvider& provider, const std::vector<std::string>& ids,
             ClusterStatus& status) {
  auto gpus = provider.NodeGpus(ids);
  if (!gpus.ok()) {
    status.gpu_error = gpus.status();
    return;
  }
  std::map<std::string, HostGpus> by_host;
  for (const auto& [id, devices] : *gpus) {
    const auto node = provider.GetNode(id);
    const std::string host = node ? node->host : "";
    HostGpus& entry = by_host[host];
    entry.host = host;
    entry.gpus += static_cast<int>(devices.size());
    entry.nodes.push_back(id);
  }
  for (auto& [host, entry] : by_host) status.gpus.push_back(std::move(entry));
}

}  // namespace

std::string_view NodeState(std::string_view power_state, const TagMap& tags) {
  if (TagOr(tags, provider::kTagVsrayNodeStatus) == provider::kVsrayStatusCreating) {
    return kNodeStateCreating;
  }
  if (TagOr(tags, provider::kTagRayNodeStatus) == provider::kRayStatusUpdateFailed) {
    return kNodeStateFailed;
  }
  if (power_state == "poweredOn") return kNodeStateRunning;
  if (power_state == "poweredOff") return kNodeStateStopped;
  if (power_state == "suspended") return kNodeStateSuspended;
  return kNodeStateUnknown;
}

std::string_view TlsMode(const vsphere::TlsOptions& tls) {
  if (tls.insecure) return "insecure";
  if (!tls.thumbprint.empty()) return "thumbprint";
  if (!tls.ca_file.empty()) return "ca_file";
  return "verified";
}

std::string SshCommand(const std::string& key, const std::string& user, const std::string& ip) {
  std::string command = "ssh ";
  if (!key.empty()) command += "-i " + key + " ";
  return command + user + "@" + ip;
}

StatusInputs StatusInputsOf(const config::ClusterConfig& config) {
  StatusInputs inputs;
  inputs.cluster_name = config.cluster_name;
  inputs.server = config.vsphere.credentials.server;
  inputs.tls_mode = std::string(TlsMode(config.vsphere.tls));
  inputs.head_node_type = config.head_node_type;
  for (const auto& [name, type] : config.node_types) {
    NodeTypeFacts facts;
    facts.name = name;
    facts.head = name == config.head_node_type;
    facts.min_workers = type.min_workers;
    facts.max_workers = type.max_workers;
    inputs.node_types.push_back(std::move(facts));
    if (type.node_config.gpus > 0) inputs.gpu_cluster = true;
  }
  inputs.ssh_user = config.auth.ssh_user;
  inputs.ssh_key = SshKeyOf(config);
  return inputs;
}

ClusterStatus UnreachableStatus(const StatusInputs& inputs, Status error) {
  ClusterStatus status;
  status.cluster_name = inputs.cluster_name;
  status.server = inputs.server;
  status.tls_mode = inputs.tls_mode;
  status.node_types = inputs.node_types;
  status.gpu_cluster = inputs.gpu_cluster;
  status.error = std::move(error);
  return status;
}

ClusterStatus GatherStatus(const StatusInputs& inputs, provider::NodeProvider& provider) {
  ClusterStatus status = UnreachableStatus(inputs, OkStatus());
  auto ids = provider.AllNodes();
  if (!ids.ok()) {
    status.error = ids.status();
    return status;
  }
  status.reachable = true;
  for (const auto& id : *ids) AddNode(inputs, provider, id, status);
  for (const auto& node : provider.ForeignVms()) {
    std::string owner(node.Identity(provider::kGuestinfoCluster));
    if (owner.empty()) owner = TagOr(node.BirthTags(), provider::kTagRayClusterName);
    status.foreign_vms.push_back(ForeignVm{node.id, node.name, std::move(owner)});
  }
  auto frozen = provider.FrozenVmStatuses();
  if (frozen.ok()) {
    status.frozen_vms = *std::move(frozen);
  } else {
    status.frozen_vm_error = frozen.status();
  }
  if (inputs.gpu_cluster) AddGpus(provider, *ids, status);
  return status;
}

ClusterStatus CollectStatus(const config::ClusterConfig& config,
                            provider::ProviderOptions options) {
  const StatusInputs inputs = StatusInputsOf(config);
  options.prepare_frozen_vms = false;  // looks only
  // Connecting first tells an unreachable vCenter from a cluster that cannot be read.
  const provider::VcenterFactory connect =
      options.vcenter ? options.vcenter : provider::VcenterFactory(provider::ConnectVcenter);
  auto connection = connect(options.connect);
  if (!connection.ok()) return UnreachableStatus(inputs, connection.status());
  options.vcenter = [connection = *connection](const vsphere::ConnectOptions&) {
    return StatusOr<std::shared_ptr<provider::VcenterConnection>>(connection);
  };
  auto provider = provider::NodeProvider::Create(std::move(options), config.cluster_name);
  if (!provider.ok()) {
    ClusterStatus status = UnreachableStatus(inputs, provider.status());
    status.reachable = true;
    return status;
  }
  return GatherStatus(inputs, **provider);
}

}  // namespace vsray::cluster
