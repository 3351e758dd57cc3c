// vsray's node provider: Ray's NodeProvider semantics on vSphere. Nodes are instant clones of
// frozen VMs, kept in one VM folder per cluster and identified by guestinfo keys set at birth;
// Ray's tags are custom attributes. Every read is served from a live cache (no vCenter call per
// autoscaler tick); writes update the cache at once. Thread-safe.
#ifndef VSRAY_PROVIDER_NODE_PROVIDER_H_
#define VSRAY_PROVIDER_NODE_PROVIDER_H_

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "common/status.h"
#include "common/thread_pool.h"
#include "provider/folder_watcher.h"
#include "provider/frozen_vms.h"
#include "provider/node.h"
#include "provider/node_cache.h"
#include "provider/tag_mirror.h"
#include "provider/vocabulary.h"
#include "vsphere/session.h"
#include "vsphere/task_waiter.h"
#include "vsphere/vim.h"
#include "vsphere/vm_ops.h"

namespace vsray::provider {

struct ProviderOptions {
  vsphere::ConnectOptions connect;
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
  // vCenter tasks run at once (clone, reconfigure, power, destroy).
  int max_concurrency = 8;
  std::chrono::seconds clone_timeout{600};
  std::chrono::seconds frozen_vm_ready_timeout{600};
  // A node still `creating` after this long was left by a crash: removed at start.
  std::chrono::seconds creating_timeout{1800};
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

class NodeProvider {
 public:
  // Connects (sharing the session per server and user), finds the datacenter, the frozen
  // VM(s) and the cluster folder, lists the cluster, removes nodes a crash left `creating`, and
  // (with options.watch) starts the watcher. Errors: those of Session::Connect; NOT_FOUND for a
  // missing datacenter, frozen VM or pool; FAILED_PRECONDITION for a frozen VM that is on but
  // not frozen, or that didn't freeze in time.
  static StatusOr<std::unique_ptr<NodeProvider>> Create(ProviderOptions options,
                                                        std::string cluster_name);
  ~NodeProvider();
  NodeProvider(const NodeProvider&) = delete;
  NodeProvider& operator=(const NodeProvider&) = delete;

  // Ids of this cluster's nodes that match every filter and are powered on (or off while still
  // `creating`). Served from the cache (without a watcher: after one re-listing).
  StatusOr<std::vector<std::string>> NonTerminatedNodes(const TagMap& filters);
  // Every VM of this cluster in any power state (what `vsray down` removes); frozen VMs and
  // VMs without this cluster's identity are never in it.
  StatusOr<std::vector<std::string>> AllNodes();
  // The cached view of one of this cluster's nodes (name, power state, host, NICs).
  std::optional<Node> GetNode(const std::string& id) const;
  bool IsRunning(const std::string& id) const;
  bool IsTerminated(const std::string& id) const;
  TagMap NodeTags(const std::string& id) const;
  std::optional<std::string> ExternalIp(const std::string& id) const;
  std::optional<std::string> InternalIp(const std::string& id) const;
  std::optional<std::string> GetNodeId(const std::string& ip, bool use_internal_ip) const;

  // Creates `count` nodes in parallel (bounded by max_concurrency). Partial failures are in
  // the result (the failed VMs are destroyed); when every node fails, the error says why.
  StatusOr<CreateResult> CreateNode(const NodeSpec& spec, const TagMap& tags, int count);
  // Changes only the given keys. NOT_FOUND for an unknown node.
  Status SetNodeTags(const std::string& id, const TagMap& tags);
  // Powers off and destroys. A node already gone counts as done; a VM without this cluster's
  // identity, or a frozen VM, is refused with PERMISSION_DENIED and left alone.
  Status TerminateNode(const std::string& id);
  Status TerminateNodes(const std::vector<std::string>& ids);

  // `vsray frozen-vm prepare`: finds, deploys (missing ones), powers on and awaits the frozen
  // VMs of options.frozen_vm (and of `extra_specs`, e.g. per-node-type ones) without creating
  // nodes or the cluster folder. Returns the usable frozen VMs of each spec, in order.
  // Errors: those of Session::Connect, NOT_FOUND (datacenter, pool, item...),
  // FAILED_PRECONDITION (nothing usable, did not freeze in time), deploy errors.
  static StatusOr<std::vector<std::vector<FrozenVm>>> PrepareFrozenVms(
      ProviderOptions options, const std::vector<FrozenVmSpec>& extra_specs = {});
  // `vsray frozen-vm status`: every frozen VM of `spec` (default options.frozen_vm) with its
  // host, host state, power, frozen flag, usability, and this cluster's nodes on its host.
  // Looks only: never deploys or powers on.
  StatusOr<std::vector<provider::FrozenVmStatus>> FrozenVmStatuses(
      const std::optional<FrozenVmSpec>& spec = std::nullopt);
  // Static form for the CLI (no provider, no cluster folder needed): clones_on_host counts
  // the nodes of `cluster_name` found in its folder (0 if the folder doesn't exist).
  static StatusOr<std::vector<provider::FrozenVmStatus>> FrozenVmStatusOf(
      ProviderOptions options, const std::string& cluster_name);

