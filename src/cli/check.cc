// `vsray check` and `vsray inventory`: read-only looks at vCenter.
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <iostream>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "cli/check_privileges.h"
#include "cli/commands.h"
#include "cli/output.h"
#include "cluster/cluster.h"
#include "common/log.h"
#include "common/status.h"
#include "config/cluster_config.h"
#include "provider/gpu_placement.h"
#include "provider/inventory.h"
#include "provider/node_provider.h"
#include "provider/vcenter_vsphere.h"
#include "vsphere/passthrough.h"
#include "vsphere/session.h"
#include "vsphere/transport.h"
#include "vsphere/vim.h"

namespace vsray::cli {
namespace {

namespace vs = vsphere;
using nlohmann::json;

using vs::TextOf;

// One line per check; remembers whether any failed. JSON: {"status": "ok" | "warn" | "fail",
// "check", "detail", "fix"} per check ("fix" null when there is nothing to do).
class Report {
 public:
  explicit Report(bool as_json) : json_(as_json) {}

  void Ok(const std::string& what, const std::string& detail) { Add("ok", what, detail, ""); }
  void Warn(const std::string& what, const std::string& detail, const std::string& fix) {
    Add("warn", what, detail, fix);
  }
  void Fail(const std::string& what, const std::string& detail, const std::string& fix = "") {
    failed_ = true;
    Add("fail", what, detail, fix);
  }
  bool failed() const { return failed_; }
  void set_cluster_name(std::string name) { cluster_name_ = std::move(name); }
  void Print() const {
    if (!json_) return;
    json document = JsonDocument(cluster_name_);
    document["ok"] = !failed_;
    document["checks"] = checks_;
    PrintJson(document);
  }

 private:
  void Add(const std::string& status, const std::string& what, const std::string& detail,
           const std::string& fix) {
    checks_.push_back({{"status", status},
                       {"check", what},
                       {"detail", detail},
                       {"fix", fix.empty() ? json(nullptr) : json(fix)}});
    if (json_) return;
    std::cout << (status == "ok"     ? "[ok]   "
                  : status == "warn" ? "[warn] "
                                     : "[FAIL] ")
              << what << ": " << detail << (fix.empty() ? "" : " -> " + fix) << "\n";
  }

