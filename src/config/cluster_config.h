// The Ray cluster config (Ray's cluster YAML) as vsray reads it: validated, with defaults, and
// with the whole tree kept so Ray's own keys pass through unchanged.
//
// Ray's keys (outside provider.vsphere_config) are passed through; unknown ones are errors, as
// in Ray's schema (the lists are in ray_keys.h: the top level, a node type, auth, docker), and
// the ones vsray uses are type-checked:
//   cluster_name            string, required; used in VM and folder names (no '/', '\', '%')
//   max_workers             integer >= 0, default 2
//   upscaling_speed         number > 0, default 1.0
//   idle_timeout_minutes    number >= 0, default 5
//   auth.ssh_user           Linux user name, default "ray" (created by cloud-init)
//   auth.ssh_private_key    path ('~' expanded); unset: vsray's key pair (see bootstrap.h)
//   auth.ssh_public_key     optional path of its public key (must match)
//   available_node_types    mapping, required, not empty; per node type:
//     resources             mapping of numbers >= 0. CPU (integer) and Memory (integer, MiB, a
//                           multiple of 4) size the VM when > 0, else the frozen VM's size is
//                           kept; GPU (integer); any other key is a custom Ray resource
//     node_config           mapping (see NodeConfig below); other keys are kept with a warning
//     min_workers           integer >= 0, default 0
//     max_workers           integer >= min_workers; default: cluster max_workers (head: 0)
//     labels                mapping of string to string
//   head_node_type          string, required, a key of available_node_types
//   file_mounts             mapping of remote path to local path, default {}
//   initialization_commands, setup_commands, head_setup_commands, worker_setup_commands,
//   head_start_ray_commands, worker_start_ray_commands: lists of strings (null = []); the two
//                           start lists default to Ray's vSphere start commands
//   cluster_synced_files, rsync_exclude, rsync_filter: lists of strings (cluster_synced_files
//                           defaults to [])
//   (With provider.type external Ray merges no defaults: `ray up` needs every key Ray reads in
//   the file itself; vsray fills in its defaults only for itself.)
//   provider.type           "external" (what Ray's launcher needs to load vsray) or "vsphere"
//                           (accepted by vsray's CLI; Ray maps it to its own provider)
//   provider.module         with "external": the class, e.g. vsray.ray_provider.VsphereNodeProvider
//
// provider.vsphere_config (strict: unknown keys are errors, with a "did you mean"):
//   credentials.server      host, host:port or https://host[:port]; env VSPHERE_SERVER
//   credentials.user        env VSPHERE_USER
//   credentials.password    env VSPHERE_PASSWORD; never printed (ToJson redacts it)
//   tls.ca_file             PEM file of the CA that signed vCenter's certificate ('~' expanded)
//   tls.thumbprint          SHA-256 of vCenter's certificate: 64 hex digits, ':' allowed
//   tls.insecure            bool, default false: no verification at all (a warning)
//                           At most one of the three; none: the system's CAs.
//   datacenter              string, default "": the only datacenter
//   folder                  VM folder for the cluster's nodes, default "ray-<cluster_name>"
//   frozen_vm               the parent VM(s) of instant clones, one of four combinations:
//                           (1) name + library_item + cluster + datastore: deploy one from OVF
//                           (2) name: an existing frozen VM
//                           (3) name (prefix) + library_item + resource_pool + datastore:
//                               deploy one per ESXi host of the pool's cluster
//                           (4) resource_pool [+ name as a prefix filter]: the frozen VMs
//                               already in that pool
//                           Required unless every node type has node_config.frozen_vm.
//   gpu_config              how node types with resources.GPU > 0 get their GPUs:
//     dynamic_pci_passthrough   bool, default false: Dynamic DirectPath I/O (vSphere 7: any
//                           free device of the allowed ids, bound at power-on) instead of fixed
//                           DirectPath I/O (one device named in the VM)
//     device_classes        PCI classes that count as GPUs, as hex strings: a base class
//                           ("03") or a class and subclass ("0302"); default ["03"] (display
//                           and 3D controllers, of any vendor)
//     use_64bit_mmio        bool, default false: pciPassthru.use64bitMMIO on GPU nodes (GPUs
//                           with 16 GB or more of memory need it)
//     mmio_size_gb          integer 1..65536: pciPassthru.64bitMMIOSizeGB (with use_64bit_mmio)
//   mirror_vsphere_tags     bool, default false: also write Ray's tags as vSphere tags
//   max_concurrency         integer 1..256, default 64: nodes being created at once
//   ssh_key_type            "ed25519" (default) or "rsa": the type of a key pair vsray creates
//                           (here and not under `auth`, whose keys Ray's schema fixes)
//   timeouts.frozen_vm_ready_s   default 600: power-on until runtime.instantCloneFrozen
//   timeouts.clone_s             default 600: one clone task
//   timeouts.deploy_s            default 1800: one OVF deployment
//   timeouts.node_ready_s        default 600: a new node until it has an IPv4 address
//   timeouts.creating_s          default 900: a node left `creating` longer (a crash) is
//                                removed by the next provider start
//   timeouts.call_s              default 120: one vCenter call
//   timeouts.connect_s           default 15: until vCenter answers a connection (TCP + TLS)
//   timeouts.lease_s             default 60: a run's cluster lease lasts this long unless
//                                renewed (see provider/lease.h); also the longest a run
//                                waits silently for another's lease between progress lines
//                                (each an integer 1..86400 seconds)
//   network.internal_cidrs  IPv4 CIDRs; internal_ip is the first guest address inside them
//                           (default: the first usable address)
//   network.external_cidrs  IPv4 CIDRs; external_ip is the first guest address inside them
//                           (default: the first usable address outside internal_cidrs, else
//                           the internal one)
//   network.ignore_cidrs    IPv4 CIDRs never used (169.254.0.0/16 is always ignored)
//   cloud_init.enabled      bool, default true: give clones guestinfo userdata/metadata
//   cloud_init.ssh_user     default auth.ssh_user
//   cloud_init.ssh_authorized_keys  list of public key lines; bootstrap adds its key
//
// node_config keys vsray reads (others are kept, with a warning):
//   resource_pool, datastore     placement; unset: the head node type's, else the frozen VM's
//   clone_mode                   instant (default) | linked | full
//   frozen_vm                    as provider.vsphere_config.frozen_vm, for this node type
//   frozen_vm_name               older Ray spelling of frozen_vm: {name: ...}
//   resources                    set by bootstrap: the node type's CPU, Memory and GPU (only
//                                what sizes the VM: node_config feeds Ray's launch hash)
//   gpu                          which GPUs a node type with resources.GPU > 0 takes: any
//                                GPU (see gpu_config) when unset; else narrowed by vendor_id,
//                                device_id (PCI ids: hex strings like "10de", or integers) and
//                                custom_label (a Dynamic DirectPath label), or vgpu_profile (a
//                                vGPU profile, e.g. grid_a100-4c: resources.GPU vGPUs of it,
//                                instead of whole devices)
//
// Workers inherit the head node type's resource_pool, datastore and frozen_vm when unset; the
// resolved values are written into each node type's node_config, as Ray's vSphere provider
// does, so create_node sees them.
#ifndef VSRAY_CONFIG_CLUSTER_CONFIG_H_
#define VSRAY_CONFIG_CLUSTER_CONFIG_H_

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/ipv4.h"
#include "common/status.h"
#include "config/keypair.h"
#include "provider/gpu_need.h"
#include "provider/vocabulary.h"
#include "vsphere/transport.h"