  // The usable frozen VMs of options.frozen_vm, as last resolved (a copy: CreateNode may
  // re-resolve them on another thread).
  std::vector<FrozenVm> frozen_vms() const {
    std::lock_guard lock(mu_);
    return frozen_vms_;
  }
  const vsphere::MoRef& folder() const { return folder_; }
  const std::string& cluster_name() const { return cluster_name_; }
  vsphere::Session& session() { return *session_; }
  const NodeCache& cache() const { return cache_; }
  // Nodes removed at start because a crash left them `creating`.
  const std::vector<std::string>& recovered() const { return recovered_; }

 private:
  NodeProvider(ProviderOptions options, std::string cluster_name);
  Status Init();
  // Session, datacenter and frozen VM resolver only (for PrepareFrozenVms and status).
  Status InitBase();
  Status FindDatacenter();
  Status FindFrozenVms();
  FrozenVmEnv MakeFrozenEnv();
  // The usable parents for a spec: resolved (prepared on first use) and cached per spec; the
  // state of their hosts and of the VMs is re-read on every call (maintenance, unfreezing).
  StatusOr<std::vector<FrozenVm>> ParentsFor(const NodeSpec& spec);
  Status EnsureFolder();
  Status LoadFieldKeys();
  // Another provider (the launcher, the head) may define custom attributes after this one
  // started: re-reads the definitions when a node or a filter names a key this one doesn't
  // know, at most once per second.
  void RefreshFieldKeysIfUnknown(const Node* node, const TagMap* filters) const;
  StatusOr<int> FieldKey(const std::string& name);
  StatusOr<vsphere::MoRef> FindPlacement(const std::string& type, const std::string& name);
  Status RecoverCrashedNodes();
  Status Refresh();

  // Picks the parent for the next clone: least-loaded host first, round-robin on ties.
  FrozenVm PickParent(const std::vector<FrozenVm>& parents, const std::string& set,
                      const std::string& node_name);
  void ReleaseParent(const FrozenVm& parent, const std::string& node_name);
  StatusOr<CreatedNode> CreateOne(const NodeSpec& spec, const TagMap& tags,
                                  const vsphere::MoRef& pool, const vsphere::MoRef& datastore,
                                  const std::vector<FrozenVm>& parents);
  // A linked or full clone (CloneVM_Task) of `parent`; returns the new VM.
  StatusOr<vsphere::MoRef> CloneParent(const NodeSpec& spec, const FrozenVm& parent,
                                       const std::string& name,
                                       const std::vector<vsphere::OptionValue>& identity,
                                       const vsphere::MoRef& pool, const vsphere::MoRef& datastore);
  StatusOr<vsphere::MoRef> BaseSnapshot(const FrozenVm& parent);
  Status WriteTags(const std::string& id, const TagMap& tags);
  // The vSphere tags mirror (when enabled): failures are logged, never returned.
  void MirrorNewNode(const std::string& id, const TagMap& tags);
  void MirrorChange(const std::string& id, const TagMap& previous, const TagMap& changed);
  // Powers off (unless `known_off`) and destroys. A VM already gone counts as done.
  Status DestroyVm(const vsphere::MoRef& vm, bool known_off = false);
  bool IsOurs(const Node& node) const;
  // The key of the custom attribute `name`; -1 while it is not defined.
  int FieldKeyIfKnown(std::string_view name) const;
  // Tag `name` of `node`: its custom attribute (field `key`), else its birth tag; null if
  // neither.
  static const std::string* TagValue(const Node& node, int key, std::string_view name);
  bool IsFrozenParent(const std::string& id) const;
  std::string NewNodeName(const TagMap& tags);

  ProviderOptions options_;
  std::string cluster_name_;
  std::shared_ptr<vsphere::Session> session_;
  std::unique_ptr<vsphere::Vim> vim_;
  std::unique_ptr<vsphere::TaskWaiter> waiter_;
  std::unique_ptr<vsphere::VmOps> vm_ops_;
  std::unique_ptr<ThreadPool> pool_;
  NodeCache cache_;
  std::unique_ptr<FolderWatcher> watcher_;
  std::unique_ptr<TagMirror> mirror_;  // with options.mirror_vsphere_tags

  vsphere::MoRef datacenter_;
  vsphere::MoRef vm_root_folder_;
  vsphere::MoRef folder_;
  std::vector<FrozenVm> frozen_vms_;  // mu_
  std::unique_ptr<FrozenVmResolver> resolver_;
  std::mutex resolve_mu_;                 // one resolution at a time; guards resolver_
  std::set<std::string> prepared_specs_;  // FrozenVmSpec::Key() already prepared
  std::set<std::string> frozen_ids_;      // every frozen VM seen (never terminated); mu_
  std::mutex snapshot_mu_;                // one base snapshot creation at a time
  std::map<std::string, vsphere::MoRef> base_snapshots_;  // parent id -> snapshot; snapshot_mu_
  std::vector<std::string> recovered_;

  mutable std::mutex mu_;                  // guards the maps below
  std::map<std::string, int> field_keys_;  // custom field name -> key
  mutable std::chrono::steady_clock::time_point last_field_refresh_{};
  std::map<std::string, vsphere::MoRef> placement_;                 // "type/name" -> object
  std::map<std::string, std::set<std::string>> inflight_per_host_;  // host -> node names
  std::map<std::string, std::size_t> round_robin_;                  // per parent set
  std::mutex refresh_mu_;
};

}  // namespace vsray::provider

#endif  // VSRAY_PROVIDER_NODE_PROVIDER_H_
