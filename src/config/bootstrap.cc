#include "config/bootstrap.h"

#include <sys/stat.h>

#include <algorithm>
#include <utility>

#include "common/log.h"
#include "config/ray_hash.h"

namespace vsray::config {
namespace {

using nlohmann::json;

bool FileExists(const std::string& path) {
  struct stat info {};
  return stat(path.c_str(), &info) == 0;
}

std::string HomeDir(const LoadOptions& options) {
  if (!options.home_dir.empty()) return options.home_dir;
  const EnvLookup env = options.env ? options.env : ProcessEnvironment();
  return env("HOME").value_or("");
}

// The public key of a key the user named, checked against the public key file next to it.
struct UserKey {
  std::string public_line;
  std::string public_file;  // "" when there is none
};

StatusOr<UserKey> ReadUserKey(const AuthConfig& auth) {
  UserKey key;
  VSRAY_ASSIGN_OR_RETURN(key.public_line, PublicKeyOfPrivateKeyFile(auth.ssh_private_key));
  std::string candidate = auth.ssh_public_key;
  if (candidate.empty() && FileExists(auth.ssh_private_key + ".pub")) {
    candidate = auth.ssh_private_key + ".pub";
  }
  if (candidate.empty()) return key;
  if (!FileExists(candidate)) {
    return FailedPreconditionError("the SSH public key '" + candidate + "' does not exist");
  }
  const std::string public_key_file = candidate;
  std::string text;
  {
    FILE* file = std::fopen(public_key_file.c_str(), "rb");
    if (file == nullptr) return PermissionDeniedError("cannot read '" + public_key_file + "'");
    char buffer[4096];
    std::size_t n = 0;
    while ((n = std::fread(buffer, 1, sizeof buffer, file)) > 0 && text.size() < 65536) {
      text.append(buffer, n);
    }
    std::fclose(file);
  }
  auto given = CanonicalPublicKey(text);
  if (!given.ok()) {
    return FailedPreconditionError("'" + public_key_file + "': " + given.status().message());
  }
  VSRAY_ASSIGN_OR_RETURN(const std::string derived, CanonicalPublicKey(key.public_line));
  if (*given != derived) {
    return FailedPreconditionError("'" + public_key_file + "' is not the public key of '" +
                                   auth.ssh_private_key + "'");
  }
  key.public_file = public_key_file;
  return key;
}

}  // namespace

StatusOr<ClusterConfig> Bootstrap(ClusterConfig config, const BootstrapOptions& options) {
  const std::string home = HomeDir(options.load);
  std::string public_line;
  std::string public_file;
  const bool default_key =
      config.auth.ssh_private_key.empty() ||
      (!home.empty() && config.auth.ssh_private_key == DefaultKeyPairPaths(home).private_key);
  if (default_key) {
    if (home.empty()) {
      return FailedPreconditionError(
          "cannot place the SSH key pair: HOME is not set (or set auth.ssh_private_key)");
    }
    VSRAY_ASSIGN_OR_RETURN(const KeyPair pair,
                           EnsureKeyPair(DefaultKeyPairPaths(home), config.vsphere.ssh_key_type));
    config.auth.ssh_private_key = pair.paths.private_key;
    public_line = pair.public_key;
    public_file = pair.paths.public_key;
  } else {
    VSRAY_ASSIGN_OR_RETURN(const UserKey key, ReadUserKey(config.auth));
    public_line = key.public_line;
    public_file = key.public_file;
  }

  json& tree = config.tree;
  tree["auth"]["ssh_private_key"] = config.auth.ssh_private_key;
  if (!public_file.empty()) {
    const std::string remote(kRemotePublicKeyPath);
    if (const auto it = config.file_mounts.find(remote);
        it != config.file_mounts.end() && it->second != public_file) {
      Log()->warn("file_mounts[{}] was {}; it is now the bootstrap public key {}", remote,
                  it->second, public_file);
    }
    config.file_mounts[remote] = public_file;
    tree["file_mounts"][remote] = public_file;
  }

  CloudInitConfig& cloud_init = config.vsphere.cloud_init;
  if (cloud_init.ssh_user.empty()) cloud_init.ssh_user = config.auth.ssh_user;
  VSRAY_ASSIGN_OR_RETURN(const std::string canonical, CanonicalPublicKey(public_line));
  bool present = false;
  for (const std::string& line : cloud_init.ssh_authorized_keys) {
    auto existing = CanonicalPublicKey(line);
    if (existing.ok() && *existing == canonical) present = true;
  }
  if (!present) cloud_init.ssh_authorized_keys.push_back(public_line);
  tree["provider"]["vsphere_config"] = config.vsphere.ToJson(false);
  for (auto& [name, node_type] : config.node_types) {
    VSRAY_ASSIGN_OR_RETURN(
        node_type.launch_hash,
        RayLaunchHash(tree["available_node_types"][name]["node_config"], tree["auth"]));
  }
  return config;
}

StatusOr<json> BootstrapConfigJson(const json& cluster_config, const BootstrapOptions& options) {
  VSRAY_ASSIGN_OR_RETURN(ClusterConfig config, LoadClusterConfigJson(cluster_config, options.load));
  VSRAY_ASSIGN_OR_RETURN(ClusterConfig completed, Bootstrap(std::move(config), options));
  return std::move(completed.tree);
}

StatusOr<json> BootstrapConfigText(std::string_view text, const BootstrapOptions& options) {
  VSRAY_ASSIGN_OR_RETURN(ClusterConfig config, LoadClusterConfigText(text, options.load));
  VSRAY_ASSIGN_OR_RETURN(ClusterConfig completed, Bootstrap(std::move(config), options));
  return std::move(completed.tree);
}

StatusOr<ClusterConfig> BootstrapConfigFile(const std::string& path,
                                            const BootstrapOptions& options) {
  VSRAY_ASSIGN_OR_RETURN(ClusterConfig config, LoadClusterConfigFile(path, options.load));
  return Bootstrap(std::move(config), options);
}

}  // namespace vsray::config
