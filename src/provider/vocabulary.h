// The vocabulary the provider shares with the cluster config: how frozen VMs are found, how
// nodes are made from them, and the default name of a cluster's VM folder. Header-only, so
// that the config layer uses the same definitions without linking the provider.
#ifndef VSRAY_PROVIDER_VOCABULARY_H_
#define VSRAY_PROVIDER_VOCABULARY_H_

#include <optional>
#include <string>
#include <string_view>

namespace vsray::provider {

// Provisioning calls (clones) in flight at once, by default. vCenter itself runs at most 8
// provisioning operations per host and queues the rest, so the client's limit only has to be
// high enough never to be the bottleneck below that: 64 serves 8 hosts at vCenter's limit.
// Measured in vsray-sim with vCenter-like timings (bench/side_by_side.py, 100 nodes over 10
// hosts): 8 in flight took 18.9 s to create and 13.6 s to terminate, 64 took 4.8 s and 2.3 s.
// Terminates (power off + destroy: not provisioning operations) have a pool of the same size
// of their own, so that they never wait behind clones.
inline constexpr int kDefaultMaxConcurrency = 64;

// The four ways to get frozen VMs (design.md, `frozen_vm`).
enum class FrozenVmMode {
  kDeployOne,      // (1) name + library_item + cluster (or resource_pool) + datastore
  kExisting,       // (2) name: an existing VM, powered on and awaited if needed
  kDeployPerHost,  // (3) name (prefix) + library_item + resource_pool + datastore
  kExistingPool,   // (4) resource_pool [+ name as a prefix]: the frozen VMs already in it
};

// A short identifier ("deploy-one"), for keys and logs.
constexpr std::string_view FrozenVmModeName(FrozenVmMode mode) {
  switch (mode) {
    case FrozenVmMode::kDeployOne:
      return "deploy-one";
    case FrozenVmMode::kExisting:
      return "existing";
    case FrozenVmMode::kDeployPerHost:
      return "deploy-per-host";
    case FrozenVmMode::kExistingPool:
      return "existing-pool";
  }
  return "unknown";
}

// What the mode does, for people ("deploy one from OVF").
constexpr std::string_view FrozenVmModeDescription(FrozenVmMode mode) {
  switch (mode) {
    case FrozenVmMode::kDeployOne:
      return "deploy one from OVF";
    case FrozenVmMode::kExisting:
      return "existing frozen VM";
    case FrozenVmMode::kDeployPerHost:
      return "deploy one per host from OVF";
    case FrozenVmMode::kExistingPool:
      return "existing frozen VMs in a resource pool";
  }
  return "unknown";
}

// How a node is made from its parent (node_config.clone_mode). Instant clones need a frozen
// parent; linked and full clones are the fallback where instant clone is not possible (they
// boot the parent's disk).
enum class CloneMode {
  kInstant,  // InstantClone_Task: runs on the parent's host, shares its memory
  kLinked,   // CloneVM_Task from the parent's current snapshot ("vsray-base", made if missing)
  kFull,     // CloneVM_Task, full copy
};

// The config's spelling: "instant", "linked", "full".
constexpr std::string_view CloneModeName(CloneMode mode) {
  switch (mode) {
    case CloneMode::kInstant:
      return "instant";
    case CloneMode::kLinked:
      return "linked";
    case CloneMode::kFull:
      return "full";
  }
  return "instant";
}

// How a GPU node of a type cloned in `mode` is made on a host without a usable parent (a
// clone relocated there; no instant clone can be): linked for instant and linked, else full.
constexpr CloneMode FallbackMode(CloneMode mode) {
  return mode == CloneMode::kFull ? CloneMode::kFull : CloneMode::kLinked;
}

// The mode CloneModeName spells `name`; nullopt for anything else.
constexpr std::optional<CloneMode> ParseCloneMode(std::string_view name) {
  for (const CloneMode mode : {CloneMode::kInstant, CloneMode::kLinked, CloneMode::kFull}) {
    if (CloneModeName(mode) == name) return mode;
  }
  return std::nullopt;
}

// The VM folder of a cluster's nodes when the config names none: "ray-<cluster_name>".
inline std::string DefaultFolderName(std::string_view cluster_name) {
  return "ray-" + std::string(cluster_name);
}

}  // namespace vsray::provider

#endif  // VSRAY_PROVIDER_VOCABULARY_H_
