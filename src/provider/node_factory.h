// Makes one node: its name, its parent (ParentScheduler), its clone spec (clone_spec.h), the
// clone, then the set-up steps in order (PlanSetup); a node that fails after its VM exists is
// destroyed and forgotten (rollback), and its siblings are not affected. Thread-safe: many
// nodes are made at once, one per thread of the provider's pool.
//
// A GPU node (NodeSpec::gpu) gets its parent and its devices together from the GpuAllocator
// (a host with enough free GPUs, reserved before the clone), and its set-up attaches them with
// the VM off: an instant clone waits until its guest runs, is powered off, gets ONE
// reconfigure (devices, memory reservation locked to its size, CPU/memory, 64-bit MMIO when
// asked) and is powered on; a linked or full clone is still off after its clone. Its
// vsray-node-status stays `creating` until then (nothing reaps it while it is off). When no
// host of a parent has the GPUs but another host of the placement does, the node is a clone
// of a parent relocated there (FallbackMode: linked, or full for full-clone node types), and
// its intent records that mode.
//
// Where later capabilities plug in: per-host concurrency in the scheduler; pipelining of the
// steps in SetUp.
#ifndef VSRAY_PROVIDER_NODE_FACTORY_H_
#define VSRAY_PROVIDER_NODE_FACTORY_H_

#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "common/status.h"
#include "provider/clone_spec.h"
#include "provider/field_registry.h"
#include "provider/gpu_allocator.h"
#include "provider/node_cache.h"
#include "provider/parent_scheduler.h"
#include "provider/provider_options.h"
#include "provider/repair.h"
#include "provider/vcenter.h"

namespace vsray::provider {

// Where new nodes of one CreateNode call go (empty: the parent's pool or datastore).
struct Placement {
  MoRef pool;
  MoRef datastore;
};

// The parents a CreateNode call may use, and the set they are (a frozen-VM spec's key).
struct Parents {
  std::string set;
  std::vector<FrozenVm> vms;  // not empty
  // GPU nodes: the other hosts they may be placed on (connected, out of maintenance), for a
  // linked or full clone when no host of `vms` has the GPUs.
  std::vector<MoRef> spare_hosts;
};

// What is done to a new node once its VM exists, in order.
enum class SetupStep {
  kWaitGuest,    // GPU instant clones: until the guest runs (it can be powered off then)
  kPowerOff,     // GPU instant clones: passthrough devices are added to a VM that is off
  kAttachGpus,   // GPU nodes: one reconfigure with the devices, memory lock, CPU/memory
  kPowerOn,      // linked and full clones (CloneVM_Task's powerOn is not relied upon), GPU nodes
  kResize,       // CPU and memory of the node type
  kMarkCreated,  // vsray-node-status=created: the node is complete
  kMirrorTags,   // Ray's tags as vSphere tags (when mirrored; best effort, never fails)
};
std::string_view SetupStepName(SetupStep step);
// The steps for a node of `spec`; `mirror`: the vSphere tags mirror is on.
std::vector<SetupStep> PlanSetup(const NodeSpec& spec, bool mirror);
// The one reconfigure of a GPU node: `devices`, its memory reserved (locked to its size), the
// node type's CPU and memory, and 64-bit MMIO when the need asks for it.
vsphere::ConfigSpec GpuConfigSpec(const NodeSpec& spec,
                                  const std::vector<vsphere::PciPassthroughSpec>& devices);

class NodeFactory {
 public:
  // Everything must outlive the factory. `mirror` may be null.
  NodeFactory(VcenterConnection& vcenter, FieldRegistry& fields, NodeCache& cache,
              ParentScheduler& scheduler, GpuAllocator& gpus, TagMirrorClient* mirror,
              const ProviderOptions& options, std::string cluster, MoRef folder);

  // Makes one node of `spec` with Ray's `tags` (born with them: clone_spec.h). On success the
  // node is in the cache (powered on, `created`). Errors: RESOURCE_EXHAUSTED when no host has the
  // GPUs it needs (nothing cloned; GpuAllocator::Reserve), the clone's (with "<mode> clone of
  // 'parent' as 'name'"), or the failed set-up step's (with "setting up node 'name' (vm-N)", after
  // the VM was destroyed and its GPUs released). CANCELLED (nothing done) when options.cancel is
  // set before the clone starts.
  StatusOr<CreatedNode> Create(const NodeSpec& spec, const TagMap& tags, const Placement& placement,
                               const Parents& parents);
  // Finishes a half-made node (repair.h) as its creator would have: the set-up steps of its
  // birth intent, then `created` (its tags are its birth tags and whatever was written since).
  // A node whose set-up fails is destroyed (rollback) and the error returned.
  Status Finish(const Node& found);

 private:
  // A node whose VM exists, being set up.
  struct NewNode {
    std::string name;
    MoRef vm;
    // Its host is where the node runs (a fallback clone's, not the parent's).
    FrozenVm parent;
    TagMap tags;                                    // launch tags
    std::vector<vsphere::PciPassthroughSpec> gpus;  // to attach (GPU nodes)
  };
  // The parent of a new node and, for a GPU node, its reserved GPUs.
  struct Choice {
    std::optional<ParentScheduler::Lease> lease;
    std::optional<GpuAllocator::Grant> gpus;
    const FrozenVm& parent() const { return lease->parent(); }
  };

  StatusOr<Choice> Choose(const NodeSpec& spec, const TagMap& tags, const Parents& parents,
                          const std::string& name);

  StatusOr<MoRef> Clone(const NodeSpec& spec, const CloneRequest& request);
  Status SetUp(const NodeSpec& spec, const NewNode& node);
  Status RunStep(SetupStep step, const NodeSpec& spec, const NewNode& node);
  // Destroys a node whose set-up failed and forgets it.
  void Rollback(const NewNode& node, const Status& why);
  // Puts a finished node into the cache (read-your-writes).
  void Remember(const NewNode& node);
  // The snapshot linked clones of `parent` start from ("vsray-base", made if missing).
  StatusOr<MoRef> BaseSnapshot(const FrozenVm& parent);
  // This cluster's nodes per host, as the cache knows them.
  NodesPerHost KnownLoad() const;
  void Report(const std::string& vm, const std::string& state) const;

  VcenterConnection& vcenter_;
  FieldRegistry& fields_;
  NodeCache& cache_;
  ParentScheduler& scheduler_;
  GpuAllocator& gpus_;
  TagMirrorClient* mirror_;
  const ProviderOptions& options_;
  const std::string cluster_;
  const MoRef folder_;

  std::mutex snapshot_mu_;  // one base snapshot creation at a time; guards the map
  std::map<std::string, MoRef> base_snapshots_;  // parent id -> snapshot
};

}  // namespace vsray::provider

#endif  // VSRAY_PROVIDER_NODE_FACTORY_H_
