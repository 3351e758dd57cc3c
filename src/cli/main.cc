// The vsray command line: parses flags (CLI11) and runs one subcommand (commands.h).
#include "cli/main.h"

#include <CLI/CLI.hpp>
#include <initializer_list>
#include <iostream>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "cli/commands.h"
#include "cli/output.h"
#include "cli/status.h"
#include "common/log.h"

namespace {

using vsray::cli::kExitUsage;

constexpr const char* kFooter = R"(
Examples:
  vsray sim --write-config sim.yaml &    # a simulated vCenter and a cluster config for it
  vsray check sim.yaml                   # config, credentials, TLS, placement, frozen VM
  vsray up sim.yaml --yes                # head + min_workers of each node type
Run `vsray COMMAND --help` for a command's flags, defaults and examples.

Credentials missing from the config come from VSPHERE_SERVER, VSPHERE_USER and
VSPHERE_PASSWORD. Exit codes: 0 success, 1 failed operation, 2 invalid usage or config,
130 interrupted. With --json, stdout holds one JSON object (README "JSON output").
)";

// A subcommand's examples, shown under its --help.
std::string Examples(std::initializer_list<const char*> lines) {
  std::string text = "\nExamples:\n";
  for (const char* line : lines) text += std::string("  ") + line + "\n";
  return text;
}

namespace cli = vsray::cli;

void AddConfig(CLI::App& command, cli::CommonFlags& flags) {
  command.add_option("CONFIG", flags.config, "Ray cluster YAML")->required();
}

void AddJson(CLI::App& command, cli::CommonFlags& flags) {
  command.add_flag("--json", flags.json, "machine-readable output on stdout");
}

// Everything the command line sets.
struct Args {
  bool verbose = false;
  bool quiet = false;
  std::string log_file;
  std::string log_level;
  cli::CommonFlags flags;
  bool no_wait = false;
  std::vector<std::string> tags;
  std::string node_type;
  int count = 1;
  std::vector<std::string> node_ids;
  std::string node_id;
  cli::SimFlags sim;
  cli::ConnectFlags connect;
  bool inventory_json = false;
  cli::RoleFlags role;
  int watch_seconds = 0;  // status --watch
};

// The subcommands; the parsed one runs.
struct Commands {
  CLI::App* up = nullptr;
  CLI::App* down = nullptr;
  CLI::App* nodes = nullptr;
  CLI::App* create = nullptr;
  CLI::App* terminate = nullptr;
  CLI::App* set_tags = nullptr;
  CLI::App* check = nullptr;
  CLI::App* frozen_status = nullptr;
  CLI::App* frozen_prepare = nullptr;
  CLI::App* sim = nullptr;
  CLI::App* inventory = nullptr;
  CLI::App* role_show = nullptr;
  CLI::App* role_create = nullptr;
  CLI::App* status = nullptr;
};

void AddGlobalFlags(CLI::App& app, Args& args) {
  app.add_flag("-v,--verbose", args.verbose, "log what vsray does (info on stderr)");
  app.add_flag("-q,--quiet", args.quiet, "only errors on stderr, no progress");
  app.add_option("--log-file", args.log_file, "also write a debug log to this file");
  app.add_option("--log-level", args.log_level,
                 "stderr log level: trace, debug, info, warn, error, off")
      ->check(CLI::IsMember({"trace", "debug", "info", "warn", "error", "off"}));
}

