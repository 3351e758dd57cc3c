#include "provider/inventory.h"

#include <utility>

#include "common/spelling.h"

namespace vsray::provider {
namespace {

std::string Names(const std::vector<DatacenterInfo>& all) {
  std::string names;
  for (const auto& dc : all) names += (names.empty() ? "" : ", ") + dc.name;
  return names;
}

std::vector<std::string> NameList(const std::vector<DatacenterInfo>& all) {
  std::vector<std::string> names;
  names.reserve(all.size());
  for (const auto& dc : all) names.push_back(dc.name);
  return names;
}

}  // namespace

StatusOr<std::optional<DatacenterInfo>> ChooseDatacenter(const std::vector<DatacenterInfo>& all,
                                                         const std::string& wanted) {
  if (wanted.empty()) {
    if (all.size() == 1) return std::optional<DatacenterInfo>(all.front());
    return InvalidArgumentError("vCenter has " + std::to_string(all.size()) + " datacenters (" +
                                Names(all) + "): set vsphere_config.datacenter to one of them");
  }
  std::optional<DatacenterInfo> chosen;
  for (const auto& dc : all) {
    if (dc.name != wanted) continue;
    if (chosen) {
      return InvalidArgumentError("several datacenters are named '" + wanted +
                                  "': set vsphere_config.datacenter to its inventory path");
    }
    chosen = dc;
  }
  return chosen;
}

StatusOr<std::unique_ptr<Inventory>> Inventory::Open(InventoryClient& client,
                                                     const std::string& datacenter) {
  VSRAY_ASSIGN_OR_RETURN(auto all, client.Datacenters());
  VSRAY_ASSIGN_OR_RETURN(auto chosen, ChooseDatacenter(all, datacenter));
  if (!chosen && datacenter.find('/') != std::string::npos) {
    VSRAY_ASSIGN_OR_RETURN(auto found, client.FindByPath(datacenter));
    if (found && found->type == "Datacenter") {
      VSRAY_ASSIGN_OR_RETURN(chosen, client.Datacenter(*found));
    }
  }
  if (!chosen) {
    Status status =
        NotFoundError("'" + datacenter + "' not found" + DidYouMean(datacenter, NameList(all)));
    status.set_fault("NotFound");
    return status;
  }
  return std::unique_ptr<Inventory>(new Inventory(client, *std::move(chosen)));
}

StatusOr<MoRef> Inventory::FindPlacement(const std::string& type, const std::string& name) {
  const std::string key = type + "/" + name;
  {
    std::lock_guard lock(mu_);
    if (auto it = placement_.find(key); it != placement_.end()) return it->second;
  }
  std::vector<MoRef> found;
  if (name.find('/') != std::string::npos) {
    VSRAY_ASSIGN_OR_RETURN(auto by_path, client_.FindByPath(name));
    if (by_path && by_path->type == type) found.push_back(*by_path);
  } else {
    VSRAY_ASSIGN_OR_RETURN(found, client_.FindByName(type, name, datacenter_.ref));
  }
  if (found.empty()) return NotFoundWithSuggestions(type, name);
  if (found.size() > 1) {
    return FailedPreconditionError(std::to_string(found.size()) + " objects of type " + type +
                                   " are named '" + name + "': give its inventory path instead");
  }
  std::lock_guard lock(mu_);
  placement_[key] = found.front();
  return found.front();
}

Status Inventory::NotFoundWithSuggestions(const std::string& type, const std::string& name) {
  std::string message = type + " '" + name + "' not found in datacenter '" + datacenter_.name + "'";
  // The suggestions are a help: without them the error is still right.
  if (auto names = client_.NamesOf(type, datacenter_.ref); names.ok()) {
    message += DidYouMean(name, *names);
  }
  return NotFoundError(std::move(message));
}

StatusOr<MoRef> Inventory::EnsureFolder(const MoRef& parent_or_root, const std::string& name) {
  const MoRef parent = parent_or_root.empty() ? datacenter_.vm_folder : parent_or_root;
  VSRAY_ASSIGN_OR_RETURN(auto existing, client_.FindChild(parent, name));
  if (existing) return *existing;
  auto created = client_.CreateFolder(parent, name);
  if (created.ok()) return created;
  if (created.status().code() != StatusCode::kAlreadyExists) {
    return created.status().WithContext("creating VM folder '" + name + "'");
  }
  // Another provider created it meanwhile.
  VSRAY_ASSIGN_OR_RETURN(existing, client_.FindChild(parent, name));
  if (!existing) return InternalError("VM folder '" + name + "' vanished");
  return *existing;
}

StatusOr<std::optional<MoRef>> Inventory::FindFolder(const std::string& name) {
  if (name.find('/') != std::string::npos) return client_.FindByPath(name);
  return client_.FindChild(datacenter_.vm_folder, name);
}

}  // namespace vsray::provider
