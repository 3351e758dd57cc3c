// Frozen VMs: the parents of instant clones. Finds them (by name, or every frozen VM of a
// resource pool), deploys them from a content-library OVF (one, or one per ESXi host of a
// pool's cluster), powers them on and waits until their guest froze them. An instant clone
// runs on its parent's host, so one frozen VM per host is what spreads nodes over a cluster.
// Works over the vCenter seam (vcenter.h) and the datacenter's Inventory.
#ifndef VSRAY_PROVIDER_FROZEN_VMS_H_
#define VSRAY_PROVIDER_FROZEN_VMS_H_

#include <chrono>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "common/clock.h"
#include "common/status.h"
#include "common/thread_pool.h"
#include "provider/frozen_vm.h"
#include "provider/inventory.h"
#include "provider/vcenter.h"

namespace vsray::provider {

struct FrozenVmEnv {
  VcenterConnection* vcenter = nullptr;
  Inventory* inventory = nullptr;  // the datacenter: lookups, hosts, where deploys go
  ThreadPool* pool = nullptr;      // deploys run on it in parallel (kDeployPerHost)
  std::vector<vsphere::OptionValue> extra_config;  // set on deployed VMs before power-on
  std::chrono::seconds ready_timeout{600};
  std::chrono::seconds deploy_timeout{1800};
  FrozenVmProgress progress;
  const Clock* clock = &SystemClock::Instance();  // times deploys (for the log)
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
  // VM that did not freeze in time), the errors of the vCenter calls.
  StatusOr<std::vector<FrozenVm>> Resolve(const FrozenVmSpec& spec, bool prepare);

  // The usable frozen VMs of `spec` among those the last Resolve found: re-reads their state
  // and their hosts' (two calls) without looking anything up again or deploying; a
  // kExistingPool pool is re-listed (new frozen VMs appear there). Errors as Resolve's.
  StatusOr<std::vector<FrozenVm>> Refresh(const FrozenVmSpec& spec);

  // What Resolve would use, and why the rest is not usable; never changes anything.
  StatusOr<std::vector<FrozenVmStatus>> Statuses(const FrozenVmSpec& spec);

 private:
  struct Candidate;
  struct DeployTarget;
  // A deployment still to do: the VM's name and host.
  struct Missing {
    std::string name;
    MoRef host;
  };

  StatusOr<std::vector<Candidate>> Candidates(const FrozenVmSpec& spec, bool prepare);
  StatusOr<std::vector<Candidate>> ExistingCandidates(const FrozenVmSpec& spec, bool prepare);
  StatusOr<std::vector<Candidate>> PoolCandidates(const FrozenVmSpec& spec, bool prepare);
  StatusOr<std::vector<Candidate>> DeployCandidates(const FrozenVmSpec& spec, bool prepare);
  // The pool, datastore and hosts a deploy-mode spec names.
  StatusOr<DeployTarget> FindDeployTarget(const FrozenVmSpec& spec) const;
  // What exists of a deploy-mode spec, and (in `missing`) what is still to be deployed.
  StatusOr<std::vector<Candidate>> DeployedOrMissing(const FrozenVmSpec& spec,
                                                     const DeployTarget& target,
                                                     std::vector<Missing>& missing);
  // Deploys `missing` (in parallel for kDeployPerHost) and puts the new VMs into `out`.
  Status DeployMissing(const FrozenVmSpec& spec, const DeployTarget& target,
                       const std::vector<Missing>& missing, std::vector<Candidate>& out);
  // The one VM named `name` in the datacenter; nullopt if none.
  StatusOr<std::optional<Candidate>> FindVm(const std::string& name) const;
  // With `prepare`, powers `c` on (if `may_power_on`) and waits until it is frozen.
  Status Ensure(const FrozenVmSpec& spec, Candidate& c, bool prepare, bool may_power_on);
  // The usable ones (warning once about each that is not).
  StatusOr<std::vector<FrozenVm>> UsableOf(const FrozenVmSpec& spec,
                                           std::vector<Candidate> candidates);
  // Deploys item `item` (an id) as `name` pinned to `host`, sets the extra config, powers it
  // on and waits until it is frozen. Safe to run in parallel.
  StatusOr<MoRef> Deploy(const FrozenVmSpec& spec, const std::string& item, const std::string& name,
                         const DeployTarget& target, const MoRef& host);
  Status PowerOnAndWait(const MoRef& vm, const std::string& name);
  Status WaitFrozen(const MoRef& vm, const std::string& name) const;
  void Report(const std::string& vm, const std::string& state) const;

  FrozenVmEnv env_;
  std::set<std::string> warned_;                       // VM id + problem already warned about
  std::set<std::string> seen_frozen_;                  // VMs of kExistingPool pools seen frozen
  std::map<std::string, std::vector<MoRef>> members_;  // spec key -> its VMs
};

}  // namespace vsray::provider

#endif  // VSRAY_PROVIDER_FROZEN_VMS_H_
