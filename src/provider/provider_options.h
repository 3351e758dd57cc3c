// What a node provider is built from (ProviderOptions) and what it is asked for (NodeSpec) and
// answers (CreateResult).
#ifndef VSRAY_PROVIDER_PROVIDER_OPTIONS_H_
#define VSRAY_PROVIDER_PROVIDER_OPTIONS_H_

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/clock.h"
#include "common/status.h"
#include "provider/cancel.h"
#include "provider/frozen_vm.h"
#include "provider/gpu_need.h"
#include "provider/node.h"
#include "provider/vcenter.h"
#include "provider/vocabulary.h"
#include "vsphere/session.h"
#include "vsphere/vim.h"

namespace vsray::provider {

// What a provider starting up does with half-made nodes (repair.h).
enum class StartRepair {
  kStaleOnly,    // remove those older than creating_timeout; leave the rest (a read-only
                 // command, which takes no lease)
  kIfLeaseFree,  // take the cluster lease if nobody holds it, and then finish or remove every
                 // abandoned one (a long-lived provider: Ray's launcher and autoscaler)
};

struct ProviderOptions {
  vsphere::ConnectOptions connect;
  // Makes the provider's vCenter connection from `connect`; null: ConnectVcenter (a real,
  // shared session). Unit tests pass an in-memory vCenter here.
  VcenterFactory vcenter;
  // Datacenter name or inventory path; may be empty when vCenter has exactly one.
  std::string datacenter;
  // The cluster's VM folder, created next to the (first) frozen VM; default "ray-<cluster>".
  std::string folder;
  // Where the frozen VMs (clone parents) come from: one by name, every frozen VM of a pool,
  // or deployed from a content-library OVF (one, or one per host of a pool's cluster).
  FrozenVmSpec frozen_vm;
  // extraConfig of deployed frozen VMs, set before their first power-on (the caller passes
  // the userdata guestinfo.* pairs here).
  std::vector<vsphere::OptionValue> frozen_vm_extra_config;
  // Called as frozen VMs are deployed, powered on and frozen: (VM name, state); see
  // FrozenVmProgress. May be called from several threads.
  FrozenVmProgress frozen_vm_progress;
  std::chrono::seconds frozen_vm_deploy_timeout{1800};
  // clone_mode linked: create the snapshot "vsray-base" on a parent that has none.
  bool create_base_snapshot = true;
  // Nodes being created at once (each: clone, reconfigure, power, tags); terminates use their
  // own pool of the same size.
  int max_concurrency = kDefaultMaxConcurrency;
  std::chrono::seconds clone_timeout{600};
  std::chrono::seconds frozen_vm_ready_timeout{600};
  // A node still `creating` after this long was left by a crash: removed at start.
  std::chrono::seconds creating_timeout{1800};
  StartRepair repair_at_start = StartRepair::kStaleOnly;
  // The cluster lease (lease.h): its expiry after each renewal, and the longest CreateNode
  // waits for another run's lease.
  std::chrono::seconds lease_ttl{60};
  std::chrono::seconds lease_wait{600};
  // Set (e.g. by a first Ctrl-C): no new clone or termination starts; those in flight end.
  std::shared_ptr<const Cancellation> cancel;
  AddressPolicy addresses;
  // Keep the cache live with a watcher thread (autoscaler); without it every
  // NonTerminatedNodes call re-lists the folder with one RetrievePropertiesEx (one-shot CLI).
  bool watch = true;
  // Deploy, power on and await the frozen VM(s) at start. False (commands that create
  // nothing: list, tag, terminate): only look them up; the first CreateNode prepares them.
  bool prepare_frozen_vms = true;
  // Called as each node being created moves on: (VM name, "cloning" | "configuring" |
  // "created" | "failed: <why>"). From worker threads, possibly at once; may be null.
  std::function<void(const std::string& vm, const std::string& state)> progress;
  // With the watcher: re-list the folder this often and reconcile the cache with the listing
  // (a safety net should the update stream miss a change); zero: never.
  std::chrono::seconds node_resync_interval{300};
  // Also write Ray's tags as vSphere tags `key:value` in category `ray`
  // (vsphere_config.mirror_vsphere_tags); best effort, see tag_mirror.h.
  bool mirror_vsphere_tags = false;
  // Wall clock for created-at stamps (seconds since the epoch); injectable for tests.
  std::function<std::int64_t()> now_seconds;
  // The provider's own deadlines and rate limits (not the connection's, see connect.clock);
  // must outlive the provider.
  Clock* clock = &SystemClock::Instance();
};

// Ray's node_config, as far as vsray reads it.
struct NodeSpec {
  std::optional<int> cpus;                // resources.CPU
  std::optional<std::int64_t> memory_mb;  // resources.Memory (MiB)
  std::string resource_pool;              // name or inventory path; default: the frozen VM's
  std::string datastore;                  // name or inventory path; default: the frozen VM's
  std::vector<vsphere::OptionValue> extra_config;  // same for every node
  // Per-node extraConfig (e.g. cloud-init userdata naming the node), given the VM's name.
  std::function<std::vector<vsphere::OptionValue>(const std::string& vm_name)> node_config;
  CloneMode clone_mode = CloneMode::kInstant;
  // This node type's own frozen VMs; default ProviderOptions::frozen_vm. Resolved (and
  // deployed if need be) on first use, then cached.
  std::optional<FrozenVmSpec> frozen_vm;
  // GPUs (resources.GPU > 0): placed on a host with enough free ones, attached with the VM
  // powered off (see node_factory.h).
  std::optional<GpuNeed> gpu;
};

struct CreatedNode {
  std::string id;
  std::string name;
  std::string host;
};

struct CreateResult {
  std::vector<CreatedNode> created;
  std::vector<Status> failures;  // one per node that could not be created (and was cleaned up)
};

}  // namespace vsray::provider

#endif  // VSRAY_PROVIDER_PROVIDER_OPTIONS_H_