// up, down, nodes, create, terminate, set-tags.
void AddNodeCommands(CLI::App& app, Args& args, Commands& commands) {
  cli::CommonFlags& flags = args.flags;
  commands.up = app.add_subcommand("up", "create the head node and each node type's min_workers");
  AddConfig(*commands.up, flags);
  commands.up->add_flag("-y,--yes", flags.yes, "do not ask for confirmation");
  commands.up->add_flag("--no-wait", args.no_wait,
                        "return once created, without waiting for IP addresses");
  AddJson(*commands.up, flags);
  commands.up->footer(
      Examples({"vsray up cluster.yaml --yes         # head + min_workers of each type",
                "vsray up cluster.yaml --yes --json  # the nodes as JSON on stdout"}));

  commands.down = app.add_subcommand("down", "terminate every node of the cluster");
  AddConfig(*commands.down, flags);
  commands.down->add_flag("-y,--yes", flags.yes, "do not ask for confirmation");
  AddJson(*commands.down, flags);
  commands.down->footer(Examples({"vsray down cluster.yaml --yes"}));

  commands.nodes = app.add_subcommand("nodes", "list the cluster's non-terminated nodes");
  AddConfig(*commands.nodes, flags);
  commands.nodes->add_option("--tag", args.tags,
                             "only nodes with this tag (KEY=VALUE; repeatable)");
  AddJson(*commands.nodes, flags);
  commands.nodes->footer(Examples(
      {"vsray nodes cluster.yaml", "vsray nodes cluster.yaml --tag ray-node-type=worker --json"}));

  commands.create = app.add_subcommand("create", "create nodes of one node type");
  AddConfig(*commands.create, flags);
  commands.create->add_option("--node-type", args.node_type, "a key of available_node_types")
      ->required();
  commands.create->add_option("--count", args.count, "how many")
      ->check(CLI::Range(1, 1000))
      ->capture_default_str();
  AddJson(*commands.create, flags);
  commands.create->footer(
      Examples({"vsray create cluster.yaml --node-type ray.worker.default --count 2"}));

  commands.terminate = app.add_subcommand("terminate", "terminate nodes by id");
  AddConfig(*commands.terminate, flags);
  commands.terminate->add_option("NODE_ID", args.node_ids, "node ids (as `vsray nodes` shows)")
      ->required();
  AddJson(*commands.terminate, flags);
  commands.terminate->footer(Examples({"vsray terminate cluster.yaml vm-42 vm-43"}));

  commands.set_tags = app.add_subcommand("set-tags", "set tags of a node");
  AddConfig(*commands.set_tags, flags);
  commands.set_tags->add_option("NODE_ID", args.node_id, "node id")->required();
  commands.set_tags->add_option("TAGS", args.tags, "KEY=VALUE ...")->required();
  AddJson(*commands.set_tags, flags);
  commands.set_tags->footer(
      Examples({"vsray set-tags cluster.yaml vm-42 ray-node-status=up-to-date"}));
}

// check, frozen-vm status|prepare.
void AddCheckCommands(CLI::App& app, Args& args, Commands& commands) {
  commands.check = app.add_subcommand("check", "check the config and what it names in vCenter");
  AddConfig(*commands.check, args.flags);
  AddJson(*commands.check, args.flags);
  commands.check->footer(
      Examples({"vsray check cluster.yaml  # config, credentials, TLS, "
                "placement, frozen VM, GPUs, privileges"}));

  auto* frozen = app.add_subcommand("frozen-vm", "the frozen VMs (instant-clone parents)");
  frozen->require_subcommand(1);
  commands.frozen_status =
      frozen->add_subcommand("status", "frozen VMs, their hosts, state and clones per host");
  AddConfig(*commands.frozen_status, args.flags);
  AddJson(*commands.frozen_status, args.flags);
  commands.frozen_status->footer(Examples({"vsray frozen-vm status cluster.yaml"}));
  commands.frozen_prepare = frozen->add_subcommand(
      "prepare", "deploy missing frozen VMs, power them on and wait until frozen");
  AddConfig(*commands.frozen_prepare, args.flags);
  AddJson(*commands.frozen_prepare, args.flags);
  commands.frozen_prepare->footer(Examples({"vsray frozen-vm prepare cluster.yaml"}));
}

// sim, inventory.
void AddToolCommands(CLI::App& app, Args& args, Commands& commands) {
  cli::SimFlags& sim = args.sim;
  commands.sim = app.add_subcommand(
      "sim", "run the bundled simulated vCenter (vsray-sim) and print a config for it");
  commands.sim->add_option(
      "--write-config", sim.write_config,
      "write the config (with the password, mode 0600) here instead of printing it");
  commands.sim->add_option("--cluster-name", sim.cluster_name, "cluster_name of the config")
      ->capture_default_str();
  commands.sim->add_option("--workers", sim.workers, "min_workers of the worker type")
      ->check(CLI::Range(0, 100))
      ->capture_default_str();
  commands.sim->add_option("SIM_FLAGS", sim.sim_args,
                           "flags for vsray-sim after `--`, e.g. -- --hosts 3 --vms 10");
  commands.sim->footer(Examples({"vsray sim --write-config sim.yaml &  # simulator + config for it",
                                 "vsray sim -- --hosts 3 --vms 10      # flags for vsray-sim"}));

  cli::ConnectFlags& connect = args.connect;
  commands.inventory = app.add_subcommand("inventory", "list what a vCenter holds");
  commands.inventory
      ->add_option("--server", connect.server, "host, host:port or https://host[:port]")
      ->envname("VSPHERE_SERVER");
  commands.inventory->add_option("--user", connect.user, "vCenter user")->envname("VSPHERE_USER");
  auto* ca_file = commands.inventory->add_option("--ca-file", connect.ca_file,
                                                 "CA (PEM) that signed vCenter's certificate");
  auto* thumbprint = commands.inventory->add_option("--thumbprint", connect.thumbprint,
                                                    "SHA-256 of vCenter's certificate");
  commands.inventory
      ->add_flag("--insecure", connect.insecure, "do not verify the certificate (unsafe)")
      ->excludes(ca_file)
      ->excludes(thumbprint);
  commands.inventory->add_flag("--json", args.inventory_json, "machine-readable output");
  commands.inventory->footer(
      Examples({"VSPHERE_PASSWORD=... vsray inventory --server vc.example.com --user ray "
                "--ca-file ca.pem"}));
}

