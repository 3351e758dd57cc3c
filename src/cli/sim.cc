// `vsray sim`: runs the bundled simulated vCenter (vsray-sim, installed next to vsray) in the
// foreground and hands out a cluster config that points at it.
#include <fcntl.h>
#include <spawn.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <atomic>
#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>
#include <random>
#include <string>
#include <system_error>
#include <utility>
#include <vector>

#include "cli/commands.h"
#include "config/ray_keys.h"

extern char** environ;  // NOLINT(readability-redundant-declaration): POSIX, for posix_spawn

namespace vsray::cli {
namespace {

std::atomic<pid_t> g_child{0};

void ForwardSignal(int signal) {
  const pid_t child = g_child.load();
  if (child > 0) kill(child, signal);
}

std::string SelfDirectory() {
  std::error_code error;
  auto self = std::filesystem::read_symlink("/proc/self/exe", error);
  return error ? std::string(".") : self.parent_path().string();
}

std::string RandomPassword() {
  std::random_device random;
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string password;
  for (int i = 0; i < 24; ++i) password += kDigits[random() % 16];
  return password;
}

std::string Quoted(const std::string& text) { return nlohmann::json(text).dump(); }

// A flow sequence of quoted strings.
std::string QuotedList(const std::vector<std::string>& items) {
  std::string out = "[";
  for (std::size_t i = 0; i < items.size(); ++i) out += (i > 0 ? ", " : "") + Quoted(items[i]);
  return out + "]";
}

// Ray's keys after the node types: every one Ray reads without a default for type: external.
std::string RayCommandsYaml() {
  std::string yaml;
  yaml += "file_mounts: {}\n";
  yaml += "cluster_synced_files: []\n";
  yaml += "file_mounts_sync_continuously: false\n";
  yaml += "rsync_exclude: []\n";
  yaml += "rsync_filter: []\n";
  for (const std::string& key : config::RayCommandKeys()) {
    yaml += key + ": " + QuotedList(config::RayDefaultCommands(key)) + "\n";
  }
  return yaml;
}

// The config text: a complete Ray cluster config for Ray's launcher (type: external, vsray's
// provider class) and for vsray. `password` empty: left out (credentials.password then comes
// from VSPHERE_PASSWORD).
std::string ClusterYaml(const SimFlags& flags, const nlohmann::json& ready,
                        const std::string& password, const std::string& frozen_vm) {
  const std::string url = ready.value("url", "");
  const std::string max_workers = std::to_string(std::max(flags.workers, 1) * 2);
  std::string yaml;
  yaml += "# vsray cluster config for the vsray-sim at " + url + "\n";
  yaml += "# A complete Ray cluster config: vsray up/nodes/down THIS_FILE, or Ray's launcher\n";
  yaml += "# (ray up THIS_FILE) where vsray is installed.\n";
  yaml += "cluster_name: " + flags.cluster_name + "\n";
  yaml += "max_workers: " + max_workers + "\n";
  yaml += "upscaling_speed: 1.0\n";
  yaml += "idle_timeout_minutes: 5\n";
  yaml += "provider:\n";
  yaml += "  type: external\n";
  yaml += "  module: vsray.ray_provider.VsphereNodeProvider\n";
  yaml += "  vsphere_config:\n";
  yaml += "    credentials:\n";
  yaml += "      server: " + Quoted(url) + "\n";
  yaml += "      user: " + Quoted(ready.value("username", "user")) + "\n";
  if (!password.empty()) yaml += "      password: " + Quoted(password) + "\n";
  yaml += "    tls:\n";
  yaml += "      ca_file: " + Quoted(ready.value("ca_file", "")) + "\n";
  yaml += "    frozen_vm:\n";
  yaml += "      name: " + Quoted(frozen_vm) + "\n";
  yaml += "auth:\n";
  yaml += "  ssh_user: ray\n";
  yaml += "available_node_types:\n";
  yaml += "  ray.head.default:\n";
  yaml += "    resources: {CPU: 2, Memory: 4096}\n";
  yaml += "    node_config: {}\n";
  yaml += "  ray.worker.default:\n";
  yaml += "    min_workers: " + std::to_string(flags.workers) + "\n";
  yaml += "    max_workers: " + max_workers + "\n";
  yaml += "    resources: {CPU: 2, Memory: 4096}\n";
  yaml += "    node_config: {}\n";
  yaml += "head_node_type: ray.head.default\n";
  return yaml + RayCommandsYaml();
}

bool WritePrivateFile(const std::string& path, const std::string& text) {
  const int fd = open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) return false;
  fchmod(fd, 0600);
  std::size_t written = 0;
  while (written < text.size()) {
    const ssize_t n = write(fd, text.data() + written, text.size() - written);
    if (n <= 0) {
      close(fd);
      return false;
    }
    written += static_cast<std::size_t>(n);
  }
  return close(fd) == 0;
}

// The frozen VM name from --frozen-vm in the simulator's flags ("" if not given); an error
// message for flags `vsray sim` sets itself.
struct SimArgs {
  std::string frozen_vm = "ray-frozen-vm";
  bool has_frozen = false;
  std::string refused;  // a flag vsray sim sets itself
};

SimArgs InspectSimArgs(const std::vector<std::string>& sim_args) {
  SimArgs out;
  for (std::size_t i = 0; i < sim_args.size(); ++i) {
    const std::string& arg = sim_args[i];
    if (arg == "--frozen-vm" && i + 1 < sim_args.size()) {
      out.frozen_vm = sim_args[i + 1].substr(0, sim_args[i + 1].find('@'));
      out.has_frozen = true;
    } else if (arg.rfind("--frozen-vm=", 0) == 0) {
      const std::string value = arg.substr(12);
      out.frozen_vm = value.substr(0, value.find('@'));
      out.has_frozen = true;
    }
    if (arg == "--password" || arg.rfind("--password=", 0) == 0 || arg == "--http") {
      out.refused = arg;
    }
  }
  return out;
}

// The environment of the simulator: ours, with its password.
std::vector<std::string> SimEnvironment(const std::string& password) {
  std::vector<std::string> env_strings;
  for (char** e = environ; *e != nullptr; ++e) {
    if (std::strncmp(*e, "VSRAY_SIM_PASSWORD=", 19) != 0) env_strings.emplace_back(*e);
  }
  env_strings.push_back("VSRAY_SIM_PASSWORD=" + password);
  return env_strings;
}

std::vector<char*> CStrings(std::vector<std::string>& strings) {
  std::vector<char*> out;
  out.reserve(strings.size() + 1);
  for (auto& entry : strings) out.push_back(entry.data());
  out.push_back(nullptr);
  return out;
}

// Starts the simulator with its stdout on a pipe; returns its pid and the pipe's read end,
// or pid 0 after printing why not.
std::pair<pid_t, int> SpawnSimulator(std::vector<std::string> args, const std::string& password,
                                     bool quiet) {
  std::vector<std::string> env_strings = SimEnvironment(password);
  const std::vector<char*> argv = CStrings(args);
  const std::vector<char*> envp = CStrings(env_strings);
  std::array<int, 2> pipe_fds{};
  if (pipe2(pipe_fds.data(), O_CLOEXEC) != 0) {
    std::cerr << "vsray: pipe: " << std::generic_category().message(errno) << "\n";
    return {0, -1};
  }
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, pipe_fds[1], STDOUT_FILENO);
  if (quiet) posix_spawn_file_actions_addopen(&actions, STDERR_FILENO, "/dev/null", O_WRONLY, 0);
  pid_t child = 0;
  const int spawned =
      posix_spawn(&child, args[0].c_str(), &actions, nullptr, argv.data(), envp.data());
  posix_spawn_file_actions_destroy(&actions);
  close(pipe_fds[1]);
  if (spawned != 0) {
    close(pipe_fds[0]);
    std::cerr << "vsray: cannot start " << args[0] << ": "
              << std::generic_category().message(spawned) << "\n";
    return {0, -1};
  }
  return {child, pipe_fds[0]};
}