  bool json_;
  bool failed_ = false;
  std::string cluster_name_;
  json checks_ = json::array();
};

// What to do about a failed connection or login.
std::string ConnectFix(const Status& status) {
  const std::string code = FailureCode(status);
  if (code == "tls") {
    return "set tls.ca_file to the CA that signed vCenter's certificate, or tls.thumbprint to "
           "its SHA-256 thumbprint";
  }
  if (code == "login_failed") {
    return "check credentials.user and credentials.password (or VSPHERE_USER, "
           "VSPHERE_PASSWORD)";
  }
  if (code == "timeout" || code == "unreachable") {
    return "check credentials.server and that vCenter answers there (timeouts.connect_s)";
  }
  return "check credentials.server and provider.vsphere_config.tls";
}

// The frozen VMs of `options.frozen_vm`, read-only (never deployed or powered on here).
void CheckFrozenVms(const provider::ProviderOptions& options, const std::string& cluster_name,
                    const config::FrozenVmConfig& frozen, Report& report) {
  auto statuses = provider::NodeProvider::FrozenVmStatusOf(options, cluster_name);
  const std::string what =
      "frozen VM (" + std::string(provider::FrozenVmModeDescription(frozen.mode)) + ")";
  if (!statuses.ok()) {
    // Not `vsray frozen-vm status`: it reads the same way, and fails the same way.
    report.Fail(what, statuses.status().message(), "fix provider.vsphere_config.frozen_vm");
    return;
  }
  if (statuses->empty()) {
    report.Fail(what, "none found", "put a powered-on, frozen VM where frozen_vm says");
    return;
  }
  int usable = 0;
  for (const auto& s : *statuses) {
    const std::string label =
        (s.name.empty() ? std::string("(none)") : "'" + s.name + "'") + " on " + s.host;
    if (s.usable) {
      ++usable;
      report.Ok(what, label + ": powered on, frozen");
    } else if (frozen.Deploys() && s.id.empty()) {
      report.Warn(
          what, label + ": " + s.problem,
          "`vsray up` or `vsray frozen-vm prepare` deploys it from '" + frozen.library_item + "'");
    } else if (s.power_state == "poweredOff" &&
               frozen.mode != config::FrozenVmMode::kExistingPool) {
      report.Warn(what, label + ": powered off",
                  "`vsray up` powers it on and waits until it freezes");
    } else {
      report.Warn(what, label + ": " + s.problem,
                  "not used; freeze it with `vmware-rpctool \"instantclone.freeze\"` in its "
                  "guest, or fix its host");
    }
  }
  const bool will_deploy = frozen.Deploys();
  const bool will_power_on = frozen.mode == config::FrozenVmMode::kExisting &&
                             statuses->front().power_state == "poweredOff";
  if (usable == 0 && !will_deploy && !will_power_on) {
    report.Fail(what, "no usable frozen VM", "see the lines above");
  }
}

// The config and the provider options it makes; nullopt (the failure reported) if invalid.
std::optional<std::pair<config::ClusterConfig, provider::ProviderOptions>> CheckConfig(
    const std::string& path, Report& report) {
  auto loaded = config::LoadClusterConfigFile(path);
  if (!loaded.ok()) {
    report.Fail("config", loaded.status().message(), "fix " + path + " where the message says");
    return std::nullopt;
  }
  report.set_cluster_name(loaded->cluster_name);
  report.Ok("config", path + ": cluster '" + loaded->cluster_name + "', " +
                          std::to_string(loaded->node_types.size()) + " node type(s)");
  auto options = cluster::MakeProviderOptions(*loaded, /*watch=*/false);
  if (!options.ok()) {
    report.Fail("config", options.status().message(), "fix " + path + " where the message says");
    return std::nullopt;
  }
  return std::pair{*std::move(loaded), *std::move(options)};
}

// Connects and logs in; null (the failure reported) if that fails.
std::shared_ptr<vs::Session> CheckConnection(const config::ClusterConfig& config,
                                             const vs::ConnectOptions& connect, Report& report) {
  auto session = vs::Session::Connect(connect);
  if (!session.ok()) {
    const bool login = FailureCode(session.status()) == "login_failed";
    report.Fail(login ? "login" : "connect", session.status().message(),
                ConnectFix(session.status()));
    return nullptr;
  }
  const auto& tls = config.vsphere.tls;
  const std::string how = tls.insecure              ? "certificate NOT verified (tls.insecure)"
                          : !tls.thumbprint.empty() ? "certificate pinned by thumbprint"
                          : !tls.ca_file.empty()    ? "certificate verified with " + tls.ca_file
                                                    : "certificate verified with the system CAs";
  report.Ok("connect", (*session)->address().Url("") + ", " + how);
  report.Ok("login",
            "user '" + config.vsphere.credentials.user + "' on " + (*session)->content().full_name);
  if (tls.insecure) {
    report.Warn("tls", "vCenter's certificate is not verified",
                "set tls.ca_file or tls.thumbprint instead of tls.insecure");
  }
  return *session;
}

// The datacenter; null (the failure reported) if it is not found.
std::unique_ptr<provider::Inventory> CheckDatacenter(provider::VcenterConnection& vcenter,
                                                     const std::string& datacenter,
                                                     Report& report) {
  auto inventory = provider::Inventory::Open(vcenter.inventory(), datacenter);
  if (!inventory.ok()) {
    report.Fail("datacenter", inventory.status().message(),
                "set provider.vsphere_config.datacenter to one of them");
    return nullptr;
  }
  report.Ok("datacenter", (*inventory)->datacenter().name);
  return *std::move(inventory);
}

void CheckFolder(provider::Inventory& inventory, const std::string& folder, Report& report) {
  auto found = inventory.FindFolder(folder);
  if (!found.ok()) {
    report.Fail("folder", found.status().message(),
                "fix provider.vsphere_config.folder (a folder of the datacenter's VM folder)");
  } else if (*found) {
    report.Ok("folder", "'" + folder + "' exists");
  } else {
    report.Ok("folder", "'" + folder + "' will be created by `vsray up`");
  }
}

// The resource pools and datastores node types name.
void CheckPlacements(provider::Inventory& inventory, const config::ClusterConfig& config,
                     Report& report) {
  std::map<std::pair<std::string, std::string>, std::string> placements;  // -> node types
  for (const auto& [type_name, type] : config.node_types) {
    if (!type.node_config.resource_pool.empty()) {
      placements[{"ResourcePool", type.node_config.resource_pool}] += " " + type_name;
    }
    if (!type.node_config.datastore.empty()) {
      placements[{"Datastore", type.node_config.datastore}] += " " + type_name;
    }
  }
  for (const auto& [key, types] : placements) {
    const auto& [type, name] = key;
    const std::string label = type == "Datastore" ? "datastore" : "resource pool";
    auto found = inventory.FindPlacement(type, name);
    if (found.ok()) {
      std::string detail = "'" + name + "' (node types:";
      detail += types;
      detail += ')';
      report.Ok(label, detail);
    } else {
      report.Fail(label, found.status().message(), "fix node_config of node types" + types);
    }
  }
}

// Every distinct frozen_vm of the config (the provider's, then the node types' own).
void CheckAllFrozenVms(const config::ClusterConfig& config,
                       const provider::ProviderOptions& options, Report& report) {
  std::vector<config::FrozenVmConfig> frozen_vms;
  if (config.vsphere.frozen_vm) frozen_vms.push_back(*config.vsphere.frozen_vm);
  for (const auto& [type_name, type] : config.node_types) {
    if (type.node_config.frozen_vm && std::find(frozen_vms.begin(), frozen_vms.end(),
                                                *type.node_config.frozen_vm) == frozen_vms.end()) {
      frozen_vms.push_back(*type.node_config.frozen_vm);
    }
  }
  for (const auto& frozen : frozen_vms) {
    provider::ProviderOptions frozen_options = options;
    frozen_options.frozen_vm = cluster::ToFrozenVmSpec(frozen);
    CheckFrozenVms(frozen_options, config.cluster_name, frozen, report);
  }
}

void AddPrivilegeChecks(const config::ClusterConfig& config, const std::string& path,
                        const std::shared_ptr<vs::Session>& session, Report& report) {
  for (const auto& line : CheckPrivileges(config, path, session)) {
    if (line.result == "ok") report.Ok("privileges", line.detail);
    if (line.result == "warn") report.Warn("privileges", line.detail, line.fix);
    if (line.result == "FAIL" || line.result == "fail") {
      report.Fail("privileges", line.detail, line.fix);
    }
  }
}

// One GPU of a host: vendor, device, ids, the modes it serves, and who uses it.
std::string GpuDetail(const vs::HostPciDeviceInfo& gpu, const std::vector<std::string>& users,
                      const std::vector<std::string>& profiles) {
  std::string detail = gpu.vendor_name + " " + gpu.device_name + " (" +
                       vs::PciIdHex(gpu.vendor_id) + ":" + vs::PciIdHex(gpu.device_id) + "): ";
  if (gpu.graphics_type == "sharedDirect") {
    detail += "vGPU, profiles";
    for (std::size_t i = 0; i < profiles.size(); ++i) detail += (i ? ", " : " ") + profiles[i];
  } else if (gpu.passthrough_enabled) {
    detail += "passthrough, dynamic";
  } else {
    detail += "not enabled for passthrough";
  }
  if (!gpu.custom_label.empty()) detail += ", label '" + gpu.custom_label + "'";
  if (users.empty()) return detail + "; free";
  detail += "; used by";
  for (std::size_t i = 0; i < users.size(); ++i) detail += (i ? ", " : " ") + users[i];
  return detail;
}

// The GPUs of every host (per device: free or used, vendor, device, modes).
void ReportHostGpus(const std::vector<vs::HostGpuInfo>& hosts, const config::GpuConfig& gpu_config,
                    Report& report) {
  for (const auto& host : hosts) {
    const auto users = provider::GpuUsers(host);
    int count = 0;
    for (const auto& device : host.devices) {
      if (!provider::IsGpu(device, gpu_config.device_classes)) continue;
      ++count;
      const auto used = users.find(device.id);
      report.Ok("GPU " + host.name + " " + device.id,
                GpuDetail(device, used == users.end() ? std::vector<std::string>() : used->second,
                          host.vgpu_profiles));
    }
    if (count == 0) report.Ok("GPU " + host.name, "none");
  }
}

// The hosts of the pools of `parents` that have no usable parent and are connected: where a
// GPU node can be a linked or full clone when its parents' hosts lack GPUs. Lookups that fail
// leave hosts out (the verdict then errs towards "cannot be placed").
std::set<std::string> SpareHosts(provider::VcenterConnection& vcenter,
                                 const std::map<std::string, provider::HostInfo>& states,
                                 const std::vector<provider::FrozenVmStatus>& parents) {
  std::set<std::string> with_parent;
  std::vector<vs::MoRef> pools;
  for (const auto& parent : parents) {
    if (!parent.usable) continue;
    with_parent.insert(parent.host_id);
    auto vm = vcenter.inventory().Vm({"VirtualMachine", parent.id});
    if (vm.ok() && !vm->vm.pool.empty() &&
        std::find(pools.begin(), pools.end(), vm->vm.pool) == pools.end()) {
      pools.push_back(vm->vm.pool);
    }
  }
  std::set<std::string> spare;
  for (const auto& pool : pools) {
    auto hosts = vcenter.inventory().PoolHosts(pool);
    if (!hosts.ok()) continue;
    for (const auto& host : *hosts) {
      const auto state = states.find(host.value);
      if (state != states.end() && state->second.state == "connected" &&
          !with_parent.contains(host.value)) {
        spare.insert(host.value);
      }
    }
  }
  return spare;
}

// Whether node type `name` can get its GPUs now: on the host of one of its usable frozen VMs
// (an instant clone), else on one of `spare` (a linked or full clone, FallbackMode).
void ReportGpuPlacement(const std::string& name, const provider::GpuNeed& need,
                        const std::vector<vs::HostGpuInfo>& hosts,
                        const std::vector<provider::FrozenVmStatus>& parents,
                        const std::set<std::string>& spare, Report& report) {
  std::vector<provider::HostOffer> offers;
  std::vector<provider::HostOffer> spare_offers;
  bool placeable = false;
  bool by_fallback = false;
  for (const auto& host : hosts) {
    const bool parent = std::any_of(parents.begin(), parents.end(), [&](const auto& p) {
      return p.usable && p.host_id == host.host.value;
    });
    if (parent) {
      offers.push_back(provider::Offer(host, need, {}));
      placeable = placeable || offers.back().free >= need.count;
    } else if (spare.contains(host.host.value)) {
      spare_offers.push_back(provider::Offer(host, need, {}));
      by_fallback = by_fallback || spare_offers.back().free >= need.count;
    }
  }
  const std::string what = "GPU node type '" + name + "'";
  std::string detail = provider::DescribeNeed(need) +
                       "; free on the hosts of its parents: " + provider::DescribeFree(offers);
  if (!placeable && !spare_offers.empty()) {
    detail += "; on hosts without a usable parent: " + provider::DescribeFree(spare_offers);
  }
  if (placeable) {
    report.Ok(what, detail + ": can be placed");
  } else if (by_fallback) {
    report.Ok(what, detail + ": can be placed by a clone on a host without a frozen VM");
  } else {
    report.Fail(what, detail,
                "free GPUs there, or give the node type a frozen VM on a host with free GPUs");
  }
}

// GPUs per host and whether each GPU node type can be placed; only for a config with GPU node
// types.
void CheckGpus(provider::VcenterConnection& vcenter, provider::Inventory& inventory,
               const config::ClusterConfig& config, const provider::ProviderOptions& options,
               Report& report) {
  std::map<std::string, provider::GpuNeed> needs;
  for (const auto& [name, type] : config.node_types) {
    if (auto need = cluster::MakeGpuNeed(type.node_config, config.vsphere.gpu)) needs[name] = *need;
  }
  if (needs.empty()) return;
  auto hosts = inventory.Hosts();
  if (!hosts.ok()) {
    report.Fail("GPUs", hosts.status().message(), "check that the user may read the hosts");
    return;
  }
  std::vector<vs::MoRef> refs;
  for (const auto& [id, host] : *hosts) refs.push_back({"HostSystem", id});
  const bool assignable = config.vsphere.gpu.dynamic_pci_passthrough;
  auto gpus = vcenter.gpus().HostGpus(refs, assignable);
  if (!gpus.ok()) {
    report.Fail("GPUs", gpus.status().message(), "check that the user may read the hosts");
    return;
  }
  ReportHostGpus(*gpus, config.vsphere.gpu, report);
  for (const auto& [name, need] : needs) {
    provider::ProviderOptions type_options = options;
    if (const auto& frozen = config.node_types.at(name).node_config.frozen_vm) {
      type_options.frozen_vm = cluster::ToFrozenVmSpec(*frozen);
    }
    auto parents = provider::NodeProvider::FrozenVmStatusOf(type_options, config.cluster_name);
    if (!parents.ok()) {
      report.Fail("GPU node type '" + name + "'", parents.status().message(),
                  "fix the node type's frozen_vm");
      continue;
    }
    ReportGpuPlacement(name, need, *gpus, *parents, SpareHosts(vcenter, *hosts, *parents), report);
  }
}

}  // namespace

int Check(const CommonFlags& flags) {
  Report report(flags.json);
  auto checked = CheckConfig(flags.config, report);
  if (!checked) {
    report.Print();
    return kExitUsage;
  }
  const auto& [config, options] = *checked;
  ConnectingNotice notice(flags.quiet, options.connect.server);
  auto session = CheckConnection(config, options.connect, report);
  notice.Done();
  if (!session) {
    report.Print();
    return kExitFailed;
  }
  auto vcenter = provider::VcenterOver(session);
  if (auto inventory = CheckDatacenter(*vcenter, config.vsphere.datacenter, report)) {
    CheckFolder(
        *inventory,
        options.folder.empty() ? provider::DefaultFolderName(config.cluster_name) : options.folder,
        report);
    CheckPlacements(*inventory, config, report);
    CheckAllFrozenVms(config, options, report);
    CheckGpus(*vcenter, *inventory, config, options, report);
    AddPrivilegeChecks(config, flags.config, session, report);
  } else {
    report.Warn("privileges",
                "not checked: no datacenter found (a user without permissions sees none)",
                RoleCreateCommand(config, flags.config));
  }
  session->Close();
  report.Print();
  return report.failed() ? kExitFailed : kExitOk;
}

namespace {

// The connection `vsray inventory` makes; INVALID_ARGUMENT naming what is missing.
StatusOr<vs::ConnectOptions> InventoryConnection(const ConnectFlags& flags) {
  vs::ConnectOptions options;
  options.server = flags.server;
  const char* password = std::getenv("VSPHERE_PASSWORD");  // NOLINT(concurrency-mt-unsafe)
  options.credentials = {flags.user, password == nullptr ? "" : password};
  options.tls = {flags.ca_file, flags.thumbprint, flags.insecure};
  options.keepalive_interval = std::chrono::milliseconds(0);
  if (options.server.empty()) {
    return InvalidArgumentError("no vCenter server: pass --server or set VSPHERE_SERVER");
  }
  if (options.credentials.user.empty()) {
    return InvalidArgumentError("no vCenter user: pass --user or set VSPHERE_USER");
  }
  if (options.credentials.password.empty()) {
    return InvalidArgumentError("no vCenter password: set VSPHERE_PASSWORD");
  }
  if (!flags.thumbprint.empty() && vs::NormalizeThumbprint(flags.thumbprint).empty()) {
    return InvalidArgumentError("--thumbprint '" + flags.thumbprint +
                                "': expected a SHA-256 fingerprint (64 hex digits, ':' allowed)");
  }
  if (!flags.ca_file.empty() && access(flags.ca_file.c_str(), R_OK) != 0) {
    return InvalidArgumentError("--ca-file: cannot read '" + flags.ca_file +
                                "': " + std::strerror(errno));  // NOLINT(concurrency-mt-unsafe)
  }
  if (flags.insecure) {
    Log()->warn(
        "--insecure: vCenter's certificate is not verified; prefer --ca-file or --thumbprint");
  }
  return options;
}

// An object of the inventory. Hosts: `state` their connection state and `maintenance`; VMs:
// `state` NodeStateWord, `host` the name of their host, `frozen`.
struct InventoryRow {
  InventoryRow(std::string kind_, std::string id_, std::string name_)
      : kind(std::move(kind_)), id(std::move(id_)), name(std::move(name_)) {}

