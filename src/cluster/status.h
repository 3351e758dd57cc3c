// `vsray status`: the facts about one cluster at a glance (vCenter reachable and how TLS is
// checked, the head and how to reach it, nodes per node type against min/max, VMs in the
// cluster's folder that are not its nodes, the frozen VMs, GPUs in use). Gathered here from the
// provider (so unit-testable over the fake vCenter); printed by the CLI (src/cli/status.cc).
#ifndef VSRAY_CLUSTER_STATUS_H_
#define VSRAY_CLUSTER_STATUS_H_

#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"
#include "config/cluster_config.h"
#include "provider/frozen_vm.h"
#include "provider/node.h"
#include "provider/node_provider.h"

namespace vsray::cluster {

// The state words of a node, as tables and JSON show them (never vSphere's raw power state).
inline constexpr std::string_view kNodeStateRunning = "running";
inline constexpr std::string_view kNodeStateCreating = "creating";
inline constexpr std::string_view kNodeStateFailed = "failed";
inline constexpr std::string_view kNodeStateStopped = "stopped";
inline constexpr std::string_view kNodeStateSuspended = "suspended";
inline constexpr std::string_view kNodeStateUnknown = "unknown";

// A node's state word: `creating` while vsray sets it up, `failed` when Ray's update failed,
// else its power state in words (`running`, `stopped`, `suspended`).
std::string_view NodeState(std::string_view power_state, const provider::TagMap& tags);

// How vsray checks vCenter's certificate: "verified" (system CAs), "ca_file", "thumbprint" or
// "insecure".
std::string_view TlsMode(const vsphere::TlsOptions& tls);

struct HeadFacts {
  std::string id;
  std::string name;
  std::string state;        // NodeState
  std::string ip;           // external; "" while it has none
  std::string ssh_command;  // "ssh -i KEY USER@IP"; "" while it has no IP
};

struct NodeTypeFacts {
  std::string name;
  bool head = false;  // the head node type (its head is not counted as a worker)
  int min_workers = 0;
  int max_workers = 0;
  std::map<std::string, int> states;  // NodeState -> workers in it
  int workers = 0;                    // all workers of this type
};

// A VM in the cluster's folder that is not one of its nodes (never touched by vsray).
struct ForeignVm {
  std::string id;
  std::string name;
  std::string cluster;  // the cluster it says it belongs to; "" when untagged
};

// GPUs this cluster's nodes use on one host.
struct HostGpus {
  std::string host;  // host id
  int gpus = 0;
  std::vector<std::string> nodes;
};

struct ClusterStatus {
  std::string cluster_name;
  std::string server;
  std::string tls_mode;  // TlsMode
  bool reachable = false;
  Status error;  // why vCenter could not be reached or read
  std::optional<HeadFacts> head;
  std::vector<NodeTypeFacts> node_types;  // in config order (by name)
  std::vector<ForeignVm> foreign_vms;
  std::vector<provider::FrozenVmStatus> frozen_vms;
  Status frozen_vm_error;    // when the frozen VMs could not be listed
  bool gpu_cluster = false;  // some node type asks for GPUs
  std::vector<HostGpus> gpus;
  Status gpu_error;
};

// What status needs of the config (no vCenter).
struct StatusInputs {
  std::string cluster_name;
  std::string server;
  std::string tls_mode;
  std::string head_node_type;
  std::vector<NodeTypeFacts> node_types;  // limits only
  std::string ssh_user;
  std::string ssh_key;  // auth.ssh_private_key, else vsray's default key path
  bool gpu_cluster = false;
};
StatusInputs StatusInputsOf(const config::ClusterConfig& config);

// The status of a cluster whose vCenter could not be reached (or whose provider could not
// start): `error` says why.
ClusterStatus UnreachableStatus(const StatusInputs& inputs, Status error);

// Every fact, read from `provider` (and vCenter through it for frozen VMs and GPUs). Failures
// of the parts after the node listing are recorded in their *_error, not returned.
ClusterStatus GatherStatus(const StatusInputs& inputs, provider::NodeProvider& provider);

// Connects with `options` (read-only: deploys nothing) and gathers; an unreachable vCenter is
// a fact in the result, not an error.
ClusterStatus CollectStatus(const config::ClusterConfig& config, provider::ProviderOptions options);

// "ssh -i KEY USER@IP" (KEY omitted when empty).
std::string SshCommand(const std::string& key, const std::string& user, const std::string& ip);

}  // namespace vsray::cluster

#endif  // VSRAY_CLUSTER_STATUS_H_
