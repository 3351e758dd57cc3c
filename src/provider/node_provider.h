// vsray's node provider: Ray's NodeProvider contract on vSphere, as a thin layer over the
// live node cache, the node factory and terminate. Nodes are instant clones of frozen VMs,
// kept in one VM folder per cluster and identified by guestinfo keys set at birth; Ray's tags
// are custom attributes. Every read is served from the cache (no vCenter call per autoscaler
// tick); writes update it at once. Thread-safe.
//
// The parts, one file each: the vCenter seam (vcenter.h; real: vcenter_vsphere.h), the
// datacenter (inventory.h), custom attributes (field_registry.h), the frozen VMs
// (frozen_vms.h, parent_catalog.h), parent choice (parent_scheduler.h), GPUs (gpu_need.h,
// gpu_placement.h, gpu_allocator.h), clone specs (clone_spec.h), making a node (node_factory.h),
// reading nodes and crash recovery (node_state.h), the cache and its watcher (node_cache.h,
// folder_watcher.h).
#ifndef VSRAY_PROVIDER_NODE_PROVIDER_H_
#define VSRAY_PROVIDER_NODE_PROVIDER_H_

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "common/status.h"
#include "provider/field_registry.h"
#include "provider/frozen_vm.h"
#include "provider/gpu_allocator.h"
#include "provider/lease.h"
#include "provider/node.h"
#include "provider/node_cache.h"
#include "provider/node_factory.h"
#include "provider/node_state.h"
#include "provider/parent_scheduler.h"
#include "provider/provider_base.h"
#include "provider/provider_options.h"
#include "provider/repair.h"
#include "provider/vcenter.h"

namespace vsray::provider {

// A node as one listing saw it (NodeProvider::ListNodes).
struct ListedNode {
  std::string id;
  TagMap tags;
  std::optional<std::string> internal_ip;
  std::optional<std::string> external_ip;
};

class NodeProvider {
 public:
  // Connects (options.vcenter; by default sharing the session per server and user), finds
  // the datacenter, the frozen VM(s) and the cluster folder, lists the cluster, repairs
  // half-made nodes as options.repair_at_start says, and (with options.watch) starts
  // watching the folder. Errors:
  // those of the connection; NOT_FOUND for a missing datacenter, frozen VM or pool;
  // FAILED_PRECONDITION for a frozen VM that is on but not frozen, or that didn't freeze in
  // time.
  static StatusOr<std::unique_ptr<NodeProvider>> Create(ProviderOptions options,
                                                        std::string cluster_name);
  ~NodeProvider();
  NodeProvider(const NodeProvider&) = delete;
  NodeProvider& operator=(const NodeProvider&) = delete;

  // Ids of this cluster's nodes that match every filter and are powered on (or off while still
  // `creating`). Served from the cache (without a watcher: after one re-listing).
  StatusOr<std::vector<std::string>> NonTerminatedNodes(const TagMap& filters);
  // The same nodes with their tags and addresses (as NodeTags, InternalIp and ExternalIp give
  // them), read in one pass over the cache: an autoscaler tick's one call. `version`: the
  // cache's version() they were read at.
  StatusOr<std::vector<ListedNode>> ListNodes(const TagMap& filters,
                                              std::uint64_t* version = nullptr);
  // Changes whenever what NodeTags, InternalIp or ExternalIp give may have changed.
  std::uint64_t CacheVersion() const { return cache_.version(); }
  // The word CacheVersion() reads (NodeCache::version_word), for the Python module's buffer.
  const std::atomic<std::uint64_t>& CacheVersionWord() const { return cache_.version_word(); }
  // Every VM of this cluster in any power state (what `vsray down` removes); frozen VMs and
  // VMs without this cluster's identity are never in it.
  StatusOr<std::vector<std::string>> AllNodes();
  // VMs in the cluster's folder that are neither this cluster's nodes nor frozen VMs (untagged
  // ones, other clusters'): shown by `vsray status`, never touched. From the last listing.
  std::vector<Node> ForeignVms() const;
  // The cached view of one of this cluster's nodes (name, power state, host, NICs).
  std::optional<Node> GetNode(const std::string& id) const;
  bool IsRunning(const std::string& id) const;
  bool IsTerminated(const std::string& id) const;
  TagMap NodeTags(const std::string& id) const;
  std::optional<std::string> ExternalIp(const std::string& id) const;
  std::optional<std::string> InternalIp(const std::string& id) const;
  std::optional<std::string> GetNodeId(const std::string& ip, bool use_internal_ip) const;
  // The PCI passthrough devices (GPUs) of each of `ids` that has any, read from vCenter (only
  // for GPU nodes: no call when none of `ids` is one).
  StatusOr<std::map<std::string, std::vector<vsphere::VmPassthroughDevice>>> NodeGpus(
      const std::vector<std::string>& ids);
  // Blocks until `done()` is true, re-checking it whenever the cache changes (no polling).
  // DEADLINE_EXCEEDED after `timeout` (on options.clock). `done` must not block.
  Status WaitUntil(const std::function<bool()>& done, std::chrono::milliseconds timeout) const;

