#include "cli/commands.h"

#include <algorithm>
#include <chrono>
#include <future>
#include <iostream>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "cli/interrupt.h"
#include "cli/output.h"
#include "cli/status.h"
#include "cluster/cluster.h"
#include "cluster/status.h"
#include "common/log.h"
#include "common/spelling.h"
#include "common/status.h"
#include "config/bootstrap.h"
#include "config/cluster_config.h"
#include "provider/node_provider.h"
#include "vsphere/passthrough.h"

namespace vsray::cli {
namespace {

using nlohmann::json;
using provider::NodeProvider;
using provider::TagMap;

// A fatal error: exit 2 is the config's (or usage's), else the status says.
int Fail(const Status& status, int code) {
  return FailRun(status, code, code == kExitUsage ? "config" : "");
}

// Errors about what the config names in vCenter (a missing pool, datastore or frozen VM, no
// usable frozen VM) point at `vsray check`, which checks each of them.
Status WithCheckHint(const Status& status, const std::string& config_path) {
  if (status.code() != StatusCode::kNotFound && status.code() != StatusCode::kFailedPrecondition) {
    return status;
  }
  Status hinted(status.code(),
                status.message() + "; `vsray check " + config_path + "` checks what it names");
  hinted.set_fault(status.fault());
  return hinted;
}

int UsageError(const Status& status) { return FailRun(status, kExitUsage, "usage"); }

// Reads the cluster config; `bootstrap` also completes it (key pair, userdata keys) as
// `ray up` does. Errors are the config's one-line located messages.
StatusOr<config::ClusterConfig> LoadConfig(const std::string& path, bool bootstrap) {
  if (bootstrap) return config::BootstrapConfigFile(path, config::BootstrapOptions{});
  return config::LoadClusterConfigFile(path);
}

// Config, then provider. Sets *exit_code on failure: 2 for the config, 1 for vCenter.
struct Opened {
  config::ClusterConfig config;
  std::unique_ptr<NodeProvider> provider;
};

std::optional<Opened> Open(const CommonFlags& flags, bool bootstrap, bool watch, int* exit_code,
                           Progress* progress = nullptr,
                           std::shared_ptr<const provider::Cancellation> cancel = nullptr) {
  auto config = LoadConfig(flags.config, bootstrap);
  if (!config.ok()) {
    *exit_code = Fail(config.status(), kExitUsage);
    return std::nullopt;
  }
  auto options = cluster::MakeProviderOptions(*config, watch);
  if (!options.ok()) {
    *exit_code = Fail(options.status(), kExitUsage);
    return std::nullopt;
  }
  // Only commands that create nodes deploy or power on frozen VMs.
  options->prepare_frozen_vms = bootstrap;
  options->cancel = std::move(cancel);
  if (progress != nullptr) {
    options->progress = [progress](const std::string& vm, const std::string& state) {
      progress->Update(vm, state);
    };
    options->frozen_vm_progress = [progress](const std::string& vm, const std::string& state) {
      progress->Update(vm, "frozen VM: " + state);
    };
  }
  ConnectingNotice notice(flags.quiet, options->connect.server);
  auto provider = NodeProvider::Create(*std::move(options), config->cluster_name);
  notice.Done();
  if (!provider.ok()) {
    *exit_code = Fail(WithCheckHint(provider.status(), flags.config), kExitFailed);
    return std::nullopt;
  }
  return Opened{*std::move(config), *std::move(provider)};
}

std::string TagOr(const TagMap& tags, std::string_view key, const std::string& fallback = "") {
  auto it = tags.find(std::string(key));
  return it == tags.end() ? fallback : it->second;
}

struct NodeRow {
  std::string id;
  std::string name;
  std::string node_type;
  std::string status;
  std::string state;  // NodeStateWord
  TagMap tags;
  std::optional<std::string> external_ip;
  std::optional<std::string> internal_ip;
  std::vector<vsphere::VmPassthroughDevice> gpus;  // filled by AddGpus
};

// A GPU of a node as `vsray nodes` shows it: "0000:3b:00.0", "dynamic 0000:3c:00.0",
// "vgpu grid_t4-8c".
std::string GpuText(const vsphere::VmPassthroughDevice& gpu) {
  using Backing = vsphere::PciPassthroughSpec::Backing;
  switch (gpu.backing) {
    case Backing::kFixed:
      return gpu.id;
    case Backing::kDynamic:
      return "dynamic " + (gpu.id.empty() ? std::string("(unbound)") : gpu.id);
    case Backing::kVgpu:
      return "vgpu " + gpu.vgpu;
  }
  return gpu.id;
}

json GpuJson(const vsphere::VmPassthroughDevice& gpu) {
  using Backing = vsphere::PciPassthroughSpec::Backing;
  if (gpu.backing == Backing::kVgpu) return {{"mode", "vgpu"}, {"profile", gpu.vgpu}};
  json out = {{"mode", gpu.backing == Backing::kFixed ? "passthrough" : "dynamic"},
              {"id", gpu.id.empty() ? json(nullptr) : json(gpu.id)},
              {"vendor_id", vsphere::PciIdHex(gpu.vendor_id)},
              {"device_id", vsphere::PciIdHex(gpu.device_id)}};
  if (!gpu.custom_label.empty()) out["custom_label"] = gpu.custom_label;
  return out;
}

// The GPUs of the GPU nodes among `rows`, read from vCenter (nothing for other nodes).
Status AddGpus(NodeProvider& provider, std::vector<NodeRow>& rows) {
  std::vector<std::string> ids;
  ids.reserve(rows.size());
  for (const auto& row : rows) ids.push_back(row.id);
  VSRAY_ASSIGN_OR_RETURN(auto gpus, provider.NodeGpus(ids));
  for (auto& row : rows) {
    if (auto it = gpus.find(row.id); it != gpus.end()) row.gpus = std::move(it->second);
  }
  return OkStatus();
}

NodeRow Describe(const NodeProvider& provider, const std::string& id) {
  NodeRow row;
  row.id = id;
  row.tags = provider.NodeTags(id);
  std::string power;
  if (auto node = provider.GetNode(id)) {
    row.name = node->name;
    power = node->power_state;
  }
  row.state = std::string(cluster::NodeState(power, row.tags));
  row.node_type = TagOr(row.tags, provider::kTagRayUserNodeType);
  row.status =
      TagOr(row.tags, provider::kTagRayNodeStatus, TagOr(row.tags, provider::kTagVsrayNodeStatus));
  row.external_ip = provider.ExternalIp(id);
  row.internal_ip = provider.InternalIp(id);
  return row;
}

json RowJson(const NodeRow& row) {
  json tags = json::object();
  for (const auto& [key, value] : row.tags) tags[key] = value;
  const auto ip = [](const std::optional<std::string>& value) {
    return value ? json(*value) : json(nullptr);
  };
  json gpus = json::array();
  for (const auto& gpu : row.gpus) gpus.push_back(GpuJson(gpu));
  return {{"id", row.id},
          {"name", row.name},
          {"node_type", row.node_type},
          {"status", row.status},
          {"state", row.state},
          {"tags", tags},
          {"external_ip", ip(row.external_ip)},
          {"internal_ip", ip(row.internal_ip)},
          {"gpus", gpus}};
}

// The nodes: a table, or with --json `document` (from JsonDocument) with their list.
void PrintNodes(const std::vector<NodeRow>& rows, bool as_json, json document) {
  if (as_json) {
    json nodes = json::array();
    for (const auto& row : rows) nodes.push_back(RowJson(row));
    document["nodes"] = std::move(nodes);
    PrintJson(document);
    return;
  }
  if (rows.empty()) {
    std::cout << "no nodes\n";
    return;
  }
  // A GPUS column when some node has GPUs.
  const bool gpus =
      std::any_of(rows.begin(), rows.end(), [](const auto& r) { return !r.gpus.empty(); });
  std::vector<std::vector<std::string>> table;
  table.reserve(rows.size());
  for (const auto& row : rows) {
    table.push_back(
        {row.id, row.name, row.node_type, row.status, row.state, row.external_ip.value_or("-")});
    if (!gpus) continue;
    std::string text;
    for (const auto& gpu : row.gpus) text += (text.empty() ? "" : ",") + GpuText(gpu);
    table.back().push_back(text.empty() ? "-" : text);
  }
  std::vector<std::string> header = {"ID", "NAME", "TYPE", "STATUS", "STATE", "IP"};
  if (gpus) header.emplace_back("GPUS");
  std::cout << FormatTable(header, table);
}

std::vector<NodeRow> DescribeAll(const NodeProvider& provider,
                                 const std::vector<std::string>& ids) {
  std::vector<NodeRow> rows;
  rows.reserve(ids.size());
  for (const auto& id : ids) rows.push_back(Describe(provider, id));
  std::sort(rows.begin(), rows.end(), [](const NodeRow& a, const NodeRow& b) {
    const bool a_head =
        a.tags.contains(std::string(provider::kTagRayNodeKind)) &&
        a.tags.at(std::string(provider::kTagRayNodeKind)) == provider::kNodeKindHead;
    const bool b_head =
        b.tags.contains(std::string(provider::kTagRayNodeKind)) &&
        b.tags.at(std::string(provider::kTagRayNodeKind)) == provider::kNodeKindHead;
    if (a_head != b_head) return a_head;
    return std::tie(a.node_type, a.name) < std::tie(b.node_type, b.name);
  });
  return rows;
}

// Tags given as KEY=VALUE words; `what` names them in errors ("--tag").
StatusOr<TagMap> ParseTags(const std::vector<std::string>& texts, const std::string& what) {
  TagMap tags;
  for (const auto& text : texts) {
    const auto eq = text.find('=');
    if (eq == std::string::npos || eq == 0) {
      std::string message = what;
      message += " '" + text + "': expected KEY=VALUE";
      return InvalidArgumentError(std::move(message));
    }
    tags[text.substr(0, eq)] = text.substr(eq + 1);
  }
  return tags;
}

// What `up` must create: the head if missing, and each node type's missing min_workers.
std::vector<std::pair<std::string, int>> PlanUp(const config::ClusterConfig& config,
                                                const NodeProvider& provider,
                                                const std::vector<std::string>& existing) {
  bool have_head = false;
  std::map<std::string, int> workers;
  for (const auto& id : existing) {
    const TagMap tags = provider.NodeTags(id);
    if (TagOr(tags, provider::kTagRayNodeKind) == provider::kNodeKindHead) {
      have_head = true;
    } else {
      ++workers[TagOr(tags, provider::kTagRayUserNodeType)];
    }
  }
  std::vector<std::pair<std::string, int>> plan;
  if (!have_head) plan.emplace_back(config.head_node_type, 1);
  for (const auto& [name, type] : config.node_types) {
    const int missing = type.min_workers - workers[name];
    if (missing > 0) plan.emplace_back(name, missing);
  }
  return plan;
}

struct Created {
  std::vector<std::string> ids;
  std::vector<Failure> failures;
  Status error;         // a node type none of whose nodes could be made
  int asked = 0;        // nodes the plan asked for
  int not_started = 0;  // of those, not started because of an interruption
};

// Adds one node type's outcome to `created`: nodes cancelled before their clone started are
// counted, not listed as failures.
void AddOutcome(const std::string& type_name, int count,
                const StatusOr<provider::CreateResult>& result, Created& created) {
  created.asked += count;
  const auto note = [&](const Status& failure) {
    if (failure.code() == StatusCode::kCancelled) {
      ++created.not_started;
    } else {
      created.failures.push_back(Failure::Of(failure, type_name, "", "clone_failed"));
    }
  };
  if (!result.ok()) {
    if (result.status().code() == StatusCode::kCancelled) {
      created.not_started += count;
      return;
    }
    Failure failure = Failure::Of(result.status(), type_name, "", "placement");
    failure.message = "none of " + std::to_string(count) + " node(s) created: " + failure.message;
    created.failures.push_back(std::move(failure));
    if (created.error.ok()) created.error = result.status();
    return;
  }
  for (const auto& node : result->created) created.ids.push_back(node.id);
  for (const auto& failure : result->failures) note(failure);
}

// Creates every entry of `plan` at once (the provider bounds the vCenter tasks in flight).
Created CreateAll(const config::ClusterConfig& config, NodeProvider& provider,
                  const std::vector<std::pair<std::string, int>>& plan,
                  const std::string& head_type_as_worker = "") {
  std::vector<std::future<StatusOr<provider::CreateResult>>> futures;
  for (const auto& [type_name, count] : plan) {
    const config::NodeType& type = config.node_types.at(type_name);
    provider::NodeSpec spec = cluster::MakeNodeSpec(type.node_config, config.vsphere);
    TagMap tags = cluster::NewNodeTags(config, type_name);
    if (type_name == head_type_as_worker) {
      tags[std::string(provider::kTagRayNodeKind)] = provider::kNodeKindWorker;
      tags.erase(std::string(provider::kTagRayNodeName));
    }
    futures.push_back(std::async(std::launch::async, [&provider, spec, tags, count = count] {
      return provider.CreateNode(spec, tags, count);
    }));
  }
  Created created;
  for (std::size_t i = 0; i < futures.size(); ++i) {
    AddOutcome(plan[i].first, plan[i].second, futures[i].get(), created);
  }
  return created;
}

// Waits until every node in `ids` runs and has an IPv4 address: re-checked whenever the
// provider's cache changes (the watcher reports power states and guest addresses).
Status WaitReady(const NodeProvider& provider, const std::vector<std::string>& ids,
                 std::chrono::seconds timeout, Progress& progress,
                 const InterruptWatch& interrupts) {
  std::set<std::string> waiting(ids.begin(), ids.end());
  const auto ready = [&] {
    if (interrupts.interrupted()) return true;  // stop waiting; the caller reports
    for (auto it = waiting.begin(); it != waiting.end();) {
      const auto node = provider.GetNode(*it);
      const std::string label = node ? node->name : *it;
      const auto ip = provider.InternalIp(*it);
      if (provider.IsRunning(*it) && ip) {
        progress.Update(label, "running, " + *ip);
        it = waiting.erase(it);
      } else {
        progress.Update(
            label, provider.IsRunning(*it) ? "waiting for an IPv4 address" : "waiting to power on");
        ++it;
      }
    }
    return waiting.empty();
  };
  if (provider.WaitUntil(ready, timeout).ok()) return OkStatus();
  return DeadlineExceededError(
      std::to_string(waiting.size()) + " node(s) got no IPv4 address within " +
      std::to_string(timeout.count()) + " s (timeouts.node_ready_s); first: " + *waiting.begin());
}

// How long `up`, `create` and `down` wait for another run's cluster lease (a progress line
// every 15 s; a Ctrl-C ends the wait).
constexpr std::chrono::seconds kLeaseWait{600};

// Takes the cluster lease for `what`. On failure prints why and sets *exit_code (130 when
// interrupted while waiting).
std::optional<provider::LeaseKeeper::Hold> TakeLease(NodeProvider& provider,
                                                     const std::string& what, int* exit_code) {
  auto hold = provider.HoldLease(what, kLeaseWait);
  if (hold.ok()) return *std::move(hold);
  const bool cancelled = hold.status().code() == StatusCode::kCancelled;
  *exit_code = Fail(hold.status(), cancelled ? kExitInterrupted : kExitFailed);
  return std::nullopt;
}

// Finishes or removes the cluster's half-made nodes (the caller holds the lease); records
// what it did in `extra` ("finished", "removed") and says what it could not do on stderr.
void RepairHalfMade(NodeProvider& provider, json& extra) {
  const provider::RepairReport report = provider.Repair();
  extra["finished"] = report.finished;
  extra["removed"] = report.removed;
  for (const auto& failure : report.failures) std::cerr << "vsray: " << failure << "\n";
}

// The end of an interrupted `up` or `create`: what exists is printed (stdout) and what was not
// made is said (stderr).
int ReportInterrupted(const Created& created) {
  std::cerr << "vsray: interrupted: " << created.ids.size() << " of " << created.asked
            << " node(s) created, " << created.not_started << " not started";
  if (!created.failures.empty()) std::cerr << ", " << created.failures.size() << " failed";
  std::cerr << "; run the command again to finish (half-made nodes are finished or removed)\n";
  for (const auto& failure : created.failures) std::cerr << "vsray: " << failure.Line() << "\n";
  return kExitInterrupted;
}

// The end of `up`: the nodes, then what failed or was left.
int ReportUp(const CommonFlags& flags, const NodeProvider& provider,
             const std::vector<std::string>& all, const Created& created, const Status& wait_status,
             bool interrupted, json extra) {
  extra["created"] = created.ids;
  extra["interrupted"] = interrupted;
  extra["not_created"] = created.asked - static_cast<int>(created.ids.size());
  if (!wait_status.ok() && !interrupted) {
    extra["failures"].push_back(
        FailuresJson({Failure::Of(wait_status, "", "", "timeout")}).front());
  }
  PrintNodes(DescribeAll(provider, all), flags.json, extra);
  if (interrupted) return ReportInterrupted(created);
  for (const auto& failure : created.failures) std::cerr << "vsray: " << failure.Line() << "\n";
  if (!created.failures.empty()) {
    // A node type none of whose nodes could be made: the config names something vCenter lacks.
    const bool placement = !created.error.ok();
    std::cerr << "vsray: " << created.asked - static_cast<int>(created.ids.size()) << " of "
              << created.asked << " node(s) were not created; "
              << (placement ? "run `vsray check " + flags.config + "` to see what is wrong"
                            : std::string("run `vsray up` again to retry"))
              << "\n";
    return kExitFailed;
  }
  if (!wait_status.ok()) return Fail(wait_status, kExitFailed);
  return kExitOk;
}

// Asks before creating `count` nodes on a terminal (unless --yes); false: cancelled.
bool ConfirmCreate(const CommonFlags& flags, int count, const std::string& cluster_name) {
  if (count == 0 || flags.yes || !IsTerminal(stdin)) return true;
  if (Confirm("Create " + std::to_string(count) + " node(s) for cluster '" + cluster_name + "'?")) {
    return true;
  }
  std::cerr << "vsray: cancelled\n";
  return false;
}

}  // namespace

int Up(const CommonFlags& flags, bool no_wait) {
  InterruptWatch interrupts;  // before any thread starts
  Progress progress(!flags.quiet, StderrTerminal());
  int code = kExitOk;
  auto opened =
      Open(flags, /*bootstrap=*/true, /*watch=*/true, &code, &progress, interrupts.token());
  if (!opened) return code;
  auto& [config, provider] = *opened;
  const auto lease = TakeLease(*provider, "vsray up", &code);
  if (!lease) return code;
  json extra = JsonDocument(config.cluster_name);
  RepairHalfMade(*provider, extra);

  auto existing = provider->NonTerminatedNodes({});
  if (!existing.ok()) return Fail(existing.status(), kExitFailed);
  const auto plan = PlanUp(config, *provider, *existing);
  int to_create = 0;
  for (const auto& entry : plan) to_create += entry.second;
  if (!ConfirmCreate(flags, to_create, config.cluster_name)) return kExitFailed;
  if (to_create == 0 && !flags.quiet) {
    std::cerr << "vsray: cluster '" << config.cluster_name << "' already has every node ("
              << existing->size() << ")\n";
  }
  Created created = CreateAll(config, *provider, plan);

  auto all = provider->NonTerminatedNodes({});
  if (!all.ok()) return Fail(all.status(), kExitFailed);
  Status wait_status;
  if (!no_wait && !interrupts.interrupted()) {
    wait_status =
        WaitReady(*provider, *all, config.vsphere.timeouts.node_ready, progress, interrupts);
  }
  progress.Finish();
  extra["failures"] = FailuresJson(created.failures);
  const int result = ReportUp(flags, *provider, *all, created, wait_status,
                              interrupts.interrupted(), std::move(extra));
  if (!interrupts.interrupted()) PrintUpSummary(flags, config, *provider);
  return result;
}

namespace {

// The end of `down`: what was terminated and, after an interruption or a failure, what is
// left.
int ReportDown(const CommonFlags& flags, NodeProvider& provider, const std::string& cluster_name,
               const std::vector<std::string>& ids, const std::vector<std::string>& names,
               const Status& status, bool interrupted) {
  std::set<std::string> left;
  if (interrupted || !status.ok()) {
    if (auto remaining = provider.AllNodes(); remaining.ok()) {
      left.insert(remaining->begin(), remaining->end());
    }
  }
  std::vector<std::string> terminated;
  for (const auto& id : ids) {
    if (!left.contains(id)) terminated.push_back(id);
  }
  if (flags.json) {
    json document = JsonDocument(cluster_name);
    document["terminated"] = terminated;
    document["left"] = std::vector<std::string>(left.begin(), left.end());
    document["interrupted"] = interrupted;
    std::vector<Failure> failures;
    if (!status.ok() && !interrupted)
      failures.push_back(Failure::Of(status, "", "", "terminate_failed"));
    document["failures"] = FailuresJson(failures);
    PrintJson(document);
  } else if (ids.empty()) {
    std::cout << "cluster '" << cluster_name << "' has no nodes\n";
  } else {
    for (std::size_t i = 0; i < ids.size(); ++i) {
      if (!left.contains(ids[i])) std::cout << "terminated " << ids[i] << " (" << names[i] << ")\n";
    }
    for (const auto& id : left) std::cout << "left " << id << "\n";
  }
  if (interrupted) {
    std::cerr << "vsray: interrupted: " << terminated.size() << " node(s) terminated, "
              << left.size() << " left; run `vsray down` again to remove them\n";
    return kExitInterrupted;
  }
  if (!status.ok()) return Fail(status, kExitFailed);
  return kExitOk;
}

// `down` deletes only when asked: on a terminal it asks, elsewhere it needs --yes (like
// terraform's -auto-approve). False (message printed) when it must refuse.
bool MayDownWithoutAsking(const CommonFlags& flags) {
  if (flags.yes || IsTerminal(stdin)) return true;
  std::cerr << "vsray: down: stdin is not a terminal, so there is no one to ask: pass --yes to "
               "terminate every node of the cluster\n";
  return false;
}

}  // namespace

int Down(const CommonFlags& flags) {
  if (!MayDownWithoutAsking(flags)) return kExitUsage;
  InterruptWatch interrupts;  // before any thread starts
  int code = kExitOk;
  auto opened =
      Open(flags, /*bootstrap=*/false, /*watch=*/false, &code, nullptr, interrupts.token());
  if (!opened) return code;
  auto& [config, provider] = *opened;
  const auto lease = TakeLease(*provider, "vsray down", &code);
  if (!lease) return code;
  auto ids = provider->AllNodes();
  if (!ids.ok()) return Fail(ids.status(), kExitFailed);
  if (!ids->empty() && !flags.yes && IsTerminal(stdin)) {
    if (!Confirm("Terminate all " + std::to_string(ids->size()) + " node(s) of cluster '" +
                 config.cluster_name + "'?")) {
      std::cerr << "vsray: cancelled\n";
      return kExitFailed;
    }
  }
  std::vector<std::string> names;
  for (const auto& id : *ids) {
    auto node = provider->GetNode(id);
    names.push_back(node ? node->name : id);
  }
  if (!flags.quiet && !ids->empty()) {
    std::cerr << "vsray: terminating " << ids->size() << " node(s) of cluster '"
              << config.cluster_name << "'\n";
  }
  const Status status = provider->TerminateNodes(*ids);
  return ReportDown(flags, *provider, config.cluster_name, *ids, names, status,
                    interrupts.interrupted());
}

int Nodes(const CommonFlags& flags, const std::vector<std::string>& tag_filters) {
  auto filters = ParseTags(tag_filters, "--tag");
  if (!filters.ok()) return UsageError(filters.status());
  int code = kExitOk;
  auto opened = Open(flags, /*bootstrap=*/false, /*watch=*/false, &code);
  if (!opened) return code;
  auto ids = opened->provider->NonTerminatedNodes(*filters);
  if (!ids.ok()) return Fail(ids.status(), kExitFailed);
  auto rows = DescribeAll(*opened->provider, *ids);
  if (Status gpus = AddGpus(*opened->provider, rows); !gpus.ok()) return Fail(gpus, kExitFailed);
  PrintNodes(rows, flags.json, JsonDocument(opened->config.cluster_name));
  return kExitOk;
}

int Create(const CommonFlags& flags, const std::string& node_type, int count) {
  if (count < 1) return UsageError(InvalidArgumentError("--count must be at least 1"));
  InterruptWatch interrupts;  // before any thread starts
  Progress progress(!flags.quiet, StderrTerminal());
  auto config = LoadConfig(flags.config, /*bootstrap=*/true);
  if (!config.ok()) return Fail(config.status(), kExitUsage);
  if (config->FindNodeType(node_type) == nullptr) {
    std::vector<std::string> known;
    for (const auto& [name, type] : config->node_types) known.push_back(name);
    return UsageError(InvalidArgumentError("--node-type '" + node_type +
                                           "' is not a key of available_node_types in " +
                                           flags.config + DidYouMean(node_type, known)));
  }
  int code = kExitOk;
  auto opened =
      Open(flags, /*bootstrap=*/true, /*watch=*/false, &code, &progress, interrupts.token());
  if (!opened) return code;
  auto& provider = *opened->provider;
  const auto lease = TakeLease(provider, "vsray create", &code);
  if (!lease) return code;
  json extra = JsonDocument(opened->config.cluster_name);
  RepairHalfMade(provider, extra);
  // A node of the head type is a worker of that type when the cluster has its head already
  // (complete: half-made ones were just finished or removed).
  std::string as_worker;
  if (node_type == config->head_node_type) {
    auto heads = provider.NonTerminatedNodes(
        {{std::string(provider::kTagRayNodeKind), std::string(provider::kNodeKindHead)}});
    if (!heads.ok()) return Fail(heads.status(), kExitFailed);
    if (!heads->empty() || count > 1) as_worker = node_type;
  }
  Created created = CreateAll(opened->config, provider, {{node_type, count}}, as_worker);
  progress.Finish();
  extra["failures"] = FailuresJson(created.failures);
  extra["interrupted"] = interrupts.interrupted();
  PrintNodes(DescribeAll(provider, created.ids), flags.json, extra);
  if (interrupts.interrupted()) return ReportInterrupted(created);
  for (const auto& failure : created.failures) std::cerr << "vsray: " << failure.Line() << "\n";
  return created.failures.empty() ? kExitOk : kExitFailed;
}

int Terminate(const CommonFlags& flags, const std::vector<std::string>& node_ids) {
  int code = kExitOk;
  auto opened = Open(flags, /*bootstrap=*/false, /*watch=*/false, &code);
  if (!opened) return code;
  auto& provider = *opened->provider;
  if (auto listed = provider.AllNodes(); !listed.ok()) return Fail(listed.status(), kExitFailed);
  std::vector<std::string> done;
  std::vector<Failure> failures;
  for (const auto& id : node_ids) {
    if (!provider.GetNode(id)) {
      failures.push_back(
          Failure::Of(NotFoundError("not a node of cluster '" + opened->config.cluster_name + "'"),
                      "", id, "not_found"));
      continue;
    }
    const std::string node_type = TagOr(provider.NodeTags(id), provider::kTagRayUserNodeType);
    const Status status = provider.TerminateNode(id);
    if (status.ok()) {
      done.push_back(id);
    } else {
      failures.push_back(Failure::Of(status, node_type, id, "terminate_failed"));
    }
  }
  if (flags.json) {
    json document = JsonDocument(opened->config.cluster_name);
    document["terminated"] = done;
    document["failures"] = FailuresJson(failures);
    PrintJson(document);
  } else {
    for (const auto& id : done) std::cout << "terminated " << id << "\n";
  }
  for (const auto& failure : failures) std::cerr << "vsray: " << failure.Line() << "\n";
  return failures.empty() ? kExitOk : kExitFailed;
}

int SetTags(const CommonFlags& flags, const std::string& node_id,
            const std::vector<std::string>& tags) {
  auto values = ParseTags(tags, "tag");
  if (!values.ok()) return UsageError(values.status());
  int code = kExitOk;
  auto opened = Open(flags, /*bootstrap=*/false, /*watch=*/false, &code);
  if (!opened) return code;
  auto& provider = *opened->provider;
  if (auto listed = provider.AllNodes(); !listed.ok()) return Fail(listed.status(), kExitFailed);
  if (!provider.GetNode(node_id)) {
    return Fail(NotFoundError("node '" + node_id + "' is not a node of cluster '" +
                              opened->config.cluster_name + "'"),
                kExitFailed);
  }
  if (Status status = provider.SetNodeTags(node_id, *values); !status.ok()) {
    return Fail(status, kExitFailed);
  }
  PrintNodes({Describe(provider, node_id)}, flags.json, JsonDocument(opened->config.cluster_name));
  return kExitOk;
}

namespace {

// A frozen VM's state as its table and JSON show it: "missing" (to deploy) or NodeStateWord.
std::string FrozenVmState(const provider::FrozenVmStatus& s) {
  return s.id.empty() ? "missing" : NodeStateWord(s.power_state, "");
}

void PrintFrozenVmStatuses(const std::string& cluster_name,
                           const std::vector<provider::FrozenVmStatus>& statuses, bool as_json) {
  if (as_json) {
    json out = json::array();
    for (const auto& s : statuses) {
      out.push_back({{"name", s.name},
                     {"id", s.id.empty() ? json(nullptr) : json(s.id)},
                     {"host", s.host},
                     {"host_state", s.host_state},
                     {"state", FrozenVmState(s)},
                     {"frozen", s.frozen},
                     {"usable", s.usable},
                     {"clones_on_host", s.clones_on_host},
                     {"problem", s.problem.empty() ? json(nullptr) : json(s.problem)}});
    }
    json document = JsonDocument(cluster_name);
    document["frozen_vms"] = std::move(out);
    PrintJson(document);
    return;
  }
  if (statuses.empty()) {
    std::cout << "no frozen VM found\n";
    return;
  }
  std::vector<std::vector<std::string>> table;
  table.reserve(statuses.size());
  const auto or_dash = [](const std::string& text) { return text.empty() ? "-" : text; };
  for (const auto& s : statuses) {
    table.push_back({or_dash(s.name), or_dash(s.id), s.host, s.host_state, FrozenVmState(s),
                     s.frozen ? "yes" : "no", std::to_string(s.clones_on_host),
                     s.usable ? "ok" : s.problem});
  }
  std::cout << FormatTable(
      {"NAME", "ID", "HOST", "HOST STATE", "STATE", "FROZEN", "CLONES", "STATUS"}, table);
}

}  // namespace

int FrozenVmStatus(const CommonFlags& flags) {
  auto config = LoadConfig(flags.config, /*bootstrap=*/false);
  if (!config.ok()) return Fail(config.status(), kExitUsage);
  auto options = cluster::MakeProviderOptions(*config, /*watch=*/false);
  if (!options.ok()) return Fail(options.status(), kExitUsage);
  ConnectingNotice notice(flags.quiet, options->connect.server);
  auto statuses = NodeProvider::FrozenVmStatusOf(*std::move(options), config->cluster_name);
  notice.Done();
  if (!statuses.ok()) return Fail(statuses.status(), kExitFailed);
  PrintFrozenVmStatuses(config->cluster_name, *statuses, flags.json);
  const bool all_usable = !statuses->empty() && std::all_of(statuses->begin(), statuses->end(),
                                                            [](const auto& s) { return s.usable; });
  return all_usable ? kExitOk : kExitFailed;
}

int FrozenVmPrepare(const CommonFlags& flags) {
  Progress progress(!flags.quiet, StderrTerminal());
  auto config = LoadConfig(flags.config, /*bootstrap=*/true);
  if (!config.ok()) return Fail(config.status(), kExitUsage);
  auto options = cluster::MakeProviderOptions(*config, /*watch=*/false);
  if (!options.ok()) return Fail(options.status(), kExitUsage);
  options->frozen_vm_progress = [&progress](const std::string& vm, const std::string& state) {
    progress.Update(vm, state);
  };
  std::vector<provider::FrozenVmSpec> extra;
  for (const auto& [name, type] : config->node_types) {
    if (type.node_config.frozen_vm) {
      auto spec = cluster::ToFrozenVmSpec(*type.node_config.frozen_vm);
      if (!(spec == options->frozen_vm) &&
          std::find(extra.begin(), extra.end(), spec) == extra.end()) {
        extra.push_back(spec);
      }
    }
  }
  ConnectingNotice notice(flags.quiet, options->connect.server);
  auto prepared = NodeProvider::PrepareFrozenVms(*std::move(options), extra);
  notice.Done();
  progress.Finish();
  if (!prepared.ok()) return Fail(prepared.status(), kExitFailed);
  json out = json::array();
  std::vector<std::vector<std::string>> table;
  for (const auto& set : *prepared) {
    for (const auto& vm : set) {
      out.push_back({{"name", vm.name}, {"id", vm.vm.value}, {"host", vm.host.value}});
      table.push_back({vm.name, vm.vm.value, vm.host.value});
    }
  }
  if (flags.json) {
    json document = JsonDocument(config->cluster_name);
    document["frozen_vms"] = std::move(out);
    PrintJson(document);
  } else {
    std::cout << FormatTable({"NAME", "ID", "HOST"}, table);
  }
  return kExitOk;
}

}  // namespace vsray::cli