// The ready line: one JSON object once the simulator serves. Closes `fd`.
nlohmann::json ReadReadyLine(int fd) {
  std::string line;
  char c = 0;
  while (true) {
    const ssize_t n = read(fd, &c, 1);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0 || c == '\n') break;
    line += c;
  }
  close(fd);
  return nlohmann::json::parse(line, nullptr, /*allow_exceptions=*/false);
}

// Writes the config to --write-config (with the password), or prints it (without).
int HandOutConfig(const SimFlags& flags, const nlohmann::json& ready, const std::string& password,
                  const std::string& frozen_vm) {
  const std::string cert_dir = ready.value("cert_dir", "");
  const std::string password_file = cert_dir + "/password";
  const bool wrote_password = !cert_dir.empty() && WritePrivateFile(password_file, password);
  if (flags.write_config.empty()) {
    std::cout << ClusterYaml(flags, ready, "", frozen_vm);
    if (wrote_password) {
      std::cout << "# The password is not printed; before using this config run:\n"
                << "#   export VSPHERE_PASSWORD=\"$(cat " << password_file << ")\"\n";
    }
    std::cout << "# Stop the simulator with Ctrl-C.\n" << std::flush;
    return kExitOk;
  }
  if (!WritePrivateFile(flags.write_config, ClusterYaml(flags, ready, password, frozen_vm))) {
    std::cerr << "vsray: cannot write " << flags.write_config << ": "
              << std::generic_category().message(errno) << "\n";
    return kExitFailed;
  }
  std::cout << "vsray-sim serves " << ready.value("url", "") << "\n"
            << "wrote the cluster config to " << flags.write_config
            << " (0600: it holds the simulator's password)\n"
            << "try: vsray up " << flags.write_config << " --yes\n"
            << "stop the simulator with Ctrl-C\n"
            << std::flush;
  return kExitOk;
}