  // Creates `count` nodes in parallel (bounded by max_concurrency), holding the cluster lease
  // (waiting up to options.lease_wait for another run's). Partial failures are in the result
  // (the failed VMs are destroyed); when every node fails, the error says why. Once
  // options.cancel is set, no further clone starts (those not started fail with CANCELLED).
  StatusOr<CreateResult> CreateNode(const NodeSpec& spec, const TagMap& tags, int count);
  // Changes only the given keys. NOT_FOUND for an unknown node.
  Status SetNodeTags(const std::string& id, const TagMap& tags);
  // Powers off and destroys. A node already gone counts as done; a VM without this cluster's
  // identity, or a frozen VM, is refused with PERMISSION_DENIED and left alone.
  Status TerminateNode(const std::string& id);
  // Once options.cancel is set, no further termination starts (CANCELLED for those).
  Status TerminateNodes(const std::vector<std::string>& ids);

  // Holds the cluster lease (lease.h) for `what` ("vsray up"...) until the hold is
  // destroyed, waiting up to `wait` while another run holds it. Errors: Lease::Acquire's.
  StatusOr<LeaseKeeper::Hold> HoldLease(const std::string& what, std::chrono::seconds wait);
  // Finishes or removes the half-made nodes of this cluster by the rule of repair.h: every
  // abandoned one while this process holds the cluster lease, else only those older than
  // options.creating_timeout. Progress goes to options.progress.
  RepairReport Repair();

  // `vsray frozen-vm prepare`: finds, deploys (missing ones), powers on and awaits the frozen
  // VMs of options.frozen_vm (and of `extra_specs`, e.g. per-node-type ones) without creating
  // nodes or the cluster folder (and without a NodeProvider). Returns the usable frozen VMs of
  // each spec, in order. Errors: those of the connection, NOT_FOUND (datacenter, pool,
  // item...), FAILED_PRECONDITION (nothing usable, did not freeze in time), deploy errors.
  static StatusOr<std::vector<std::vector<FrozenVm>>> PrepareFrozenVms(
      ProviderOptions options, const std::vector<FrozenVmSpec>& extra_specs = {});
  // `vsray frozen-vm status`: every frozen VM of `spec` (default options.frozen_vm) with its
  // host, host state, power, frozen flag, usability, and this cluster's nodes on its host.
  // Looks only: never deploys or powers on.
  StatusOr<std::vector<FrozenVmStatus>> FrozenVmStatuses(
      const std::optional<FrozenVmSpec>& spec = std::nullopt);
  // The same without a provider (the CLI; no cluster folder needed): clones_on_host counts
  // the nodes of `cluster_name` found in its folder (0 if the folder doesn't exist).
  static StatusOr<std::vector<FrozenVmStatus>> FrozenVmStatusOf(ProviderOptions options,
                                                                const std::string& cluster_name);

