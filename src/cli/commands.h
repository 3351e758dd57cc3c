// The vsray subcommands. Each returns the process exit code: 0 success, 1 a failed operation,
// 2 invalid usage or config. Results go to stdout (a table, or JSON with --json); progress,
// warnings and the one-line error to stderr.
#ifndef VSRAY_CLI_COMMANDS_H_
#define VSRAY_CLI_COMMANDS_H_

#include <string>
#include <vector>

namespace vsray::cli {

inline constexpr int kExitOk = 0;
inline constexpr int kExitFailed = 1;
inline constexpr int kExitUsage = 2;

struct CommonFlags {
  std::string config;  // cluster YAML
  bool json = false;
  bool yes = false;
  bool quiet = false;
};

int Up(const CommonFlags& flags, bool no_wait);
int Down(const CommonFlags& flags);
int Nodes(const CommonFlags& flags, const std::vector<std::string>& tag_filters);
int Create(const CommonFlags& flags, const std::string& node_type, int count);
int Terminate(const CommonFlags& flags, const std::vector<std::string>& node_ids);
int SetTags(const CommonFlags& flags, const std::string& node_id,
            const std::vector<std::string>& tags);
int Check(const CommonFlags& flags);
// `vsray frozen-vm status`: looks only. Exit 1 when a frozen VM is missing or unusable.
int FrozenVmStatus(const CommonFlags& flags);
// `vsray frozen-vm prepare`: deploys missing frozen VMs, powers on, waits until frozen.
int FrozenVmPrepare(const CommonFlags& flags);

struct RoleFlags {
  bool markdown = false;
  std::string name;
  std::string assign_to;
};
// `vsray role show`: the privileges the config needs and where (no vCenter); `markdown`: the
// README's table.
int RoleShow(const CommonFlags& flags, bool markdown);
// `vsray role create`, as an administrator: creates or updates role `name` with exactly those
// privileges and, with `assign_to`, grants it to that user where `role show` says.
int RoleCreate(const CommonFlags& flags, const std::string& name, const std::string& assign_to);

struct ConnectFlags {
  std::string server;
  std::string user;
  std::string ca_file;
  std::string thumbprint;
  bool insecure = false;
};
int Inventory(const ConnectFlags& flags, bool json, bool quiet);

struct SimFlags {
  std::string write_config;  // "" = print the config on stdout
  std::string cluster_name = "vsray-sim";
  int workers = 2;
  std::vector<std::string> sim_args;  // passed to vsray-sim
};
// Runs the bundled vsray-sim in the foreground until interrupted.
int Sim(const SimFlags& flags, bool quiet);

}  // namespace vsray::cli

#endif  // VSRAY_CLI_COMMANDS_H_
