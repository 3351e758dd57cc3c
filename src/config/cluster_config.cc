#include "config/cluster_config.h"

#include <algorithm>
#include <array>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <limits>
#include <regex>
#include <sstream>
#include <system_error>
#include <utility>

#include "common/log.h"
#include "config/checker.h"
#include "config/parse_internal.h"
#include "config/ray_keys.h"
#include "config/yaml_tree.h"

namespace vsray::config {
namespace {

using internal::ExpandHome;
using internal::IsValidUserName;
using internal::kRedacted;
using internal::ParseContext;
using internal::ParseFrozenVm;
using internal::Scrubbed;
using internal::Secrets;
using nlohmann::json;

constexpr std::uintmax_t kMaxConfigBytes = 10U << 20U;
constexpr std::int64_t kMaxInt = std::numeric_limits<int>::max();

struct Resources {
  std::map<std::string, double> all;
  int cpus = 0;
  std::int64_t memory_mib = 0;
  int gpus = 0;
};

StatusOr<Resources> ParseResources(Checker& checker, const json& object, const ConfigPath& path) {
  Resources resources;
  for (const auto& [name, value] : object.items()) {
    if (!value.is_number() || value.get<double>() < 0) {
      return checker.Error(path.Key(name),
                           "expected a number >= 0, got " +
                               (value.is_number() ? value.dump() : DescribeType(value)));
    }
    resources.all[name] = value.get<double>();
  }
  std::int64_t number = 0;
  VSRAY_RETURN_IF_ERROR(checker.GetInt(object, path, "CPU", 0, 4096, &number));
  resources.cpus = static_cast<int>(number);
  number = 0;
  VSRAY_RETURN_IF_ERROR(checker.GetInt(object, path, "GPU", 0, 64, &number));
  resources.gpus = static_cast<int>(number);
  VSRAY_RETURN_IF_ERROR(
      checker.GetInt(object, path, "Memory", 0, 24LL * 1024 * 1024, &resources.memory_mib));
  if (resources.memory_mib % 4 != 0) {
    return checker.Error(path.Key("Memory"),
                         "the VM's memory in MiB must be a multiple of 4, got " +
                             std::to_string(resources.memory_mib));
  }
  if (Member(object, "memory") != nullptr && Member(object, "Memory") == nullptr) {
    checker.Warn(path.Key("memory"),
                 "'memory' is Ray's heap memory in bytes and does not size the VM; the VM's "
                 "memory is 'Memory' (MiB)");
  }
  return resources;
}

struct NodeConfigParse {
  NodeConfig config;
  bool has_own_frozen_vm = false;
};

StatusOr<CloneMode> ParseCloneMode(const Checker& checker, const json& object,
                                   const ConfigPath& path) {
  std::string mode;
  VSRAY_RETURN_IF_ERROR(checker.GetString(object, path, "clone_mode", &mode));
  if (mode.empty()) return CloneMode::kInstant;
  if (const auto parsed = provider::ParseCloneMode(mode)) return *parsed;
  return checker.Error(path.Key("clone_mode"),
                       "'" + mode + "' is not a clone mode; expected instant, linked or full");
}

// A PCI vendor or device id: a hex string ("10de", "0x10de") or an integer 0..65535.
StatusOr<std::optional<std::uint16_t>> ParsePciId(const Checker& checker, const json& object,
                                                  const ConfigPath& path, std::string_view key) {
  const json* value = Member(object, key);
  if (value == nullptr || value->is_null()) return std::optional<std::uint16_t>();
  if (value->is_number_integer() && value->get<std::int64_t>() >= 0 &&
      value->get<std::int64_t>() <= 0xFFFF) {
    return std::optional<std::uint16_t>(static_cast<std::uint16_t>(value->get<std::int64_t>()));
  }
  static const std::regex kHex("(0[xX])?[0-9a-fA-F]{1,4}");
  if (value->is_string() && std::regex_match(value->get<std::string>(), kHex)) {
    return std::optional<std::uint16_t>(
        static_cast<std::uint16_t>(std::stoul(value->get<std::string>(), nullptr, 16)));
  }
  return checker.Error(
      path.Key(key),
      "expected a PCI id: up to 4 hex digits in quotes (e.g. \"10de\")"
      " or an integer 0..65535, got " +
          (value->is_string() ? "'" + value->get<std::string>() + "'" : value->dump()));
}

// node_config.gpu: the GPUs a node type takes (narrowed by ids and label, or a vGPU profile).
StatusOr<NodeGpuConfig> ParseNodeGpu(Checker& checker, const json& object,
                                     const ConfigPath& parent) {
  NodeGpuConfig gpu;
  VSRAY_ASSIGN_OR_RETURN(const json* given, checker.GetObject(object, parent, "gpu"));
  if (given == nullptr) return gpu;
  const ConfigPath path = parent.Key("gpu");
  VSRAY_RETURN_IF_ERROR(
      checker.CheckKeys(*given, path, {"vendor_id", "device_id", "custom_label", "vgpu_profile"}));
  VSRAY_ASSIGN_OR_RETURN(gpu.vendor_id, ParsePciId(checker, *given, path, "vendor_id"));
  VSRAY_ASSIGN_OR_RETURN(gpu.device_id, ParsePciId(checker, *given, path, "device_id"));
  VSRAY_RETURN_IF_ERROR(checker.GetString(*given, path, "custom_label", &gpu.custom_label));
  VSRAY_RETURN_IF_ERROR(checker.GetString(*given, path, "vgpu_profile", &gpu.vgpu_profile));
  if (!gpu.vgpu_profile.empty() && (gpu.vendor_id || gpu.device_id || !gpu.custom_label.empty())) {
    return checker.Error(path,
                         "give either 'vgpu_profile' (vGPUs) or 'vendor_id', 'device_id' and "
                         "'custom_label' (whole devices), not both");
  }
  return gpu;
}

// node_config.gpu narrows GPUs the node type must ask for (resources.GPU).
Status CheckGpuCount(const Checker& checker, const NodeConfig& config, const ConfigPath& gpu_path,
                     const std::string& resources_path) {
  if (config.gpus > 0 || config.gpu == NodeGpuConfig{}) return OkStatus();
  return checker.Error(gpu_path, "says which GPUs the node type takes, but " + resources_path +
                                     ".GPU is 0: set it to the number of GPUs (vGPUs) per node");
}

// node_config.frozen_vm (or Ray's older frozen_vm_name); nullopt when neither is given.
StatusOr<std::optional<FrozenVmConfig>> ParseOwnFrozenVm(Checker& checker, const json& object,
                                                         const ConfigPath& path) {
  VSRAY_ASSIGN_OR_RETURN(const json* frozen, checker.GetObject(object, path, "frozen_vm"));
  std::string frozen_vm_name;
  VSRAY_RETURN_IF_ERROR(checker.GetString(object, path, "frozen_vm_name", &frozen_vm_name));
  if (frozen != nullptr && !frozen_vm_name.empty()) {
    return checker.Error(path,
                         "give either 'frozen_vm' or 'frozen_vm_name' (Ray's older "
                         "spelling of frozen_vm.name), not both");
  }
  if (frozen != nullptr) {
    VSRAY_ASSIGN_OR_RETURN(FrozenVmConfig parsed,
                           ParseFrozenVm(checker, *frozen, path.Key("frozen_vm")));
    return std::optional<FrozenVmConfig>(std::move(parsed));
  }
  if (frozen_vm_name.empty()) return std::optional<FrozenVmConfig>();
  FrozenVmConfig named;
  named.name = frozen_vm_name;
  return std::optional<FrozenVmConfig>(std::move(named));
}

// One node_config. `inherited`: the placement and frozen VM used when this one sets none.
StatusOr<NodeConfigParse> ParseNodeConfigObject(Checker& checker, const json& object,
                                                const ConfigPath& path,
                                                const NodeConfig& inherited) {
  NodeConfigParse parse;
  NodeConfig& config = parse.config;
  checker.WarnUnknownKeys(object, path,
                          {"resource_pool", "datastore", "clone_mode", "frozen_vm",
                           "frozen_vm_name", "resources", "gpu"},
                          "(kept for Ray; vsray does not use it)");
  config.resource_pool = inherited.resource_pool;
  config.datastore = inherited.datastore;
  VSRAY_RETURN_IF_ERROR(checker.GetString(object, path, "resource_pool", &config.resource_pool));
  VSRAY_RETURN_IF_ERROR(checker.GetString(object, path, "datastore", &config.datastore));
  VSRAY_ASSIGN_OR_RETURN(config.clone_mode, ParseCloneMode(checker, object, path));
  VSRAY_ASSIGN_OR_RETURN(std::optional<FrozenVmConfig> own,
                         ParseOwnFrozenVm(checker, object, path));
  parse.has_own_frozen_vm = own.has_value();
  config.frozen_vm = own.has_value() ? own : inherited.frozen_vm;
  VSRAY_ASSIGN_OR_RETURN(const json* resources, checker.GetObject(object, path, "resources"));
  if (resources != nullptr) {
    VSRAY_ASSIGN_OR_RETURN(Resources parsed,
                           ParseResources(checker, *resources, path.Key("resources")));
    config.cpus = parsed.cpus;
    config.memory_mib = parsed.memory_mib;
    config.gpus = parsed.gpus;
  }
  VSRAY_ASSIGN_OR_RETURN(config.gpu, ParseNodeGpu(checker, object, path));
  return parse;
}

// The resources that size the VM: the only ones copied into node_config, because node_config
// feeds Ray's launch hash (a change there relaunches nodes; a custom resource must not).
constexpr std::array<std::string_view, 3> kSizingResources = {"CPU", "Memory", "GPU"};

// node_config as it goes back to Ray: the input with the resolved values written in.
json CompletedNodeConfig(const json* original, const NodeConfig& config, const json& resources) {
  json out = original != nullptr && original->is_object() ? *original : json::object();
  out.erase("frozen_vm_name");
  if (!config.resource_pool.empty()) out["resource_pool"] = config.resource_pool;
  if (!config.datastore.empty()) out["datastore"] = config.datastore;
  out["clone_mode"] = std::string(CloneModeName(config.clone_mode));
  if (config.frozen_vm) out["frozen_vm"] = config.frozen_vm->ToJson();
  json sizing = json::object();
  for (const std::string_view key : kSizingResources) {
    if (const json* value = Member(resources, key); value != nullptr)
      sizing[std::string(key)] = *value;
  }
  out["resources"] = std::move(sizing);
  return out;
}

Status CheckClusterName(const Checker& checker, const ConfigPath& path, const std::string& name) {
  if (name.size() > 60) {
    return checker.Error(path, "is " + std::to_string(name.size()) +
                                   " characters long; at most 60 (it is part of VM names)");
  }
  if (name.find_first_of("/\\%") != std::string::npos) {
    return checker.Error(path,
                         "must not contain '/', '\\' or '%' (it is part of VM and folder "
                         "names)");
  }
  return OkStatus();
}

// Reads a whole cluster config, one named step per part of it.
class ClusterParser {
 public:
  ClusterParser(const Document& document, const LoadOptions& options)
      : context_(internal::MakeParseContext(options)),
        checker_(document.source, &document.lines),
        root_(document.root) {
    config_.source = document.source;
  }