// role show|create.
void AddRoleCommands(CLI::App& app, Args& args, Commands& commands) {
  auto* role = app.add_subcommand("role", "the least-privilege vCenter role the config needs");
  role->require_subcommand(1);
  commands.role_show =
      role->add_subcommand("show", "the privileges and the entities to grant them on");
  AddConfig(*commands.role_show, args.flags);
  AddJson(*commands.role_show, args.flags);
  commands.role_show->add_flag("--markdown", args.role.markdown,
                               "the table of the README's VI-admin section");
  commands.role_show->footer(
      Examples({"vsray role show cluster.yaml", "vsray role show cluster.yaml --markdown"}));
  commands.role_create = role->add_subcommand(
      "create", "as an administrator: create or update the role (and grant it with --assign-to)");
  AddConfig(*commands.role_create, args.flags);
  AddJson(*commands.role_create, args.flags);
  commands.role_create->add_option("--name", args.role.name, "the role's name")->required();
  commands.role_create->add_option("--assign-to", args.role.assign_to,
                                   "grant the role to this user where `role show` says");
  commands.role_create->footer(Examples(
      {"vsray role create admin.yaml --name vsray-ray --assign-to ray-bot@vsphere.local"}));
}

// status.
void AddStatusCommand(CLI::App& app, Args& args, Commands& commands) {
  commands.status = app.add_subcommand(
      "status", "the cluster at a glance: vCenter, head, nodes per type, frozen VMs, strays");
  AddConfig(*commands.status, args.flags);
  AddJson(*commands.status, args.flags);
  commands.status
      ->add_option("--watch", args.watch_seconds, "redraw every SECONDS (default 5) until Ctrl-C")
      ->expected(0, 1)
      ->default_str("5")
      ->check(CLI::Range(1, 3600));
}

// Logging as the global flags say; false (message printed) on a usage error.
bool SetUpLogging(const Args& args) {
  if (args.verbose && args.quiet) {
    std::cerr << "vsray: --verbose and --quiet exclude each other\n";
    return false;
  }
  if (!args.log_level.empty()) {
    vsray::SetLogLevel(args.log_level);
  } else if (args.verbose) {
    vsray::SetLogLevel("info");
  } else if (args.quiet) {
    vsray::SetLogLevel("error");
  }
  if (!args.log_file.empty() && !vsray::AddLogFile(args.log_file)) {
    std::cerr << "vsray: --log-file: cannot open '" << args.log_file << "'\n";
    return false;
  }
  return true;
}

int Run(const Commands& commands, Args& args) {
  const cli::CommonFlags& flags = args.flags;
  if (commands.up->parsed()) return cli::Up(flags, args.no_wait);
  if (commands.down->parsed()) return cli::Down(flags);
  if (commands.nodes->parsed()) return cli::Nodes(flags, args.tags);
  if (commands.create->parsed()) return cli::Create(flags, args.node_type, args.count);
  if (commands.terminate->parsed()) return cli::Terminate(flags, args.node_ids);
  if (commands.set_tags->parsed()) return cli::SetTags(flags, args.node_id, args.tags);
  if (commands.check->parsed()) return cli::Check(flags);
  if (commands.status->parsed()) return cli::ClusterStatusCommand(flags, args.watch_seconds);
  if (commands.frozen_status->parsed()) return cli::FrozenVmStatus(flags);
  if (commands.frozen_prepare->parsed()) return cli::FrozenVmPrepare(flags);
  if (commands.sim->parsed()) return cli::Sim(args.sim, args.quiet);
  if (commands.inventory->parsed()) {
    return cli::Inventory(args.connect, args.inventory_json, args.quiet);
  }
  if (commands.role_show->parsed()) return cli::RoleShow(flags, args.role.markdown);
  if (commands.role_create->parsed()) {
    return cli::RoleCreate(flags, args.role.name, args.role.assign_to);
  }
  return kExitUsage;
}