namespace vsray::config {

// The four ways to name the frozen VM(s) (see the header comment) and the clone modes: the
// provider's vocabulary, shared.
using FrozenVmMode = provider::FrozenVmMode;
using CloneMode = provider::CloneMode;
using provider::CloneModeName;

struct FrozenVmConfig {
  std::string name;
  std::string library_item;
  std::string resource_pool;
  std::string cluster;
  std::string datastore;
  FrozenVmMode mode = FrozenVmMode::kExisting;

  bool Deploys() const {
    return mode == FrozenVmMode::kDeployOne || mode == FrozenVmMode::kDeployPerHost;
  }
  // The keys that are set, as in the YAML.
  nlohmann::json ToJson() const;
  friend bool operator==(const FrozenVmConfig&, const FrozenVmConfig&) = default;
};

struct NetworkConfig {
  std::vector<Ipv4Cidr> internal_cidrs;
  std::vector<Ipv4Cidr> external_cidrs;
  std::vector<Ipv4Cidr> ignore_cidrs;

  struct NodeIps {
    std::string internal;  // "" when no usable address
    std::string external;
  };
  // Picks a node's IPs from its guest addresses (all NICs, in order): IPv4 only, link-local and
  // ignore_cidrs skipped, then the rules in the header comment.
  NodeIps ChooseIps(const std::vector<std::string>& addresses) const;
};

struct TimeoutConfig {
  std::chrono::seconds frozen_vm_ready{600};
  std::chrono::seconds clone{600};
  std::chrono::seconds deploy{1800};
  std::chrono::seconds node_ready{600};
  std::chrono::seconds creating{900};
  std::chrono::seconds call{120};
  std::chrono::seconds connect{15};
  std::chrono::seconds lease{60};
};

struct CloudInitConfig {
  bool enabled = true;
  std::string ssh_user;
  std::vector<std::string> ssh_authorized_keys;
};

struct VsphereCredentials {
  std::string server;
  std::string user;
  std::string password;
};

// provider.vsphere_config.gpu_config.
struct GpuConfig {
  bool dynamic_pci_passthrough = false;
  std::vector<provider::PciClass> device_classes = provider::DefaultGpuClasses();
  bool use_64bit_mmio = false;
  int mmio_size_gb = 0;  // 0: vSphere's default
};

// node_config.gpu: which GPUs a node type takes.
struct NodeGpuConfig {
  std::optional<std::uint16_t> vendor_id;
  std::optional<std::uint16_t> device_id;
  std::string custom_label;
  std::string vgpu_profile;
  friend bool operator==(const NodeGpuConfig&, const NodeGpuConfig&) = default;
};

struct VsphereConfig {
  VsphereCredentials credentials;
  vsphere::TlsOptions tls;
  std::string datacenter;
  std::string folder;
  std::optional<FrozenVmConfig> frozen_vm;
  GpuConfig gpu;
  bool mirror_vsphere_tags = false;
  int max_concurrency = provider::kDefaultMaxConcurrency;
  SshKeyType ssh_key_type = SshKeyType::kEd25519;
  TimeoutConfig timeouts;
  NetworkConfig network;
  CloudInitConfig cloud_init;