  StatusOr<ClusterConfig> Parse();

 private:
  Status CheckRoot() const;
  Status ParseTopLevel();
  Status ParseAuth();
  Status ParseAuthKeys(const json& auth, const ConfigPath& auth_path);
  Status ParseProvider();
  Status ParseProviderType(const json& provider, const ConfigPath& provider_path);
  StatusOr<const json*> ParseHeadNodeType();
  Status ParseNodeTypes(const json& types);
  Status ParseNodeType(const std::string& name, const json& entry, const NodeConfig& inherited);
  Status ParseWorkerCounts(const json& entry, const ConfigPath& type_path, bool is_head,
                           NodeType& node_type);
  Status ParseNodeTypeExtras(const json& entry, const ConfigPath& type_path, NodeType& node_type);
  Status ParseMountsAndCommands();
  void CompleteTree();

  ParseContext context_;
  Checker checker_;
  const json& root_;
  const ConfigPath top_;
  ClusterConfig config_;
};

StatusOr<ClusterConfig> ClusterParser::Parse() {
  VSRAY_RETURN_IF_ERROR(CheckRoot());
  config_.tree = root_;
  VSRAY_RETURN_IF_ERROR(checker_.CheckKeys(root_, top_, RayTopLevelKeys()));
  VSRAY_RETURN_IF_ERROR(ParseTopLevel());
  VSRAY_RETURN_IF_ERROR(ParseAuth());
  VSRAY_RETURN_IF_ERROR(ParseProvider());
  VSRAY_ASSIGN_OR_RETURN(const json* types, ParseHeadNodeType());
  VSRAY_RETURN_IF_ERROR(ParseNodeTypes(*types));
  VSRAY_RETURN_IF_ERROR(ParseMountsAndCommands());
  CompleteTree();
  config_.warnings = checker_.warnings();
  for (const std::string& warning : config_.warnings) Log()->warn("{}", warning);
  return std::move(config_);
}

Status ClusterParser::CheckRoot() const {
  constexpr std::string_view kExpected =
      "a mapping with cluster_name, provider, auth, available_node_types and head_node_type";
  if (root_.is_null()) {
    return ConfigError(config_.source, 1, "",
                       "the config is empty; expected " + std::string(kExpected));
  }
  if (!root_.is_object()) {
    return checker_.Error(top_,
                          "expected " + std::string(kExpected) + ", got " + DescribeType(root_));
  }
  return OkStatus();
}

Status ClusterParser::ParseTopLevel() {
  bool present = false;
  VSRAY_RETURN_IF_ERROR(
      checker_.GetString(root_, top_, "cluster_name", &config_.cluster_name, &present));
  if (!present) {
    return checker_.Error(top_,
                          "'cluster_name' is required: a name for the cluster (it names the "
                          "VM folder and the VMs)");
  }
  VSRAY_RETURN_IF_ERROR(CheckClusterName(checker_, top_.Key("cluster_name"), config_.cluster_name));
  std::int64_t max_workers = config_.max_workers;
  VSRAY_RETURN_IF_ERROR(checker_.GetInt(root_, top_, "max_workers", 0, kMaxInt, &max_workers));
  config_.max_workers = static_cast<int>(max_workers);
  VSRAY_RETURN_IF_ERROR(
      checker_.GetNumber(root_, top_, "upscaling_speed", 0, true, &config_.upscaling_speed));
  VSRAY_RETURN_IF_ERROR(checker_.GetNumber(root_, top_, "idle_timeout_minutes", 0, false,
                                           &config_.idle_timeout_minutes));
  VSRAY_ASSIGN_OR_RETURN(const json* docker, checker_.GetObject(root_, top_, "docker"));
  if (docker != nullptr) {
    VSRAY_RETURN_IF_ERROR(checker_.CheckKeys(*docker, top_.Key("docker"), RayDockerKeys()));
  }
  return OkStatus();
}

// auth: Ray's keys, type-checked; ssh_user goes into cloud-init userdata.
Status ClusterParser::ParseAuth() {
  VSRAY_ASSIGN_OR_RETURN(const json* auth, checker_.GetObject(root_, top_, "auth"));
  if (auth == nullptr) return OkStatus();
  const ConfigPath auth_path = top_.Key("auth");
  VSRAY_RETURN_IF_ERROR(checker_.CheckKeys(*auth, auth_path, RayAuthKeys()));
  VSRAY_RETURN_IF_ERROR(checker_.GetString(*auth, auth_path, "ssh_user", &config_.auth.ssh_user));
  if (!IsValidUserName(config_.auth.ssh_user)) {
    return checker_.Error(auth_path.Key("ssh_user"),
                          "'" + config_.auth.ssh_user +
                              "' is not a valid Linux user name: expected lower-case letters, "
                              "digits, '_' and '-', starting with a letter or '_', at most 32");
  }
  std::string proxy;
  VSRAY_RETURN_IF_ERROR(checker_.GetString(*auth, auth_path, "ssh_proxy_command", &proxy));
  return ParseAuthKeys(*auth, auth_path);
}

Status ClusterParser::ParseAuthKeys(const json& auth, const ConfigPath& auth_path) {
  std::string key_path;
  VSRAY_RETURN_IF_ERROR(checker_.GetString(auth, auth_path, "ssh_private_key", &key_path));
  AuthConfig& out = config_.auth;
  if (!key_path.empty()) {
    VSRAY_ASSIGN_OR_RETURN(
        out.ssh_private_key,
        ExpandHome(checker_, auth_path.Key("ssh_private_key"), key_path, context_));
  }
  if (!out.ssh_private_key.empty() && context_.check_local_files &&
      out.ssh_private_key != context_.home_dir + "/" + std::string(kDefaultPrivateKeyName)) {
    std::error_code error;
    if (!std::filesystem::is_regular_file(out.ssh_private_key, error)) {
      return checker_.Error(auth_path.Key("ssh_private_key"),
                            "no such file: '" + out.ssh_private_key +
                                "'; give an existing private key, or leave it unset to let "
                                "vsray make ~/" +
                                std::string(kDefaultPrivateKeyName));
    }
  }
  key_path.clear();
  VSRAY_RETURN_IF_ERROR(checker_.GetString(auth, auth_path, "ssh_public_key", &key_path));
  if (!key_path.empty()) {
    VSRAY_ASSIGN_OR_RETURN(out.ssh_public_key, ExpandHome(checker_, auth_path.Key("ssh_public_key"),
                                                          key_path, context_));
  }
  if (!out.ssh_public_key.empty() && out.ssh_private_key.empty()) {
    return checker_.Error(auth_path,
                          "'ssh_public_key' is given without 'ssh_private_key'; give "
                          "both, or neither to let vsray make a key pair");
  }
  return OkStatus();
}

Status ClusterParser::ParseProviderType(const json& provider, const ConfigPath& provider_path) {
  std::string type;
  VSRAY_RETURN_IF_ERROR(checker_.GetString(provider, provider_path, "type", &type));
  if (type.empty()) {
    return checker_.Error(provider_path,
                          "'type' is required: 'external' (with module: "
                          "vsray.ray_provider.VsphereNodeProvider) or 'vsphere'");
  }
  if (type == "vsphere") {
    config_.provider_type = ProviderType::kVsphere;
    return OkStatus();
  }
  if (type != "external") {
    return checker_.Error(provider_path.Key("type"),
                          "'" + type +
                              "' is not a vSphere provider; expected 'external' (with module: "
                              "vsray.ray_provider.VsphereNodeProvider) or 'vsphere'");
  }
  config_.provider_type = ProviderType::kExternal;
  VSRAY_RETURN_IF_ERROR(
      checker_.GetString(provider, provider_path, "module", &config_.provider_module));
  if (config_.provider_module.empty()) {
    return checker_.Error(provider_path,
                          "'module' is required with type 'external': the "
                          "provider class, vsray.ray_provider.VsphereNodeProvider");
  }
  if (config_.provider_module.rfind("vsray.", 0) != 0) {
    checker_.Warn(provider_path.Key("module"),
                  "'" + config_.provider_module +
                      "' is not vsray's provider (vsray.ray_provider.VsphereNodeProvider); "
                      "the vSphere settings are read as vsray's anyway");
  }
  return OkStatus();
}

Status ClusterParser::ParseProvider() {
  VSRAY_ASSIGN_OR_RETURN(const json* provider, checker_.GetObject(root_, top_, "provider"));
  if (provider == nullptr) {
    return checker_.Error(top_,
                          "'provider' is required: {type: external, module: "
                          "vsray.ray_provider.VsphereNodeProvider, vsphere_config: {...}}");
  }
  const ConfigPath provider_path = top_.Key("provider");
  VSRAY_RETURN_IF_ERROR(ParseProviderType(*provider, provider_path));
  VSRAY_ASSIGN_OR_RETURN(config_.vsphere, internal::ParseVsphere(checker_, *provider, provider_path,
                                                                 config_.cluster_name, context_,
                                                                 context_.check_local_files));
  CloudInitConfig& cloud_init = config_.vsphere.cloud_init;
  if (cloud_init.ssh_user.empty()) {
    cloud_init.ssh_user = config_.auth.ssh_user;
  } else if (cloud_init.ssh_user != config_.auth.ssh_user) {
    checker_.Warn(provider_path.Key("vsphere_config").Key("cloud_init").Key("ssh_user"),
                  "cloud-init creates user '" + cloud_init.ssh_user +
                      "' but Ray logs in as auth.ssh_user '" + config_.auth.ssh_user +
                      "'; that user must already exist in the frozen VM");
  }
  return OkStatus();
}

// available_node_types (present, not empty) and head_node_type (one of its keys).
StatusOr<const json*> ClusterParser::ParseHeadNodeType() {
  VSRAY_ASSIGN_OR_RETURN(const json* types,
                         checker_.GetObject(root_, top_, "available_node_types"));
  if (types == nullptr || types->empty()) {
    return checker_.Error(
        types == nullptr ? top_ : top_.Key("available_node_types"),
        std::string(types == nullptr ? "'available_node_types' is required" : "is empty") +
            ": a mapping of node type names to {resources, node_config, "
            "min_workers, max_workers}, with the head node type among them");
  }
  bool head_given = false;
  VSRAY_RETURN_IF_ERROR(
      checker_.GetString(root_, top_, "head_node_type", &config_.head_node_type, &head_given));
  if (!head_given) {
    return checker_.Error(top_,
                          "'head_node_type' is required: the key of the head node's type in "
                          "available_node_types");
  }
  if (types->contains(config_.head_node_type)) return types;
  std::vector<std::string> type_names;
  for (const auto& [name, value] : types->items()) type_names.push_back(name);
  std::string message = "'" + config_.head_node_type + "' is not a key of available_node_types";
  if (const std::string close = ClosestMatch(config_.head_node_type, type_names); !close.empty()) {
    message += "; did you mean '" + close + "'?";
  }
  message += " Node types: ";
  for (std::size_t i = 0; i < type_names.size(); ++i) {
    message += (i > 0 ? ", " : "") + type_names[i];
  }
  return checker_.Error(top_.Key("head_node_type"), message);
}

// The head first: workers inherit its placement and frozen VM.
Status ClusterParser::ParseNodeTypes(const json& types) {
  NodeConfig provider_defaults;
  provider_defaults.frozen_vm = config_.vsphere.frozen_vm;
  VSRAY_RETURN_IF_ERROR(
      ParseNodeType(config_.head_node_type, types[config_.head_node_type], provider_defaults));
  const NodeConfig head_resolved = config_.head().node_config;
  for (const auto& [name, entry] : types.items()) {
    if (name == config_.head_node_type) continue;
    VSRAY_RETURN_IF_ERROR(ParseNodeType(name, entry, head_resolved));
  }
  return OkStatus();
}

Status ClusterParser::ParseNodeType(const std::string& name, const json& entry,
                                    const NodeConfig& inherited) {
  const ConfigPath type_path = top_.Key("available_node_types").Key(name);
  if (!entry.is_object()) {
    return checker_.Error(type_path,
                          "expected a mapping with resources, node_config, "
                          "min_workers and max_workers, got " +
                              DescribeType(entry));
  }
  VSRAY_RETURN_IF_ERROR(checker_.CheckKeys(entry, type_path, RayNodeTypeKeys()));
  NodeType node_type;
  node_type.name = name;
  VSRAY_ASSIGN_OR_RETURN(const json* node_config,
                         checker_.GetObject(entry, type_path, "node_config"));
  const json empty = json::object();
  VSRAY_ASSIGN_OR_RETURN(
      NodeConfigParse parsed,
      ParseNodeConfigObject(checker_, node_config == nullptr ? empty : *node_config,
                            type_path.Key("node_config"), inherited));
  node_type.node_config = std::move(parsed.config);
  if (!node_type.node_config.frozen_vm) {
    return checker_.Error(top_.Key("provider").Key("vsphere_config"),
                          "'frozen_vm' is required: the frozen VM(s) nodes are instant-cloned "
                          "from ({name: ...}, {resource_pool: ...}, or 'library_item' to "
                          "deploy from an OVF); node type '" +
                              name + "' has none");
  }
  // The node type's own resources size the VM (they win over a copy in node_config).
  VSRAY_ASSIGN_OR_RETURN(const json* resources_json,
                         checker_.GetObject(entry, type_path, "resources"));
  const json resources_or_empty = resources_json == nullptr ? json::object() : *resources_json;
  VSRAY_ASSIGN_OR_RETURN(Resources resources,
                         ParseResources(checker_, resources_or_empty, type_path.Key("resources")));
  node_type.resources = resources.all;
  node_type.node_config.cpus = resources.cpus;
  node_type.node_config.memory_mib = resources.memory_mib;
  node_type.node_config.gpus = resources.gpus;
  VSRAY_RETURN_IF_ERROR(CheckGpuCount(checker_, node_type.node_config,
                                      type_path.Key("node_config").Key("gpu"),
                                      type_path.Key("resources").Display()));
  VSRAY_RETURN_IF_ERROR(
      ParseWorkerCounts(entry, type_path, name == config_.head_node_type, node_type));
  VSRAY_RETURN_IF_ERROR(ParseNodeTypeExtras(entry, type_path, node_type));
  config_.tree["available_node_types"][name]["node_config"] =
      CompletedNodeConfig(node_config, node_type.node_config, resources_or_empty);
  config_.node_types.emplace(name, std::move(node_type));
  return OkStatus();
}

// min_workers and max_workers (default: the cluster's max_workers; the head's: 0).
Status ClusterParser::ParseWorkerCounts(const json& entry, const ConfigPath& type_path,
                                        bool is_head, NodeType& node_type) {
  std::int64_t min_workers = 0;
  VSRAY_RETURN_IF_ERROR(checker_.GetInt(entry, type_path, "min_workers", 0, kMaxInt, &min_workers));
  std::int64_t max = is_head ? 0 : config_.max_workers;
  bool max_given = false;
  VSRAY_RETURN_IF_ERROR(
      checker_.GetInt(entry, type_path, "max_workers", 0, kMaxInt, &max, &max_given));
  if (min_workers > max) {
    return checker_.Error(type_path.Key(max_given ? "max_workers" : "min_workers"),
                          "min_workers (" + std::to_string(min_workers) +
                              ") is more than max_workers (" + std::to_string(max) +
                              (max_given ? ")"
                               : is_head ? ", the default for the head node type)"
                                         : ", the cluster's max_workers)") +
                              "; expected min_workers <= max_workers");
  }
  if (max_given && max > config_.max_workers) {
    checker_.Warn(type_path.Key("max_workers"), "more than the cluster's max_workers (" +
                                                    std::to_string(config_.max_workers) +
                                                    "), which caps it");
  }
  node_type.min_workers = static_cast<int>(min_workers);
  node_type.max_workers = static_cast<int>(max);
  return OkStatus();
}

// Ray's other keys of a node type: type-checked (vsray keeps labels; Ray uses the rest).
Status ClusterParser::ParseNodeTypeExtras(const json& entry, const ConfigPath& type_path,
                                          NodeType& node_type) {
  VSRAY_RETURN_IF_ERROR(checker_.GetStringMap(entry, type_path, "labels", &node_type.labels));
  double idle_timeout_s = 0;
  VSRAY_RETURN_IF_ERROR(
      checker_.GetNumber(entry, type_path, "idle_timeout_s", 0, false, &idle_timeout_s));
  std::vector<std::string> commands;
  for (const char* key : {"worker_setup_commands", "initialization_commands"}) {
    VSRAY_RETURN_IF_ERROR(checker_.GetStringList(entry, type_path, key, &commands));
  }
  VSRAY_ASSIGN_OR_RETURN(const json* docker, checker_.GetObject(entry, type_path, "docker"));
  if (docker == nullptr) return OkStatus();
  return checker_.CheckKeys(*docker, type_path.Key("docker"), RayNodeTypeDockerKeys());
}

// file_mounts, cluster_synced_files and the command lists: type-checked, defaulted.
Status ClusterParser::ParseMountsAndCommands() {
  json& tree = config_.tree;
  VSRAY_RETURN_IF_ERROR(checker_.GetStringMap(root_, top_, "file_mounts", &config_.file_mounts));
  if (Member(root_, "file_mounts") == nullptr || root_["file_mounts"].is_null()) {
    tree["file_mounts"] = json::object();
  }
  std::vector<std::string> list;
  for (const char* key : {"cluster_synced_files", "rsync_exclude", "rsync_filter"}) {
    VSRAY_RETURN_IF_ERROR(checker_.GetStringList(root_, top_, key, &list));
  }
  if (Member(root_, "cluster_synced_files") == nullptr || root_["cluster_synced_files"].is_null()) {
    tree["cluster_synced_files"] = json::array();
  }
  bool sync_continuously = false;
  VSRAY_RETURN_IF_ERROR(
      checker_.GetBool(root_, top_, "file_mounts_sync_continuously", &sync_continuously));
  for (const std::string& key : RayCommandKeys()) {
    std::vector<std::string> commands;
    bool given = false;
    VSRAY_RETURN_IF_ERROR(checker_.GetStringList(root_, top_, key, &commands, &given));
    if (!given) tree[key] = RayDefaultCommands(key);
  }
  return OkStatus();
}

void ClusterParser::CompleteTree() {
  json& tree = config_.tree;
  tree["max_workers"] = config_.max_workers;
  tree["upscaling_speed"] = config_.upscaling_speed;
  tree["idle_timeout_minutes"] = config_.idle_timeout_minutes;
  if (!tree.contains("auth") || !tree["auth"].is_object()) tree["auth"] = json::object();
  tree["auth"]["ssh_user"] = config_.auth.ssh_user;
  tree["provider"]["vsphere_config"] = config_.vsphere.ToJson(false);
}

StatusOr<ClusterConfig> ParseCluster(const Document& document, const LoadOptions& options) {
  return ClusterParser(document, options).Parse();
}

}  // namespace

const NodeType* ClusterConfig::FindNodeType(std::string_view name) const {
  const auto it = node_types.find(std::string(name));
  return it == node_types.end() ? nullptr : &it->second;
}

json ClusterConfig::ToJson(bool redact) const { return redact ? RedactConfigTree(tree) : tree; }

std::string ClusterConfig::ToYaml(bool redact) const { return config::ToYaml(ToJson(redact)); }

json RedactConfigTree(json tree) {
  for (const char* pointer :
       {"/provider/vsphere_config/credentials/password", "/vsphere_config/credentials/password"}) {
    const json::json_pointer at(pointer);
    if (tree.contains(at) && !(tree[at].is_string() && tree[at].get<std::string>().empty())) {
      tree[at] = std::string(kRedacted);
    }
  }
  return tree;
}

EnvLookup ProcessEnvironment() {
  return [](const std::string& name) -> std::optional<std::string> {
    // NOLINTNEXTLINE(concurrency-mt-unsafe): nothing in vsray modifies the environment.
    const char* value = std::getenv(name.c_str());
    if (value == nullptr) return std::nullopt;
    return std::string(value);
  };
}

StatusOr<ClusterConfig> LoadClusterConfigText(std::string_view text, LoadOptions options) {
  if (options.source_name.empty()) options.source_name = "cluster_config";
  auto document = ParseConfigText(text, options.source_name);
  if (!document.ok()) return Scrubbed<ClusterConfig>(document.status(), Secrets(nullptr, options));
  const std::vector<std::string> secrets = Secrets(&document->root, options);
  return Scrubbed(ParseCluster(*document, options), secrets);
}

StatusOr<ClusterConfig> LoadClusterConfigFile(const std::string& path, LoadOptions options) {
  if (options.source_name.empty()) options.source_name = path;
  std::error_code error;
  if (!std::filesystem::exists(path, error)) {
    return NotFoundError("cannot read the cluster config '" + path + "': no such file");
  }
  if (std::filesystem::is_directory(path, error)) {
    return InvalidArgumentError("cannot read the cluster config '" + path + "': it is a directory");
  }
  const std::uintmax_t size = std::filesystem::file_size(path, error);
  if (!error && size > kMaxConfigBytes) {
    return ConfigError(
        options.source_name, 1, "",
        "the file is " + std::to_string(size >> 20U) + " MiB; a cluster config is at most 10 MiB");
  }
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    return PermissionDeniedError("cannot read the cluster config '" + path +
                                 "': permission denied or unreadable");
  }
  std::ostringstream content;
  content << in.rdbuf();
  return LoadClusterConfigText(content.str(), std::move(options));
}

