#include "provider/frozen_vms.h"

#include <algorithm>
#include <future>

#include "common/log.h"

namespace vsray::provider {
namespace {

bool Usable(const std::string& host_state) { return host_state == "connected"; }

}  // namespace

// One VM that is, or should be, a frozen VM of a spec.
struct FrozenVmResolver::Candidate {
  FrozenVm vm;  // vm.vm empty: missing (not deployed yet)
  std::string name;
  MoRef host;  // where it is (or should be)
  std::string power_state;
  bool frozen = false;
  std::string problem;  // set when known to be unusable regardless of state

  static Candidate Of(VmRecord record) {
    Candidate c;
    c.name = record.vm.name;
    c.host = record.vm.host;
    c.power_state = std::move(record.power_state);
    c.frozen = record.frozen;
    c.vm = std::move(record.vm);
    return c;
  }
  bool Ready() const { return power_state == "poweredOn" && frozen; }
};

// Where a deploy-mode spec puts its frozen VMs.
struct FrozenVmResolver::DeployTarget {
  MoRef pool;
  MoRef datastore;
  std::set<std::string> sees_datastore;                   // host ids that mount the datastore
  std::vector<std::pair<MoRef, std::string>> pool_hosts;  // (host, name), by name
  std::map<std::string, HostInfo> hosts;                  // every host of the datacenter

