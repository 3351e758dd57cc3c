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
#include <string>
#include <vector>

#include "common/status.h"
#include "common/thread_pool.h"
#include "provider/folder_watcher.h"
#include "provider/node.h"
#include "provider/node_cache.h"
#include "provider/tag_mirror.h"
#include "vsphere/session.h"
#include "vsphere/task_waiter.h"
#include "vsphere/vim.h"

namespace vsray::provider {

struct ProviderOptions {
  vsphere::ConnectOptions connect;
  // Datacenter name or inventory path; may be empty when vCenter has exactly one.
  std::string datacenter;
  // The cluster's VM folder, created next to the (first) frozen VM; default "ray-<cluster>".
  std::string folder;
  // Frozen VM by name (or inventory path), or every frozen VM in a resource pool.
  std::string frozen_vm_name;
  std::string frozen_vm_resource_pool;
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
  std::vector<vsphere::OptionValue> extra_config;  // e.g. per-node guestinfo.* keys
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

struct FrozenVm {
  vsphere::MoRef vm;
  std::string name;
  vsphere::MoRef host;
  vsphere::MoRef folder;
  vsphere::MoRef pool;
  vsphere::MoRef datastore;
  std::vector<vsphere::Any> nics;  // config.hardware.device NICs, as retrieved
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

  const std::vector<FrozenVm>& frozen_vms() const { return frozen_vms_; }
  const vsphere::MoRef& folder() const { return folder_; }
  const std::string& cluster_name() const { return cluster_name_; }
  vsphere::Session& session() { return *session_; }
  const NodeCache& cache() const { return cache_; }
  // Nodes removed at start because a crash left them `creating`.
  const std::vector<std::string>& recovered() const { return recovered_; }

 private:
  NodeProvider(ProviderOptions options, std::string cluster_name);
  Status Init();
  Status FindDatacenter();
  Status FindFrozenVms();
  Status EnsureFrozen(FrozenVm& frozen, const std::string& power_state, bool is_frozen);
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
  const FrozenVm& PickParent();
  void ReleaseParent(const FrozenVm& parent);
  StatusOr<CreatedNode> CreateOne(const NodeSpec& spec, const TagMap& tags,
                                  const vsphere::MoRef& pool, const vsphere::MoRef& datastore);
  Status WriteTags(const std::string& id, const TagMap& tags);
  // The vSphere tags mirror (when enabled): failures are logged, never returned.
  void MirrorNewNode(const std::string& id, const TagMap& tags);
  void MirrorChange(const std::string& id, const TagMap& previous, const TagMap& changed);
  // Powers off (unless `known_off`) and destroys. A VM already gone counts as done.
  Status DestroyVm(const vsphere::MoRef& vm, bool known_off = false);
  bool IsOurs(const Node& node) const;
  bool IsFrozenParent(const std::string& id) const;
  std::string NewNodeName(const TagMap& tags);

  ProviderOptions options_;
  std::string cluster_name_;
  std::shared_ptr<vsphere::Session> session_;
  std::unique_ptr<vsphere::Vim> vim_;
  std::unique_ptr<vsphere::TaskWaiter> waiter_;
  std::unique_ptr<ThreadPool> pool_;
  NodeCache cache_;
  std::unique_ptr<FolderWatcher> watcher_;
  std::unique_ptr<TagMirror> mirror_;  // with options.mirror_vsphere_tags

  vsphere::MoRef datacenter_;
  vsphere::MoRef vm_root_folder_;
  vsphere::MoRef folder_;
  std::vector<FrozenVm> frozen_vms_;
  std::vector<std::string> recovered_;

  mutable std::mutex mu_;                  // guards the maps below
  std::map<std::string, int> field_keys_;  // custom field name -> key
  mutable std::chrono::steady_clock::time_point last_field_refresh_{};
  std::map<std::string, vsphere::MoRef> placement_;  // "type/name" -> object
  std::map<std::string, int> inflight_per_host_;
  std::size_t round_robin_ = 0;
  std::mutex refresh_mu_;
};

}  // namespace vsray::provider

#endif  // VSRAY_PROVIDER_NODE_PROVIDER_H_
