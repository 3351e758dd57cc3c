// The vsray command line.
#include <CLI/CLI.hpp>
#include <cstdlib>
#include <iostream>
#include <map>
#include <nlohmann/json.hpp>
#include <string>

#include "common/log.h"
#include "vsphere/session.h"
#include "vsphere/vim.h"

namespace {

using vsray::Status;
using vsray::StatusOr;
namespace vs = vsray::vsphere;

struct ConnectFlags {
  std::string server;
  std::string user;
  std::string ca_file;
  std::string thumbprint;
  bool insecure = false;
};

const char* Env(const char* name) {
  const char* value = std::getenv(name);  // NOLINT(concurrency-mt-unsafe): read before threads
  return value == nullptr ? "" : value;
}

void AddConnectFlags(CLI::App& app, ConnectFlags& flags) {
  app.add_option("--server", flags.server, "vCenter: host, host:port or https://host[:port]")
      ->envname("VSPHERE_SERVER");
  app.add_option("--user", flags.user, "vCenter user")->envname("VSPHERE_USER");
  app.add_option("--ca-file", flags.ca_file, "CA certificate (PEM) that signed vCenter's");
  app.add_option("--thumbprint", flags.thumbprint, "SHA-256 thumbprint of vCenter's certificate");
  app.add_flag("--insecure", flags.insecure, "do not verify vCenter's certificate (unsafe)");
}

StatusOr<std::shared_ptr<vs::Session>> Connect(const ConnectFlags& flags) {
  vs::ConnectOptions options;
  options.server = flags.server;
  options.credentials = {flags.user, Env("VSPHERE_PASSWORD")};
  options.tls = {flags.ca_file, flags.thumbprint, flags.insecure};
  options.keepalive_interval = std::chrono::milliseconds(0);
  if (options.server.empty()) {
    return vsray::InvalidArgumentError("no vCenter server: pass --server or set VSPHERE_SERVER");
  }
  if (options.credentials.user.empty()) {
    return vsray::InvalidArgumentError("no vCenter user: pass --user or set VSPHERE_USER");
  }
  if (options.credentials.password.empty()) {
    return vsray::InvalidArgumentError("no vCenter password: set VSPHERE_PASSWORD");
  }
  return vs::Session::Connect(options);
}

struct Row {
  std::string kind;
  std::string id;
  std::string name;
  std::string detail;
};

Status Inventory(const ConnectFlags& flags, bool json) {
  VSRAY_ASSIGN_OR_RETURN(auto session, Connect(flags));
  vs::Vim vim(*session, session->content());
  std::vector<Row> rows;
  std::map<std::string, std::string> host_names;
  VSRAY_ASSIGN_OR_RETURN(
      auto hosts, vim.ListByType("HostSystem",
                                 {"name", "runtime.connectionState", "runtime.inMaintenanceMode"}));
  for (const auto& host : hosts) host_names[host.obj.value] = host.Get("name")->text;

  struct Kind {
    const char* type;
    const char* label;
  };
  for (const Kind kind :
       {Kind{"Datacenter", "datacenter"}, Kind{"ClusterComputeResource", "cluster"}}) {
    VSRAY_ASSIGN_OR_RETURN(auto objects, vim.ListByType(kind.type, {"name"}));
    for (const auto& o : objects)
      rows.push_back({kind.label, o.obj.value, o.Get("name")->text, ""});
  }
  for (const auto& host : hosts) {
    std::string detail(host.Get("runtime.connectionState")->text);
    if (const auto* m = host.Get("runtime.inMaintenanceMode"); m != nullptr && m->text == "true") {
      detail += ", maintenance";
    }
    rows.push_back({"host", host.obj.value, host.Get("name")->text, detail});
  }
  VSRAY_ASSIGN_OR_RETURN(auto datastores, vim.ListByType("Datastore", {"name"}));
  for (const auto& o : datastores)
    rows.push_back({"datastore", o.obj.value, o.Get("name")->text, ""});
  VSRAY_ASSIGN_OR_RETURN(auto pools, vim.ListByType("ResourcePool", {"name"}));
  for (const auto& o : pools) rows.push_back({"pool", o.obj.value, o.Get("name")->text, ""});
  VSRAY_ASSIGN_OR_RETURN(
      auto vms, vim.ListByType("VirtualMachine", {"name", "runtime.powerState", "runtime.host",
                                                  "runtime.instantCloneFrozen"}));
  for (const auto& vm : vms) {
    std::string detail(vm.Get("runtime.powerState") ? vm.Get("runtime.powerState")->text : "");
    if (const auto* host = vm.Get("runtime.host")) detail += " on " + host_names[host->text];
    if (const auto* frozen = vm.Get("runtime.instantCloneFrozen");
        frozen != nullptr && frozen->text == "true") {
      detail += ", frozen";
    }
    rows.push_back({"vm", vm.obj.value, vm.Get("name")->text, detail});
  }
  if (json) {
    nlohmann::json out = nlohmann::json::array();
    for (const auto& row : rows) {
      out.push_back(
          {{"kind", row.kind}, {"id", row.id}, {"name", row.name}, {"detail", row.detail}});
    }
    std::cout << nlohmann::json{{"server", session->content().full_name}, {"objects", out}}.dump(2)
              << "\n";
    return vsray::OkStatus();
  }
  std::cout << session->content().full_name << " (API " << session->content().api_version << ")\n";
  std::size_t name_width = 4;
  for (const auto& row : rows) name_width = std::max(name_width, row.name.size());
  for (const auto& row : rows) {
    std::cout << "  " << row.kind
              << std::string(11 - std::min<std::size_t>(row.kind.size(), 10), ' ') << row.name
              << std::string(name_width + 2 - row.name.size(), ' ') << row.id
              << (row.detail.empty() ? "" : "  (" + row.detail + ")") << "\n";
  }
  return vsray::OkStatus();
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"vsray: Ray clusters on VMware vSphere"};
  app.set_version_flag("--version", std::string("vsray ") + VSRAY_VERSION);
  app.require_subcommand(1);
  std::string log_level = "warn";
  app.add_option("--log-level", log_level, "trace, debug, info, warn, error or off");

  ConnectFlags flags;
  bool json = false;
  auto* inventory = app.add_subcommand("inventory", "list what a vCenter holds");
  AddConnectFlags(*inventory, flags);
  inventory->add_flag("--json", json, "machine-readable output");

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? 0 : 2;
  }
  vsray::SetLogLevel(log_level);
  Status status;
  if (inventory->parsed()) status = Inventory(flags, json);
  if (!status.ok()) {
    std::cerr << "vsray: " << status.message() << "\n";
    return status.code() == vsray::StatusCode::kInvalidArgument ? 2 : 1;
  }
  return 0;
}