// The parsed subcommand as `vsray` names it: "up", "frozen-vm status".
std::string CommandName(const CLI::App& app) {
  std::string name;
  const CLI::App* at = &app;
  while (true) {
    const auto parsed = at->get_subcommands();
    if (parsed.empty()) return name;
    at = parsed.front();
    name += (name.empty() ? "" : " ") + at->get_name();
  }
}

// The words of argv that are neither flags nor a global option's value, up to "--": the
// subcommand and its own words.
std::vector<std::string_view> CommandWords(int argc, char** argv) {
  std::vector<std::string_view> words;
  for (int i = 1; i < argc; ++i) {
    const std::string_view arg = argv[i];
    if (arg == "--log-file" || arg == "--log-level") {
      ++i;
      continue;
    }
    if (arg == "--") break;
    if (!arg.empty() && arg[0] != '-') words.push_back(arg);
  }
  return words;
}

// The first of them: the subcommand ("" when there is none).
std::string FirstWord(int argc, char** argv) {
  const auto words = CommandWords(argc, argv);
  return words.empty() ? "" : std::string(words.front());
}

// An unknown subcommand (or sub-subcommand: `frozen-vm nope`), named with the ones there are;
// "" when the words name known ones.
std::string UnknownCommand(const CLI::App& app, int argc, char** argv) {
  const CLI::App* at = &app;
  std::string path = "vsray";
  for (const std::string_view arg : CommandWords(argc, argv)) {
    const auto commands = at->get_subcommands([](const CLI::App*) { return true; });
    if (commands.empty()) return "";
    std::string known;
    const CLI::App* found = nullptr;
    for (const CLI::App* command : commands) {
      if (command->get_name() == arg) found = command;
      known += (known.empty() ? "" : ", ") + command->get_name();
    }
    if (found == nullptr) {
      std::string message = "unknown command '";
      message.append(arg).append("' (commands of ").append(path).append(": ").append(known);
      message.append("; see ").append(path).append(" --help)");
      return message;
    }
    at = found;
    path += " " + found->get_name();
  }
  return "";
}

bool HasJsonFlag(int argc, char** argv) {
  for (int i = 1; i < argc; ++i) {
    if (std::string_view(argv[i]) == "--json") return true;
  }
  return false;
}

// A usage error: CLI11's message and help hint on stderr, the error object with --json.
int UsageError(const CLI::App& app, const CLI::ParseError& e, int argc, char** argv) {
  std::string command = CommandName(app);
  if (command.empty()) command = FirstWord(argc, argv);
  cli::SetJsonOutput(command, HasJsonFlag(argc, argv));
  std::cerr << "vsray: " << e.what() << "\n";
  std::cerr << "Run vsray " << (command.empty() ? "" : command + " ") << "--help for usage.\n";
  // The one-line error was printed above; the JSON object only goes to stdout.
  if (cli::JsonOutputEnabled()) {
    std::cout << nlohmann::json{{"schema_version", cli::kJsonSchemaVersion},
                                {"command", command},
                                {"error",
                                 {{"code", "usage"}, {"fault", nullptr}, {"message", e.what()}}}}
                     .dump(2)
              << "\n";
  }
  return kExitUsage;
}

}  // namespace

int vsray::cli::Main(int argc, char** argv) {
  CLI::App app{"vsray: Ray clusters on VMware vSphere", "vsray"};
  app.footer(kFooter);
  app.set_version_flag("--version", std::string("vsray ") + VSRAY_VERSION);
  app.require_subcommand(1);
  app.fallthrough();  // global flags may follow the subcommand too
  Args args;
  Commands commands;
  AddGlobalFlags(app, args);
  AddNodeCommands(app, args, commands);
  AddCheckCommands(app, args, commands);
  AddToolCommands(app, args, commands);
  AddRoleCommands(app, args, commands);
  AddStatusCommand(app, args, commands);
  if (const std::string unknown = UnknownCommand(app, argc, argv); !unknown.empty()) {
    std::cerr << "vsray: " << unknown << "\n";
    return kExitUsage;
  }
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForVersion& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    return UsageError(app, e, argc, argv);
  }
  cli::SetJsonOutput(CommandName(app), args.flags.json || args.inventory_json);
  if (!SetUpLogging(args)) return kExitUsage;
  args.flags.quiet = args.quiet;
  return Run(commands, args);
}
