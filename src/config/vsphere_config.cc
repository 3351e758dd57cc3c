// provider.vsphere_config (VsphereConfig, declared in cluster_config.h): the strict parser,
// IPv4 networks, and ParseProviderConfig for a provider dict on its own.
#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <regex>
#include <string>
#include <system_error>
#include <utility>
#include <vector>

#include "common/log.h"
#include "config/cluster_config.h"
#include "config/parse_internal.h"
#include "vsphere/session.h"
#include "vsphere/vim.h"

namespace vsray::config {
namespace {

using internal::IsValidUserName;
using internal::kRedacted;
using internal::ParseContext;
using nlohmann::json;

const std::vector<std::string>& VsphereKeys() {
  static const std::vector<std::string> keys = {"credentials",
                                                "tls",
                                                "datacenter",
                                                "folder",
                                                "frozen_vm",
                                                "gpu_config",
                                                "mirror_vsphere_tags",
                                                "max_concurrency",
                                                "ssh_key_type",
                                                "timeouts",
                                                "network",
                                                "cloud_init"};
  return keys;
}

Status ParseCidrs(const Checker& checker, const json& object, const ConfigPath& path,
                  std::string_view key, std::vector<Ipv4Cidr>* out) {
  std::vector<std::string> texts;
  VSRAY_RETURN_IF_ERROR(checker.GetStringList(object, path, key, &texts));
  out->clear();
  for (std::size_t i = 0; i < texts.size(); ++i) {
    auto cidr = ParseIpv4Cidr(texts[i]);
    if (!cidr.ok()) return checker.Error(path.Key(key).Index(i), cidr.status().message());
    out->push_back(*cidr);
  }
  return OkStatus();
}

Status ParseTls(const Checker& checker, const json& vsphere, const ConfigPath& vsphere_path,
                const ParseContext& context, bool check_files, vsphere::TlsOptions* tls) {
  VSRAY_ASSIGN_OR_RETURN(const json* object, checker.GetObject(vsphere, vsphere_path, "tls"));
  if (object == nullptr) return OkStatus();
  const ConfigPath path = vsphere_path.Key("tls");
  VSRAY_RETURN_IF_ERROR(checker.CheckKeys(*object, path, {"ca_file", "thumbprint", "insecure"}));
  VSRAY_RETURN_IF_ERROR(checker.GetBool(*object, path, "insecure", &tls->insecure));
  std::string thumbprint;
  VSRAY_RETURN_IF_ERROR(checker.GetString(*object, path, "thumbprint", &thumbprint));
  if (!thumbprint.empty()) {
    tls->thumbprint = vsphere::NormalizeThumbprint(thumbprint);
    if (tls->thumbprint.empty()) {
      std::string hex;
      for (const char c : thumbprint) {
        if (c != ':' && c != ' ') hex += c;
      }
      std::string message =
          "expected the SHA-256 fingerprint of vCenter's certificate: 64 hex digits, ':' "
          "separators allowed";
      if (hex.size() == 40) message += " (this looks like a SHA-1 thumbprint, which is not safe)";
      message += "; get it with: openssl x509 -noout -fingerprint -sha256";
      return checker.Error(path.Key("thumbprint"), message);
    }
  }
  std::string ca_file;
  VSRAY_RETURN_IF_ERROR(checker.GetString(*object, path, "ca_file", &ca_file));
  if (!ca_file.empty()) {
    VSRAY_ASSIGN_OR_RETURN(tls->ca_file,
                           internal::ExpandHome(checker, path.Key("ca_file"), ca_file, context));
    std::error_code error;
    if (check_files && !std::filesystem::is_regular_file(tls->ca_file, error)) {
      return checker.Error(path.Key("ca_file"), "no such file: '" + tls->ca_file +
                                                    "'; expected a PEM file of the CA that signed "
                                                    "vCenter's certificate");
    }
  }
  const int modes =
      (tls->insecure ? 1 : 0) + (tls->thumbprint.empty() ? 0 : 1) + (tls->ca_file.empty() ? 0 : 1);
  if (modes > 1) {
    return checker.Error(path,
                         "give at most one of 'ca_file', 'thumbprint' and 'insecure: true'; they "
                         "are different ways to trust vCenter's certificate");
  }
  return OkStatus();
}

Status ParseCredentials(const Checker& checker, const json& vsphere, const ConfigPath& vsphere_path,
                        const ParseContext& context, const vsphere::TlsOptions& tls,
                        VsphereCredentials* credentials) {
  VSRAY_ASSIGN_OR_RETURN(const json* object,
                         checker.GetObject(vsphere, vsphere_path, "credentials"));
  const ConfigPath path = vsphere_path.Key("credentials");
  const json empty = json::object();
  const json& given = object == nullptr ? empty : *object;
  VSRAY_RETURN_IF_ERROR(checker.CheckKeys(given, path, {"server", "user", "password"}));
  struct Field {
    const char* key;
    const char* env;
    std::string* value;
    bool from_env = false;
  };
  Field fields[] = {{"server", "VSPHERE_SERVER", &credentials->server},
                    {"user", "VSPHERE_USER", &credentials->user},
                    {"password", "VSPHERE_PASSWORD", &credentials->password}};
  for (Field& field : fields) {
    VSRAY_RETURN_IF_ERROR(checker.GetString(given, path, field.key, field.value));
    if (!field.value->empty()) continue;
    if (auto value = context.env(field.env); value && !value->empty()) {
      *field.value = *value;
      field.from_env = true;
      continue;
    }
    return checker.Error(path, "'" + std::string(field.key) + "' is not set: give it here (" +
                                   path.Display() + "." + field.key +
                                   ") or in the environment variable " + field.env);
  }
  const ConfigPath server_path = path.Key("server");
  const std::string origin = fields[0].from_env ? " (from VSPHERE_SERVER)" : "";
  if (credentials->server.find('@') != std::string::npos) {
    return checker.Error(server_path, "the server address" + origin +
                                          " must not contain a user or password; use "
                                          "credentials.user and credentials.password");
  }
  if (auto address = vsphere::ParseServerAddress(credentials->server, tls.insecure);
      !address.ok()) {
    return checker.Error(server_path, address.status().message() + origin +
                                          "; expected host, host:port or https://host[:port]");
  }
  return OkStatus();
}

Status ParseCloudInit(const Checker& checker, const json& vsphere, const ConfigPath& vsphere_path,
                      CloudInitConfig* cloud_init) {
  VSRAY_ASSIGN_OR_RETURN(const json* object,
                         checker.GetObject(vsphere, vsphere_path, "cloud_init"));
  if (object == nullptr) return OkStatus();
  const ConfigPath path = vsphere_path.Key("cloud_init");
  VSRAY_RETURN_IF_ERROR(
      checker.CheckKeys(*object, path, {"enabled", "ssh_user", "ssh_authorized_keys"}));
  VSRAY_RETURN_IF_ERROR(checker.GetBool(*object, path, "enabled", &cloud_init->enabled));
  VSRAY_RETURN_IF_ERROR(checker.GetString(*object, path, "ssh_user", &cloud_init->ssh_user));
  if (!cloud_init->ssh_user.empty() && !IsValidUserName(cloud_init->ssh_user)) {
    return checker.Error(path.Key("ssh_user"),
                         "'" + cloud_init->ssh_user +
                             "' is not a valid Linux user name: expected lower-case letters, "
                             "digits, '_' and '-', starting with a letter or '_', at most 32");
  }
  std::vector<std::string> keys;
  VSRAY_RETURN_IF_ERROR(checker.GetStringList(*object, path, "ssh_authorized_keys", &keys));
  for (std::size_t i = 0; i < keys.size(); ++i) {
    if (auto key = CanonicalPublicKey(keys[i]); !key.ok()) {
      return checker.Error(path.Key("ssh_authorized_keys").Index(i), key.status().message());
    }
  }
  cloud_init->ssh_authorized_keys = std::move(keys);
  return OkStatus();
}

}  // namespace

namespace internal {

ParseContext MakeParseContext(const LoadOptions& options) {
  ParseContext context;
  context.env = options.env ? options.env : ProcessEnvironment();
  context.home_dir = options.home_dir;
  if (context.home_dir.empty()) context.home_dir = context.env("HOME").value_or("");
  context.check_local_files = options.check_local_files;
  return context;
}

// '~' and '~/...' against the home directory.
StatusOr<std::string> ExpandHome(const Checker& checker, const ConfigPath& at,
                                 const std::string& path, const ParseContext& context) {
  if (path.empty() || path[0] != '~') return path;
  if (path.size() > 1 && path[1] != '/') {
    return checker.Error(at, "'~user' paths are not supported; write the full path");
  }
  if (context.home_dir.empty()) {
    return checker.Error(at, "cannot expand '~': HOME is not set; write the full path");
  }
  return context.home_dir + path.substr(1);
}

bool IsValidUserName(const std::string& name) {
  static const std::regex kUser("[a-z_][a-z0-9_-]{0,31}");
  return std::regex_match(name, kUser);
}

StatusOr<FrozenVmConfig> ParseFrozenVm(Checker& checker, const json& object,
                                       const ConfigPath& path) {
  VSRAY_RETURN_IF_ERROR(checker.CheckKeys(
      object, path, {"name", "library_item", "resource_pool", "cluster", "datastore"}));
  FrozenVmConfig frozen;
  VSRAY_RETURN_IF_ERROR(checker.GetString(object, path, "name", &frozen.name));
  VSRAY_RETURN_IF_ERROR(checker.GetString(object, path, "library_item", &frozen.library_item));
  VSRAY_RETURN_IF_ERROR(checker.GetString(object, path, "resource_pool", &frozen.resource_pool));
  VSRAY_RETURN_IF_ERROR(checker.GetString(object, path, "cluster", &frozen.cluster));
  VSRAY_RETURN_IF_ERROR(checker.GetString(object, path, "datastore", &frozen.datastore));
  if (!frozen.library_item.empty()) {
    // Deploying from the OVF in a content library: combinations (1) and (3).
    if (frozen.datastore.empty()) {
      return checker.Error(path,
                           "'datastore' is required when 'library_item' is given: the datastore "
                           "to deploy the frozen VM(s) from the OVF to");
    }
    if (frozen.cluster.empty() && frozen.resource_pool.empty()) {
      return checker.Error(path,
                           "'cluster' or 'resource_pool' is required when 'library_item' is "
                           "given: 'cluster' deploys one frozen VM, 'resource_pool' one per ESXi "
                           "host of the pool's cluster");
    }
    if (frozen.name.empty()) {
      return checker.Error(path,
                           "'name' is required when 'library_item' is given: the name (with "
                           "'resource_pool': the name prefix) of the frozen VM(s) to deploy");
    }
    if (!frozen.resource_pool.empty()) {
      frozen.mode = FrozenVmMode::kDeployPerHost;
      if (!frozen.cluster.empty()) {
        checker.Warn(path.Key("cluster"),
                     "ignored: with 'resource_pool' and 'library_item', one frozen VM is deployed "
                     "per ESXi host of the pool's cluster");
      }
    } else {
      frozen.mode = FrozenVmMode::kDeployOne;
    }
    return frozen;
  }
  // Existing frozen VM(s): combinations (2) and (4).
  for (const char* key : {"datastore", "cluster"}) {
    if (!(key == std::string_view("datastore") ? frozen.datastore : frozen.cluster).empty()) {
      return checker.Error(path.Key(key),
                           "only used to deploy the frozen VM from an OVF: remove it, or add "
                           "'library_item' (the OVF's content library item)");
    }
  }
  if (frozen.name.empty() && frozen.resource_pool.empty()) {
    return checker.Error(path,
                         "'name' or 'resource_pool' is required: the name of an existing frozen "
                         "VM, or the resource pool that holds the frozen VMs (add "
                         "'library_item' to deploy them from an OVF)");
  }
  frozen.mode =
      frozen.resource_pool.empty() ? FrozenVmMode::kExisting : FrozenVmMode::kExistingPool;
  return frozen;
}

namespace {

Status ParseFolder(Checker& checker, const json& vsphere, const ConfigPath& path,
                   std::string_view cluster_name, VsphereConfig& config) {
  config.folder = provider::DefaultFolderName(cluster_name);
  VSRAY_RETURN_IF_ERROR(checker.GetString(vsphere, path, "folder", &config.folder));
  if (config.folder.front() == '/' || config.folder.back() == '/' ||
      config.folder.find("//") != std::string::npos) {
    return checker.Error(path.Key("folder"),
                         "expected a folder name or a path like 'ray/clusters', relative to the "
                         "datacenter's VM folder, without leading, trailing or doubled '/'");
  }
  return OkStatus();
}

Status ParseFrozenVmKey(Checker& checker, const json& vsphere, const ConfigPath& path,
                        VsphereConfig& config) {
  VSRAY_ASSIGN_OR_RETURN(const json* frozen, checker.GetObject(vsphere, path, "frozen_vm"));
  if (frozen != nullptr) {
    VSRAY_ASSIGN_OR_RETURN(config.frozen_vm,
                           ParseFrozenVm(checker, *frozen, path.Key("frozen_vm")));
  } else if (const json* given = Member(vsphere, "frozen_vm"); given != nullptr) {
    return checker.Error(path.Key("frozen_vm"),
                         "is empty; expected 'name' (an existing frozen VM), 'resource_pool' (a "
                         "pool of frozen VMs) or 'library_item' to deploy from an OVF");
  }
  return OkStatus();
}

// gpu_config.device_classes: hex "03" (a base class) or "0302" (class and subclass).
Status ParseDeviceClasses(const Checker& checker, const json& gpu, const ConfigPath& path,
                          std::vector<provider::PciClass>& classes) {
  std::vector<std::string> texts;
  bool given = false;
  VSRAY_RETURN_IF_ERROR(checker.GetStringList(gpu, path, "device_classes", &texts, &given));
  if (!given) return OkStatus();
  if (texts.empty()) {
    return checker.Error(path.Key("device_classes"),
                         "is empty; expected PCI classes like \"03\" (display controllers) or "
                         "\"0302\" (3D controllers)");
  }
  classes.clear();
  for (std::size_t i = 0; i < texts.size(); ++i) {
    static const std::regex kClass("[0-9a-fA-F]{2}([0-9a-fA-F]{2})?");
    if (!std::regex_match(texts[i], kClass)) {
      return checker.Error(path.Key("device_classes").Index(i),
                           "'" + texts[i] +
                               "' is not a PCI class; expected 2 hex digits (a base class, e.g. "
                               "03) or 4 (class and subclass, e.g. 0302)");
    }
    const auto value = static_cast<std::uint16_t>(std::stoul(texts[i], nullptr, 16));
    classes.push_back(texts[i].size() == 2
                          ? provider::PciClass{static_cast<std::uint16_t>(value << 8U), 0xFF00}
                          : provider::PciClass{value, 0xFFFF});
  }
  return OkStatus();
}

Status ParseGpuConfig(Checker& checker, const json& vsphere, const ConfigPath& vsphere_path,
                      GpuConfig& config) {
  VSRAY_ASSIGN_OR_RETURN(const json* gpu, checker.GetObject(vsphere, vsphere_path, "gpu_config"));
  if (gpu == nullptr) return OkStatus();
  const ConfigPath path = vsphere_path.Key("gpu_config");
  VSRAY_RETURN_IF_ERROR(checker.CheckKeys(
      *gpu, path, {"dynamic_pci_passthrough", "device_classes", "use_64bit_mmio", "mmio_size_gb"}));
  VSRAY_RETURN_IF_ERROR(
      checker.GetBool(*gpu, path, "dynamic_pci_passthrough", &config.dynamic_pci_passthrough));
  VSRAY_RETURN_IF_ERROR(ParseDeviceClasses(checker, *gpu, path, config.device_classes));
  VSRAY_RETURN_IF_ERROR(checker.GetBool(*gpu, path, "use_64bit_mmio", &config.use_64bit_mmio));
  std::int64_t size = 0;
  bool size_given = false;
  VSRAY_RETURN_IF_ERROR(checker.GetInt(*gpu, path, "mmio_size_gb", 1, 65536, &size, &size_given));
  if (size_given && !config.use_64bit_mmio) {
    return checker.Error(path.Key("mmio_size_gb"),
                         "is the size of the 64-bit MMIO space, which is only used with "
                         "'use_64bit_mmio: true'; set that too");
  }
  config.mmio_size_gb = static_cast<int>(size);
  return OkStatus();
}

// gpu_config, mirror_vsphere_tags, max_concurrency, ssh_key_type.
Status ParseOptions(Checker& checker, const json& vsphere, const ConfigPath& path,
                    VsphereConfig& config) {
  VSRAY_RETURN_IF_ERROR(ParseGpuConfig(checker, vsphere, path, config.gpu));
  VSRAY_RETURN_IF_ERROR(
      checker.GetBool(vsphere, path, "mirror_vsphere_tags", &config.mirror_vsphere_tags));
  std::int64_t concurrency = config.max_concurrency;
  VSRAY_RETURN_IF_ERROR(checker.GetInt(vsphere, path, "max_concurrency", 1, 256, &concurrency));
  config.max_concurrency = static_cast<int>(concurrency);

  std::string key_type;
  VSRAY_RETURN_IF_ERROR(checker.GetString(vsphere, path, "ssh_key_type", &key_type));
  if (key_type == "rsa") {
    config.ssh_key_type = SshKeyType::kRsa;
  } else if (!key_type.empty() && key_type != "ed25519") {
    return checker.Error(path.Key("ssh_key_type"),
                         "'" + key_type + "' is not supported; expected 'ed25519' or 'rsa'");
  }
  return OkStatus();
}

Status ParseTimeouts(Checker& checker, const json& vsphere, const ConfigPath& path,
                     TimeoutConfig& timeouts) {
  VSRAY_ASSIGN_OR_RETURN(const json* object, checker.GetObject(vsphere, path, "timeouts"));
  if (object == nullptr) return OkStatus();
  const ConfigPath timeouts_path = path.Key("timeouts");
  const std::pair<const char*, std::chrono::seconds*> fields[] = {
      {"frozen_vm_ready_s", &timeouts.frozen_vm_ready},
      {"clone_s", &timeouts.clone},
      {"deploy_s", &timeouts.deploy},
      {"node_ready_s", &timeouts.node_ready},
      {"creating_s", &timeouts.creating},
      {"call_s", &timeouts.call},
      {"connect_s", &timeouts.connect},
      {"lease_s", &timeouts.lease}};
  std::vector<std::string> known;
  for (const auto& [key, value] : fields) known.emplace_back(key);
  VSRAY_RETURN_IF_ERROR(checker.CheckKeys(*object, timeouts_path, known));
  for (const auto& [key, value] : fields) {
    std::int64_t seconds = value->count();
    VSRAY_RETURN_IF_ERROR(checker.GetInt(*object, timeouts_path, key, 1, 86400, &seconds));
    *value = std::chrono::seconds(seconds);
  }
  return OkStatus();
}

Status ParseNetwork(Checker& checker, const json& vsphere, const ConfigPath& path,
                    NetworkConfig& network) {
  VSRAY_ASSIGN_OR_RETURN(const json* object, checker.GetObject(vsphere, path, "network"));
  if (object == nullptr) return OkStatus();
  const ConfigPath network_path = path.Key("network");
  VSRAY_RETURN_IF_ERROR(checker.CheckKeys(*object, network_path,
                                          {"internal_cidrs", "external_cidrs", "ignore_cidrs"}));
  VSRAY_RETURN_IF_ERROR(
      ParseCidrs(checker, *object, network_path, "internal_cidrs", &network.internal_cidrs));
  VSRAY_RETURN_IF_ERROR(
      ParseCidrs(checker, *object, network_path, "external_cidrs", &network.external_cidrs));
  VSRAY_RETURN_IF_ERROR(
      ParseCidrs(checker, *object, network_path, "ignore_cidrs", &network.ignore_cidrs));
  return OkStatus();
}

}  // namespace

StatusOr<VsphereConfig> ParseVsphere(Checker& checker, const json& provider,
                                     const ConfigPath& provider_path, std::string_view cluster_name,
                                     const ParseContext& context, bool check_files) {
  VsphereConfig config;
  const ConfigPath path = provider_path.Key("vsphere_config");
  VSRAY_ASSIGN_OR_RETURN(const json* object,
                         checker.GetObject(provider, provider_path, "vsphere_config"));
  const json empty = json::object();
  const json& vsphere = object == nullptr ? empty : *object;
  VSRAY_RETURN_IF_ERROR(checker.CheckKeys(vsphere, path, VsphereKeys()));

  VSRAY_RETURN_IF_ERROR(ParseTls(checker, vsphere, path, context, check_files, &config.tls));
  if (config.tls.insecure) {
    checker.Warn(path.Key("tls").Key("insecure"),
                 "vCenter's certificate is not verified: anyone on the network path can "
                 "impersonate vCenter and read the password; prefer 'thumbprint' or 'ca_file'");
  }
  VSRAY_RETURN_IF_ERROR(
      ParseCredentials(checker, vsphere, path, context, config.tls, &config.credentials));
  VSRAY_RETURN_IF_ERROR(checker.GetString(vsphere, path, "datacenter", &config.datacenter));
  VSRAY_RETURN_IF_ERROR(ParseFolder(checker, vsphere, path, cluster_name, config));
  VSRAY_RETURN_IF_ERROR(ParseFrozenVmKey(checker, vsphere, path, config));
  VSRAY_RETURN_IF_ERROR(ParseOptions(checker, vsphere, path, config));
  VSRAY_RETURN_IF_ERROR(ParseTimeouts(checker, vsphere, path, config.timeouts));
  VSRAY_RETURN_IF_ERROR(ParseNetwork(checker, vsphere, path, config.network));
  VSRAY_RETURN_IF_ERROR(ParseCloudInit(checker, vsphere, path, &config.cloud_init));
  return config;
}

std::vector<std::string> Secrets(const json* tree, const LoadOptions& options) {
  std::vector<std::string> secrets;
  const EnvLookup env = options.env ? options.env : ProcessEnvironment();
  if (auto password = env("VSPHERE_PASSWORD")) secrets.push_back(*password);
  if (tree != nullptr) {
    for (const char* pointer : {"/provider/vsphere_config/credentials/password",
                                "/vsphere_config/credentials/password"}) {
      const json::json_pointer at(pointer);
      if (tree->contains(at) && (*tree)[at].is_string()) {
        secrets.push_back((*tree)[at].get<std::string>());
      }
    }
  }
  return secrets;
}

}  // namespace internal

json FrozenVmConfig::ToJson() const {
  json out = json::object();
  if (!name.empty()) out["name"] = name;
  if (!library_item.empty()) out["library_item"] = library_item;
  if (!resource_pool.empty()) out["resource_pool"] = resource_pool;
  if (!cluster.empty()) out["cluster"] = cluster;
  if (!datastore.empty()) out["datastore"] = datastore;
  return out;
}

NetworkConfig::NodeIps NetworkConfig::ChooseIps(const std::vector<std::string>& addresses) const {
  static const Ipv4Cidr kLinkLocal{0xa9fe0000U, 16};  // 169.254.0.0/16
  const auto in_any = [](const std::vector<Ipv4Cidr>& cidrs, std::uint32_t address) {
    return std::any_of(cidrs.begin(), cidrs.end(),
                       [&](const Ipv4Cidr& cidr) { return cidr.Contains(address); });
  };
  std::vector<std::pair<std::string, std::uint32_t>> usable;
  for (const std::string& text : addresses) {
    const auto address = ParseIpv4(text);
    if (!address || kLinkLocal.Contains(*address) || in_any(ignore_cidrs, *address)) continue;
    usable.emplace_back(text, *address);
  }
  NodeIps ips;
  for (const auto& [text, address] : usable) {
    if (internal_cidrs.empty() || in_any(internal_cidrs, address)) {
      ips.internal = text;
      break;
    }
  }
  for (const auto& [text, address] : usable) {
    if (external_cidrs.empty() ? !in_any(internal_cidrs, address)
                               : in_any(external_cidrs, address)) {
      ips.external = text;
      break;
    }
  }
  if (ips.external.empty() && external_cidrs.empty()) ips.external = ips.internal;
  return ips;
}

json VsphereConfig::ToJson(bool redact) const {
  json out = json::object();
  json& creds = out["credentials"];
  creds["server"] = credentials.server;
  creds["user"] = credentials.user;
  creds["password"] =
      redact && !credentials.password.empty() ? std::string(kRedacted) : credentials.password;
  json& tls_json = out["tls"];
  tls_json["insecure"] = tls.insecure;
  if (!tls.ca_file.empty()) tls_json["ca_file"] = tls.ca_file;
  if (!tls.thumbprint.empty()) tls_json["thumbprint"] = tls.thumbprint;
  if (!datacenter.empty()) out["datacenter"] = datacenter;
  out["folder"] = folder;
  if (frozen_vm) out["frozen_vm"] = frozen_vm->ToJson();
  json classes = json::array();
  for (const provider::PciClass& c : gpu.device_classes) {
    const std::string hex = vsphere::PciIdHex(c.value);
    classes.push_back(c.mask == 0xFF00 ? hex.substr(0, 2) : hex);
  }
  out["gpu_config"] = {{"dynamic_pci_passthrough", gpu.dynamic_pci_passthrough},
                       {"device_classes", classes},
                       {"use_64bit_mmio", gpu.use_64bit_mmio}};
  if (gpu.mmio_size_gb > 0) out["gpu_config"]["mmio_size_gb"] = gpu.mmio_size_gb;
  out["mirror_vsphere_tags"] = mirror_vsphere_tags;
  out["max_concurrency"] = max_concurrency;
  out["ssh_key_type"] = std::string(SshKeyTypeName(ssh_key_type));
  out["timeouts"] = {{"frozen_vm_ready_s", timeouts.frozen_vm_ready.count()},
                     {"clone_s", timeouts.clone.count()},
                     {"deploy_s", timeouts.deploy.count()},
                     {"node_ready_s", timeouts.node_ready.count()},
                     {"creating_s", timeouts.creating.count()},
                     {"call_s", timeouts.call.count()},
                     {"connect_s", timeouts.connect.count()},
                     {"lease_s", timeouts.lease.count()}};
  const auto cidrs = [](const std::vector<Ipv4Cidr>& list) {
    json array = json::array();
    for (const Ipv4Cidr& cidr : list) array.push_back(cidr.ToString());
    return array;
  };
  out["network"] = {{"internal_cidrs", cidrs(network.internal_cidrs)},
                    {"external_cidrs", cidrs(network.external_cidrs)},
                    {"ignore_cidrs", cidrs(network.ignore_cidrs)}};
  json& init = out["cloud_init"];
  init["enabled"] = cloud_init.enabled;
  if (!cloud_init.ssh_user.empty()) init["ssh_user"] = cloud_init.ssh_user;
  init["ssh_authorized_keys"] = cloud_init.ssh_authorized_keys;
  return out;
}

StatusOr<VsphereConfig> ParseProviderConfig(const json& provider_config,
                                            std::string_view cluster_name, LoadOptions options) {
  if (options.source_name.empty()) options.source_name = "provider_config";
  const std::vector<std::string> secrets = internal::Secrets(&provider_config, options);
  const SourceMap no_lines;
  Checker checker(options.source_name, &no_lines);
  const ConfigPath provider_path = ConfigPath().Key("provider");
  if (!provider_config.is_object()) {
    return checker.Error(provider_path, "expected a mapping with vsphere_config, got " +
                                            DescribeType(provider_config));
  }
  if (cluster_name.empty()) {
    return ConfigError(options.source_name, 1, "cluster_name", "is empty; expected the name");
  }
  const ParseContext context = internal::MakeParseContext(options);
  auto config = internal::Scrubbed(
      internal::ParseVsphere(checker, provider_config, provider_path, cluster_name, context, false),
      secrets);
  if (config.ok() && config->cloud_init.ssh_user.empty()) config->cloud_init.ssh_user = "ray";
  for (const std::string& warning : checker.warnings()) Log()->warn("{}", warning);
  return config;
}

}  // namespace vsray::config
