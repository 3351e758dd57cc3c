#include "cli/status.h"

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <iostream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

#include "cli/interrupt.h"
#include "cli/output.h"
#include "cluster/cluster.h"
#include "cluster/status.h"
#include "common/clock.h"
#include "config/cluster_config.h"

namespace vsray::cli {
namespace {

using cluster::ClusterStatus;
using nlohmann::json;

// A short stable word for an error (the JSON contract's `code`).
std::string ErrorCode(const Status& status, bool reachable) {
  if (!reachable) return "unreachable";
  switch (status.code()) {
    case StatusCode::kNotFound:
      return "not_found";
    case StatusCode::kPermissionDenied:
    case StatusCode::kUnauthenticated:
      return "permission";
    case StatusCode::kDeadlineExceeded:
      return "timeout";
    default:
      return "failed";
  }
}

json ErrorJson(const Status& status, bool reachable) {
  return {{"code", ErrorCode(status, reachable)},
          {"fault", status.fault()},
          {"message", status.message()}};
}

json NullIfEmpty(const std::string& text) { return text.empty() ? json(nullptr) : json(text); }

json NodeTypesJson(const ClusterStatus& status) {
  json types = json::array();
  for (const auto& type : status.node_types) {
    json states = json::object();
    for (const auto& [state, count] : type.states) states[state] = count;
    types.push_back({{"name", type.name},
                     {"head", type.head},
                     {"min_workers", type.min_workers},
                     {"max_workers", type.max_workers},
                     {"workers", type.workers},
                     {"states", states}});
  }
  return types;
}

json FrozenVmsJson(const ClusterStatus& status) {
  json out = json::array();
  for (const auto& s : status.frozen_vms) {
    out.push_back({{"name", s.name},
                   {"id", s.id},
                   {"host", s.host},
                   {"host_state", s.host_state},
                   {"power_state", s.power_state},
                   {"frozen", s.frozen},
                   {"usable", s.usable},
                   {"clones_on_host", s.clones_on_host},
                   {"problem", s.problem}});
  }
  return out;
}

// Parts that could not be read although vCenter answered (frozen VMs, GPUs).
json FailuresJson(const ClusterStatus& status) {
  json failures = json::array();
  for (const Status* part : {&status.frozen_vm_error, &status.gpu_error}) {
    if (part->ok()) continue;
    json failure = ErrorJson(*part, true);
    failure["node_type"] = nullptr;
    failure["id"] = nullptr;
    failures.push_back(std::move(failure));
  }
  return failures;
}

json StatusJson(const ClusterStatus& status) {
  json out = {{"schema_version", 1},
              {"command", "status"},
              {"cluster_name", status.cluster_name},
              {"vcenter",
               {{"server", status.server},
                {"tls_mode", status.tls_mode},
                {"reachable", status.reachable}}}};
  if (!status.error.ok()) out["error"] = ErrorJson(status.error, status.reachable);
  json head = nullptr;
  if (status.head) {
    head = {{"id", status.head->id},
            {"name", status.head->name},
            {"state", status.head->state},
            {"ip", NullIfEmpty(status.head->ip)},
            {"ssh_command", NullIfEmpty(status.head->ssh_command)}};
  }
  out["head"] = head;
  out["node_types"] = NodeTypesJson(status);
  json foreign = json::array();
  for (const auto& vm : status.foreign_vms) {
    foreign.push_back({{"id", vm.id}, {"name", vm.name}, {"cluster", NullIfEmpty(vm.cluster)}});
  }
  out["foreign_vms"] = foreign;
  out["frozen_vms"] = FrozenVmsJson(status);
  json gpus = json::array();
  for (const auto& host : status.gpus) {
    gpus.push_back({{"host", host.host}, {"gpus", host.gpus}, {"nodes", host.nodes}});
  }
  out["gpus"] = status.gpu_cluster ? gpus : json(nullptr);
  out["failures"] = FailuresJson(status);
  return out;
}

std::string TlsText(std::string_view mode) {
  if (mode == "insecure") return "NOT verified (tls.insecure)";
  if (mode == "thumbprint") return "pinned by tls.thumbprint";
  if (mode == "ca_file") return "verified with tls.ca_file";
  return "verified (system CAs)";
}

void PrintHead(const ClusterStatus& status, std::ostream& out) {
  if (!status.head) {
    out << "Head      none (`vsray up` creates it)\n";
    return;
  }
  const auto& head = *status.head;
  out << "Head      " << head.id << " (" << head.name << ") " << head.state << ", "
      << (head.ip.empty() ? std::string("no IPv4 address yet") : head.ip) << "\n";
  if (!head.ssh_command.empty()) out << "          " << head.ssh_command << "\n";
}

void PrintNodeTypes(const ClusterStatus& status, std::ostream& out) {
  std::vector<std::vector<std::string>> rows;
  for (const auto& type : status.node_types) {
    const auto count = [&](std::string_view state) {
      auto it = type.states.find(std::string(state));
      return std::to_string(it == type.states.end() ? 0 : it->second);
    };
    int other = type.workers;
    for (const auto state :
         {cluster::kNodeStateRunning, cluster::kNodeStateCreating, cluster::kNodeStateFailed}) {
      if (auto it = type.states.find(std::string(state)); it != type.states.end()) {
        other -= it->second;
      }
    }
    rows.push_back({type.name + (type.head ? " (head type)" : ""), std::to_string(type.workers),
                    count(cluster::kNodeStateRunning), count(cluster::kNodeStateCreating),
                    count(cluster::kNodeStateFailed), std::to_string(other),
                    std::to_string(type.min_workers), std::to_string(type.max_workers)});
  }
  out << FormatTable(
      {"NODE TYPE", "WORKERS", "RUNNING", "CREATING", "FAILED", "OTHER", "MIN", "MAX"}, rows);
}

void PrintFrozenVms(const ClusterStatus& status, std::ostream& out) {
  if (!status.frozen_vm_error.ok()) {
    out << "Frozen VMs: cannot list them: " << status.frozen_vm_error.message() << "\n";
    return;
  }
  if (status.frozen_vms.empty()) {
    out << "Frozen VMs: none found (`vsray check` says why)\n";
    return;
  }
  std::vector<std::vector<std::string>> rows;
  for (const auto& s : status.frozen_vms) {
    rows.push_back({s.name.empty() ? "-" : s.name, s.host, s.usable ? "ok" : s.problem,
                    std::to_string(s.clones_on_host)});
  }
  out << FormatTable({"FROZEN VM", "HOST", "STATE", "NODES ON HOST"}, rows);
}

void PrintExtras(const ClusterStatus& status, std::ostream& out) {
  if (!status.foreign_vms.empty()) {
    out << "VMs in the cluster's folder that are not its nodes (vsray never touches them):\n";
    for (const auto& vm : status.foreign_vms) {
      out << "  " << vm.id << " " << vm.name << " ("
          << (vm.cluster.empty() ? std::string("untagged") : "cluster '" + vm.cluster + "'")
          << ")\n";
    }
  }
  if (!status.gpu_cluster) return;
  if (!status.gpu_error.ok()) {
    out << "GPUs: cannot read them: " << status.gpu_error.message() << "\n";
    return;
  }
  out << "GPUs in use:" << (status.gpus.empty() ? " none" : "") << "\n";
  for (const auto& host : status.gpus) {
    std::string nodes;
    for (const auto& id : host.nodes) nodes += (nodes.empty() ? "" : ", ") + id;
    out << "  host " << host.host << ": " << host.gpus << " (" << nodes << ")\n";
  }
}

std::string StatusText(const ClusterStatus& status) {
  std::ostringstream out;
  out << "Cluster   " << status.cluster_name << "\n";
  out << "vCenter   " << status.server << ", TLS " << TlsText(status.tls_mode) << ", "
      << (status.reachable ? "reachable" : "NOT reachable") << "\n";
  if (!status.error.ok()) {
    out << "Error     " << status.error.message() << "\n";
    if (status.reachable) out << "          (`vsray check CONFIG` checks every part)\n";
    return out.str();
  }
  PrintHead(status, out);
  out << "\n";
  PrintNodeTypes(status, out);
  out << "\n";
  PrintFrozenVms(status, out);
  PrintExtras(status, out);
  return out.str();
}

// One round of status: gathered and printed; the exit code it stands for.
int StatusRound(const config::ClusterConfig& config, bool as_json, bool redraw) {
  auto options = cluster::MakeProviderOptions(config, /*watch=*/false);
  ClusterStatus status =
      options.ok() ? cluster::CollectStatus(config, *std::move(options))
                   : cluster::UnreachableStatus(cluster::StatusInputsOf(config), options.status());
  if (as_json) {
    std::cout << StatusJson(status).dump(redraw ? -1 : 2) << std::endl;
  } else {
    if (redraw) std::cout << "\x1b[H\x1b[2J";
    std::cout << StatusText(status) << std::flush;
  }
  return status.error.ok() ? kExitOk : kExitFailed;
}

// Waits `period` on the clock, in short steps so that a Ctrl-C ends the wait soon.
void WaitOrInterrupt(Clock& clock, std::chrono::seconds period, const InterruptWatch& interrupts) {
  const auto end = clock.Now() + period;
  constexpr std::chrono::milliseconds kStep{100};
  while (!interrupts.interrupted() && clock.Now() < end) {
    clock.SleepFor(std::min<Clock::Duration>(kStep, end - clock.Now()));
  }
}

bool CanRedraw() {
  const char* term = std::getenv("TERM");  // NOLINT(concurrency-mt-unsafe): no setenv
  return IsTerminal(stdout) && term != nullptr && std::string_view(term) != "dumb";
}

}  // namespace

int ClusterStatusCommand(const CommonFlags& flags, int watch_seconds) {
  auto config = config::LoadClusterConfigFile(flags.config);
  if (!config.ok()) {
    std::cerr << "vsray: " << config.status().message() << "\n";
    return kExitUsage;
  }
  if (watch_seconds <= 0) return StatusRound(*config, flags.json, /*redraw=*/false);
  InterruptWatch interrupts;  // before any thread starts
  // JSON: one object per line per round; text: the screen redrawn on a terminal.
  const bool redraw = flags.json || CanRedraw();
  while (!interrupts.interrupted()) {
    StatusRound(*config, flags.json, redraw);
    WaitOrInterrupt(SystemClock::Instance(), std::chrono::seconds(watch_seconds), interrupts);
    if (!redraw && !interrupts.interrupted()) std::cout << "\n";
  }
  return kExitInterrupted;
}

void PrintUpSummary(const CommonFlags& flags, const config::ClusterConfig& config,
                    provider::NodeProvider& provider) {
  if (flags.json) return;
  const ClusterStatus status = cluster::GatherStatus(cluster::StatusInputsOf(config), provider);
  std::cout << "\n" << StatusText(status) << "\nNext:\n";
  if (status.head && !status.head->ssh_command.empty()) {
    std::cout << "  " << status.head->ssh_command << "      # a shell on the head node\n";
  }
  std::cout << "  vsray status " << flags.config << "      # this summary again\n";
}

}  // namespace vsray::cli