StatusOr<ClusterConfig> LoadClusterConfigJson(const json& config, LoadOptions options) {
  if (options.source_name.empty()) options.source_name = "cluster_config";
  Document document;
  document.source = options.source_name;
  document.root = config;
  const std::vector<std::string> secrets = Secrets(&config, options);
  return Scrubbed(ParseCluster(document, options), secrets);
}

StatusOr<NodeConfig> ParseNodeConfig(const json& node_config, const VsphereConfig& vsphere,
                                     LoadOptions options) {
  if (options.source_name.empty()) options.source_name = "node_config";
  const SourceMap no_lines;
  Checker checker(options.source_name, &no_lines);
  const ConfigPath path = ConfigPath().Key("node_config");
  if (node_config.is_null()) {
    NodeConfig config;
    config.frozen_vm = vsphere.frozen_vm;
    return config;
  }
  if (!node_config.is_object()) {
    return checker.Error(path, "expected a mapping, got " + DescribeType(node_config));
  }
  NodeConfig inherited;
  inherited.frozen_vm = vsphere.frozen_vm;
  VSRAY_ASSIGN_OR_RETURN(NodeConfigParse parsed,
                         ParseNodeConfigObject(checker, node_config, path, inherited));
  if (!parsed.config.frozen_vm) {
    return checker.Error(path,
                         "no frozen VM: neither node_config.frozen_vm nor "
                         "provider.vsphere_config.frozen_vm is set");
  }
  VSRAY_RETURN_IF_ERROR(
      CheckGpuCount(checker, parsed.config, path.Key("gpu"), path.Key("resources").Display()));
  // Called for every create_node: the same warnings as at load time, so only at debug level.
  for (const std::string& warning : checker.warnings()) Log()->debug("{}", warning);
  return parsed.config;
}

}  // namespace vsray::config
