#include "provider/frozen_vms.h"

#include <algorithm>
#include <future>

#include "common/log.h"

namespace vsray::provider {
namespace {

using vsphere::Any;
using vsphere::MoRef;

using vsphere::RefOf;
using vsphere::TextOf;

// The elements of an ArrayOfManagedObjectReference property.
std::vector<MoRef> RefsOf(const vsphere::ObjectContent& content, std::string_view path) {
  std::vector<MoRef> out;
  if (const Any* value = content.Get(path)) {
    for (const auto& field : value->fields) out.push_back(field.value.AsMoRef());
  }
  return out;
}

bool Usable(const std::string& host_state) { return host_state == "connected"; }

}  // namespace

std::string FrozenVmSpec::Key() const {
  return std::string(FrozenVmModeName(mode)) + "|" + name + "|" + library_item + "|" +
         resource_pool + "|" + cluster + "|" + datastore;
}

const std::vector<std::string>& FrozenVmProperties() {
  static const std::vector<std::string> kProperties = {
      "name",         "runtime.powerState", "runtime.instantCloneFrozen", "runtime.host", "parent",
      "resourcePool", "datastore",          "config.hardware.device"};
  return kProperties;
}

FrozenVm FrozenVmFromContent(const vsphere::ObjectContent& content) {
  FrozenVm frozen;
  frozen.vm = content.obj;
  frozen.name = TextOf(content, "name");
  frozen.host = RefOf(content, "runtime.host");
  frozen.folder = RefOf(content, "parent");
  frozen.pool = RefOf(content, "resourcePool");
  if (const Any* datastores = content.Get("datastore"); datastores && !datastores->fields.empty()) {
    frozen.datastore = datastores->fields.front().value.AsMoRef();
  }
  if (const Any* devices = content.Get("config.hardware.device")) {
    for (const auto& field : devices->fields) {
      if (vsphere::IsVirtualNic(field.value)) frozen.nics.push_back(field.value);
    }
  }
  return frozen;
}

Status WaitFrozen(vsphere::VmOps& ops, const MoRef& vm, const std::string& name,
                  std::chrono::seconds timeout) {
  Status frozen = ops.WaitForProperty(vm, "runtime.instantCloneFrozen", "true", timeout);
  if (frozen.code() != StatusCode::kDeadlineExceeded) return frozen;
  return FailedPreconditionError(
      "frozen VM '" + name + "' did not freeze within " + std::to_string(timeout.count()) +
      " s of power-on: does its guest run `vmware-rpctool \"instantclone.freeze\"`?");
}

// One VM that is, or should be, a frozen VM of a spec.
struct FrozenVmResolver::Candidate {
  FrozenVm vm;  // vm.vm empty: missing (not deployed yet)
  std::string name;
  MoRef host;  // where it is (or should be)
  std::string power_state;
  bool frozen = false;
  std::string problem;  // set when known to be unusable regardless of state
};

void FrozenVmResolver::Report(const std::string& vm, const std::string& state) const {
  Log()->info("frozen VM '{}': {}", vm, state);
  if (env_.progress) env_.progress(vm, state);
}

StatusOr<std::map<std::string, FrozenVmResolver::HostInfo>> FrozenVmResolver::Hosts() const {
  VSRAY_ASSIGN_OR_RETURN(auto contents, env_.vim->ListByType("HostSystem",
                                                             {"name", "runtime.connectionState",
                                                              "runtime.inMaintenanceMode"},
                                                             env_.datacenter));
  std::map<std::string, HostInfo> hosts;
  for (const auto& content : contents) {
    HostInfo info{TextOf(content, "name"), TextOf(content, "runtime.connectionState")};
    if (TextOf(content, "runtime.inMaintenanceMode") == "true") info.state = "maintenance";
    hosts[content.obj.value] = std::move(info);
  }
  return hosts;
}

StatusOr<std::vector<std::pair<MoRef, std::string>>> FrozenVmResolver::PoolHosts(
    const MoRef& pool) const {
  VSRAY_ASSIGN_OR_RETURN(auto pool_content, env_.vim->RetrieveOne(pool, {"owner"}));
  const MoRef owner = RefOf(pool_content, "owner");
  if (owner.empty()) return NotFoundError("resource pool " + pool.value + " has no owner");
  VSRAY_ASSIGN_OR_RETURN(auto owner_content, env_.vim->RetrieveOne(owner, {"host"}));
  VSRAY_ASSIGN_OR_RETURN(auto hosts, Hosts());
  std::vector<std::pair<MoRef, std::string>> out;
  for (const auto& host : RefsOf(owner_content, "host")) {
    auto it = hosts.find(host.value);
    out.emplace_back(host, it == hosts.end() ? host.value : it->second.name);
  }
  std::sort(out.begin(), out.end(),
            [](const auto& a, const auto& b) { return a.second < b.second; });
  return out;
}

StatusOr<std::string> FrozenVmResolver::LibraryItemId(const std::string& item) {
  if (!rest_) {
    VSRAY_ASSIGN_OR_RETURN(rest_, vsphere::RestClient::Connect(env_.connect));
  }
  if (const auto slash = item.find('/'); slash != std::string::npos) {
    VSRAY_ASSIGN_OR_RETURN(auto library, rest_->FindLibraryByName(item.substr(0, slash)));
    return rest_->FindLibraryItemByName(library, item.substr(slash + 1));
  }
  VSRAY_ASSIGN_OR_RETURN(auto ids, rest_->FindLibraryItems(item));
  if (ids.size() > 1) {
    return FailedPreconditionError(std::to_string(ids.size()) +
                                   " content library items are named '" + item +
                                   "': give it as 'library/item'");
  }
  if (ids.size() == 1) return ids.front();
  // Maybe an item id.
  auto by_id = rest_->GetLibraryItem(item);
  if (by_id.ok()) return by_id->id;
  return NotFoundError("no content library item named '" + item + "'");
}

StatusOr<MoRef> FrozenVmResolver::Deploy(const FrozenVmSpec& spec, const std::string& item,
                                         const std::string& name, const MoRef& pool,
                                         const MoRef& host, const MoRef& datastore) {
  vsphere::OvfDeploySpec deploy;
  deploy.name = name;
  deploy.resource_pool_id = pool.value;
  deploy.host_id = host.value;
  deploy.folder_id = env_.vm_root_folder.value;
  deploy.datastore_id = datastore.value;
  deploy.annotation = "vsray frozen VM (" + spec.library_item + ")";
  deploy.timeout = env_.deploy_timeout;
  Report(name, "deploying");
  const auto began = std::chrono::steady_clock::now();
  auto deployed = rest_->DeployOvf(item, deploy);
  if (!deployed.ok()) {
    return deployed.status().WithContext("deploying frozen VM '" + name + "' from '" +
                                         spec.library_item + "'");
  }
  const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                      std::chrono::steady_clock::now() - began)
                      .count();
  Log()->info("frozen VM '{}' deployed as {} on {} in {} ms", name, deployed->id, host.value, ms);
  Report(name, "deployed");
  const MoRef vm{"VirtualMachine", deployed->id};
  if (!env_.extra_config.empty()) {
    Report(name, "configuring");
    vsphere::ConfigSpec config;
    config.extra_config = env_.extra_config;
    VSRAY_RETURN_IF_ERROR(env_.ops->Reconfigure(vm, config, env_.ready_timeout));
  }
  VSRAY_RETURN_IF_ERROR(PowerOnAndWait(vm, name));
  return vm;
}

