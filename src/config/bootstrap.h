// bootstrap_config: what Ray's `ray up` runs before any provider exists (and what `vsray up`
// runs first). Loads and validates the config (cluster_config.h), then:
//  - the SSH key pair: when auth.ssh_private_key is unset (or is Ray's default
//    ~/ray-bootstrap-key.pem), ~/ray-bootstrap-key.pem and ~/ray_bootstrap_public_key.key are
//    reused or created (type provider.vsphere_config.ssh_key_type, ed25519 by default; the
//    private key 0600); a corrupt or mismatched pair is an error, never replaced. A key of
//    the user's own is read to get its public key (and checked against auth.ssh_public_key or
//    <key>.pub when present);
//  - auth.ssh_private_key is set to the private key's absolute path;
//  - file_mounts["~/ray_bootstrap_public_key.key"] is the local public key file, as Ray's
//    vSphere provider does;
//  - provider.vsphere_config.cloud_init gets the SSH user and the public key, so a provider
//    built from the provider dict alone (on the head node) can write node userdata;
//  - credentials taken from VSPHERE_* are written into provider.vsphere_config.credentials,
//    as Ray's vSphere provider does, because the head node's autoscaler has no such
//    environment. The result therefore holds the password: show it only through
//    RedactConfigTree / ClusterConfig::ToJson(true);
//  - each node type's launch_hash is Ray's launch hash of its completed node_config and auth
//    (ray_hash.h), for the ray-launch-config tag of the nodes vsray creates.
// Bootstrapping its own output again gives the same output.
#ifndef VSRAY_CONFIG_BOOTSTRAP_H_
#define VSRAY_CONFIG_BOOTSTRAP_H_

#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

#include "common/status.h"
#include "config/cluster_config.h"
#include "config/keypair.h"

namespace vsray::config {

struct BootstrapOptions {
  // Source name, environment (credentials and HOME) and home directory (key pair location).
  LoadOptions load;
};

// Completes a loaded config. Errors: FAILED_PRECONDITION for key files that cannot be used
// (message names the file and what to do), PERMISSION_DENIED / INTERNAL for I/O.
StatusOr<ClusterConfig> Bootstrap(ClusterConfig config, const BootstrapOptions& options);

// Load + Bootstrap, returning the completed tree (what Ray's bootstrap_config returns). For the
// Python adapter: `json.dumps(cluster_config)` or the dict itself. Load errors are
// INVALID_ARGUMENT "SOURCE:LINE: PATH: ..." as described in cluster_config.h.
StatusOr<nlohmann::json> BootstrapConfigJson(const nlohmann::json& cluster_config,
                                             const BootstrapOptions& options);
// YAML or JSON text.
StatusOr<nlohmann::json> BootstrapConfigText(std::string_view text,
                                             const BootstrapOptions& options);
StatusOr<ClusterConfig> BootstrapConfigFile(const std::string& path,
                                            const BootstrapOptions& options);

}  // namespace vsray::config

#endif  // VSRAY_CONFIG_BOOTSTRAP_H_