// Waits for the simulator to end; a stop by SIGINT/SIGTERM is a success.
int WaitForSimulator(pid_t child) {
  int wait_status = 0;
  while (waitpid(child, &wait_status, 0) < 0 && errno == EINTR) {
  }
  g_child = 0;
  if (WIFEXITED(wait_status)) {
    // vsray-sim exits 2 on bad flags (as vsray does on bad usage).
    const int status = WEXITSTATUS(wait_status);
    return status == 0 ? kExitOk : status == kExitUsage ? kExitUsage : kExitFailed;
  }
  return WIFSIGNALED(wait_status) &&
                 (WTERMSIG(wait_status) == SIGINT || WTERMSIG(wait_status) == SIGTERM)
             ? kExitOk
             : kExitFailed;
}

void ForwardStopSignals() {
  struct sigaction action {};
  action.sa_handler = ForwardSignal;
  sigemptyset(&action.sa_mask);
  sigaction(SIGINT, &action, nullptr);
  sigaction(SIGTERM, &action, nullptr);
}

}  // namespace

int Sim(const SimFlags& flags, bool quiet) {
  const std::string binary = SelfDirectory() + "/vsray-sim";
  if (access(binary.c_str(), X_OK) != 0) {
    std::cerr << "vsray: the simulator is not installed next to vsray (" << binary
              << "); build it with scripts/build.sh\n";
    return kExitFailed;
  }
  const SimArgs sim_args = InspectSimArgs(flags.sim_args);
  if (!sim_args.refused.empty()) {
    std::cerr << "vsray: vsray sim sets the simulator's password and TLS itself; pass '"
              << sim_args.refused << "' to vsray-sim directly instead\n";
    return kExitUsage;
  }
  std::vector<std::string> args = {binary};
  if (!sim_args.has_frozen) args.insert(args.end(), {"--frozen-vm", sim_args.frozen_vm});
  args.insert(args.end(), flags.sim_args.begin(), flags.sim_args.end());

  const std::string password = RandomPassword();
  const auto [child, ready_fd] = SpawnSimulator(std::move(args), password, quiet);
  if (child == 0) return kExitFailed;
  g_child = child;
  ForwardStopSignals();

  const nlohmann::json ready = ReadReadyLine(ready_fd);
  int code = kExitOk;
  if (!ready.is_object() || !ready.contains("url")) {
    std::cerr << "vsray: vsray-sim did not start (see its messages above)\n";
    code = kExitFailed;
  } else {
    code = HandOutConfig(flags, ready, password, sim_args.frozen_vm);
  }
  if (code != kExitOk) kill(child, SIGTERM);
  const int ended = WaitForSimulator(child);
  if (code != kExitOk && ended == kExitUsage) return kExitUsage;  // it refused its flags
  return code != kExitOk ? code : ended;
}

}  // namespace vsray::cli
