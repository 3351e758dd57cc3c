// Makes one node: its name, its parent (ParentScheduler), its clone spec (clone_spec.h), the
// clone, then the set-up steps in order (PlanSetup); a node that fails after its VM exists is
// destroyed and forgotten (rollback), and its siblings are not affected. Thread-safe: many
// nodes are made at once, one per thread of the provider's pool.
//
// Where later capabilities plug in: a device allocator (GPU passthrough) between the parent
// choice and the clone spec, with its set-up steps (power off, attach the devices, power on)
// in PlanSetup; per-host concurrency in the scheduler; pipelining of the steps in SetUp.
#ifndef VSRAY_PROVIDER_NODE_FACTORY_H_
#define VSRAY_PROVIDER_NODE_FACTORY_H_

#include <map>
#include <mutex>
#include <string>
#include <vector>

#include "common/status.h"
#include "provider/clone_spec.h"
#include "provider/field_registry.h"
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
};

// What is done to a new node once its VM exists, in order.
enum class SetupStep {
  kPowerOn,      // linked and full clones (CloneVM_Task's powerOn is not relied upon)
  kResize,       // CPU and memory of the node type
  kWriteTags,    // Ray's tags as custom attributes
  kMarkCreated,  // vsray-node-status=created: the node is complete
  kMirrorTags,   // Ray's tags as vSphere tags (when mirrored; best effort, never fails)
};
std::string_view SetupStepName(SetupStep step);
// The steps for a node of `spec`; `mirror`: the vSphere tags mirror is on.
std::vector<SetupStep> PlanSetup(const NodeSpec& spec, bool mirror);

class NodeFactory {
 public:
  // Everything must outlive the factory. `mirror` may be null.
  NodeFactory(VcenterConnection& vcenter, FieldRegistry& fields, NodeCache& cache,
              ParentScheduler& scheduler, TagMirrorClient* mirror, const ProviderOptions& options,
              std::string cluster, MoRef folder);

  // Makes one node of `spec` with Ray's `tags`. On success the node is in the cache (powered
  // on, its tags written, `created`). Errors: the clone's (with "<mode> clone of 'parent' as
  // 'name'"), or the failed set-up step's (with "setting up node 'name' (vm-N)", after the VM
  // was destroyed).
  // CANCELLED (nothing done) when options.cancel is set before the clone starts.
  StatusOr<CreatedNode> Create(const NodeSpec& spec, const TagMap& tags, const Placement& placement,
                               const Parents& parents);
  // Finishes a half-made node (repair.h) as its creator would have: the set-up steps of its
  // birth intent, its tags from its birth tags (those nobody has written since), `created`.
  // A node whose set-up fails is destroyed (rollback) and the error returned.
  Status Finish(const Node& found);

 private:
  // A node whose VM exists, being set up.
  struct NewNode {
    std::string name;
    MoRef vm;
    FrozenVm parent;
    TagMap tags;  // launch tags
  };

  StatusOr<MoRef> Clone(const NodeSpec& spec, const CloneRequest& request);
  Status SetUp(const NodeSpec& spec, const NewNode& node);
  Status RunStep(SetupStep step, const NodeSpec& spec, const NewNode& node);
  // Destroys a node whose set-up failed and forgets it.
  // The launch tags of `node` that nobody has written since it appeared.
  TagMap TagsNobodySet(const NewNode& node) const;
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
  TagMirrorClient* mirror_;
  const ProviderOptions& options_;
  const std::string cluster_;
  const MoRef folder_;

  std::mutex snapshot_mu_;  // one base snapshot creation at a time; guards the map
  std::map<std::string, MoRef> base_snapshots_;  // parent id -> snapshot
};

}  // namespace vsray::provider

#endif  // VSRAY_PROVIDER_NODE_FACTORY_H_
