// The vsray command line: parses flags (CLI11) and runs one subcommand (commands.h).
#include <CLI/CLI.hpp>
#include <iostream>
#include <string>
#include <vector>

#include "cli/commands.h"
#include "common/log.h"

namespace {

using vsray::cli::kExitUsage;

constexpr const char* kExamples = R"(
Examples:
  vsray sim --write-config sim.yaml &      # a simulated vCenter and a config for it
  vsray check cluster.yaml                 # config, credentials, TLS, placement, frozen VM
  vsray frozen-vm prepare cluster.yaml     # deploy/power on the frozen VM(s), wait until frozen
  vsray up cluster.yaml --yes              # head + min_workers of each node type
  vsray nodes cluster.yaml --tag ray-node-type=worker
  vsray create cluster.yaml --node-type ray.worker.default --count 2
  vsray set-tags cluster.yaml vm-42 ray-node-status=up-to-date
  vsray terminate cluster.yaml vm-42
  vsray down cluster.yaml --yes

Credentials missing from the config come from VSPHERE_SERVER, VSPHERE_USER and
VSPHERE_PASSWORD. Exit codes: 0 success, 1 failed operation, 2 invalid usage or config.
)";

void AddConfig(CLI::App& command, vsray::cli::CommonFlags& flags) {
  command.add_option("CONFIG", flags.config, "Ray cluster YAML")->required();
}