  std::string StateOf(const MoRef& host) const {
    auto it = hosts.find(host.value);
    return it == hosts.end() ? std::string("unknown") : it->second.state;
  }
  std::string NameOf(const MoRef& host) const {
    auto it = hosts.find(host.value);
    return it == hosts.end() ? host.value : it->second.name;
  }
  // Where a new frozen VM may go: a connected host out of maintenance that sees the datastore.
  bool CanDeployOn(const MoRef& host) const {
    return Usable(StateOf(host)) && sees_datastore.contains(host.value);
  }
};

void FrozenVmResolver::Report(const std::string& vm, const std::string& state) const {
  Log()->info("frozen VM '{}': {}", vm, state);
  if (env_.progress) env_.progress(vm, state);
}

Status FrozenVmResolver::WaitFrozen(const MoRef& vm, const std::string& name) const {
  Status frozen = env_.vcenter->vms().WaitFrozen(vm, env_.ready_timeout);
  if (frozen.code() != StatusCode::kDeadlineExceeded) return frozen;
  return FailedPreconditionError(
      "frozen VM '" + name + "' did not freeze within " +
      std::to_string(env_.ready_timeout.count()) +
      " s of power-on: does its guest run `vmware-rpctool \"instantclone.freeze\"`?");
}

Status FrozenVmResolver::PowerOnAndWait(const MoRef& vm, const std::string& name) {
  Report(name, "powering-on");
  VSRAY_RETURN_IF_ERROR(env_.vcenter->vms().PowerOn(vm, env_.ready_timeout));
  Report(name, "waiting-for-freeze");
  VSRAY_RETURN_IF_ERROR(WaitFrozen(vm, name));
  Report(name, "frozen");
  return OkStatus();
}

StatusOr<MoRef> FrozenVmResolver::Deploy(const FrozenVmSpec& spec, const std::string& item,
                                         const std::string& name, const DeployTarget& target,
                                         const MoRef& host) {
  vsphere::OvfDeploySpec deploy;
  deploy.name = name;
  deploy.resource_pool_id = target.pool.value;
  deploy.host_id = host.value;
  deploy.folder_id = env_.inventory->datacenter().vm_folder.value;
  deploy.datastore_id = target.datastore.value;
  deploy.annotation = "vsray frozen VM (" + spec.library_item + ")";
  deploy.timeout = env_.deploy_timeout;
  Report(name, "deploying");
  const auto began = env_.clock->Now();
  auto deployed = env_.vcenter->library().DeployOvf(item, deploy);
  if (!deployed.ok()) {
    return deployed.status().WithContext("deploying frozen VM '" + name + "' from '" +
                                         spec.library_item + "'");
  }
  const auto ms =
      std::chrono::duration_cast<std::chrono::milliseconds>(env_.clock->Now() - began).count();
  Log()->info("frozen VM '{}' deployed as {} on {} in {} ms", name, deployed->value, host.value,
              ms);
  Report(name, "deployed");
  if (!env_.extra_config.empty()) {
    Report(name, "configuring");
    vsphere::ConfigSpec config;
    config.extra_config = env_.extra_config;
    VSRAY_RETURN_IF_ERROR(env_.vcenter->vms()
                              .Reconfigure(*deployed, config, env_.ready_timeout)
                              .WithContext("configuring frozen VM '" + name + "' (guestinfo)"));
  }
  VSRAY_RETURN_IF_ERROR(PowerOnAndWait(*deployed, name));
  return *deployed;
}

Status FrozenVmResolver::Ensure(const FrozenVmSpec& spec, Candidate& c, bool prepare,
                                bool may_power_on) {
  if (!prepare || c.Ready()) return OkStatus();
  if (c.power_state == "poweredOn" && spec.mode == FrozenVmMode::kExisting) {
    return FailedPreconditionError(
        "frozen VM '" + c.name +
        "' is powered on but not frozen: run `vmware-rpctool \"instantclone.freeze\"` in its "
        "guest (the frozen-VM image does it at boot), or power it off so that vsray powers it "
        "on and waits for it to freeze");
  }
  if (!may_power_on) return OkStatus();
  if (c.power_state == "poweredOn") {
    // A deployed one may be freezing right now (an interrupted prepare): wait for it.
    Report(c.name, "waiting-for-freeze");
    VSRAY_RETURN_IF_ERROR(WaitFrozen(c.vm.vm, c.name));
    Report(c.name, "frozen");
  } else {
    VSRAY_RETURN_IF_ERROR(PowerOnAndWait(c.vm.vm, c.name));
  }
  VSRAY_ASSIGN_OR_RETURN(auto record, env_.vcenter->inventory().Vm(c.vm.vm));
  c = Candidate::Of(std::move(record));
  return OkStatus();
}

StatusOr<std::optional<FrozenVmResolver::Candidate>> FrozenVmResolver::FindVm(
    const std::string& name) const {
  InventoryClient& inventory = env_.vcenter->inventory();
  VSRAY_ASSIGN_OR_RETURN(
      auto found, inventory.FindByName("VirtualMachine", name, env_.inventory->datacenter().ref));
  if (found.empty()) return std::optional<Candidate>();
  if (found.size() > 1) {
    return FailedPreconditionError(std::to_string(found.size()) + " VMs are named '" + name +
                                   "': frozen VM names must be unique");
  }
  VSRAY_ASSIGN_OR_RETURN(auto record, inventory.Vm(found.front()));
  return std::optional<Candidate>(Candidate::Of(std::move(record)));
}

StatusOr<std::vector<FrozenVmResolver::Candidate>> FrozenVmResolver::Candidates(
    const FrozenVmSpec& spec, bool prepare) {
  switch (spec.mode) {
    case FrozenVmMode::kExisting:
      return ExistingCandidates(spec, prepare);
    case FrozenVmMode::kExistingPool:
      return PoolCandidates(spec, prepare);
    case FrozenVmMode::kDeployOne:
    case FrozenVmMode::kDeployPerHost:
      return DeployCandidates(spec, prepare);
  }
  return InvalidArgumentError("unknown frozen_vm mode");
}

StatusOr<std::vector<FrozenVmResolver::Candidate>> FrozenVmResolver::ExistingCandidates(
    const FrozenVmSpec& spec, bool prepare) {
  if (spec.name.empty()) return InvalidArgumentError("frozen_vm.name is empty");
  VSRAY_ASSIGN_OR_RETURN(auto vm, env_.inventory->FindPlacement("VirtualMachine", spec.name));
  VSRAY_ASSIGN_OR_RETURN(auto record, env_.vcenter->inventory().Vm(vm));
  Candidate c = Candidate::Of(std::move(record));
  VSRAY_RETURN_IF_ERROR(Ensure(spec, c, prepare, /*may_power_on=*/true));
  return std::vector<Candidate>{std::move(c)};
}

StatusOr<std::vector<FrozenVmResolver::Candidate>> FrozenVmResolver::PoolCandidates(
    const FrozenVmSpec& spec, bool prepare) {
  if (spec.resource_pool.empty()) return InvalidArgumentError("frozen_vm.resource_pool is empty");
  VSRAY_ASSIGN_OR_RETURN(auto pool,
                         env_.inventory->FindPlacement("ResourcePool", spec.resource_pool));
  VSRAY_ASSIGN_OR_RETURN(auto records, env_.vcenter->inventory().VmsInPool(pool));
  std::vector<Candidate> out;
  for (auto& record : records) {
    Candidate c = Candidate::Of(std::move(record));
    // Never power on unrelated VMs: only those named with the spec's prefix, if any.
    const bool ours = !spec.name.empty() && c.name.starts_with(spec.name);
    // The pool also holds other VMs (nodes, anything): a VM is a frozen VM of the pool if it
    // is frozen, was seen frozen, or has the prefix.
    if (c.Ready()) {
      seen_frozen_.insert(c.vm.vm.value);
    } else if (!ours && !seen_frozen_.contains(c.vm.vm.value)) {
      Log()->debug("resource pool '{}': VM '{}' is not a frozen VM; ignored", spec.resource_pool,
                   c.name);
      continue;
    }
    VSRAY_RETURN_IF_ERROR(Ensure(spec, c, prepare, ours));
    out.push_back(std::move(c));
  }
  return out;
}

namespace {

Status CheckDeploySpec(const FrozenVmSpec& spec) {
  const bool per_host = spec.mode == FrozenVmMode::kDeployPerHost;
  if (spec.name.empty()) {
    return InvalidArgumentError("'name' must be given when deploying the frozen VM from OVF.");
  }
  if (spec.library_item.empty()) return InvalidArgumentError("frozen_vm.library_item is empty");
  if (spec.datastore.empty()) {
    return InvalidArgumentError(
        "'datastore' is not given when trying to deploy the frozen VM from OVF.");
  }
  if (per_host && spec.resource_pool.empty()) {
    return InvalidArgumentError("frozen_vm.resource_pool is required to deploy one per host");
  }
  if (!per_host && spec.resource_pool.empty() && spec.cluster.empty()) {
    return InvalidArgumentError(
        "both 'cluster' and 'resource_pool' are missing when trying to deploy the frozen VM "
        "from OVF, at least one should be given.");
  }
  return OkStatus();
}

}  // namespace

StatusOr<FrozenVmResolver::DeployTarget> FrozenVmResolver::FindDeployTarget(
    const FrozenVmSpec& spec) const {
  InventoryClient& inventory = env_.vcenter->inventory();
  DeployTarget target;
  if (!spec.resource_pool.empty()) {
    VSRAY_ASSIGN_OR_RETURN(target.pool,
                           env_.inventory->FindPlacement("ResourcePool", spec.resource_pool));
  } else {
    VSRAY_ASSIGN_OR_RETURN(auto cluster,
                           env_.inventory->FindPlacement("ClusterComputeResource", spec.cluster));
    VSRAY_ASSIGN_OR_RETURN(target.pool, inventory.ClusterPool(cluster));
  }
  VSRAY_ASSIGN_OR_RETURN(target.datastore,
                         env_.inventory->FindPlacement("Datastore", spec.datastore));
  VSRAY_ASSIGN_OR_RETURN(target.sees_datastore, inventory.DatastoreHosts(target.datastore));
  VSRAY_ASSIGN_OR_RETURN(auto pool_hosts, inventory.PoolHosts(target.pool));
  VSRAY_ASSIGN_OR_RETURN(target.hosts, env_.inventory->Hosts());
  for (const auto& host : pool_hosts) target.pool_hosts.emplace_back(host, target.NameOf(host));
  std::sort(target.pool_hosts.begin(), target.pool_hosts.end(),
            [](const auto& a, const auto& b) { return a.second < b.second; });
  return target;
}

StatusOr<std::vector<FrozenVmResolver::Candidate>> FrozenVmResolver::DeployedOrMissing(
    const FrozenVmSpec& spec, const DeployTarget& target, std::vector<Missing>& missing) {
  std::vector<Candidate> out;
  // kDeployPerHost: "<name>-<host>" on each host of the pool; kDeployOne: "<name>" on the
  // first host that can take it.
  std::vector<std::pair<std::string, std::optional<MoRef>>> wanted;
  if (spec.mode == FrozenVmMode::kDeployPerHost) {
    for (const auto& [host, host_name] : target.pool_hosts) {
      wanted.emplace_back(spec.name + "-" + host_name, host);
    }
  } else {
    wanted.emplace_back(spec.name, std::nullopt);
  }
  for (const auto& [name, pinned] : wanted) {
    VSRAY_ASSIGN_OR_RETURN(auto existing, FindVm(name));
    if (existing) {
      out.push_back(*std::move(existing));
      continue;
    }
    Candidate c;
    c.name = name;
    if (pinned) {
      c.host = *pinned;
    } else {
      for (const auto& [host, host_name] : target.pool_hosts) {
        if (target.CanDeployOn(host)) {
          c.host = host;
          break;
        }
      }
    }
    if (c.host.empty()) {
      c.problem = "no connected host out of maintenance of the pool sees datastore '" +
                  spec.datastore + "'";
    } else if (!Usable(target.StateOf(c.host))) {
      c.problem = "host " + target.NameOf(c.host) + " is " + target.StateOf(c.host);
    } else if (!target.sees_datastore.contains(c.host.value)) {
      c.problem =
          "host " + target.NameOf(c.host) + " does not see datastore '" + spec.datastore + "'";
    } else {
      c.problem = "not deployed yet";
      missing.push_back({name, c.host});
    }
    out.push_back(std::move(c));
  }
  return out;
}

Status FrozenVmResolver::DeployMissing(const FrozenVmSpec& spec, const DeployTarget& target,
                                       const std::vector<Missing>& missing,
                                       std::vector<Candidate>& out) {
  // The item is found once before the deploys, which run in parallel when there is a pool.
  VSRAY_ASSIGN_OR_RETURN(const std::string item,
                         env_.vcenter->library().FindItem(spec.library_item));
  std::vector<std::future<StatusOr<MoRef>>> futures;
  for (const auto& m : missing) {
    auto work = [this, &spec, &item, &target, m] {
      return Deploy(spec, item, m.name, target, m.host);
    };
    if (env_.pool != nullptr && spec.mode == FrozenVmMode::kDeployPerHost) {
      futures.push_back(env_.pool->Submit(work));
    } else {
      std::promise<StatusOr<MoRef>> done;
      done.set_value(work());
      futures.push_back(done.get_future());
    }
  }
  Status first;
  for (std::size_t i = 0; i < missing.size(); ++i) {
    auto vm = futures[i].get();
    if (!vm.ok()) {
      if (first.ok()) first = vm.status();
      continue;
    }
    VSRAY_ASSIGN_OR_RETURN(auto record, env_.vcenter->inventory().Vm(*vm));
    for (auto& c : out) {
      if (c.name == missing[i].name) c = Candidate::Of(record);
    }
  }
  return first;
}

StatusOr<std::vector<FrozenVmResolver::Candidate>> FrozenVmResolver::DeployCandidates(
    const FrozenVmSpec& spec, bool prepare) {
  VSRAY_RETURN_IF_ERROR(CheckDeploySpec(spec));
  VSRAY_ASSIGN_OR_RETURN(const DeployTarget target, FindDeployTarget(spec));
  std::vector<Missing> missing;
  VSRAY_ASSIGN_OR_RETURN(auto out, DeployedOrMissing(spec, target, missing));
  for (auto& c : out) {
    if (!c.vm.vm.empty()) VSRAY_RETURN_IF_ERROR(Ensure(spec, c, prepare, /*may_power_on=*/true));
  }
  if (!prepare || missing.empty()) return out;
  VSRAY_RETURN_IF_ERROR(DeployMissing(spec, target, missing, out));
  return out;
}

StatusOr<std::vector<FrozenVm>> FrozenVmResolver::Resolve(const FrozenVmSpec& spec, bool prepare) {
  VSRAY_ASSIGN_OR_RETURN(auto candidates, Candidates(spec, prepare));
  std::vector<MoRef>& members = members_[spec.Key()];
  members.clear();
  for (const auto& c : candidates) {
    if (!c.vm.vm.empty()) members.push_back(c.vm.vm);
  }
  return UsableOf(spec, std::move(candidates));
}

StatusOr<std::vector<FrozenVm>> FrozenVmResolver::Refresh(const FrozenVmSpec& spec) {
  auto known = members_.find(spec.Key());
  if (spec.mode == FrozenVmMode::kExistingPool || known == members_.end() ||
      known->second.empty()) {
    return Resolve(spec, /*prepare=*/false);
  }
  auto records = env_.vcenter->inventory().Vms(known->second);
  if (!records.ok()) {
    // One of them is gone (ManagedObjectNotFound): look everything up again.
    if (records.status().code() == StatusCode::kNotFound) return Resolve(spec, false);
    return records.status();
  }
  std::vector<Candidate> candidates;
  for (auto& record : *records) candidates.push_back(Candidate::Of(std::move(record)));
  return UsableOf(spec, std::move(candidates));
}

StatusOr<std::vector<FrozenVm>> FrozenVmResolver::UsableOf(const FrozenVmSpec& spec,
                                                           std::vector<Candidate> candidates) {
  VSRAY_ASSIGN_OR_RETURN(auto hosts, env_.inventory->Hosts());
  std::vector<FrozenVm> out;
  for (auto& c : candidates) {
    if (c.vm.vm.empty()) continue;  // not deployed (status shows why)
    std::string problem;
    auto host = hosts.find(c.host.value);
    const std::string host_state = host == hosts.end() ? "unknown" : host->second.state;
    if (!c.Ready()) {
      problem = "is not frozen (" + c.power_state + ", instantCloneFrozen " +
                (c.frozen ? "true" : "false") + ")";
    } else if (!Usable(host_state)) {
      problem = "is on host " + (host == hosts.end() ? c.host.value : host->second.name) +
                ", which is " + host_state;
    }
    if (!problem.empty()) {
      if (warned_.insert(c.vm.vm.value + problem).second) {
        Log()->warn("frozen VM candidate '{}' ({}) {}: skipped", c.name, c.vm.vm.value, problem);
        Report(c.name, "skipped");
      }
      continue;
    }
    out.push_back(std::move(c.vm));
  }
  if (out.empty()) {
    return FailedPreconditionError("no usable frozen VM for frozen_vm " + spec.Key() +
                                   " (powered on, instantCloneFrozen, on a connected host out of "
                                   "maintenance mode); `vsray frozen-vm status` shows why");
  }
  return out;
}

StatusOr<std::vector<FrozenVmStatus>> FrozenVmResolver::Statuses(const FrozenVmSpec& spec) {
  VSRAY_ASSIGN_OR_RETURN(auto candidates, Candidates(spec, false));
  VSRAY_ASSIGN_OR_RETURN(auto hosts, env_.inventory->Hosts());
  std::vector<FrozenVmStatus> out;
  for (const auto& c : candidates) {
    FrozenVmStatus s;
    s.id = c.vm.vm.value;
    s.name = c.name;
    s.host_id = c.host.value;
    if (auto it = hosts.find(c.host.value); it != hosts.end()) {
      s.host = it->second.name;
      s.host_state = it->second.state;
    }
    s.power_state = c.power_state;
    s.frozen = c.frozen;
    if (s.id.empty()) {
      s.problem = c.problem.empty() ? "missing" : c.problem;
    } else if (s.power_state != "poweredOn") {
      s.problem = "powered off";
    } else if (!s.frozen) {
      s.problem = "powered on but not frozen";
    } else if (!Usable(s.host_state)) {
      s.problem = "host is " + s.host_state;
    }
    s.usable = s.problem.empty();
    out.push_back(std::move(s));
  }
  return out;
}

}  // namespace vsray::provider
