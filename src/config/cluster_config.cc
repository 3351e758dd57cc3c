#include "config/cluster_config.h"

#include <algorithm>
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

const std::vector<std::string>& CommandKeys() {
  static const std::vector<std::string> keys = {
      "initialization_commands", "setup_commands",          "head_setup_commands",
      "worker_setup_commands",   "head_start_ray_commands", "worker_start_ray_commands"};
  return keys;
}

json DefaultStartCommands(std::string_view key) {
  if (key == "head_start_ray_commands") {
    return json::array({"ray stop",
                        "ulimit -n 65536; ray start --head --port=6379 --object-manager-port=8076 "
                        "--autoscaling-config=~/ray_bootstrap_config.yaml "
                        "--dashboard-host=0.0.0.0"});
  }
  if (key == "worker_start_ray_commands") {
    return json::array(
        {"ray stop",
         "ulimit -n 65536; ray start --address=$RAY_HEAD_IP:6379 --object-manager-port=8076"});
  }
  return json::array();
}

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

// One node_config. `inherited`: the placement and frozen VM used when this one sets none.
StatusOr<NodeConfigParse> ParseNodeConfigObject(Checker& checker, const json& object,
                                                const ConfigPath& path,
                                                const NodeConfig& inherited) {
  NodeConfigParse parse;
  NodeConfig& config = parse.config;
  checker.WarnUnknownKeys(
      object, path,
      {"resource_pool", "datastore", "clone_mode", "frozen_vm", "frozen_vm_name", "resources"},
      "(kept for Ray; vsray does not use it)");
  config.resource_pool = inherited.resource_pool;
  config.datastore = inherited.datastore;
  VSRAY_RETURN_IF_ERROR(checker.GetString(object, path, "resource_pool", &config.resource_pool));
  VSRAY_RETURN_IF_ERROR(checker.GetString(object, path, "datastore", &config.datastore));
  std::string mode;
  VSRAY_RETURN_IF_ERROR(checker.GetString(object, path, "clone_mode", &mode));
  if (!mode.empty()) {
    const auto parsed = provider::ParseCloneMode(mode);
    if (!parsed) {
      return checker.Error(path.Key("clone_mode"),
                           "'" + mode + "' is not a clone mode; expected instant, linked or full");
    }
    config.clone_mode = *parsed;
  }
  VSRAY_ASSIGN_OR_RETURN(const json* frozen, checker.GetObject(object, path, "frozen_vm"));
  std::string frozen_vm_name;
  VSRAY_RETURN_IF_ERROR(checker.GetString(object, path, "frozen_vm_name", &frozen_vm_name));
  if (frozen != nullptr && !frozen_vm_name.empty()) {
    return checker.Error(path,
                         "give either 'frozen_vm' or 'frozen_vm_name' (Ray's older "
                         "spelling of frozen_vm.name), not both");
  }
  if (frozen != nullptr) {
    VSRAY_ASSIGN_OR_RETURN(config.frozen_vm,
                           ParseFrozenVm(checker, *frozen, path.Key("frozen_vm")));
    parse.has_own_frozen_vm = true;
  } else if (!frozen_vm_name.empty()) {
    config.frozen_vm = FrozenVmConfig{};
    config.frozen_vm->name = frozen_vm_name;
    parse.has_own_frozen_vm = true;
  } else {
    config.frozen_vm = inherited.frozen_vm;
  }
  VSRAY_ASSIGN_OR_RETURN(const json* resources, checker.GetObject(object, path, "resources"));
  if (resources != nullptr) {
    VSRAY_ASSIGN_OR_RETURN(Resources parsed,
                           ParseResources(checker, *resources, path.Key("resources")));
    config.cpus = parsed.cpus;
    config.memory_mib = parsed.memory_mib;
    config.gpus = parsed.gpus;
  }
  return parse;
}

