// Frozen VMs: the parents of instant clones. Finds them (by name, or every frozen VM of a
// resource pool), deploys them from a content-library OVF (one, or one per ESXi host of a
// pool's cluster), powers them on and waits until their guest froze them. An instant clone
// runs on its parent's host, so one frozen VM per host is what spreads nodes over a cluster.
#ifndef VSRAY_PROVIDER_FROZEN_VMS_H_
#define VSRAY_PROVIDER_FROZEN_VMS_H_

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "common/status.h"
#include "common/thread_pool.h"
#include "provider/vocabulary.h"
#include "vsphere/rest.h"
#include "vsphere/session.h"
#include "vsphere/task_waiter.h"
#include "vsphere/vim.h"
#include "vsphere/vm_ops.h"

namespace vsray::provider {

// Which frozen VMs a cluster (or one node type) clones from. Names may be inventory paths.
struct FrozenVmSpec {
  std::string name;          // VM name, or the prefix of `<name>-<host>` in kDeployPerHost
  std::string library_item;  // content-library item: "item" (any library) or "library/item"
  std::string resource_pool;
  std::string cluster;
  std::string datastore;
  FrozenVmMode mode = FrozenVmMode::kExisting;

  // Identifies the spec in caches and messages.
  std::string Key() const;
  friend bool operator==(const FrozenVmSpec&, const FrozenVmSpec&) = default;
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

// What `vsray frozen-vm status` shows, one entry per frozen VM (or per host lacking one).
struct FrozenVmStatus {
  std::string name;         // "" for a host of a kDeployPerHost pool that has no frozen VM yet
  std::string id;           // "vm-42"; "" when missing
  std::string host;         // host name
  std::string host_id;      // "host-21"
  std::string host_state;   // connected | disconnected | notResponding | maintenance
  std::string power_state;  // poweredOn | poweredOff | suspended | "" when missing
  bool frozen = false;      // runtime.instantCloneFrozen
  bool usable = false;      // frozen, powered on, on a connected host out of maintenance
  int clones_on_host = 0;   // this cluster's nodes on the host (filled in by NodeProvider)
  std::string problem;      // why it is not usable ("" when usable)
};

// Progress of deploys and freezes: (VM name, state). States: "found", "deploying",
// "deployed", "configuring", "powering-on", "waiting-for-freeze", "frozen", "skipped".
using FrozenVmProgress = std::function<void(const std::string& vm, const std::string& state)>;

// Looks an object up by name or inventory path in the datacenter (NodeProvider's cached
// FindPlacement). NOT_FOUND if absent, FAILED_PRECONDITION if ambiguous.
using PlacementFinder =
    std::function<StatusOr<vsphere::MoRef>(const std::string& type, const std::string& name)>;

struct FrozenVmEnv {
  vsphere::Vim* vim = nullptr;
  vsphere::VmOps* ops = nullptr;
  ThreadPool* pool = nullptr;       // deploys run on it in parallel (kDeployPerHost)
  vsphere::ConnectOptions connect;  // for the vAPI REST client (deploys only)
  vsphere::MoRef datacenter;
  vsphere::MoRef vm_root_folder;  // where deployed frozen VMs go
  PlacementFinder find;
  std::vector<vsphere::OptionValue> extra_config;  // set on deployed VMs before power-on
  std::chrono::seconds ready_timeout{600};
  std::chrono::seconds deploy_timeout{1800};
  FrozenVmProgress progress;
};

// Resolves frozen VM specs. Thread-compatible: one caller at a time.
class FrozenVmResolver {
 public:
  explicit FrozenVmResolver(FrozenVmEnv env) : env_(std::move(env)) {}

  // The usable frozen VMs of `spec`. With `prepare`, deploys missing ones (kDeployOne,
  // kDeployPerHost: an existing VM of the name is reused, never duplicated; a host in
  // maintenance or disconnected gets none), powers on and awaits the named ones. Without it,
  // only looks. VMs that are not frozen are skipped with a warning, except in kExisting where
  // that is an error. Errors: INVALID_ARGUMENT (spec incomplete), NOT_FOUND (pool, cluster,
  // datastore, library item or named VM missing), FAILED_PRECONDITION (nothing usable, or a
  // VM that did not freeze in time), the REST and SOAP errors of the calls.
  StatusOr<std::vector<FrozenVm>> Resolve(const FrozenVmSpec& spec, bool prepare);

  // The usable frozen VMs of `spec` among those the last Resolve found: re-reads their state
  // and their hosts' (two calls) without looking anything up again or deploying; a
  // kExistingPool pool is re-listed (new frozen VMs appear there). Errors as Resolve's.
  StatusOr<std::vector<FrozenVm>> Refresh(const FrozenVmSpec& spec);

  // What Resolve would use, and why the rest is not usable; never changes anything.
  StatusOr<std::vector<FrozenVmStatus>> Statuses(const FrozenVmSpec& spec);

  struct HostInfo {
    std::string name;
    std::string state;  // connected | disconnected | notResponding | maintenance
  };
  // Every host of the datacenter by id (one call).
  StatusOr<std::map<std::string, HostInfo>> Hosts() const;

 private:
  struct Candidate;
  static Candidate FromContent(const vsphere::ObjectContent& content);
  StatusOr<std::vector<Candidate>> Candidates(const FrozenVmSpec& spec, bool prepare);
  // The usable ones (warning once about each that is not).
  StatusOr<std::vector<FrozenVm>> UsableOf(const FrozenVmSpec& spec,
                                           std::vector<Candidate> candidates);
  StatusOr<std::vector<std::pair<vsphere::MoRef, std::string>>> PoolHosts(
      const vsphere::MoRef& pool) const;
  // Deploys item `item` (an id) as `name` pinned to `host`, sets the extra config, powers it
  // on and waits until it is frozen. Safe to run in parallel once rest_ exists.
  StatusOr<vsphere::MoRef> Deploy(const FrozenVmSpec& spec, const std::string& item,
                                  const std::string& name, const vsphere::MoRef& pool,
                                  const vsphere::MoRef& host, const vsphere::MoRef& datastore);
  StatusOr<std::string> LibraryItemId(const std::string& item);
  Status PowerOnAndWait(const vsphere::MoRef& vm, const std::string& name);
  void Report(const std::string& vm, const std::string& state) const;

  FrozenVmEnv env_;
  std::unique_ptr<vsphere::RestClient> rest_;
  std::set<std::string> warned_;       // VM id + problem already warned about
  std::set<std::string> seen_frozen_;  // VMs of kExistingPool pools seen frozen
  std::map<std::string, std::vector<vsphere::MoRef>> members_;  // spec key -> its VMs
};

// Waits (through a property collector, up to `timeout`) until runtime.instantCloneFrozen of
// `vm` is true. FAILED_PRECONDITION when it does not freeze in time.
Status WaitFrozen(vsphere::VmOps& ops, const vsphere::MoRef& vm, const std::string& name,
                  std::chrono::seconds timeout);

// Properties of a VM that FrozenVmFromContent reads.
const std::vector<std::string>& FrozenVmProperties();
FrozenVm FrozenVmFromContent(const vsphere::ObjectContent& content);

}  // namespace vsray::provider

#endif  // VSRAY_PROVIDER_FROZEN_VMS_H_