  // The usable frozen VMs of options.frozen_vm, as last resolved (a copy: CreateNode may
  // re-resolve them on another thread).
  std::vector<FrozenVm> frozen_vms() const { return base_.catalog->defaults(); }
  const vsphere::MoRef& folder() const { return folder_; }
  const std::string& cluster_name() const { return cluster_name_; }
  const NodeCache& cache() const { return cache_; }
  // Nodes removed at start because a crash left them half-made.
  const std::vector<std::string>& recovered() const { return recovered_; }

 private:
  // The lease of a deploying `frozen-vm prepare` (vsray-frozen-lease-* in the datacenter's VM
  // folder).
  static StatusOr<std::unique_ptr<Lease>> AcquirePrepareLease(ProviderBase& base,
                                                              const ProviderOptions& options);
  NodeProvider(ProviderOptions options, std::string cluster_name, ProviderBase base);
  // Everything after the base: frozen VMs, folder, attributes, listing, recovery, watch.
  Status Start();
  // One listing of the folder into the cache (one-shot mode, and at start).
  Status Refresh();
  // Start's repair (options.repair_at_start).
  void RepairAtStart();
  // One node of Repair: finished or removed; a failure line, or "".
  std::string RepairOne(const Node& node, const RepairDecision& decision);
  // How this cluster reads nodes, with the attribute keys known now.
  NodeReader Reader() const { return fields_.Reader(cluster_name_); }
  // Calls `fn` for each node NonTerminatedNodes returns, in no order, under the cache's lock;
  // `version` (if not null): the cache's version that pass reads.
  Status ForEachMatching(const TagMap& filters, const std::function<void(const Node&)>& fn,
                         std::uint64_t* version = nullptr);
  // A node's tags: its birth tags, then its custom attributes named in `fields`. False in
  // `all_known` when it has an attribute `fields` does not name.
  static TagMap TagsOf(const Node& node, const std::map<std::string, int>& fields,
                       bool* all_known = nullptr);
  // One of Ray's nodes: ours and not a frozen VM.
  bool IsNode(const NodeReader& reader, const Node& node) const;
  // A GPU node still being set up: it is powered off and on again, so its address is not
  // given out yet (Ray's updater would start on it and lose it).
  bool AwaitsGpuSetUp(const Node& node) const;
  // The placement and parents of a CreateNode call, and every attribute its nodes need.
  Status PrepareCreate(const NodeSpec& spec, const TagMap& tags, Placement& placement,
                       Parents& parents);
  // The hosts of the placement (`placement.pool`, else the parents' pools) without a parent,
  // connected and out of maintenance, that see the datastore the node goes to: where a GPU
  // node may be cloned when no parent's host has its GPUs. Errors: the lookups'.
  StatusOr<std::vector<MoRef>> SpareHosts(const Placement& placement,
                                          const std::vector<FrozenVm>& parents);
  void MirrorChange(const std::string& id, const TagMap& previous, const TagMap& changed);

  const ProviderOptions options_;
  const std::string cluster_name_;
  ProviderBase base_;  // connection, datacenter, task pool, frozen VMs
  mutable FieldRegistry fields_;
  NodeCache cache_;
  ParentScheduler scheduler_;
  std::unique_ptr<TagMirrorClient> mirror_;  // with options.mirror_vsphere_tags
  vsphere::MoRef folder_;
  std::unique_ptr<GpuAllocator> gpus_;
  std::unique_ptr<NodeFactory> factory_;
  std::unique_ptr<LeaseKeeper> lease_;  // over the cluster folder, made by Start
  std::vector<std::string> recovered_;
  std::mutex refresh_mu_;  // one listing at a time
  // Last: stops feeding the cache before anything above goes away.
  std::unique_ptr<NodeWatch> watch_;
};

}  // namespace vsray::provider

#endif  // VSRAY_PROVIDER_NODE_PROVIDER_H_