  // Every key with its effective value (defaults included); the password is "<redacted>"
  // unless `redact` is false.
  nlohmann::json ToJson(bool redact = true) const;
};

// What vsray reads from one node type's node_config (plus its resources).
struct NodeConfig {
  std::string resource_pool;  // "" = the frozen VM's
  std::string datastore;      // "" = the frozen VM's
  CloneMode clone_mode = CloneMode::kInstant;
  std::optional<FrozenVmConfig> frozen_vm;  // resolved: own, else inherited
  int cpus = 0;                             // 0: keep the frozen VM's
  std::int64_t memory_mib = 0;              // 0: keep the frozen VM's
  int gpus = 0;                             // resources.GPU
  NodeGpuConfig gpu;                        // node_config.gpu
};

struct NodeType {
  std::string name;
  NodeConfig node_config;
  std::map<std::string, double> resources;
  int min_workers = 0;
  int max_workers = 0;  // resolved default
  std::map<std::string, std::string> labels;
  // Ray's launch hash of this node type (the ray-launch-config tag); set by Bootstrap.
  std::string launch_hash;
};

struct AuthConfig {
  std::string ssh_user = "ray";
  std::string ssh_private_key;  // absolute ('~' expanded) or ""
  std::string ssh_public_key;   // absolute or ""
};

enum class ProviderType { kVsphere, kExternal };

struct ClusterConfig {
  std::string source;  // file name (or label) errors were reported against
  std::string cluster_name;
  int max_workers = 2;
  double upscaling_speed = 1.0;
  double idle_timeout_minutes = 5;
  AuthConfig auth;
  ProviderType provider_type = ProviderType::kVsphere;
  std::string provider_module;
  VsphereConfig vsphere;
  std::map<std::string, NodeType> node_types;
  std::string head_node_type;
  std::map<std::string, std::string> file_mounts;
  // The whole config as Ray sees it, defaults and inherited values filled in; every key of
  // the input is kept. Contains the password: print ToJson(true) instead.
  nlohmann::json tree;
  // Not errors, but worth telling ("SOURCE:LINE: PATH: message"); also logged.
  std::vector<std::string> warnings;