void AddJson(CLI::App& command, vsray::cli::CommonFlags& flags) {
  command.add_flag("--json", flags.json, "machine-readable output on stdout");
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"vsray: Ray clusters on VMware vSphere"};
  app.footer(kExamples);
  app.set_version_flag("--version", std::string("vsray ") + VSRAY_VERSION);
  app.require_subcommand(1);
  app.fallthrough();  // global flags may follow the subcommand too
  bool verbose = false;
  bool quiet = false;
  std::string log_file;
  std::string log_level;
  app.add_flag("-v,--verbose", verbose, "log what vsray does (info on stderr)");
  app.add_flag("-q,--quiet", quiet, "only errors on stderr, no progress");
  app.add_option("--log-file", log_file, "also write a debug log to this file");
  app.add_option("--log-level", log_level, "stderr log level: trace, debug, info, warn, error, off")
      ->check(CLI::IsMember({"trace", "debug", "info", "warn", "error", "off"}));

  vsray::cli::CommonFlags flags;
  bool no_wait = false;
  auto* up = app.add_subcommand("up", "create the head node and each node type's min_workers");
  AddConfig(*up, flags);
  up->add_flag("-y,--yes", flags.yes, "do not ask for confirmation");
  up->add_flag("--no-wait", no_wait, "return once created, without waiting for IP addresses");
  AddJson(*up, flags);

  auto* down = app.add_subcommand("down", "terminate every node of the cluster");
  AddConfig(*down, flags);
  down->add_flag("-y,--yes", flags.yes, "do not ask for confirmation");
  AddJson(*down, flags);

  std::vector<std::string> tags;
  auto* nodes = app.add_subcommand("nodes", "list the cluster's non-terminated nodes");
  AddConfig(*nodes, flags);
  nodes->add_option("--tag", tags, "only nodes with this tag (KEY=VALUE; repeatable)");
  AddJson(*nodes, flags);

  std::string node_type;
  int count = 1;
  auto* create = app.add_subcommand("create", "create nodes of one node type");
  AddConfig(*create, flags);
  create->add_option("--node-type", node_type, "a key of available_node_types")->required();
  create->add_option("--count", count, "how many")->check(CLI::Range(1, 1000));
  AddJson(*create, flags);

  std::vector<std::string> node_ids;
  auto* terminate = app.add_subcommand("terminate", "terminate nodes by id");
  AddConfig(*terminate, flags);
  terminate->add_option("NODE_ID", node_ids, "node ids (as `vsray nodes` shows)")->required();
  AddJson(*terminate, flags);

  std::string node_id;
  auto* set_tags = app.add_subcommand("set-tags", "set tags of a node");
  AddConfig(*set_tags, flags);
  set_tags->add_option("NODE_ID", node_id, "node id")->required();
  set_tags->add_option("TAGS", tags, "KEY=VALUE ...")->required();
  AddJson(*set_tags, flags);

  auto* check = app.add_subcommand("check", "check the config and what it names in vCenter");
  AddConfig(*check, flags);
  AddJson(*check, flags);

  auto* frozen = app.add_subcommand("frozen-vm", "the frozen VMs (instant-clone parents)");
  frozen->require_subcommand(1);
  auto* frozen_status =
      frozen->add_subcommand("status", "frozen VMs, their hosts, state and clones per host");
  AddConfig(*frozen_status, flags);
  AddJson(*frozen_status, flags);
  auto* frozen_prepare = frozen->add_subcommand(
      "prepare", "deploy missing frozen VMs, power them on and wait until frozen");
  AddConfig(*frozen_prepare, flags);
  AddJson(*frozen_prepare, flags);

  vsray::cli::SimFlags sim_flags;
  auto* sim = app.add_subcommand(
      "sim", "run the bundled simulated vCenter (vsray-sim) and print a config for it");
  sim->add_option("--write-config", sim_flags.write_config,
                  "write the config (with the password, mode 0600) here instead of printing it");
  sim->add_option("--cluster-name", sim_flags.cluster_name, "cluster_name of the config");
  sim->add_option("--workers", sim_flags.workers, "min_workers of the worker type")
      ->check(CLI::Range(0, 100));
  sim->add_option("SIM_FLAGS", sim_flags.sim_args,
                  "flags for vsray-sim after `--`, e.g. -- --hosts 3 --vms 10");

  vsray::cli::ConnectFlags connect;
  bool inventory_json = false;
  auto* inventory = app.add_subcommand("inventory", "list what a vCenter holds");
  inventory->add_option("--server", connect.server, "host, host:port or https://host[:port]")
      ->envname("VSPHERE_SERVER");
  inventory->add_option("--user", connect.user, "vCenter user")->envname("VSPHERE_USER");
  inventory->add_option("--ca-file", connect.ca_file, "CA (PEM) that signed vCenter's certificate");
  inventory->add_option("--thumbprint", connect.thumbprint, "SHA-256 of vCenter's certificate");
  inventory->add_flag("--insecure", connect.insecure, "do not verify the certificate (unsafe)");
  inventory->add_flag("--json", inventory_json, "machine-readable output");

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    const int code = app.exit(e);
    return code == 0 ? 0 : kExitUsage;
  }
  if (verbose && quiet) {
    std::cerr << "vsray: --verbose and --quiet exclude each other\n";
    return kExitUsage;
  }
  if (!log_level.empty()) {
    vsray::SetLogLevel(log_level);
  } else if (verbose) {
    vsray::SetLogLevel("info");
  } else if (quiet) {
    vsray::SetLogLevel("error");
  }
  if (!log_file.empty() && !vsray::AddLogFile(log_file)) {
    std::cerr << "vsray: --log-file: cannot open '" << log_file << "'\n";
    return kExitUsage;
  }
  flags.quiet = quiet;

  if (up->parsed()) return vsray::cli::Up(flags, no_wait);
  if (down->parsed()) return vsray::cli::Down(flags);
  if (nodes->parsed()) return vsray::cli::Nodes(flags, tags);
  if (create->parsed()) return vsray::cli::Create(flags, node_type, count);
  if (terminate->parsed()) return vsray::cli::Terminate(flags, node_ids);
  if (set_tags->parsed()) return vsray::cli::SetTags(flags, node_id, tags);
  if (check->parsed()) return vsray::cli::Check(flags);
  if (frozen_status->parsed()) return vsray::cli::FrozenVmStatus(flags);
  if (frozen_prepare->parsed()) return vsray::cli::FrozenVmPrepare(flags);
  if (sim->parsed()) return vsray::cli::Sim(sim_flags, quiet);
  if (inventory->parsed()) return vsray::cli::Inventory(connect, inventory_json);
  return kExitUsage;
}