  std::string kind, id, name;
  std::string state;
  std::string host;
  std::optional<bool> maintenance;
  std::optional<bool> frozen;

  // The table's DETAIL column: "poweredOn on host1, frozen" as one text.
  std::string Detail() const {
    std::string detail = state;
    if (!host.empty()) detail += " on " + host;
    if (maintenance.value_or(false)) detail += ", maintenance";
    if (frozen.value_or(false)) detail += ", frozen";
    return detail;
  }
  json Json() const {
    const auto text = [](const std::string& t) { return t.empty() ? json(nullptr) : json(t); };
    const auto flag = [](const std::optional<bool>& b) { return b ? json(*b) : json(nullptr); };
    return {{"kind", kind},          {"id", id},           {"name", name},
            {"state", text(state)},  {"host", text(host)}, {"maintenance", flag(maintenance)},
            {"frozen", flag(frozen)}};
  }
};

// Adds a row per object of `type` (name only) as `label`.
Status AddNamed(vs::Vim& vim, const std::string& type, const std::string& label,
                std::vector<InventoryRow>& rows) {
  VSRAY_ASSIGN_OR_RETURN(auto objects, vim.ListByType(type, {"name"}));
  for (const auto& o : objects) rows.emplace_back(label, o.obj.value, TextOf(o, "name"));
  return OkStatus();
}

// What vCenter holds: datacenters, clusters, hosts (state), datastores, pools, VMs (power,
// host, frozen).
StatusOr<std::vector<InventoryRow>> ListInventory(vs::Vim& vim) {
  std::vector<InventoryRow> rows;
  VSRAY_ASSIGN_OR_RETURN(
      auto hosts, vim.ListByType("HostSystem",
                                 {"name", "runtime.connectionState", "runtime.inMaintenanceMode"}));
  std::map<std::string, std::string> host_names;
  for (const auto& host : hosts) host_names[host.obj.value] = TextOf(host, "name");
  VSRAY_RETURN_IF_ERROR(AddNamed(vim, "Datacenter", "datacenter", rows));
  VSRAY_RETURN_IF_ERROR(AddNamed(vim, "ClusterComputeResource", "cluster", rows));
  for (const auto& host : hosts) {
    InventoryRow row{"host", host.obj.value, TextOf(host, "name")};
    row.state = TextOf(host, "runtime.connectionState");
    row.maintenance = TextOf(host, "runtime.inMaintenanceMode") == "true";
    rows.push_back(std::move(row));
  }
  VSRAY_RETURN_IF_ERROR(AddNamed(vim, "Datastore", "datastore", rows));
  VSRAY_RETURN_IF_ERROR(AddNamed(vim, "ResourcePool", "pool", rows));
  VSRAY_ASSIGN_OR_RETURN(
      auto vms, vim.ListByType("VirtualMachine", {"name", "runtime.powerState", "runtime.host",
                                                  "runtime.instantCloneFrozen"}));
  for (const auto& vm : vms) {
    InventoryRow row{"vm", vm.obj.value, TextOf(vm, "name")};
    row.state = NodeStateWord(TextOf(vm, "runtime.powerState"), "");
    if (const std::string host = TextOf(vm, "runtime.host"); !host.empty()) {
      row.host = host_names[host];
    }
    row.frozen = TextOf(vm, "runtime.instantCloneFrozen") == "true";
    rows.push_back(std::move(row));
  }
  return rows;
}

void PrintInventory(const std::vector<InventoryRow>& rows, const vs::ServiceContent& content,
                    bool as_json) {
  if (as_json) {
    json out = json::array();
    for (const auto& row : rows) out.push_back(row.Json());
    json document = JsonDocument();
    document["server"] = content.full_name;
    document["api_version"] = content.api_version;
    document["objects"] = std::move(out);
    PrintJson(document);
    return;
  }
  std::cout << content.full_name << " (API " << content.api_version << ")\n";
  std::vector<std::vector<std::string>> table;
  table.reserve(rows.size());
  for (const auto& row : rows) table.push_back({row.kind, row.name, row.id, row.Detail()});
  std::cout << FormatTable({"KIND", "NAME", "ID", "DETAIL"}, table);
}

}  // namespace

int Inventory(const ConnectFlags& flags, bool as_json, bool quiet) {
  const auto fail = [](const Status& status, int code) {
    return FailRun(status, code, code == kExitUsage ? "usage" : "");
  };
  auto options = InventoryConnection(flags);
  if (!options.ok()) return fail(options.status(), kExitUsage);
  ConnectingNotice notice(quiet, options->server);
  auto session = vs::Session::Connect(*options);
  notice.Done();
  if (!session.ok()) return fail(session.status(), kExitFailed);
  vs::Vim vim(**session, (*session)->content());
  auto rows = ListInventory(vim);
  (*session)->Close();
  if (!rows.ok()) return fail(rows.status(), kExitFailed);
  PrintInventory(*rows, (*session)->content(), as_json);
  return kExitOk;
}

}  // namespace vsray::cli