  const NodeType& head() const { return node_types.at(head_node_type); }
  const NodeType* FindNodeType(std::string_view name) const;

  // `tree`, with the password redacted unless `redact` is false.
  nlohmann::json ToJson(bool redact = true) const;
  std::string ToYaml(bool redact = true) const;
};

// Looks up an environment variable; nullopt if unset.
using EnvLookup = std::function<std::optional<std::string>(const std::string& name)>;
// The process environment (getenv).
EnvLookup ProcessEnvironment();

struct LoadOptions {
  // Name used in error messages ("FILE:LINE: ..."); default: the path for files,
  // "cluster_config" for text and JSON.
  std::string source_name;
  // Where missing credentials come from; null: ProcessEnvironment().
  EnvLookup env;
  // For '~' in paths; "": env HOME.
  std::string home_dir;
  // Check that local files named by the config (tls.ca_file) exist.
  bool check_local_files = true;
};

// Load*: parse, validate, fill defaults and inherited values, take missing credentials from
// the environment. No side effects (no files are written). Every error is INVALID_ARGUMENT
// with one line "SOURCE:LINE: YAML.PATH: what is wrong and what is expected" that never
// contains the password (NOT_FOUND / PERMISSION_DENIED if the file cannot be read). Trees
// given as JSON objects have no lines: LINE is 1.
StatusOr<ClusterConfig> LoadClusterConfigFile(const std::string& path, LoadOptions options = {});
// YAML or JSON text.
StatusOr<ClusterConfig> LoadClusterConfigText(std::string_view text, LoadOptions options = {});
StatusOr<ClusterConfig> LoadClusterConfigJson(const nlohmann::json& config,
                                              LoadOptions options = {});

// What a provider constructed by Ray gets: the `provider` dict (with vsphere_config) and the
// cluster name. Same checks and defaults as the provider part of LoadClusterConfig*, except
// that frozen_vm is optional (node configs may carry it) and local files are not checked.
// Paths in errors read "provider.vsphere_config...".
StatusOr<VsphereConfig> ParseProviderConfig(const nlohmann::json& provider_config,
                                            std::string_view cluster_name,
                                            LoadOptions options = {});

// What create_node gets: one node type's node_config (after bootstrap it carries the resolved
// placement, frozen_vm and resources). `vsphere` supplies the frozen VM when node_config has
// none. Paths in errors read "node_config...".
StatusOr<NodeConfig> ParseNodeConfig(const nlohmann::json& node_config,
                                     const VsphereConfig& vsphere, LoadOptions options = {});

// Replaces credentials.password in a cluster config or provider config tree (any of
// tree.provider.vsphere_config, tree.vsphere_config) with "<redacted>".
nlohmann::json RedactConfigTree(nlohmann::json tree);

}  // namespace vsray::config

#endif  // VSRAY_CONFIG_CLUSTER_CONFIG_H_