Status FrozenVmResolver::PowerOnAndWait(const MoRef& vm, const std::string& name) {
  Report(name, "powering-on");
  VSRAY_RETURN_IF_ERROR(env_.ops->PowerOn(vm, env_.ready_timeout));
  Report(name, "waiting-for-freeze");
  VSRAY_RETURN_IF_ERROR(WaitFrozen(*env_.ops, vm, name, env_.ready_timeout));
  Report(name, "frozen");
  return OkStatus();
}

FrozenVmResolver::Candidate FrozenVmResolver::FromContent(const vsphere::ObjectContent& content) {
  Candidate c;
  c.vm = FrozenVmFromContent(content);
  c.name = c.vm.name;
  c.host = c.vm.host;
  c.power_state = TextOf(content, "runtime.powerState");
  c.frozen = TextOf(content, "runtime.instantCloneFrozen") == "true";
  return c;
}

StatusOr<std::vector<FrozenVmResolver::Candidate>> FrozenVmResolver::Candidates(
    const FrozenVmSpec& spec, bool prepare) {
  const auto from_content = &FrozenVmResolver::FromContent;
  // An existing VM of the spec: with `prepare`, powered on (if off) and awaited until frozen.
  auto ensure = [&](Candidate& c, bool may_power_on) -> Status {
    if (!prepare || (c.power_state == "poweredOn" && c.frozen)) return OkStatus();
    if (c.power_state == "poweredOn") {
      if (spec.mode == FrozenVmMode::kExisting) {
        return FailedPreconditionError(
            "frozen VM '" + c.name +
            "' is powered on but not frozen: run `vmware-rpctool \"instantclone.freeze\"` in "
            "its guest (the frozen-VM image does it at boot), or power it off so that vsray "
            "powers it on and waits for it to freeze");
      }
      // A deployed one may be freezing right now (an interrupted prepare): wait for it.
      if (!may_power_on) return OkStatus();
      Report(c.name, "waiting-for-freeze");
      VSRAY_RETURN_IF_ERROR(WaitFrozen(*env_.ops, c.vm.vm, c.name, env_.ready_timeout));
      Report(c.name, "frozen");
    } else {
      if (!may_power_on) return OkStatus();
      VSRAY_RETURN_IF_ERROR(PowerOnAndWait(c.vm.vm, c.name));
    }
    VSRAY_ASSIGN_OR_RETURN(auto content, env_.vim->RetrieveOne(c.vm.vm, FrozenVmProperties()));
    c = from_content(content);
    return OkStatus();
  };
  auto find_vm = [&](const std::string& name) -> StatusOr<std::optional<Candidate>> {
    VSRAY_ASSIGN_OR_RETURN(auto found,
                           env_.vim->FindByName("VirtualMachine", name, env_.datacenter));
    if (found.empty()) return std::optional<Candidate>();
    if (found.size() > 1) {
      return FailedPreconditionError(std::to_string(found.size()) + " VMs are named '" + name +
                                     "': frozen VM names must be unique");
    }
    VSRAY_ASSIGN_OR_RETURN(auto content,
                           env_.vim->RetrieveOne(found.front(), FrozenVmProperties()));
    return std::optional<Candidate>(from_content(content));
  };

  std::vector<Candidate> out;
  switch (spec.mode) {
    case FrozenVmMode::kExisting: {
      if (spec.name.empty()) return InvalidArgumentError("frozen_vm.name is empty");
      VSRAY_ASSIGN_OR_RETURN(auto vm, env_.find("VirtualMachine", spec.name));
      VSRAY_ASSIGN_OR_RETURN(auto content, env_.vim->RetrieveOne(vm, FrozenVmProperties()));
      Candidate c = from_content(content);
      VSRAY_RETURN_IF_ERROR(ensure(c, true));
      out.push_back(std::move(c));
      return out;
    }
    case FrozenVmMode::kExistingPool: {
      if (spec.resource_pool.empty())
        return InvalidArgumentError("frozen_vm.resource_pool is empty");
      VSRAY_ASSIGN_OR_RETURN(auto pool, env_.find("ResourcePool", spec.resource_pool));
      VSRAY_ASSIGN_OR_RETURN(auto contents,
                             env_.vim->ListByType("VirtualMachine", FrozenVmProperties(), pool));
      for (const auto& content : contents) {
        Candidate c = from_content(content);
        // Never power on unrelated VMs: only those named with the spec's prefix, if any.
        const bool ours = !spec.name.empty() && c.name.starts_with(spec.name);
        // The pool also holds other VMs (nodes, anything): a VM is a frozen VM of the pool if
        // it is frozen, was seen frozen, or has the prefix.
        if (c.power_state == "poweredOn" && c.frozen) {
          seen_frozen_.insert(c.vm.vm.value);
        } else if (!ours && !seen_frozen_.contains(c.vm.vm.value)) {
          Log()->debug("resource pool '{}': VM '{}' is not a frozen VM; ignored",
                       spec.resource_pool, c.name);
          continue;
        }
        VSRAY_RETURN_IF_ERROR(ensure(c, ours));
        out.push_back(std::move(c));
      }
      return out;
    }
    case FrozenVmMode::kDeployOne:
    case FrozenVmMode::kDeployPerHost:
      break;
  }

  // Deploy modes.
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
  MoRef pool;
  if (!spec.resource_pool.empty()) {
    VSRAY_ASSIGN_OR_RETURN(pool, env_.find("ResourcePool", spec.resource_pool));
  } else {
    VSRAY_ASSIGN_OR_RETURN(auto cluster, env_.find("ClusterComputeResource", spec.cluster));
    VSRAY_ASSIGN_OR_RETURN(auto content, env_.vim->RetrieveOne(cluster, {"resourcePool"}));
    pool = RefOf(content, "resourcePool");
  }
  VSRAY_ASSIGN_OR_RETURN(auto datastore, env_.find("Datastore", spec.datastore));
  VSRAY_ASSIGN_OR_RETURN(auto ds_content, env_.vim->RetrieveOne(datastore, {"host"}));
  std::set<std::string> sees_datastore;
  if (const Any* mounts = ds_content.Get("host")) {
    for (const auto& mount : mounts->fields) {
      if (const Any* key = mount.value.Get("key")) sees_datastore.insert(key->text);
    }
  }
  VSRAY_ASSIGN_OR_RETURN(auto pool_hosts, PoolHosts(pool));
  VSRAY_ASSIGN_OR_RETURN(auto hosts, Hosts());
  auto state_of = [&](const MoRef& host) {
    auto it = hosts.find(host.value);
    return it == hosts.end() ? std::string("unknown") : it->second.state;
  };

  // What exists, and where something must be deployed.
  struct Missing {
    std::string name;
    MoRef host;
  };
  std::vector<Missing> missing;
  if (per_host) {
    for (const auto& [host, host_name] : pool_hosts) {
      const std::string name = spec.name + "-" + host_name;
      VSRAY_ASSIGN_OR_RETURN(auto existing, find_vm(name));
      if (existing) {
        out.push_back(*std::move(existing));
        continue;
      }
      Candidate c;
      c.name = name;
      c.host = host;
      if (!Usable(state_of(host))) {
        c.problem = "host " + host_name + " is " + state_of(host);
      } else if (!sees_datastore.contains(host.value)) {
        c.problem = "host " + host_name + " does not see datastore '" + spec.datastore + "'";
      } else {
        c.problem = "not deployed yet";
        missing.push_back({name, host});
      }
      out.push_back(std::move(c));
    }
  } else {
    VSRAY_ASSIGN_OR_RETURN(auto existing, find_vm(spec.name));
    if (existing) {
      out.push_back(*std::move(existing));
    } else {
      Candidate c;
      c.name = spec.name;
      for (const auto& [host, host_name] : pool_hosts) {
        if (Usable(state_of(host)) && sees_datastore.contains(host.value)) {
          c.host = host;
          break;
        }
      }
      if (c.host.empty()) {
        c.problem = "no connected host out of maintenance of the pool sees datastore '" +
                    spec.datastore + "'";
      } else {
        c.problem = "not deployed yet";
        missing.push_back({spec.name, c.host});
      }
      out.push_back(std::move(c));
    }
  }
  for (auto& c : out) {
    if (!c.vm.vm.empty()) VSRAY_RETURN_IF_ERROR(ensure(c, true));
  }
  if (!prepare || missing.empty()) return out;

  // Deploy the missing ones, in parallel when there is a pool (the REST client is made, and
  // the item found, once before).
  VSRAY_ASSIGN_OR_RETURN(const std::string item, LibraryItemId(spec.library_item));
  std::vector<std::future<StatusOr<MoRef>>> futures;
  for (const auto& m : missing) {
    auto work = [this, &spec, &item, m, pool, datastore] {
      return Deploy(spec, item, m.name, pool, m.host, datastore);
    };
    if (env_.pool != nullptr && per_host) {
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
    VSRAY_ASSIGN_OR_RETURN(auto content, env_.vim->RetrieveOne(*vm, FrozenVmProperties()));
    for (auto& c : out) {
      if (c.name == missing[i].name) c = from_content(content);
    }
  }
  if (!first.ok()) return first;
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
  vsphere::FilterSpec filter;
  filter.props.push_back({"VirtualMachine", FrozenVmProperties()});
  for (const auto& vm : known->second) filter.objects.push_back({vm, false, {}});
  auto contents = env_.vim->RetrieveProperties(filter);
  if (!contents.ok()) {
    // One of them is gone (ManagedObjectNotFound): look everything up again.
    if (contents.status().code() == StatusCode::kNotFound) return Resolve(spec, false);
    return contents.status();
  }
  std::vector<Candidate> candidates;
  for (const auto& content : *contents) candidates.push_back(FromContent(content));
  return UsableOf(spec, std::move(candidates));
}

StatusOr<std::vector<FrozenVm>> FrozenVmResolver::UsableOf(const FrozenVmSpec& spec,
                                                           std::vector<Candidate> candidates) {
  VSRAY_ASSIGN_OR_RETURN(auto hosts, Hosts());
  std::vector<FrozenVm> out;
  for (auto& c : candidates) {
    if (c.vm.vm.empty()) continue;  // not deployed (status shows why)
    std::string problem;
    auto host = hosts.find(c.host.value);
    const std::string host_state = host == hosts.end() ? "unknown" : host->second.state;
    if (c.power_state != "poweredOn" || !c.frozen) {
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
  VSRAY_ASSIGN_OR_RETURN(auto hosts, Hosts());
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