// node_config as it goes back to Ray: the input with the resolved values written in.
json CompletedNodeConfig(const json* original, const NodeConfig& config, const json& resources) {
  json out = original != nullptr && original->is_object() ? *original : json::object();
  out.erase("frozen_vm_name");
  if (!config.resource_pool.empty()) out["resource_pool"] = config.resource_pool;
  if (!config.datastore.empty()) out["datastore"] = config.datastore;
  out["clone_mode"] = std::string(CloneModeName(config.clone_mode));
  if (config.frozen_vm) out["frozen_vm"] = config.frozen_vm->ToJson();
  out["resources"] = resources;
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

StatusOr<ClusterConfig> ParseCluster(const Document& document, const LoadOptions& options) {
  const ParseContext context = internal::MakeParseContext(options);
  Checker checker(document.source, &document.lines);
  const json& root = document.root;
  const ConfigPath top;
  constexpr std::string_view kExpected =
      "a mapping with cluster_name, provider, auth, available_node_types and head_node_type";
  if (root.is_null()) {
    return ConfigError(document.source, 1, "",
                       "the config is empty; expected " + std::string(kExpected));
  }
  if (!root.is_object()) {
    return checker.Error(top, "expected " + std::string(kExpected) + ", got " + DescribeType(root));
  }
  ClusterConfig config;
  config.source = document.source;
  config.tree = root;
  json& tree = config.tree;

  bool present = false;
  VSRAY_RETURN_IF_ERROR(
      checker.GetString(root, top, "cluster_name", &config.cluster_name, &present));
  if (!present) {
    return checker.Error(top,
                         "'cluster_name' is required: a name for the cluster (it names the "
                         "VM folder and the VMs)");
  }
  VSRAY_RETURN_IF_ERROR(CheckClusterName(checker, top.Key("cluster_name"), config.cluster_name));

  std::int64_t max_workers = config.max_workers;
  VSRAY_RETURN_IF_ERROR(checker.GetInt(root, top, "max_workers", 0, kMaxInt, &max_workers));
  config.max_workers = static_cast<int>(max_workers);
  VSRAY_RETURN_IF_ERROR(
      checker.GetNumber(root, top, "upscaling_speed", 0, true, &config.upscaling_speed));
  VSRAY_RETURN_IF_ERROR(
      checker.GetNumber(root, top, "idle_timeout_minutes", 0, false, &config.idle_timeout_minutes));

  // auth: Ray's keys, type-checked; ssh_user goes into cloud-init userdata.
  VSRAY_ASSIGN_OR_RETURN(const json* auth, checker.GetObject(root, top, "auth"));
  if (auth != nullptr) {
    const ConfigPath auth_path = top.Key("auth");
    VSRAY_RETURN_IF_ERROR(checker.GetString(*auth, auth_path, "ssh_user", &config.auth.ssh_user));
    if (!IsValidUserName(config.auth.ssh_user)) {
      return checker.Error(auth_path.Key("ssh_user"),
                           "'" + config.auth.ssh_user +
                               "' is not a valid Linux user name: expected lower-case letters, "
                               "digits, '_' and '-', starting with a letter or '_', at most 32");
    }
    std::string key_path;
    VSRAY_RETURN_IF_ERROR(checker.GetString(*auth, auth_path, "ssh_private_key", &key_path));
    if (!key_path.empty()) {
      VSRAY_ASSIGN_OR_RETURN(
          config.auth.ssh_private_key,
          ExpandHome(checker, auth_path.Key("ssh_private_key"), key_path, context));
    }
    if (!config.auth.ssh_private_key.empty() && context.check_local_files &&
        config.auth.ssh_private_key !=
            context.home_dir + "/" + std::string(kDefaultPrivateKeyName)) {
      std::error_code error;
      if (!std::filesystem::is_regular_file(config.auth.ssh_private_key, error)) {
        return checker.Error(auth_path.Key("ssh_private_key"),
                             "no such file: '" + config.auth.ssh_private_key +
                                 "'; give an existing private key, or leave it unset to let "
                                 "vsray make ~/" +
                                 std::string(kDefaultPrivateKeyName));
      }
    }
    key_path.clear();
    VSRAY_RETURN_IF_ERROR(checker.GetString(*auth, auth_path, "ssh_public_key", &key_path));
    if (!key_path.empty()) {
      VSRAY_ASSIGN_OR_RETURN(
          config.auth.ssh_public_key,
          ExpandHome(checker, auth_path.Key("ssh_public_key"), key_path, context));
    }
    if (!config.auth.ssh_public_key.empty() && config.auth.ssh_private_key.empty()) {
      return checker.Error(auth_path,
                           "'ssh_public_key' is given without 'ssh_private_key'; give "
                           "both, or neither to let vsray make a key pair");
    }
  }

  // provider
  VSRAY_ASSIGN_OR_RETURN(const json* provider, checker.GetObject(root, top, "provider"));
  if (provider == nullptr) {
    return checker.Error(top,
                         "'provider' is required: {type: external, module: "
                         "vsray.ray_provider.VsphereNodeProvider, vsphere_config: {...}}");
  }
  const ConfigPath provider_path = top.Key("provider");
  std::string type;
  VSRAY_RETURN_IF_ERROR(checker.GetString(*provider, provider_path, "type", &type));
  if (type.empty()) {
    return checker.Error(provider_path,
                         "'type' is required: 'external' (with module: "
                         "vsray.ray_provider.VsphereNodeProvider) or 'vsphere'");
  }
  if (type == "vsphere") {
    config.provider_type = ProviderType::kVsphere;
  } else if (type == "external") {
    config.provider_type = ProviderType::kExternal;
    VSRAY_RETURN_IF_ERROR(
        checker.GetString(*provider, provider_path, "module", &config.provider_module));
    if (config.provider_module.empty()) {
      return checker.Error(provider_path,
                           "'module' is required with type 'external': the "
                           "provider class, vsray.ray_provider.VsphereNodeProvider");
    }
    if (config.provider_module.rfind("vsray.", 0) != 0) {
      checker.Warn(provider_path.Key("module"),
                   "'" + config.provider_module +
                       "' is not vsray's provider (vsray.ray_provider.VsphereNodeProvider); "
                       "the vSphere settings are read as vsray's anyway");
    }
  } else {
    return checker.Error(provider_path.Key("type"),
                         "'" + type +
                             "' is not a vSphere provider; expected 'external' (with module: "
                             "vsray.ray_provider.VsphereNodeProvider) or 'vsphere'");
  }
  VSRAY_ASSIGN_OR_RETURN(
      config.vsphere, internal::ParseVsphere(checker, *provider, provider_path, config.cluster_name,
                                             context, context.check_local_files));
  VsphereConfig& vsphere = config.vsphere;
  const ConfigPath cloud_init_user =
      provider_path.Key("vsphere_config").Key("cloud_init").Key("ssh_user");
  if (vsphere.cloud_init.ssh_user.empty()) {
    vsphere.cloud_init.ssh_user = config.auth.ssh_user;
  } else if (vsphere.cloud_init.ssh_user != config.auth.ssh_user) {
    checker.Warn(cloud_init_user, "cloud-init creates user '" + vsphere.cloud_init.ssh_user +
                                      "' but Ray logs in as auth.ssh_user '" +
                                      config.auth.ssh_user +
                                      "'; that user must already exist in the frozen VM");
  }

  // available_node_types
  VSRAY_ASSIGN_OR_RETURN(const json* types, checker.GetObject(root, top, "available_node_types"));
  const ConfigPath types_path = top.Key("available_node_types");
  if (types == nullptr || types->empty()) {
    return checker.Error(
        types == nullptr ? top : types_path,
        std::string(types == nullptr ? "'available_node_types' is required" : "is empty") +
            ": a mapping of node type names to {resources, node_config, "
            "min_workers, max_workers}, with the head node type among them");
  }
  bool head_given = false;
  VSRAY_RETURN_IF_ERROR(
      checker.GetString(root, top, "head_node_type", &config.head_node_type, &head_given));
  if (!head_given) {
    return checker.Error(top,
                         "'head_node_type' is required: the key of the head node's type in "
                         "available_node_types");
  }
  std::vector<std::string> type_names;
  for (const auto& [name, value] : types->items()) type_names.push_back(name);
  if (!types->contains(config.head_node_type)) {
    std::string message = "'" + config.head_node_type + "' is not a key of available_node_types";
    if (const std::string close = ClosestMatch(config.head_node_type, type_names); !close.empty()) {
      message += "; did you mean '" + close + "'?";
    }
    message += " Node types: ";
    for (std::size_t i = 0; i < type_names.size(); ++i) {
      message += (i > 0 ? ", " : "") + type_names[i];
    }
    return checker.Error(top.Key("head_node_type"), message);
  }

  // The head first: workers inherit its placement and frozen VM.
  std::vector<std::string> order = {config.head_node_type};
  for (const std::string& name : type_names) {
    if (name != config.head_node_type) order.push_back(name);
  }
  NodeConfig provider_defaults;
  provider_defaults.frozen_vm = vsphere.frozen_vm;
  NodeConfig head_resolved;
  for (const std::string& name : order) {
    const ConfigPath type_path = types_path.Key(name);
    const json& entry = (*types)[name];
    if (!entry.is_object()) {
      return checker.Error(type_path,
                           "expected a mapping with resources, node_config, "
                           "min_workers and max_workers, got " +
                               DescribeType(entry));
    }
    const bool is_head = name == config.head_node_type;
    NodeType node_type;
    node_type.name = name;
    VSRAY_ASSIGN_OR_RETURN(const json* node_config,
                           checker.GetObject(entry, type_path, "node_config"));
    const json empty = json::object();
    VSRAY_ASSIGN_OR_RETURN(
        NodeConfigParse parsed,
        ParseNodeConfigObject(checker, node_config == nullptr ? empty : *node_config,
                              type_path.Key("node_config"),
                              is_head ? provider_defaults : head_resolved));
    node_type.node_config = std::move(parsed.config);
    if (!node_type.node_config.frozen_vm) {
      return checker.Error(provider_path.Key("vsphere_config"),
                           "'frozen_vm' is required: the frozen VM(s) nodes are instant-cloned "
                           "from ({name: ...}, {resource_pool: ...}, or 'library_item' to "
                           "deploy from an OVF); node type '" +
                               name + "' has none");
    }
    // The node type's own resources size the VM (they win over a copy in node_config).
    VSRAY_ASSIGN_OR_RETURN(const json* resources_json,
                           checker.GetObject(entry, type_path, "resources"));
    const json resources_or_empty = resources_json == nullptr ? json::object() : *resources_json;
    VSRAY_ASSIGN_OR_RETURN(Resources resources,
                           ParseResources(checker, resources_or_empty, type_path.Key("resources")));
    node_type.resources = resources.all;
    node_type.node_config.cpus = resources.cpus;
    node_type.node_config.memory_mib = resources.memory_mib;
    node_type.node_config.gpus = resources.gpus;

    std::int64_t min_workers = 0;
    VSRAY_RETURN_IF_ERROR(
        checker.GetInt(entry, type_path, "min_workers", 0, kMaxInt, &min_workers));
    std::int64_t max = is_head ? 0 : config.max_workers;
    bool max_given = false;
    VSRAY_RETURN_IF_ERROR(
        checker.GetInt(entry, type_path, "max_workers", 0, kMaxInt, &max, &max_given));
    if (min_workers > max) {
      return checker.Error(type_path.Key(max_given ? "max_workers" : "min_workers"),
                           "min_workers (" + std::to_string(min_workers) +
                               ") is more than max_workers (" + std::to_string(max) +
                               (max_given ? ")"
                                : is_head ? ", the default for the head node type)"
                                          : ", the cluster's max_workers)") +
                               "; expected min_workers <= max_workers");
    }
    if (max_given && max > config.max_workers) {
      checker.Warn(type_path.Key("max_workers"), "more than the cluster's max_workers (" +
                                                     std::to_string(config.max_workers) +
                                                     "), which caps it");
    }
    node_type.min_workers = static_cast<int>(min_workers);
    node_type.max_workers = static_cast<int>(max);
    VSRAY_RETURN_IF_ERROR(checker.GetStringMap(entry, type_path, "labels", &node_type.labels));
    std::vector<std::string> commands;
    VSRAY_RETURN_IF_ERROR(
        checker.GetStringList(entry, type_path, "worker_setup_commands", &commands));

    tree["available_node_types"][name]["node_config"] =
        CompletedNodeConfig(node_config, node_type.node_config, resources_or_empty);
    if (is_head) head_resolved = node_type.node_config;
    config.node_types.emplace(name, std::move(node_type));
  }

  // file_mounts and the command lists: type-checked, defaulted.
  VSRAY_RETURN_IF_ERROR(checker.GetStringMap(root, top, "file_mounts", &config.file_mounts));
  if (Member(root, "file_mounts") == nullptr || root["file_mounts"].is_null()) {
    tree["file_mounts"] = json::object();
  }
  for (const std::string& key : CommandKeys()) {
    std::vector<std::string> commands;
    bool given = false;
    VSRAY_RETURN_IF_ERROR(checker.GetStringList(root, top, key, &commands, &given));
    if (!given) tree[key] = DefaultStartCommands(key);
  }

  tree["max_workers"] = config.max_workers;
  tree["upscaling_speed"] = config.upscaling_speed;
  tree["idle_timeout_minutes"] = config.idle_timeout_minutes;
  if (!tree.contains("auth") || !tree["auth"].is_object()) tree["auth"] = json::object();
  tree["auth"]["ssh_user"] = config.auth.ssh_user;
  tree["provider"]["vsphere_config"] = vsphere.ToJson(false);

  config.warnings = checker.warnings();
  for (const std::string& warning : config.warnings) Log()->warn("{}", warning);
  return config;
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
  // Called for every create_node: the same warnings as at load time, so only at debug level.
  for (const std::string& warning : checker.warnings()) Log()->debug("{}", warning);
  return parsed.config;
}

}  // namespace vsray::config
